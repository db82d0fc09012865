package detect

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// EndWindow is the log end offset history of one topic-partition. End
// offsets belong to the topic-partition, not to a group: every group that
// consumes it sees the same series, so hot partitions are judged once per
// topic-partition.
type EndWindow struct {
	Partition int32
	Times     []int64 // Unix ms of each sweep, ascending
	End       []int64 // log end offset (ListOffsets latest); Gap when missing
	Series    uint32  // series id of the end offset, for citations (TopicView.SeriesRef)
}

// TopicInput is every partition of one topic at the newest sweep.
type TopicInput struct {
	Cluster    string
	Topic      string
	Partitions []EndWindow
	// Owners optionally maps a partition to the consumer member that owns it
	// ("client-id@host" from DescribeGroups) in OwnerGroup, so that a
	// finding can say whether one member must absorb the hot traffic.
	Owners     map[int32]string
	OwnerGroup string
}

// TopicView supplies per-topic windows to the hot-partition detector. The
// state package implements it; implementations may reuse the TopicInput
// between calls of fn: fn must not retain it.
type TopicView interface {
	EachTopic(fn func(t *TopicInput))
	SeriesRef(id uint32) SeriesRef
}

// HotConfig holds the hot-partition thresholds. Start from DefaultHotConfig.
//
// Formula: over the last Sustain before the newest sweep, split into Slices
// equal sub-windows, a partition is hot when in every sub-window its produce
// rate r (RobustSlope of its log end offset) satisfies
//
//	r > Factor × median(rates of the topic's partitions in that sub-window)  and  r ≥ MinRate.
//
// Sustain scales with the evidence: a partition is also hot when the same
// holds with FastFactor (default 8) in place of Factor over the last
// FastSustain (default 45 s; at most Sustain) split into Slices
// sub-windows. Worst-case
// latency of a steady ≥ 10× partition (measured rates scatter by ±20 %
// around it, so the threshold sits at 8×): FastSustain + the slow detectors'
// cadence (findings.slow_every, 30 s) + one poll = 76 s; a marginal 3×
// partition keeps the long sustain: Sustain + 30 s + one poll. The
// sub-window requirement is the hysteresis, so the finding opens without
// Book.OpenAfter.
//
// A partition is judged only with present samples spanning at least half of
// every sub-window; the median is over judged partitions. With two
// partitions the median is their mean, so neither can exceed 3× it: the
// detector needs three or more partitions to fire at the default Factor.
// Requiring each sub-window (rather than the whole window's rate) keeps a
// short burst, which lifts the mean of a whole window, from reading as
// sustained; the robust slope keeps bursty but balanced producers quiet.
//
// Sources: Factor 3 and Sustain 15m are kwitness's choices (no peer project
// publishes a default; klag flags partitions above the topic mean + 2σ,
// which a single hot partition itself inflates, hence the median here);
// MinRate 1 message/s so that
// near-idle topics, where one stray record is "infinitely" above a median of
// zero, never flag; Slices 3 (5-minute sub-windows by default: long enough
// for a robust slope over bursty traffic, short enough that a 5-minute burst
// cannot carry the whole window). FastFactor 8 and FastSustain 45 s are
// kwitness's choices: 45 s in three 15 s sub-windows outlasts the 30 s
// bursts a balanced but bursty topic shows on one partition at a time, and
// 8× is far outside what key skew in a balanced topic produces while a
// steady 10× partition clears it in every sub-window.
type HotConfig struct {
	Factor      float64       `yaml:"factor"`       // default 3
	MinRate     float64       `yaml:"min_rate"`     // messages/s; default 1
	Sustain     time.Duration `yaml:"sustain"`      // default 15m
	Slices      int           `yaml:"slices"`       // default 3
	FastFactor  float64       `yaml:"fast_factor"`  // default 8
	FastSustain time.Duration `yaml:"fast_sustain"` // default 45s
}

// DefaultHotConfig returns the defaults documented on HotConfig.
func DefaultHotConfig() HotConfig {
	return HotConfig{Factor: 3, MinRate: 1, Sustain: 15 * time.Minute, Slices: 3, FastFactor: 8, FastSustain: 45 * time.Second}
}

