package detect

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"
)

// Skew: brokers carrying more (or less) than their share of the cluster —
// LEADER_SKEW, REPLICA_SKEW, DISK_SKEW and TRAFFIC_SKEW, judged by
// SkewDetector from a ClusterInput. Formulas and defaults are documented on
// SkewConfig.

// Skew kinds (SkewDetector).
const (
	KindLeaderSkew  Kind = "LEADER_SKEW"
	KindReplicaSkew Kind = "REPLICA_SKEW"
	KindDiskSkew    Kind = "DISK_SKEW"
	KindTrafficSkew Kind = "TRAFFIC_SKEW"
)

// SigNonPreferredLeaders is a gauge, in partitions: of the partitions a
// broker leads, those whose preferred replica (the first of its replica
// list, Metadata) is another broker. Recorded from Metadata with Origin
// "admin".
const SigNonPreferredLeaders Signal = "non_preferred_leaders"

// SkewConfig holds the skew thresholds. Start from DefaultSkewConfig.
//
// LEADER_SKEW (warning): at every present sample of the broker's
// non_preferred_leaders within the last LeaderSustain, with leader_count
// L > 0 at that time,
//
//	non_preferred_leaders / L > LeaderImbalance.
//
// Default 0.10 after Kafka's leader.imbalance.per.broker.percentage (10);
// LeaderSustain 5m after leader.imbalance.check.interval.seconds (300): a
// controller with auto.leader.rebalance.enable would have moved leadership
// back by then. Kafka computes its percentage per preferred broker; kwitness
// per leading broker, which is what the broker's own load follows.
//
// REPLICA_SKEW (warning): with at least two brokers reporting a partition
// count (replicas hosted) p, a broker with
//
//	p > ⌈BalanceThreshold × mean(p)⌉
//
// Default 1.10, Cruise Control's balance threshold
// (replica.count.balance.threshold). The limit is rounded up to a whole
// partition (kwitness's choice) so that 4, 3, 3 partitions is not skew.
//
// DISK_SKEW (warning): with at least two brokers, a broker whose log size s
// (Σ newest TopicSize windows; when some broker has none, Σ newest LogDirs
// used bytes for every broker) has
//
//	s > BalanceThreshold × mean(s)  and  mean(s) ≥ DiskMinMean.
//
// Default 1.10 (Cruise Control's disk.balance.threshold is the same);
// DiskMinMean 1 GiB, kwitness's choice: below it, moving data is not worth
// anyone's time and small keyed topics are naturally uneven.
//
// TRAFFIC_SKEW (warning): over the last TrafficSustain split into
// TrafficSlices equal sub-windows, in every sub-window the broker's
// bytes-in (or bytes-out) rate r (Rate of the counter, spanning at least
// half the sub-window) and the mean m over brokers with a rate (at least
// two) satisfy
//
//	|r − m| / m > TrafficDeviation  and  m > TrafficMinMean.
//
// Defaults 0.2, 1 MiB/s and 30m after AutoMQ's self-balancing (its
// AutoBalancer's network distribution goals:
// autobalancer.controller.network.{in,out}.distribution.detect.avg.deviation
// and ….usage.distribution.detect.threshold); TrafficSlices 3, so that a
// burst lifting one 10-minute sub-window cannot carry the whole window
// (as HotConfig.Slices).
//
// All four are downgraded to info while a partition reassignment is in
// progress or some broker restarted within the window: both move replicas
// and leaders, and the skew is expected to pass.
type SkewConfig struct {
	LeaderImbalance  float64       `yaml:"leader_imbalance"`  // ratio; default 0.10
	LeaderSustain    time.Duration `yaml:"leader_sustain"`    // default 5m
	BalanceThreshold float64       `yaml:"balance_threshold"` // × cluster mean; default 1.10
	DiskMinMean      float64       `yaml:"disk_min_mean"`     // bytes; default 1 GiB
	TrafficDeviation float64       `yaml:"traffic_deviation"` // relative to the mean; default 0.2
	TrafficMinMean   float64       `yaml:"traffic_min_mean"`  // bytes/s; default 1 MiB/s
	TrafficSustain   time.Duration `yaml:"traffic_sustain"`   // default 30m
	TrafficSlices    int           `yaml:"traffic_slices"`    // default 3
	// StaleAfter: a leader_count older than this at a non_preferred_leaders
	// sample does not pair with it. Default 2m.
	StaleAfter time.Duration `yaml:"stale_after"`
}

