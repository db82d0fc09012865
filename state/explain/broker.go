package explain

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// broker builds a broker's bundle: whether DescribeCluster lists it and
// its scrape answers, the partitions it leads and replicates (Metadata),
// its log directories, traffic and health signals (telemetry); the leader
// movements to and from it; the findings on it and on the cluster. ok is
// false when neither telemetry nor Metadata knows the broker.
func (e *Explainer) broker(r Request) (Bundle, bool, error) {
	v := e.src.Window.View()
	cluster := e.src.Window.Cluster()
	b := Bundle{Cluster: cluster, At: v.At(), Section: r.Section,
		Subject: detect.Subject{Cluster: cluster, Broker: r.Broker}, Owner: e.src.Owners.Broker(r.Broker)}
	ci := e.clusterInput()
	var bi *detect.BrokerInput
	if ci != nil {
		if i := slices.IndexFunc(ci.Brokers, func(x detect.BrokerInput) bool { return x.Broker == r.Broker }); i >= 0 {
			bi = &ci.Brokers[i]
		}
		if at := time.UnixMilli(ci.At); at.After(b.At) {
			b.At = at
		}
	}
	parts, _ := e.layout()
	bs := &BrokerState{Leaders: math.NaN(), Replicas: math.NaN(), BytesIn: math.NaN(), BytesOut: math.NaN()}
	inLayout := layoutLoad(parts, r, bs)
	if bi == nil && !inLayout {
		return b, false, nil
	}
	if bi != nil {
		brokerTelemetry(bi, ci.At, bs)
	}
	b.Broker = bs

	related := e.brokerFindings(r.Broker)
	since := b.At.Add(-e.src.Window.Span())
	var timeline []Entry
	timeline = append(timeline, e.layoutEntries(since, func(c *state.Change) bool {
		if c.Kind != state.ChangeLeaderMoved || c.From != r.Broker && c.To != r.Broker {
			return false
		}
		if !r.topicVisible(c.Topic) {
			b.Withheld++
			return false
		}
		return true
	})...)
	timeline = append(timeline, findingEntries(related, since)...)
	timeline = number(timeline)
	e.fill(&b, r, timeline, related)
	if r.Section == SectionAll {
		b.Narrative = brokerNarrative(&b, bs, bi != nil)
	}
	return b, true, nil
}

// layoutLoad counts the partitions the broker leads and replicates in the
// newest Metadata answer and lists the topics it leads that r may show;
// it reports whether Metadata names the broker.
func layoutLoad(parts map[string][]detect.PartitionAssignment, r Request, bs *BrokerState) bool {
	if parts == nil {
		return false
	}
	leaders, replicas := 0, 0
	for t, ps := range parts {
		leads := false
		for _, p := range ps {
			if p.Leader == r.Broker {
				leaders++
				leads = true
			}
			if slices.Contains(p.Replicas, r.Broker) {
				replicas++
			}
		}
		if leads && r.topicVisible(t) {
			bs.TopicsLed = append(bs.TopicsLed, t)
		}
	}
	slices.Sort(bs.TopicsLed)
	bs.Leaders, bs.Replicas = float64(leaders), float64(replicas)
	return leaders+replicas > 0
}

// brokerTelemetry fills what the broker's telemetry says: registration,
// reachability, traffic over the window, log dirs and health signals. The
// leader and replica counts come from the broker's own gauges only when
// Metadata did not give them.
func brokerTelemetry(bi *detect.BrokerInput, at int64, bs *BrokerState) {
	bs.Registered = bi.Registered
	if up, _ := bi.Signals[detect.SigScrapeUp].Last(); up == 1 {
		bs.Reachable = true
	}
	if math.IsNaN(bs.Leaders) {
		bs.Leaders, _ = bi.Signals[detect.SigLeaderCount].Last()
		bs.Replicas, _ = bi.Signals[detect.SigPartitionCount].Last()
	}
	if x, ok := detect.Rate(bi.Signals[detect.SigBytesIn], 0, at); ok {
		bs.BytesIn = x
	}
	if x, ok := detect.Rate(bi.Signals[detect.SigBytesOut], 0, at); ok {
		bs.BytesOut = x
	}
	for _, d := range bi.LogDirs {
		used, _ := d.Used.Last()
		total, _ := d.Total.Last()
		bs.LogDirs = append(bs.LogDirs, LogDir{Path: d.Path, Used: used, Total: total})
	}
	bs.Health = brokerHealth(bi, at)
}

// healthGauges are the gauges a broker bundle reports, with their units.
var healthGauges = []struct {
	sig  detect.Signal
	unit string
}{
	{detect.SigUnderReplicated, "partitions"},
	{detect.SigUnderMinISR, "partitions"},
	{detect.SigOfflinePartitions, "partitions"},
	{detect.SigOfflineLogDirs, "log dirs"},
	{detect.SigActiveController, "controllers"},
	{detect.SigRequestQueue, "requests"},
	{detect.SigNetworkIdle, "ratio"},
}