// Validate reports invalid fields by YAML key.
func (c HotConfig) Validate() error {
	var errs []error
	if !(c.Factor > 1) {
		errs = append(errs, fmt.Errorf("hot_partition.factor: must be > 1, got %g", c.Factor))
	}
	if !(c.MinRate > 0) {
		errs = append(errs, fmt.Errorf("hot_partition.min_rate: must be > 0 messages/s, got %g", c.MinRate))
	}
	if c.Sustain <= 0 {
		errs = append(errs, fmt.Errorf("hot_partition.sustain: must be a positive duration, got %s", c.Sustain))
	}
	if !(c.FastFactor >= c.Factor) {
		errs = append(errs, fmt.Errorf("hot_partition.fast_factor: must be ≥ factor (%g), got %g", c.Factor, c.FastFactor))
	}
	if c.FastSustain <= 0 {
		errs = append(errs, fmt.Errorf("hot_partition.fast_sustain: must be a positive duration, got %s", c.FastSustain))
	}
	if c.Slices < 1 || c.Slices > 60 {
		errs = append(errs, fmt.Errorf("hot_partition.slices: must be 1..60, got %d", c.Slices))
	}
	return errors.Join(errs...)
}

// HotPartition is one partition judged hot.
type HotPartition struct {
	Topic     string
	Partition int32
	Rate      float64 // messages/s over the sustain window, robust
	Median    float64 // the topic's median rate over the same window
	Ratio     float64 // Rate / Median; +Inf when the median is 0
	MinRatio  float64 // the smallest per-sub-window ratio (how sustained); +Inf when every median was 0
	Fast      bool    // judged over FastSustain at FastFactor (not yet over Sustain)
	Owner     string  // consumer member owning it, "" when not known
	Series    uint32  // series id of its end offset
	FromMs    int64   // the sustain window judged
	ToMs      int64
}

// HotPartitions returns the hot partitions of one topic, hottest first
// (formula on HotConfig). owners is optional (partition → member id). It is
// a pure function.
func HotPartitions(topic string, parts []EndWindow, owners map[int32]string, cfg HotConfig) []HotPartition {
	hot, _ := judgeHot(topic, parts, owners, cfg)
	return hot
}

// judgeHot returns the hot partitions and whether every partition was
// judged over the long window: hot over Sustain at Factor, or over
// FastSustain at FastFactor.
func judgeHot(topic string, parts []EndWindow, owners map[int32]string, cfg HotConfig) ([]HotPartition, bool) {
	to := int64(math.MinInt64)
	for _, p := range parts {
		if n := len(p.Times); n > 0 {
			to = max(to, p.Times[n-1])
		}
	}
	if to == math.MinInt64 {
		return nil, false
	}
	hot, all := hotOver(topic, parts, owners, to, cfg.Sustain, cfg.Factor, cfg)
	fast, _ := hotOver(topic, parts, owners, to, min(cfg.FastSustain, cfg.Sustain), cfg.FastFactor, cfg)
	for _, h := range fast {
		if !slices.ContainsFunc(hot, func(x HotPartition) bool { return x.Partition == h.Partition }) {
			h.Fast = true
			hot = append(hot, h)
		}
	}
	slices.SortStableFunc(hot, func(a, b HotPartition) int {
		return cmp.Or(cmp.Compare(b.Rate, a.Rate), cmp.Compare(a.Partition, b.Partition))
	})
	return hot, all
}

// hotOver returns the partitions hot over the span ending at to at factor,
// and whether every partition was judged.
func hotOver(topic string, parts []EndWindow, owners map[int32]string, to int64, span time.Duration, factor float64, cfg HotConfig) ([]HotPartition, bool) {
	from := to - span.Milliseconds()
	rates, medians := windowRates(parts, from, to, cfg.Slices)
	all := true
	var hot []HotPartition
	for i := range parts {
		minRatio, judged := math.Inf(1), true
		for k := range cfg.Slices {
			r := rates[k][i]
			judged = judged && !math.IsNaN(r)
			if !(r > factor*medians[k] && r >= cfg.MinRate) {
				minRatio = 0
				continue
			}
			minRatio = min(minRatio, ratio(r, medians[k]))
		}
		all = all && judged
		if !judged || minRatio == 0 {
			continue
		}
		r, m := rates[cfg.Slices][i], medians[cfg.Slices]
		hot = append(hot, HotPartition{Topic: topic, Partition: parts[i].Partition, Rate: r, Median: m, Ratio: ratio(r, m),
			MinRatio: minRatio, Owner: owners[parts[i].Partition], Series: parts[i].Series, FromMs: from, ToMs: to})
	}
	return hot, all
}

// windowRates returns, for each of n sub-windows of [from, to] and then for
// the whole of it, the produce rate of every partition (NaN when not judged)
// and their median.
func windowRates(parts []EndWindow, from, to int64, n int) (rates [][]float64, medians []float64) {
	rates, medians = make([][]float64, n+1), make([]float64, n+1)
	for k := range rates {
		lo, hi := from, to
		if k < n {
			lo, hi = from+int64(k)*(to-from)/int64(n), from+int64(k+1)*(to-from)/int64(n)
		}
		rates[k] = make([]float64, len(parts))
		for i := range parts {
			rates[k][i] = produceRate(&parts[i], lo, hi)
		}
		medians[k] = medianOf(rates[k])
	}
	return rates, medians
}