// DefaultSkewConfig returns the defaults documented on SkewConfig.
func DefaultSkewConfig() SkewConfig {
	return SkewConfig{LeaderImbalance: 0.10, LeaderSustain: 5 * time.Minute, BalanceThreshold: 1.10, DiskMinMean: 1 << 30,
		TrafficDeviation: 0.2, TrafficMinMean: 1 << 20, TrafficSustain: 30 * time.Minute, TrafficSlices: 3, StaleAfter: 2 * time.Minute}
}

// Validate reports invalid fields by YAML key.
func (c SkewConfig) Validate() error {
	var errs []error
	bad := func(key, want string, got any) {
		errs = append(errs, fmt.Errorf("skew.%s: must be %s, got %v", key, want, got))
	}
	if !(c.LeaderImbalance > 0 && c.LeaderImbalance < 1) {
		bad("leader_imbalance", "in (0, 1)", c.LeaderImbalance)
	}
	if c.LeaderSustain < 0 {
		bad("leader_sustain", "≥ 0", c.LeaderSustain)
	}
	if !(c.BalanceThreshold > 1) {
		bad("balance_threshold", "> 1", c.BalanceThreshold)
	}
	if !(c.DiskMinMean >= 0) {
		bad("disk_min_mean", "≥ 0 bytes", c.DiskMinMean)
	}
	if !(c.TrafficDeviation > 0) {
		bad("traffic_deviation", "> 0", c.TrafficDeviation)
	}
	if !(c.TrafficMinMean >= 0) {
		bad("traffic_min_mean", "≥ 0 bytes/s", c.TrafficMinMean)
	}
	if c.TrafficSustain <= 0 {
		bad("traffic_sustain", "a positive duration", c.TrafficSustain)
	}
	if c.TrafficSlices < 1 || c.TrafficSlices > 60 {
		bad("traffic_slices", "1..60", c.TrafficSlices)
	}
	if c.StaleAfter <= 0 {
		bad("stale_after", "a positive duration", c.StaleAfter)
	}
	return errors.Join(errs...)
}

// SkewDetector judges broker balance at each sweep (formulas on
// SkewConfig). Subjects are Subject{Cluster, Broker: id}, one finding per
// kind and broker.
//
// Every broker is Present. Skew compares a broker with the cluster, so a
// broker is Observed only when none of the skew inputs of any registered
// broker has lost its data (newest entry a gap after present samples):
// otherwise a missing broker would shift the mean and resolve findings it
// should hold.
//
// Not safe for concurrent use; one goroutine owns it. It keeps no state
// between sweeps beyond scratch buffers.
type SkewDetector struct {
	cfg SkewConfig
	s   brokerScratch
}

// NewSkewDetector returns a detector with a validated config.
func NewSkewDetector(cfg SkewConfig) (*SkewDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &SkewDetector{cfg: cfg}, nil
}

// Config returns the detector's configuration.
func (d *SkewDetector) Config() SkewConfig { return d.cfg }

// skewSweep is the state of one Sweep.
type skewSweep struct {
	cfg     *SkewConfig
	s       *brokerScratch
	in      *ClusterInput
	at      int64
	res     SweepResult
	sev     Severity // warning, or info while moves are expected
	why     string   // why sev is info, "" otherwise
	brokers []*BrokerInput
}