// brokerHealth lists the broker's newest health gauges, its ISR shrink
// rate over the window, its p99 request latencies and whether it is
// restarting; signals without a present sample are left out.
func brokerHealth(bi *detect.BrokerInput, at int64) []detect.Fact {
	var out []detect.Fact
	for _, g := range healthGauges {
		if x, _ := bi.Signals[g.sig].Last(); !math.IsNaN(x) {
			out = append(out, detect.Fact{Name: string(g.sig), Value: x, Unit: g.unit})
		}
	}
	if x, ok := detect.Rate(bi.Signals[detect.SigIsrShrinks], 0, at); ok {
		out = append(out, detect.Fact{Name: string(detect.SigIsrShrinks) + "_rate", Value: x, Unit: "shrinks/s"})
	}
	for _, l := range bi.Latency {
		if x, _ := l.P99.Last(); !math.IsNaN(x) {
			out = append(out, detect.Fact{Name: l.Request + " p99 latency", Value: x, Unit: "ms"})
		}
	}
	if bi.Restarting {
		out = append(out, detect.Fact{Name: "restarting", Text: "left and rejoined the cluster within the window"})
	}
	return out
}

// brokerFindings returns the findings on the broker and on the cluster:
// firing first, the broker's own first, newest opened first.
func (e *Explainer) brokerFindings(id int32) []Related {
	var out []Related
	seen := map[string]bool{}
	add := func(f detect.Finding, rel string) bool {
		if seen[f.ID] {
			return false
		}
		seen[f.ID] = true
		out = append(out, e.related(f, rel))
		return true
	}
	for _, f := range e.src.Findings.List(state.FindingFilter{Broker: id}) {
		add(f, RelationSubject)
	}
	e.addClusterFindings(add)
	sortRelated(out)
	return out
}

// brokerNarrative states the broker now, the leader movements in the
// timeline page, the firing findings and the owner.
func brokerNarrative(b *Bundle, bs *BrokerState, telemetry bool) []Statement {
	var s strings.Builder
	fmt.Fprintf(&s, "Broker %d ", b.Subject.Broker)
	switch {
	case !telemetry:
		s.WriteString("is named by Metadata, but kwitness holds no telemetry of it")
	case bs.Registered && bs.Reachable:
		s.WriteString("is registered (DescribeCluster lists it) and its metrics scrape answers")
	case bs.Registered:
		s.WriteString("is registered (DescribeCluster lists it) but its metrics scrape does not answer")
	default:
		s.WriteString("is not registered (DescribeCluster does not list it)")
	}
	if !math.IsNaN(bs.Leaders) {
		fmt.Fprintf(&s, "; it leads %.0f partitions and holds %.0f replicas", bs.Leaders, bs.Replicas)
	}
	if len(bs.TopicsLed) > 0 {
		fmt.Fprintf(&s, " (leads partitions of %s)", listText(bs.TopicsLed))
	}
	for _, d := range bs.LogDirs {
		switch {
		case !math.IsNaN(d.Used) && !math.IsNaN(d.Total) && d.Total > 0:
			fmt.Fprintf(&s, "; log dir %s %.0f%% used (%s of %s)", d.Path, 100*d.Used/d.Total, bytesText(d.Used), bytesText(d.Total))
		case !math.IsNaN(d.Used):
			fmt.Fprintf(&s, "; log dir %s holds %s", d.Path, bytesText(d.Used))
		}
	}
	if !math.IsNaN(bs.BytesIn) || !math.IsNaN(bs.BytesOut) {
		fmt.Fprintf(&s, "; traffic over the window %s in, %s out", rateText(bs.BytesIn), rateText(bs.BytesOut))
	}
	var trouble []string
	for _, h := range bs.Health {
		switch {
		case h.Text != "":
			trouble = append(trouble, h.Name+": "+h.Text)
		case h.Unit == "partitions" && h.Value > 0 || h.Name == string(detect.SigOfflineLogDirs) && h.Value > 0:
			trouble = append(trouble, fmt.Sprintf("%s %.0f", h.Name, h.Value))
		}
	}
	if len(trouble) > 0 {
		fmt.Fprintf(&s, "; %s", strings.Join(trouble, ", "))
	}
	out := []Statement{{Text: s.String() + ".", Refs: []string{RefState}}}
	out = append(out, changeStatements(b.Timeline, "")...)
	out = append(out, findingStatements(b.Subject, b.Findings)...)
	return append(out, ownerStatement(b.Owner))
}

// rateText renders bytes/s: "2.0 KiB/s", or "unknown".
func rateText(x float64) string {
	if math.IsNaN(x) {
		return "unknown"
	}
	return bytesText(x) + "/s"
}
