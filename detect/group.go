package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Column names one of the three offset series of a group-partition.
type Column int

// Columns of a PartitionWindow.
const (
	ColCommitted Column = iota
	ColEnd
	ColStart
)

// Source APIs of the offset columns, as cited in evidence.
var columnSource = [...]string{
	ColCommitted: "OffsetFetch",
	ColEnd:       "ListOffsets(latest)",
	ColStart:     "ListOffsets(earliest)",
}

// PartitionInput is one partition of a GroupTopic as the view supplies it.
type PartitionInput struct {
	Partition int32
	Window    PartitionWindow
	Series    [3]uint32 // series ids by Column, resolved by ConsumerView.SeriesRef for citations
}

// GroupTopic is every watched partition of one topic consumed by one group,
// at the newest sweep.
type GroupTopic struct {
	Cluster    string
	Group      string
	Topic      string
	Context    GroupContext
	Partitions []PartitionInput
}

// ConsumerView supplies windows to the lag detector. The state package
// implements it over its rings. Implementations may reuse the GroupTopic and
// its slices between calls of fn: fn must not retain them.
type ConsumerView interface {
	EachGroupTopic(fn func(gt *GroupTopic))
	SeriesRef(id uint32) SeriesRef
}

// Candidate is a condition the detector sees at this sweep; the Book decides
// whether it opens, updates or resolves a finding.
type Candidate struct {
	Fingerprint string
	Kind        Kind
	Severity    Severity
	Subject     Subject
	Summary     string
	Evidence    []Citation
	Facts       []Fact
	At          time.Time // the sweep judged
	// Confirmed: the detector's rule already required the condition to
	// persist (a learned slack, two rising lag troughs), so the Book opens
	// the finding at once instead of after OpenAfter.
	Confirmed bool
}

// SweepResult is what one lag-detector pass produced.
type SweepResult struct {
	Candidates []Candidate
	Observed   map[string]bool // subject keys judged with data at this sweep
	Present    map[string]bool // subject keys that exist (judged or in a gap)
}

// LagDetector evaluates every group-topic of a view. Not safe for concurrent
// use; one goroutine owns it.
type LagDetector struct {
	deploys map[string][]DeployEvent // reported deploy events by group (SetDeploys)
	cfg     LagConfig
	scratch LagScratch
	rhythms rhythms // learned per group-partition, in the view's order
	results []PartitionLag
	slots   []int // rhythm slot of each result (rhythms.get)
	cited   []int

	observed, present int // map sizes of the previous Sweep
}

// NewLagDetector returns a detector with a validated config.
func NewLagDetector(cfg LagConfig) (*LagDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &LagDetector{cfg: cfg}, nil
}

// Config returns the detector's configuration.
func (d *LagDetector) Config() LagConfig { return d.cfg }

// Sweep evaluates the view and returns the candidates of this sweep.
func (d *LagDetector) Sweep(v ConsumerView) SweepResult {
	// Sized for as many group-topics as the previous sweep saw.
	res := SweepResult{Observed: make(map[string]bool, d.observed), Present: make(map[string]bool, d.present)}
	d.rhythms.begin()
	defer d.rhythms.end()
	v.EachGroupTopic(func(gt *GroupTopic) {
		key := subjectOf(gt, nil).Key()
		res.Present[key] = true
		d.evaluateLazy(v, gt) // rates are needed only for cited partitions
		seen := d.statuses()
		if seen&^(1<<StatusUnknown) == 0 {
			return // nothing known
		}
		res.Observed[key] = true
		if seen&^(1<<StatusUnknown|1<<StatusOK) != 0 {
			res.Candidates = d.appendCandidates(res.Candidates, v, gt, seen)
		}
		if c, ok := d.assignmentCandidate(v, gt); ok {
			res.Candidates = append(res.Candidates, c)
		}
	})
	d.observed, d.present = len(res.Observed), len(res.Present)
	return res
}