// Sweep judges the cluster at in.At. It is a function of in (and the
// configuration).
func (d *SkewDetector) Sweep(in ClusterInput) SweepResult {
	s := &skewSweep{cfg: &d.cfg, s: &d.s, in: &in, at: in.At, sev: SeverityWarning,
		res: SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}}
	current := true
	for i := range in.Brokers {
		b := &in.Brokers[i]
		s.res.Present[Subject{Cluster: in.Cluster, Broker: b.Broker}.Key()] = true
		if skewRegistered(b) {
			s.brokers = append(s.brokers, b)
			current = current && skewCurrent(b)
		}
		if b.Restarting {
			s.sev, s.why = SeverityInfo, fmt.Sprintf("broker %d restarted within the window", b.Broker)
		}
	}
	if in.Reassigning {
		s.sev, s.why = SeverityInfo, "a partition reassignment is in progress"
	}
	for _, b := range s.brokers {
		if current {
			s.res.Observed[Subject{Cluster: in.Cluster, Broker: b.Broker}.Key()] = true
		}
	}
	for _, b := range s.brokers {
		s.leaderSkew(b)
	}
	s.replicaSkew()
	s.diskSkew()
	s.trafficSkew()
	return s.res
}

// skewRegistered: the newest SigRegistered entry is not 0 (a gap counts as
// registered), else BrokerInput.Registered.
func skewRegistered(b *BrokerInput) bool {
	if w, ok := b.Signals[SigRegistered]; ok && len(w.Values) > 0 {
		return w.Values[len(w.Values)-1] != 0
	}
	return b.Registered
}

// skewCurrent: no skew input of b has lost its data.
func skewCurrent(b *BrokerInput) bool {
	for _, sig := range []Signal{SigLeaderCount, SigNonPreferredLeaders, SigPartitionCount, SigBytesIn, SigBytesOut} {
		if lost(b.Signals[sig]) {
			return false
		}
	}
	for _, w := range b.TopicSize {
		if lost(w) {
			return false
		}
	}
	for _, ld := range b.LogDirs {
		if lost(ld.Used) {
			return false
		}
	}
	return true
}

func (s *skewSweep) add(k Kind, b *BrokerInput, summary string, ev []Citation, facts []Fact) {
	subj := Subject{Cluster: s.in.Cluster, Broker: b.Broker}
	if s.why != "" {
		summary = strings.TrimSuffix(summary, ".") + "; reported as info because " + s.why + "."
		facts = append(facts, Fact{Name: "downgraded_because", Text: s.why})
	}
	s.res.Candidates = append(s.res.Candidates, Candidate{
		Fingerprint: Fingerprint(k, subj), Kind: k, Severity: s.sev, Subject: subj,
		Summary: summary, Evidence: ev, Facts: facts, At: time.UnixMilli(s.at),
	})
}

func (s *skewSweep) cite(w SignalWindow, from int64, unit, note string) Citation {
	return s.s.cite(w, from, s.at, unit, s.at, note)
}

func skewFact(key string, v float64, unit string) Fact {
	return Fact{Name: "config.skew." + key, Value: v, Unit: unit}
}

// newest returns the newest entry of b's signal when it is present.
func newest(b *BrokerInput, sig Signal) (float64, bool) {
	w := b.Signals[sig]
	if !newestPresent(w) {
		return 0, false
	}
	return w.Values[len(w.Values)-1], true
}

// meanOf is the mean of vs; NaN when empty.
func meanOf(vs map[int32]float64) float64 {
	sum := 0.0
	for _, v := range vs {
		sum += v
	}
	return sum / float64(len(vs))
}