// produceRate is the robust slope (messages/s) of p's end offset over the
// present samples in [lo, hi] and the newest present sample before lo (a
// window whose older samples are decimated may hold a single sample in a
// short sub-window); NaN when they span less than half of [lo, hi].
func produceRate(p *EndWindow, lo, hi int64) float64 {
	var xs, ys []float64
	first, last := int64(0), int64(0)
	before := -1
	for i, t := range p.Times {
		if t < lo && p.End[i] != Gap {
			before = i
		}
	}
	for i, t := range p.Times {
		if (t < lo && i != before) || t > hi || p.End[i] == Gap {
			continue
		}
		if xs == nil {
			first = t
		}
		last = t
		xs, ys = append(xs, float64(t-first)/1000), append(ys, float64(p.End[i]))
	}
	if len(xs) < 2 || 2*(last-first) < hi-lo {
		return math.NaN()
	}
	r, _, _ := RobustSlope(xs, ys, nil)
	return r
}

// medianOf is the median of the non-NaN values of vs; NaN when none.
func medianOf(vs []float64) float64 {
	var s []float64
	for _, v := range vs {
		if !math.IsNaN(v) {
			s = append(s, v)
		}
	}
	if len(s) == 0 {
		return math.NaN()
	}
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

func ratio(r, median float64) float64 {
	if median <= 0 {
		return math.Inf(1)
	}
	return r / median
}

// HotDetector raises HOT_PARTITION (warning), one candidate per topic
// listing its hot partitions (formula on HotConfig). A topic is Observed
// only when every partition was judged, so a gap, or a partition younger
// than Sustain, holds its finding rather than resolving it.
//
// Not safe for concurrent use; one goroutine owns it.
type HotDetector struct {
	cfg     HotConfig
	scratch LagScratch
}

// NewHotDetector returns a detector with a validated config.
func NewHotDetector(cfg HotConfig) (*HotDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &HotDetector{cfg: cfg}, nil
}

// Config returns the detector's configuration.
func (d *HotDetector) Config() HotConfig { return d.cfg }

// Sweep judges every topic of v.
func (d *HotDetector) Sweep(v TopicView) SweepResult {
	res := SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}
	v.EachTopic(func(in *TopicInput) {
		subj := Subject{Cluster: in.Cluster, Topic: in.Topic, Broker: -1}
		res.Present[subj.Key()] = true
		hot, all := judgeHot(in.Topic, in.Partitions, in.Owners, d.cfg)
		if all {
			res.Observed[subj.Key()] = true
		}
		if len(hot) > 0 {
			res.Candidates = append(res.Candidates, d.candidate(v, in, subj, hot))
		}
	})
	return res
}

func (d *HotDetector) candidate(v TopicView, in *TopicInput, subj Subject, hot []HotPartition) Candidate {
	for _, h := range hot {
		subj.Partitions = append(subj.Partitions, h.Partition)
	}
	slices.Sort(subj.Partitions)
	c := Candidate{Fingerprint: Fingerprint(KindHotPartition, subj), Kind: KindHotPartition, Severity: SeverityWarning,
		Subject: subj, At: time.UnixMilli(hot[0].ToMs), Confirmed: true}
	for _, h := range hot[:min(len(hot), maxCitedPartitions)] {
		note := fmt.Sprintf("log end offset of partition %d: %.1f messages/s, %s the topic median of %.1f/s", h.Partition, h.Rate, times(h.Ratio), h.Median)
		if h.Owner != "" {
			note += "; consumed by " + h.Owner
		}
		c.Evidence = append(c.Evidence, d.cite(v, &in.Partitions[partitionIndex(in.Partitions, h.Partition)], h, note))
	}
	if j := medianPartition(in.Partitions, hot); j >= 0 {
		p := &in.Partitions[j]
		c.Evidence = append(c.Evidence, d.cite(v, p, hot[0], fmt.Sprintf("log end offset of partition %d: a partition at the topic median", p.Partition)))
	}
	owner := soleOwner(hot)
	c.Facts = hotFacts(hot, owner, len(in.Partitions), d.cfg)
	c.Summary = hotSummary(in, hot, owner, d.cfg)
	return c
}

// cite summarises p's end offsets over h's window.
func (d *HotDetector) cite(v TopicView, p *EndWindow, h HotPartition, note string) Citation {
	c := Summarize(p.Times, p.End, h.FromMs, h.ToMs, &d.scratch)
	c.Series = v.SeriesRef(p.Series)
	c.Source = Source{API: columnSource[ColEnd], SweepAt: time.UnixMilli(h.ToMs)}
	c.Note = note
	return c
}