// GroupLag evaluates one group-topic and returns the per-partition verdicts,
// in the order of gt.Partitions, with every rate. Each partition's rhythm is
// learned from its window alone (as EvaluatePartition does), not from the
// sweeps this detector observed. A lazy view's windows must be loaded (see
// GroupLagOf). The slice is reused by the next call.
func (d *LagDetector) GroupLag(gt *GroupTopic) []PartitionLag {
	d.results, d.slots = d.results[:0], d.slots[:0]
	for i := range gt.Partitions {
		var rh Rhythm
		observeWindow(&rh, gt.Partitions[i].Window, d.cfg)
		d.results = append(d.results, evaluatePartition(d.cfg, gt.Partitions[i].Window, gt.Context, &d.scratch, &rh, true))
	}
	return d.results
}

// GroupLagOf is GroupLag for a group-topic of v, loading windows as needed.
func (d *LagDetector) GroupLagOf(v ConsumerView, gt *GroupTopic) []PartitionLag {
	for j := range gt.Partitions {
		ensureLoaded(v, gt, j)
	}
	return d.GroupLag(gt)
}

// rhythmOf returns a copy of the rhythm of result j of the group-topic
// being judged by Sweep; outside a sweep (GroupLag) the zero Rhythm.
func (d *LagDetector) rhythmOf(j int) Rhythm {
	if j < len(d.slots) && len(d.slots) == len(d.results) {
		return *d.rhythms.get(d.slots[j])
	}
	return Rhythm{}
}

// RhythmBytes is the memory the learned rhythms hold, bytes.
func (d *LagDetector) RhythmBytes() int { return d.rhythms.Bytes() }

// evaluateLazy feeds every partition's newest sweep to its learned rhythm
// and judges it, proving healthy ones OK from their summaries when v is lazy
// and reading whole windows for the rest.
func (d *LagDetector) evaluateLazy(v ConsumerView, gt *GroupTopic) {
	lv, lazy := v.(LazyView)
	tk := groupTopicKey(gt)
	stale := d.cfg.Window.Milliseconds()
	d.results, d.slots = d.results[:0], d.slots[:0]
	for j := range gt.Partitions {
		d.slots = append(d.slots, d.rhythms.k)
		rh := d.rhythms.at(rhythmKey(tk, gt.Partitions[j].Partition))
		if lazy && !loaded(gt, j) {
			s := lv.Summary(gt, j, &d.cfg)
			if s.Committed != Gap && s.End != Gap {
				rh.Observe(s.ToMs, s.Committed, s.End, stale)
			}
			if r, ok := fastVerdict(d.cfg, s, gt.Context, rh); ok {
				d.results = append(d.results, r)
				continue
			}
			lv.LoadOffsets(gt, j)
		} else {
			observeWindow(rh, gt.Partitions[j].Window, d.cfg)
		}
		d.results = append(d.results, evaluatePartition(d.cfg, gt.Partitions[j].Window, gt.Context, &d.scratch, rh, false))
	}
}

// statuses returns the set of statuses in d.results, bit 1<<Status each.
func (d *LagDetector) statuses() uint32 {
	var seen uint32
	for i := range d.results {
		seen |= 1 << d.results[i].Status
	}
	return seen
}

// appendCandidates adds one candidate per non-OK status present in gt; seen
// is d.statuses().
func (d *LagDetector) appendCandidates(dst []Candidate, v ConsumerView, gt *GroupTopic, seen uint32) []Candidate {
	for st := StatusLagGrowing; st <= StatusRewind; st++ {
		if seen&(1<<st) == 0 {
			continue
		}
		d.cited = d.cited[:0]
		for i, r := range d.results {
			if r.Status == st {
				d.cited = append(d.cited, i)
			}
		}
		if len(d.cited) > 0 {
			dst = append(dst, d.candidate(v, gt, st))
		}
	}
	return dst
}