// leaderSkew: LEADER_SKEW (formula on SkewConfig). The cluster mean of
// leader_count is cited as context, not as a condition.
func (s *skewSweep) leaderSkew(b *BrokerInput) {
	np, okN := b.Signals[SigNonPreferredLeaders]
	lc, okL := b.Signals[SigLeaderCount]
	if !okN || !okL {
		return
	}
	stale := s.cfg.StaleAfter.Milliseconds()
	if !newestPresent(np) {
		return
	}
	// Walk back over present samples while the ratio exceeds the limit.
	last := np.Times[len(np.Times)-1]
	since, held := last, false
	for i := len(np.Values) - 1; i >= 0; i-- {
		v := np.Values[i]
		if math.IsNaN(v) {
			continue
		}
		l := valueAt(lc, np.Times[i], stale)
		if !(l > 0 && v/l > s.cfg.LeaderImbalance) {
			break
		}
		since, held = np.Times[i], true
	}
	if !held || last-since < s.cfg.LeaderSustain.Milliseconds() || s.at-last > stale {
		return
	}
	n, l := np.Values[len(np.Values)-1], valueAt(lc, last, stale)
	leaders := map[int32]float64{}
	for _, o := range s.brokers {
		if v, ok := newest(o, SigLeaderCount); ok {
			leaders[o.Broker] = v
		}
	}
	mean := meanOf(leaders)
	ev := []Citation{
		s.cite(np, since, "partitions", "partitions this broker leads whose preferred replica is another broker"),
		s.cite(lc, since, "partitions", "partitions this broker leads"),
	}
	for _, o := range s.brokers {
		if o.Broker != b.Broker && len(ev) < maxSkewCited+2 {
			if w, ok := o.Signals[SigLeaderCount]; ok && newestPresent(w) {
				ev = append(ev, s.cite(w, since, "partitions", fmt.Sprintf("partitions broker %d leads, for the cluster mean", o.Broker)))
			}
		}
	}
	s.add(KindLeaderSkew, b,
		fmt.Sprintf("Broker %d leads %s of which %.0f (%.0f %%) have another preferred leader, above %.0f %%, for %s; the cluster mean is %.1f leaders per broker.",
			b.Broker, plural(l, "partition"), n, 100*n/l, 100*s.cfg.LeaderImbalance, brief(last-since), mean),
		ev,
		[]Fact{
			{Name: "non_preferred_leaders", Value: n, Unit: "partitions"},
			{Name: "leaders", Value: l, Unit: "partitions"},
			{Name: "non_preferred_ratio", Value: n / l},
			{Name: "cluster_mean_leaders", Value: mean, Unit: "partitions"},
			{Name: "brokers_compared", Value: float64(len(leaders)), Unit: "brokers"},
			{Name: "imbalanced_for", Value: float64(last-since) / 1000, Unit: "s"},
			skewFact("leader_imbalance", s.cfg.LeaderImbalance, ""),
			skewFact("leader_sustain", s.cfg.LeaderSustain.Seconds(), "s"),
		})
}

// maxSkewCited caps the other brokers cited for a cluster mean.
const maxSkewCited = 8

// replicaSkew: REPLICA_SKEW (formula on SkewConfig).
func (s *skewSweep) replicaSkew() {
	counts := map[int32]float64{}
	for _, b := range s.brokers {
		if v, ok := newest(b, SigPartitionCount); ok {
			counts[b.Broker] = v
		}
	}
	if len(counts) < 2 {
		return
	}
	mean := meanOf(counts)
	limit := math.Ceil(s.cfg.BalanceThreshold * mean)
	for _, b := range s.brokers {
		p, ok := counts[b.Broker]
		if !ok || !(p > limit) {
			continue
		}
		s.add(KindReplicaSkew, b,
			fmt.Sprintf("Broker %d hosts %s, %.2f× the cluster mean of %.1f (limit %.0f, %.2f× the mean rounded up).",
				b.Broker, plural(p, "partition replica"), p/mean, mean, limit, s.cfg.BalanceThreshold),
			s.meanEvidence(b, SigPartitionCount, "partitions", "partition replicas hosted"),
			[]Fact{
				{Name: "partitions", Value: p, Unit: "partitions"},
				{Name: "cluster_mean_partitions", Value: mean, Unit: "partitions"},
				{Name: "ratio_to_mean", Value: p / mean},
				{Name: "limit", Value: limit, Unit: "partitions"},
				{Name: "brokers_compared", Value: float64(len(counts)), Unit: "brokers"},
				skewFact("balance_threshold", s.cfg.BalanceThreshold, ""),
			})
	}
}

// meanEvidence cites b's signal over the window and up to maxSkewCited other
// brokers' for the mean.
func (s *skewSweep) meanEvidence(b *BrokerInput, sig Signal, unit, what string) []Citation {
	from := windowStart(s.in)
	ev := []Citation{s.cite(b.Signals[sig], from, unit, fmt.Sprintf("%s by broker %d", what, b.Broker))}
	for _, o := range s.brokers {
		if o.Broker == b.Broker || len(ev) > maxSkewCited {
			continue
		}
		if w := o.Signals[sig]; newestPresent(w) {
			ev = append(ev, s.cite(w, from, unit, fmt.Sprintf("%s by broker %d, for the cluster mean", what, o.Broker)))
		}
	}
	return ev
}

