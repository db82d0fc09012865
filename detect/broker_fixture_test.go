package detect

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Fixtures shared by the broker detector tests.

const brokerT0 int64 = 1_800_000_000_000 // Unix ms of the first sample

// vals parses a compact series: space-separated tokens "v" or "v*n" (n
// copies), "_" for a gap (NaN), e.g. "1*10 0*5 _*2 0".
func vals(spec string) []float64 {
	var out []float64
	for _, tok := range strings.Fields(spec) {
		v, n, ok := strings.Cut(tok, "*")
		count := 1
		if ok {
			count, _ = strconv.Atoi(n)
		}
		x := math.NaN()
		if v != "_" {
			x, _ = strconv.ParseFloat(v, 64)
		}
		for range count {
			out = append(out, x)
		}
	}
	return out
}

// sig builds a window of vs, step apart from brokerT0.
func sig(name string, step time.Duration, vs []float64) SignalWindow {
	w := SignalWindow{Ref: SeriesRef{Metric: name, Labels: []Label{{"broker", "1"}}}, Source: "scrape http://b1:7071/metrics"}
	for i, v := range vs {
		w.Times = append(w.Times, brokerT0+int64(i)*step.Milliseconds())
		w.Values = append(w.Values, v)
	}
	return w
}

// gen builds n values from fn(i).
func gen(n int, fn func(i int) float64) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = fn(i)
	}
	return out
}

// ones is a series of n ones (an availability series that always answered).
func ones(n int) []float64 { return gen(n, func(int) float64 { return 1 }) }

// clusterOf wraps brokers into a cluster "c" whose At is the newest sample
// of any window, with an admin API that answered at every step unless
// admin is given.
func clusterOf(step time.Duration, admin []float64, bs ...BrokerInput) ClusterInput {
	in := ClusterInput{Cluster: "c", Brokers: bs}
	each := func(w SignalWindow) {
		if n := len(w.Times); n > 0 {
			in.At = max(in.At, w.Times[n-1])
		}
	}
	for _, b := range bs {
		for _, w := range b.Signals {
			each(w)
		}
		for _, d := range b.LogDirs {
			each(d.Used)
		}
		for _, l := range b.Latency {
			each(l.P99)
		}
	}
	if admin == nil {
		admin = ones(int((in.At-brokerT0)/step.Milliseconds()) + 1)
	}
	in.AdminUp = sig("kwitness_admin_up", step, admin)
	in.AdminUp.Source = "kafka admin API"
	each(in.AdminUp)
	return in
}

// broker returns broker id with the given signals and a scrape that always
// answered (unless scrape_up is among them), registered.
func broker(id int32, step time.Duration, sigs map[Signal][]float64) BrokerInput {
	b := BrokerInput{Broker: id, Signals: map[Signal]SignalWindow{}, Registered: true}
	n := 0
	for s, vs := range sigs {
		b.Signals[s] = sig(string(s), step, vs)
		n = max(n, len(vs))
	}
	if _, ok := sigs[SigScrapeUp]; !ok {
		b.Signals[SigScrapeUp] = sig(string(SigScrapeUp), step, ones(n))
	}
	return b
}

// upTo cuts every window of in to the samples at or before at.
func upTo(in ClusterInput, at int64) ClusterInput {
	cut := func(w SignalWindow) SignalWindow {
		i, _ := slices.BinarySearch(w.Times, at+1)
		w.Times, w.Values = w.Times[:i], w.Values[:i]
		return w
	}
	out := in
	out.At = at
	out.AdminUp = cut(in.AdminUp)
	out.Brokers = slices.Clone(in.Brokers)
	for i, b := range out.Brokers {
		sigs := map[Signal]SignalWindow{}
		for s, w := range b.Signals {
			sigs[s] = cut(w)
		}
		out.Brokers[i].Signals = sigs
		out.Brokers[i].LogDirs = slices.Clone(b.LogDirs)
		for j := range b.LogDirs {
			out.Brokers[i].LogDirs[j].Used, out.Brokers[i].LogDirs[j].Total = cut(b.LogDirs[j].Used), cut(b.LogDirs[j].Total)
		}
	}
	return out
}

// render summarises a sweep as "KIND@subject:severity ... | obs=subjects",
// subjects being "c" for the cluster and the broker id otherwise, sorted.
func render(res SweepResult) string {
	name := func(s Subject) string {
		if s.Broker < 0 {
			return "c"
		}
		return strconv.Itoa(int(s.Broker))
	}
	var cs, obs []string
	for _, c := range res.Candidates {
		cs = append(cs, fmt.Sprintf("%s@%s:%s", c.Kind, name(c.Subject), c.Severity))
	}
	for k := range res.Observed {
		parts := strings.Split(k, "\x00")
		if parts[len(parts)-1] == "-1" {
			obs = append(obs, "c")
		} else {
			obs = append(obs, parts[len(parts)-1])
		}
	}
	slices.Sort(cs)
	slices.Sort(obs)
	return strings.TrimSpace(strings.Join(cs, " ") + " | obs=" + strings.Join(obs, ","))
}

// sweepOnce runs a fresh default detector, with cfg changes applied.
func sweepOnce(t *testing.T, in ClusterInput, tweak func(*BrokerConfig)) SweepResult {
	t.Helper()
	cfg := DefaultBrokerConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	d, err := NewBrokerDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d.Sweep(in)
}

// checkCandidates checks what every candidate must carry.
func checkCandidates(t *testing.T, res SweepResult) {
	t.Helper()
	for _, c := range res.Candidates {
		if c.Fingerprint != Fingerprint(c.Kind, c.Subject) || c.Summary == "" || len(c.Evidence) == 0 || len(c.Facts) == 0 {
			t.Errorf("%s: incomplete candidate %+v", c.Kind, c)
		}
		if !KnownKind(c.Kind) || !res.Present[c.Subject.Key()] {
			t.Errorf("%s: unknown kind or subject not present", c.Kind)
		}
		for _, e := range c.Evidence {
			if e.Series.Metric == "" || e.Source.API == "" || e.To.Before(e.From) || e.Count == 0 {
				t.Errorf("%s: incomplete citation %+v", c.Kind, e)
			}
		}
	}
}