// maxCitedPartitions bounds the evidence of one finding: the worst partitions
// by lag are cited, the rest are counted.
const maxCitedPartitions = 3

func (d *LagDetector) candidate(v ConsumerView, gt *GroupTopic, st Status) Candidate {
	idx := d.cited
	parts := make([]int32, len(idx))
	var total int64
	for i, j := range idx {
		parts[i] = gt.Partitions[j].Partition
		total += d.results[j].Lag
	}
	slices.Sort(parts)
	worst := slices.Clone(idx)
	slices.SortFunc(worst, func(a, b int) int {
		return cmp.Compare(lagRank(d.results[b]), lagRank(d.results[a]))
	})
	worst = worst[:min(len(worst), maxCitedPartitions)]

	subj := subjectOf(gt, parts)
	k := st.Kind()
	c := Candidate{
		Fingerprint: Fingerprint(k, subj),
		Kind:        k,
		Severity:    severityOf(st),
		Subject:     subj,
		At:          time.UnixMilli(d.results[worst[0]].ToMs),
	}
	for _, j := range worst {
		c.Evidence = append(c.Evidence, d.Citations(v, gt, j, st)...)
	}
	c.Facts = d.facts(gt, worst[0], total, len(idx))
	c.Confirmed = st != StatusRewind
	c.Summary = summarize(gt, st, gt.Partitions[worst[0]].Partition, d.results[worst[0]], total, parts)
	if st == StatusLagGrowing || st == StatusStalled {
		d.correlateDeploy(v, gt, worst[0], &c)
	}
	return c
}

// lagRank orders partitions for citation: rewinds by size, others by lag.
func lagRank(r PartitionLag) int64 {
	if r.Status == StatusRewind {
		return r.RewindBy
	}
	return r.Lag
}

func severityOf(st Status) Severity {
	switch st {
	case StatusStalled:
		return SeverityCritical
	case StatusLagGrowing, StatusStopped, StatusRewind:
		return SeverityWarning
	}
	return SeverityInfo
}

func subjectOf(gt *GroupTopic, parts []int32) Subject {
	return Subject{Cluster: gt.Cluster, Group: gt.Group, Topic: gt.Topic, Partitions: parts, Broker: -1}
}

// Citations cites the committed and end offset series of partition j of gt
// over the window judged by the last GroupLag or Sweep call on gt.
func (d *LagDetector) Citations(v ConsumerView, gt *GroupTopic, j int, st Status) []Citation {
	p := &gt.Partitions[j]
	r := d.results[j]
	notes := [2]string{
		"committed offset: its slope is the consume rate",
		"log end offset: its slope is the produce rate",
	}
	switch st {
	case StatusStalled, StatusStopped:
		notes[0] = fmt.Sprintf("committed offset unchanged for %s while lag > 0", secs(r.StuckForMs))
	case StatusRewind:
		notes[0] = fmt.Sprintf("committed offset went back by %d messages", r.RewindBy)
	}
	return []Citation{
		citeColumn(v, p, ColCommitted, r.FromMs, r.ToMs, notes[ColCommitted], &d.scratch),
		citeColumn(v, p, ColEnd, r.FromMs, r.ToMs, notes[ColEnd], &d.scratch),
	}
}

// column returns one column of the window.
func (w PartitionWindow) column(col Column) []int64 {
	switch col {
	case ColEnd:
		return w.End
	case ColStart:
		return w.Start
	}
	return w.Committed
}

// citeColumn cites one column of partition p over [from, to] (Unix ms).
func citeColumn(v ConsumerView, p *PartitionInput, col Column, from, to int64, note string, s *LagScratch) Citation {
	c := Summarize(p.Window.Times, p.Window.column(col), from, to, s)
	c.Series = v.SeriesRef(p.Series[col])
	c.Source = Source{API: columnSource[col], SweepAt: time.UnixMilli(to)}
	c.Note = note
	return c
}