// logSize is b's Σ log size from its TopicSize windows (topics) or LogDirs
// used bytes (dirs), with the windows summed; ok is false when b has no
// present newest entry in that source.
func logSize(b *BrokerInput, topics bool) (float64, []SignalWindow, bool) {
	var ws []SignalWindow
	if topics {
		names := slices.Sorted(maps.Keys(b.TopicSize))
		for _, name := range names {
			ws = append(ws, b.TopicSize[name])
		}
	} else {
		for _, ld := range b.LogDirs {
			ws = append(ws, ld.Used)
		}
	}
	sum, ok := 0.0, false
	for _, w := range ws {
		if newestPresent(w) {
			sum += w.Values[len(w.Values)-1]
			ok = true
		}
	}
	return sum, ws, ok
}

// diskSkew: DISK_SKEW (formula on SkewConfig).
func (s *skewSweep) diskSkew() {
	topics := true
	for _, b := range s.brokers {
		if _, _, ok := logSize(b, true); !ok {
			topics = false
		}
	}
	sizes, wins := map[int32]float64{}, map[int32][]SignalWindow{}
	for _, b := range s.brokers {
		if v, ws, ok := logSize(b, topics); ok {
			sizes[b.Broker], wins[b.Broker] = v, ws
		}
	}
	if len(sizes) < 2 {
		return
	}
	mean := meanOf(sizes)
	if !(mean >= s.cfg.DiskMinMean) || mean <= 0 {
		return
	}
	source := "Σ log dir used bytes"
	if topics {
		source = "Σ topic log sizes"
	}
	for _, b := range s.brokers {
		v, ok := sizes[b.Broker]
		if !ok || !(v > s.cfg.BalanceThreshold*mean) {
			continue
		}
		from := windowStart(s.in)
		var ev []Citation
		for _, w := range largest(wins[b.Broker], maxSkewCited) {
			ev = append(ev, s.cite(w, from, "bytes", fmt.Sprintf("one of the largest log-size series of broker %d", b.Broker)))
		}
		s.add(KindDiskSkew, b,
			fmt.Sprintf("Broker %d stores %s (%s), %.2f× the cluster mean of %s, above %.2f×.",
				b.Broker, bytesIEC(v), source, v/mean, bytesIEC(mean), s.cfg.BalanceThreshold),
			ev,
			[]Fact{
				{Name: "log_size", Value: v, Unit: "bytes"},
				{Name: "cluster_mean_log_size", Value: mean, Unit: "bytes"},
				{Name: "ratio_to_mean", Value: v / mean},
				{Name: "size_source", Text: source},
				{Name: "brokers_compared", Value: float64(len(sizes)), Unit: "brokers"},
				skewFact("balance_threshold", s.cfg.BalanceThreshold, ""),
				skewFact("disk_min_mean", s.cfg.DiskMinMean, "bytes"),
			})
	}
}

// windowStart is the oldest sample time of the AdminUp window, else of any
// broker signal: citations of current values cover the whole window held.
func windowStart(in *ClusterInput) int64 {
	from := in.At
	if len(in.AdminUp.Times) > 0 {
		from = min(from, in.AdminUp.Times[0])
	}
	for _, b := range in.Brokers {
		for _, w := range b.Signals {
			if len(w.Times) > 0 {
				from = min(from, w.Times[0])
			}
		}
	}
	return from
}

// largest returns up to n windows with a present newest entry, largest first.
func largest(ws []SignalWindow, n int) []SignalWindow {
	var out []SignalWindow
	for _, w := range ws {
		if newestPresent(w) {
			out = append(out, w)
		}
	}
	slices.SortStableFunc(out, func(a, b SignalWindow) int {
		x, y := a.Values[len(a.Values)-1], b.Values[len(b.Values)-1]
		switch {
		case x > y:
			return -1
		case x < y:
			return 1
		}
		return 0
	})
	return out[:min(len(out), n)]
}