// medianPartition is the index of the partition, not hot, whose
// whole-window rate is closest to the topic median, for a reference
// citation; -1 when none.
func medianPartition(parts []EndWindow, hot []HotPartition) int {
	h := hot[0]
	best, bestD := -1, math.Inf(1)
	for i := range parts {
		if slices.ContainsFunc(hot, func(x HotPartition) bool { return x.Partition == parts[i].Partition }) {
			continue
		}
		if d := math.Abs(produceRate(&parts[i], h.FromMs, h.ToMs) - h.Median); d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// partitionIndex is the index of partition p in parts (present: it was judged).
func partitionIndex(parts []EndWindow, p int32) int {
	return slices.IndexFunc(parts, func(w EndWindow) bool { return w.Partition == p })
}

// soleOwner is the member owning every hot partition, "" when not one.
func soleOwner(hot []HotPartition) string {
	o := hot[0].Owner
	for _, h := range hot {
		if h.Owner != o {
			return ""
		}
	}
	return o
}

func hotFacts(hot []HotPartition, owner string, partitions int, cfg HotConfig) []Fact {
	h := hot[0]
	f := []Fact{
		{Name: "partitions_affected", Value: float64(len(hot)), Unit: "partitions"},
		{Name: "topic_partitions", Value: float64(partitions), Unit: "partitions"},
		{Name: "hottest_partition", Value: float64(h.Partition)},
		{Name: "hottest_rate", Value: h.Rate, Unit: "messages/s"},
		{Name: "topic_median_rate", Value: h.Median, Unit: "messages/s"},
	}
	if !math.IsInf(h.Ratio, 1) {
		f = append(f, Fact{Name: "ratio_to_median", Value: h.Ratio})
	}
	sustain, factor := cfg.Sustain, cfg.Factor
	if h.Fast {
		sustain, factor = min(cfg.FastSustain, cfg.Sustain), cfg.FastFactor
	}
	f = append(f, Fact{Name: "judged_against", Text: fmt.Sprintf("above %g× the topic median in each of %d sub-windows of the last %s", factor, cfg.Slices, brief(sustain.Milliseconds()))})
	if h.Owner != "" {
		f = append(f, Fact{Name: "hottest_owner", Text: h.Owner})
	}
	if owner != "" {
		f = append(f, Fact{Name: "single_owner", Text: owner})
	}
	return append(f,
		Fact{Name: "config.hot_partition.factor", Value: cfg.Factor},
		Fact{Name: "config.hot_partition.min_rate", Value: cfg.MinRate, Unit: "messages/s"},
		Fact{Name: "config.hot_partition.sustain", Value: cfg.Sustain.Seconds(), Unit: "s"},
		Fact{Name: "config.hot_partition.slices", Value: float64(cfg.Slices)},
		Fact{Name: "config.hot_partition.fast_factor", Value: cfg.FastFactor},
		Fact{Name: "config.hot_partition.fast_sustain", Value: cfg.FastSustain.Seconds(), Unit: "s"})
}

// hotSummary writes the one-sentence summary of a candidate.
func hotSummary(in *TopicInput, hot []HotPartition, owner string, cfg HotConfig) string {
	h := hot[0]
	sustain := cfg.Sustain
	if h.Fast {
		sustain = min(cfg.FastSustain, cfg.Sustain)
	}
	s := fmt.Sprintf("Partition %d of topic %s receives %.1f messages/s, %s the topic's median of %.1f/s, sustained for %s",
		h.Partition, strconv.Quote(in.Topic), h.Rate, times(h.Ratio), h.Median, brief(sustain.Milliseconds()))
	if len(hot) > 1 {
		parts := make([]int32, len(hot))
		for i, x := range hot {
			parts[i] = x.Partition
		}
		slices.Sort(parts)
		s += fmt.Sprintf(" (hot: %s)", partitionList(parts))
	}
	group := ""
	if in.OwnerGroup != "" {
		group = " of group " + strconv.Quote(in.OwnerGroup)
	}
	switch {
	case owner != "" && len(hot) > 1:
		s += fmt.Sprintf("; one consumer member%s, %s, owns all of them", group, owner)
	case owner != "":
		s += fmt.Sprintf("; one consumer member%s, %s, owns it", group, owner)
	case h.Owner != "":
		s += fmt.Sprintf("; consumed by %s%s", h.Owner, group)
	}
	return s + "."
}

// times renders a ratio as "6.0×", or "far above" when the median is 0.
func times(r float64) string {
	if math.IsInf(r, 1) {
		return "far above"
	}
	return strconv.FormatFloat(r, 'f', 1, 64) + "×"
}