// Summarize computes a citation's numbers for the samples of one column in
// [from, to] (Unix ms); the citation's From and To are the times of the
// first and last present samples, so the raw samples at its ends carry First
// and Last. Series and Source are left for the caller.
func Summarize(times, vals []int64, from, to int64, s *LagScratch) Citation {
	c := Citation{From: time.UnixMilli(from), To: time.UnixMilli(to), SlopeUnit: "messages/s"}
	s.xs, s.com = s.xs[:0], s.com[:0]
	for i, t := range times {
		if t < from || t > to {
			continue
		}
		if vals[i] == Gap {
			c.Gaps++
			continue
		}
		v := float64(vals[i])
		if c.Count == 0 {
			c.First, c.Min, c.Max = v, v, v
			c.From = time.UnixMilli(t) // the window cited starts and ends at samples
		}
		c.Count++
		c.Last, c.Min, c.Max = v, math.Min(c.Min, v), math.Max(c.Max, v)
		c.To = time.UnixMilli(t)
		s.xs = append(s.xs, float64(t-from)/1000)
		s.com = append(s.com, v)
	}
	c.Slope, _, s.buf = RobustSlope(s.xs, s.com, s.buf)
	return c
}

func (d *LagDetector) facts(gt *GroupTopic, j int, total int64, n int) []Fact {
	r := d.results[j]
	f := []Fact{
		{Name: "total_lag", Value: float64(total), Unit: "messages"},
		{Name: "partitions_affected", Value: float64(n), Unit: "partitions"},
		{Name: "worst_partition", Value: float64(gt.Partitions[j].Partition)},
		{Name: "worst_partition_lag", Value: float64(r.Lag), Unit: "messages"},
		{Name: "worst_partition_lag_first", Value: float64(r.LagFirst), Unit: "messages"},
		{Name: "worst_partition_lag_trough", Value: float64(r.LagTrough), Unit: "messages",
			Text: "smallest lag over the newest lag.trough_span"},
		{Name: "lag_growth_rate", Value: r.LagSlope, Unit: "messages/s"},
		{Name: "consume_rate", Value: r.ConsumeRate, Unit: "messages/s"},
		{Name: "produce_rate", Value: r.ProduceRate, Unit: "messages/s"},
		{Name: "committed_unchanged_for", Value: float64(r.UnchangedForMs) / 1000, Unit: "s"},
		{Name: "stuck_with_lag_for", Value: float64(r.StuckForMs) / 1000, Unit: "s"},
		catchUpFact(r.CatchUp),
	}
	if r.Status != StatusRewind {
		f = append(f, Fact{Name: "judged_against", Text: "partition " + strconv.Itoa(int(gt.Partitions[j].Partition)) + ": " + r.Rhythm.Describe(r.ToMs)})
		f = append(f, r.Rhythm.facts(r.ToMs)...)
		if r.Status == StatusLagGrowing {
			f = append(f, Fact{Name: "lag_trough_growth", Value: float64(r.Growth), Unit: "messages",
				Text: "rise of the lag right after commits over the run of rising troughs"})
		}
	}
	if tl := EstimateTimeLag(gt.Partitions[j].Window); tl.Known() {
		f = append(f, Fact{Name: "worst_partition_time_lag", Value: tl.Seconds, Unit: "s",
			Text: fmt.Sprintf("%s, between %.0fs and %.0fs", tl.Method, tl.Low, tl.High)})
		if tl.Skipped > 0 {
			f = append(f, Fact{Name: "worst_partition_records_skipped", Value: float64(tl.Skipped), Unit: "messages",
				Text: "deleted by retention before the group read them; the time lag is the age of the oldest record it can still read"})
		}
	}
	if gt.Context.Known {
		f = append(f,
			Fact{Name: "group_state", Text: gt.Context.State},
			Fact{Name: "group_members", Value: float64(gt.Context.Members), Unit: "members"},
			Fact{Name: "group_generation", Value: float64(gt.Context.Generation)},
		)
	}
	return append(f,
		Fact{Name: "config.lag.window", Value: d.cfg.Window.Seconds(), Unit: "s"},
		Fact{Name: "config.lag.stall_after", Value: d.cfg.StallAfter.Seconds(), Unit: "s"},
		Fact{Name: "config.lag.stop_after", Value: d.cfg.StopAfter.Seconds(), Unit: "s"},
		Fact{Name: "config.lag.min_growth", Value: float64(d.cfg.MinGrowth), Unit: "messages"},
		Fact{Name: "config.lag.trough_span", Value: d.cfg.TroughSpan.Seconds(), Unit: "s"},
		Fact{Name: "config.lag.growth_sustain", Value: d.cfg.GrowthSustain.Seconds(), Unit: "s"},
	)
}