// trafficRates returns, per broker, the rate of sig over [lo, hi] when its
// pairs span at least half of it.
func (s *skewSweep) trafficRates(sig Signal, lo, hi int64) map[int32]float64 {
	out := map[int32]float64{}
	for _, b := range s.brokers {
		w, ok := b.Signals[sig]
		if !ok {
			continue
		}
		inc, secs, ok := Increase(w, lo, hi)
		if !ok || secs <= 0 || 2*secs*1000 < float64(hi-lo) {
			continue
		}
		out[b.Broker] = inc / secs
	}
	return out
}

// trafficSkew: TRAFFIC_SKEW (formula on SkewConfig), one candidate per
// broker naming the directions (in, out) that deviate.
func (s *skewSweep) trafficSkew() {
	to := s.at
	from := to - s.cfg.TrafficSustain.Milliseconds()
	n := s.cfg.TrafficSlices
	type dev struct {
		sig        Signal
		what       string
		rate, mean float64 // whole window
		minDev     float64 // smallest relative deviation over the sub-windows
	}
	found := map[int32][]dev{}
	for _, d := range []struct {
		sig  Signal
		what string
	}{{SigBytesIn, "bytes in"}, {SigBytesOut, "bytes out"}} {
		minDev := map[int32]float64{}
		for _, b := range s.brokers {
			minDev[b.Broker] = math.Inf(1)
		}
		for k := range n {
			lo, hi := from+int64(k)*(to-from)/int64(n), from+int64(k+1)*(to-from)/int64(n)
			rates := s.trafficRates(d.sig, lo, hi)
			m := meanOf(rates)
			for id := range minDev {
				r, ok := rates[id]
				if len(rates) < 2 || !ok || !(m > s.cfg.TrafficMinMean) || !(math.Abs(r-m)/m > s.cfg.TrafficDeviation) {
					minDev[id] = 0
					continue
				}
				minDev[id] = min(minDev[id], math.Abs(r-m)/m)
			}
		}
		whole := s.trafficRates(d.sig, from, to)
		m := meanOf(whole)
		for id, md := range minDev {
			if md > 0 && !math.IsInf(md, 1) {
				found[id] = append(found[id], dev{d.sig, d.what, whole[id], m, md})
			}
		}
	}
	for _, b := range s.brokers {
		ds := found[b.Broker]
		if len(ds) == 0 {
			continue
		}
		var parts []string
		var ev []Citation
		var facts []Fact
		for _, d := range ds {
			dir := "above"
			if d.rate < d.mean {
				dir = "below"
			}
			pre := strings.ReplaceAll(d.what, " ", "_")
			parts = append(parts, fmt.Sprintf("%s %s/s is %.0f %% %s the cluster mean of %s/s", d.what, bytesIEC(d.rate), 100*math.Abs(d.rate-d.mean)/d.mean, dir, bytesIEC(d.mean)))
			ev = append(ev, s.cite(b.Signals[d.sig], from, "bytes", fmt.Sprintf("%s counter of broker %d", d.what, b.Broker)))
			facts = append(facts,
				Fact{Name: pre + "_rate", Value: d.rate, Unit: "bytes/s"},
				Fact{Name: pre + "_cluster_mean", Value: d.mean, Unit: "bytes/s"},
				Fact{Name: pre + "_min_deviation", Value: d.minDev})
		}
		facts = append(facts,
			skewFact("traffic_deviation", s.cfg.TrafficDeviation, ""),
			skewFact("traffic_min_mean", s.cfg.TrafficMinMean, "bytes/s"),
			skewFact("traffic_sustain", s.cfg.TrafficSustain.Seconds(), "s"),
			skewFact("traffic_slices", float64(s.cfg.TrafficSlices), ""))
		s.add(KindTrafficSkew, b,
			fmt.Sprintf("Broker %d's %s, deviating more than %.0f %% in each of %d windows over the last %s.",
				b.Broker, strings.Join(parts, " and its "), 100*s.cfg.TrafficDeviation, n, brief(to-from)),
			ev, facts)
	}
}