func catchUpFact(s float64) Fact {
	if math.IsInf(s, 1) {
		return Fact{Name: "time_to_catch_up", Text: "never at current rates", Unit: "s"}
	}
	return Fact{Name: "time_to_catch_up", Value: s, Unit: "s"}
}

// summarize writes the one-sentence summary of a candidate.
func summarize(gt *GroupTopic, st Status, worst int32, w PartitionLag, total int64, parts []int32) string {
	g, t := strconv.Quote(gt.Group), strconv.Quote(gt.Topic)
	ps := partitionList(parts)
	switch st {
	case StatusLagGrowing:
		return fmt.Sprintf("Consumer group %s is falling behind on topic %s (%s): the lag right after its commits on partition %d rose by %d messages and the lag now totals %d; %s.",
			g, t, ps, worst, w.Growth, total, catchUpPhrase(w.CatchUp))
	case StatusStalled:
		return fmt.Sprintf("Consumer group %s has members but has not advanced its committed offset on topic %s (%s) for %s while %d messages wait (%s).",
			g, t, ps, secs(w.UnchangedForMs), total, cadencePhrase(w.Rhythm))
	case StatusStopped:
		return fmt.Sprintf("Consumer group %s has no members and has not committed on topic %s (%s) for %s while %d messages wait (%s).",
			g, t, ps, secs(w.UnchangedForMs), total, cadencePhrase(w.Rhythm))
	case StatusRewind:
		return fmt.Sprintf("Consumer group %s moved its committed offset on topic %s (%s) back by %d messages, to %d.",
			g, t, ps, w.RewindBy, w.Committed)
	}
	return ""
}

// cadencePhrase says what a stall was judged against.
func cadencePhrase(r Rhythm) string {
	if !r.Learned() {
		return "its commit cadence is not learned yet"
	}
	med, p95 := r.Interval()
	return fmt.Sprintf("it commits every %.1f s, p95 %.1f s", med.Seconds(), p95.Seconds())
}

func catchUpPhrase(s float64) string {
	switch {
	case math.IsInf(s, 1):
		return "at current rates it will never catch up"
	case s == 0:
		return "it has caught up"
	}
	return "at current rates it catches up in " + secs(int64(s*1000))
}

// partitionList renders "partition 3" or "partitions 0,1,2" (at most 8 listed).
func partitionList(ps []int32) string {
	if len(ps) == 1 {
		return "partition " + strconv.Itoa(int(ps[0]))
	}
	var b strings.Builder
	b.WriteString("partitions ")
	for i, p := range ps {
		if i == 8 {
			fmt.Fprintf(&b, " and %d more", len(ps)-8)
			break
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(int(p)))
	}
	return b.String()
}

// secs renders a duration in ms as whole seconds, or minutes past 2 minutes.
func secs(ms int64) string {
	d := time.Duration(ms) * time.Millisecond
	if d >= 2*time.Minute {
		return d.Round(time.Second).String()
	}
	return strconv.FormatInt(int64(d.Round(time.Second)/time.Second), 10) + "s"
}
