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

// RetentionStatus is the retention verdict on one group-partition.
type RetentionStatus int

// Retention statuses, least to most urgent.
const (
	RetentionUnknown     RetentionStatus = iota // newest committed, end or start offset missing
	RetentionOK                                 // nothing unread, or deletion not forecast within the horizon
	RetentionAtRisk                             // unread records forecast to be deleted within the horizon
	RetentionDataSkipped                        // unread records already deleted: committed < log start
)

func (s RetentionStatus) String() string {
	switch s {
	case RetentionOK:
		return "OK"
	case RetentionAtRisk:
		return "AT_RISK"
	case RetentionDataSkipped:
		return string(KindDataSkipped)
	}
	return "UNKNOWN"
}

// Retention forecast methods (RetentionVerdict.Method).
const (
	RetentionBySkip      = "committed-below-start" // DATA_SKIPPED: already deleted
	RetentionByCaughtUp  = "caught-up"             // nothing unread
	RetentionByStart     = "log-start-advance"     // margin / speed of the log start
	RetentionByMs        = "retention.ms"          // retention.ms − age of the oldest unread record
	RetentionByBytes     = "retention.bytes"       // records still to produce before the log outgrows retention.bytes past it
	RetentionByCompacted = "compacted"             // compact-only topic with a static log start: compaction is not deletion
	RetentionByNoLimit   = "no-limit"              // static log start, no limit known: no deletion forecast
	RetentionByUnknown   = "unknown"
)

// TopicRetention is the retention configuration of a topic (DescribeConfigs)
// and the size of the partition judged.
type TopicRetention struct {
	RetentionMs    int64 // retention.ms; -1 unlimited; 0 not known (the Go zero value)
	RetentionBytes int64 // retention.bytes, per partition; -1 unlimited; 0 not known
	// Compacted: cleanup.policy contains compact but not delete. Such a log
	// keeps the latest record per key forever and compaction never moves the
	// log start offset (the cleaner keeps each segment group's base offset),
	// so no risk is forecast from compaction alone.
	Compacted bool
	SizeBytes float64 // current size of the partition in bytes; NaN or ≤ 0 unknown
	// PartitionBytes, when it has the partition, replaces SizeBytes in
	// RetentionDetector (one TopicRetention serves every partition of a topic).
	PartitionBytes map[int32]float64
}

// UnknownRetention is the TopicRetention of a topic whose configuration was
// not described: only the observed log start can forecast deletion.
func UnknownRetention() TopicRetention { return TopicRetention{SizeBytes: math.NaN()} }

// RetentionVerdict is the retention forecast for one group-partition at its
// newest sweep. Offsets are Gap when unknown.
type RetentionVerdict struct {
	Status RetentionStatus
	// SecondsToDeletion: forecast time until the log start offset passes the
	// committed offset (the oldest unread record is deleted); 0 when
	// already skipped; +Inf when no deletion is forecast.
	SecondsToDeletion float64
	Method            string // one of the RetentionBy* methods
	Committed         int64
	Start             int64   // log start offset
	End               int64   // log end offset
	Lag               int64   // End − Committed, ≥ 0
	Margin            int64   // Committed − Start: records retention may delete before unread ones
	Skipped           int64   // Start − Committed when DATA_SKIPPED: records deleted unread
	StartRate         float64 // records/s the log start advanced over the window (robust); 0 if static
	ProduceRate       float64 // records/s, robust slope of the log end offset
	TimeLag           TimeLag // age of the oldest unread record; zero value when not lagging
	FromMs, ToMs      int64   // the window judged
}

// RetentionConfig holds the retention-risk thresholds. Start from
// DefaultRetentionConfig.
type RetentionConfig struct {
	// Horizon: RETENTION_RISK when unread data is forecast to be deleted
	// sooner than this. Default 1h: enough to scale consumers or raise
	// retention.ms before the data goes.
	Horizon time.Duration `yaml:"horizon"`
	// MinSpan: the log start must be observed at least this long before its
	// speed is trusted. Default 5m, Kafka's log.retention.check.interval.ms:
	// segments are deleted in batches at most that often.
	MinSpan time.Duration `yaml:"min_span"`
}

// DefaultRetentionConfig returns the defaults documented on RetentionConfig.
func DefaultRetentionConfig() RetentionConfig {
	return RetentionConfig{Horizon: time.Hour, MinSpan: 5 * time.Minute}
}

// Validate reports invalid fields by YAML key.
func (c RetentionConfig) Validate() error {
	var errs []error
	if c.Horizon <= 0 {
		errs = append(errs, fmt.Errorf("retention.horizon: must be a positive duration, got %s", c.Horizon))
	}
	if c.MinSpan <= 0 {
		errs = append(errs, fmt.Errorf("retention.min_span: must be a positive duration, got %s", c.MinSpan))
	}
	return errors.Join(errs...)
}

// RetentionRisk is DefaultRetentionConfig().Risk.
func RetentionRisk(w PartitionWindow, t TopicRetention) RetentionVerdict {
	return DefaultRetentionConfig().Risk(w, t)
}

// Risk forecasts when unread records of a group-partition will be deleted,
// from its whole window (the longer, the better the log start's speed is
// known). It is a pure function. With C, E, S the newest committed, end and
// start offsets:
//
//   - UNKNOWN when any of C, E, S is a Gap at the newest sweep.
//   - DATA_SKIPPED when C < S: S − C records were deleted before they were
//     read; the consumer will reset past them (auto.offset.reset).
//   - OK ("caught-up") when E ≤ C: nothing unread.
//   - Otherwise the first method that applies:
//     1. "log-start-advance": the log start advanced over a span ≥ MinSpan:
//     seconds = (C − S) / v, v the robust slope of the start (the mean
//     rate when that is ≤ 0: deletions are per segment, in steps). Error:
//     about one segment's worth of records at v, since whole segments go.
//     2. "compacted": compact-only topic: no forecast (+Inf), since
//     compaction alone deletes nothing a consumer needs.
//     3. the smaller of "retention.ms": retention.ms − EstimateTimeLag
//     (the age of the record at C), when retention.ms > 0 and the age is
//     known; and "retention.bytes": (C + retention.bytes / b − E) / r, the
//     records still to be produced before the log past C outgrows
//     retention.bytes, with b = size / (E − S) bytes per record and r the
//     produce rate, when retention.bytes > 0 and the size is known. Both
//     are early by up to a segment (the broker deletes whole segments, and
//     only every log.retention.check.interval.ms); an idle-topic time lag
//     is a lower bound, which makes the retention.ms forecast late.
//     4. "no-limit": +Inf.
//
// AT_RISK when the forecast is below Horizon, else OK.
func (c RetentionConfig) Risk(w PartitionWindow, t TopicRetention) RetentionVerdict {
	v := RetentionVerdict{SecondsToDeletion: math.Inf(1), Method: RetentionByUnknown, Committed: Gap, Start: Gap, End: Gap}
	last := len(w.Times) - 1
	if last < 0 || w.Committed[last] == Gap || w.End[last] == Gap || w.Start[last] == Gap {
		return v
	}
	v.Committed, v.End, v.Start = w.Committed[last], w.End[last], w.Start[last]
	v.FromMs, v.ToMs = w.Times[0], w.Times[last]
	v.Lag, v.Margin = lagOf(v.End, v.Committed), v.Committed-v.Start
	switch {
	case v.Margin < 0:
		v.Status, v.Method, v.Skipped, v.SecondsToDeletion = RetentionDataSkipped, RetentionBySkip, -v.Margin, 0
		return v
	case v.Lag == 0:
		v.Status, v.Method = RetentionOK, RetentionByCaughtUp
		return v
	}
	v.TimeLag = EstimateTimeLag(w)
	v.ProduceRate = advanceRate(w.Times, w.End)
	span, moved := startMoved(w)
	switch {
	case moved && span >= c.MinSpan.Milliseconds():
		v.StartRate = advanceRate(w.Times, w.Start)
		v.Method, v.SecondsToDeletion = RetentionByStart, float64(v.Margin)/v.StartRate
	case t.Compacted:
		v.Method = RetentionByCompacted
	default:
		v.Method = RetentionByNoLimit
		fromRetentionConfig(&v, t)
	}
	v.Status = RetentionOK
	if v.SecondsToDeletion < c.Horizon.Seconds() {
		v.Status = RetentionAtRisk
	}
	return v
}

// startMoved reports the span (ms) of the present log start samples and
// whether the start advanced over it.
func startMoved(w PartitionWindow) (span int64, moved bool) {
	first, last := -1, -1
	for i, s := range w.Start {
		if s == Gap {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if first < 0 {
		return 0, false
	}
	return w.Times[last] - w.Times[first], w.Start[last] > w.Start[first]
}

// advanceRate is the speed (per second) of a non-decreasing offset column:
// its robust slope, or the mean rate over the present samples when that is
// ≤ 0 (steps); 0 when it did not advance.
func advanceRate(times, vals []int64) float64 {
	xs, ys := presentSeconds(times, vals)
	if len(xs) < 2 || !(xs[len(xs)-1] > 0) {
		return 0
	}
	if r, ok, _ := RobustSlope(xs, ys, nil); ok && r > 0 {
		return r
	}
	return max(0, (ys[len(ys)-1]-ys[0])/xs[len(xs)-1])
}

// fromRetentionConfig forecasts deletion from retention.ms and
// retention.bytes when the log start did not move (Risk, method 3).
func fromRetentionConfig(v *RetentionVerdict, t TopicRetention) {
	if t.RetentionMs > 0 && v.TimeLag.Method != TimeLagUnknown {
		if s := max(0, float64(t.RetentionMs)/1000-v.TimeLag.Seconds); s < v.SecondsToDeletion {
			v.SecondsToDeletion, v.Method = s, RetentionByMs
		}
	}
	if t.RetentionBytes <= 0 || !(t.SizeBytes > 0) || v.End <= v.Start {
		return
	}
	perRecord := t.SizeBytes / float64(v.End-v.Start)
	need := float64(v.Committed-v.End) + float64(t.RetentionBytes)/perRecord
	s := math.Inf(1)
	switch {
	case need <= 0:
		s = 0 // already past the limit: deleted at the next segment roll or check
	case v.ProduceRate > 0:
		s = need / v.ProduceRate
	}
	if s < v.SecondsToDeletion {
		v.SecondsToDeletion, v.Method = s, RetentionByBytes
	}
}

// RetentionDetector raises, per group-topic, DATA_SKIPPED (critical) for
// partitions whose committed offset is below the log start, and
// RETENTION_RISK (warning) for partitions whose unread data is forecast to be
// deleted within Horizon (formulas on RetentionConfig.Risk). Its subjects are
// the group-topics of the view, keyed as the lag detector keys them; feed its
// results to the Book under their own domain (e.g. "retention").
//
// Not safe for concurrent use; one goroutine owns it.
type RetentionDetector struct {
	cfg      RetentionConfig
	scratch  LagScratch
	topic    TopicRetention // of the group-topic being judged
	verdicts []RetentionVerdict
}

// NewRetentionDetector returns a detector with a validated config.
func NewRetentionDetector(cfg RetentionConfig) (*RetentionDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &RetentionDetector{cfg: cfg}, nil
}

// Config returns the detector's configuration.
func (d *RetentionDetector) Config() RetentionConfig { return d.cfg }

// Sweep judges every group-topic of v. topics gives each topic's retention
// configuration; a topic missing from it is judged with UnknownRetention (only
// an advancing log start can forecast deletion).
func (d *RetentionDetector) Sweep(v ConsumerView, topics map[string]TopicRetention) SweepResult {
	res := SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}
	v.EachGroupTopic(func(gt *GroupTopic) {
		for j := range gt.Partitions {
			ensureLoaded(v, gt, j) // retention needs the log start offsets
		}
		key := subjectOf(gt, nil).Key()
		res.Present[key] = true
		if d.judge(gt, topics) {
			res.Observed[key] = true
		}
		for _, st := range [...]RetentionStatus{RetentionAtRisk, RetentionDataSkipped} {
			if c, ok := d.candidate(v, gt, st); ok {
				res.Candidates = append(res.Candidates, c)
			}
		}
	})
	return res
}

// StartReader is a ConsumerView that reads a partition's newest committed
// and log start offsets without loading its window (state.View is one).
// Gap stands for an absent offset.
type StartReader interface {
	NewestStart(gt *GroupTopic, j int) (committed, start int64)
}

// SweepSkipped reports DATA_SKIPPED alone, cheaply enough for every sweep:
// one comparison per partition of the newest committed offset with the
// newest log start offset. Only a group-topic with a partition below its log
// start has its windows read, for the finding's evidence; topics is then
// called once per call. The full Sweep reads every window and runs at a
// slower cadence; between its runs, SweepSkipped brings DATA_SKIPPED's
// latency down to one sweep (plus the Book's open_after).
//
// Its result marks every subject Present and none Observed, so that a Book
// fed both into the same domain holds what only the full Sweep judges
// (RETENTION_RISK, and DATA_SKIPPED recovering) between full Sweeps, and
// never resolves it early.
func (d *RetentionDetector) SweepSkipped(v ConsumerView, topics func() map[string]TopicRetention) SweepResult {
	res := SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}
	var limits map[string]TopicRetention
	v.EachGroupTopic(func(gt *GroupTopic) {
		res.Present[subjectOf(gt, nil).Key()] = true
		if !anySkipped(v, gt) {
			return
		}
		if limits == nil {
			limits = topics()
		}
		for j := range gt.Partitions {
			ensureLoaded(v, gt, j)
		}
		d.judge(gt, limits)
		if c, ok := d.candidate(v, gt, RetentionDataSkipped); ok {
			res.Candidates = append(res.Candidates, c)
		}
	})
	return res
}

// anySkipped reports whether some partition of gt has its newest committed
// offset below its newest log start offset.
func anySkipped(v ConsumerView, gt *GroupTopic) bool {
	sr, fast := v.(StartReader)
	for j := range gt.Partitions {
		var c, s int64
		if fast {
			c, s = sr.NewestStart(gt, j)
		} else {
			c, s = newestStart(v, gt, j)
		}
		if c != Gap && s != Gap && c < s {
			return true
		}
	}
	return false
}

// newestStart reads partition j's newest committed and log start offsets
// from its window, loading it if v is lazy.
func newestStart(v ConsumerView, gt *GroupTopic, j int) (committed, start int64) {
	ensureLoaded(v, gt, j)
	w := gt.Partitions[j].Window
	if n := len(w.Times); n > 0 {
		return w.Committed[n-1], w.Start[n-1]
	}
	return Gap, Gap
}

// Verdicts returns the verdicts of the last group-topic judged, in the order
// of its partitions. The slice is reused by the next Sweep.
func (d *RetentionDetector) Verdicts() []RetentionVerdict { return d.verdicts }

// judge fills d.verdicts for gt and reports whether any partition had data.
func (d *RetentionDetector) judge(gt *GroupTopic, topics map[string]TopicRetention) bool {
	t, ok := topics[gt.Topic]
	if !ok {
		t = UnknownRetention()
	}
	d.topic = t
	d.verdicts = d.verdicts[:0]
	known := false
	for _, p := range gt.Partitions {
		tp := t
		if b, ok := t.PartitionBytes[p.Partition]; ok {
			tp.SizeBytes = b
		}
		r := d.cfg.Risk(p.Window, tp)
		known = known || r.Status != RetentionUnknown
		d.verdicts = append(d.verdicts, r)
	}
	return known
}

// candidate builds the candidate of status st for gt, if any partition has it.
func (d *RetentionDetector) candidate(v ConsumerView, gt *GroupTopic, st RetentionStatus) (Candidate, bool) {
	var idx []int
	var parts []int32
	for j, r := range d.verdicts {
		if r.Status == st {
			idx = append(idx, j)
			parts = append(parts, gt.Partitions[j].Partition)
		}
	}
	if len(idx) == 0 {
		return Candidate{}, false
	}
	slices.Sort(parts)
	// Worst first: most records skipped, or soonest deletion.
	slices.SortStableFunc(idx, func(a, b int) int {
		x, y := d.verdicts[a], d.verdicts[b]
		if st == RetentionDataSkipped {
			return cmp.Compare(y.Skipped, x.Skipped)
		}
		return cmp.Compare(x.SecondsToDeletion, y.SecondsToDeletion)
	})
	k, sev := KindRetentionRisk, SeverityWarning
	if st == RetentionDataSkipped {
		k, sev = KindDataSkipped, SeverityCritical
	}
	subj := subjectOf(gt, parts)
	w := d.verdicts[idx[0]]
	c := Candidate{Fingerprint: Fingerprint(k, subj), Kind: k, Severity: sev, Subject: subj, At: time.UnixMilli(w.ToMs)}
	for _, j := range idx[:min(len(idx), maxCitedPartitions)] {
		c.Evidence = append(c.Evidence, d.citations(v, &gt.Partitions[j], d.verdicts[j])...)
	}
	c.Facts = d.facts(gt, idx)
	c.Summary = retentionSummary(gt, d.topic, st, gt.Partitions[idx[0]].Partition, w, parts, d.totalSkipped(idx))
	return c, true
}

func (d *RetentionDetector) totalSkipped(idx []int) int64 {
	var n int64
	for _, j := range idx {
		n += d.verdicts[j].Skipped
	}
	return n
}

// citations cites the log start and committed offset series of a partition
// over the window judged.
func (d *RetentionDetector) citations(v ConsumerView, p *PartitionInput, r RetentionVerdict) []Citation {
	var notes [3]string
	notes[ColCommitted] = fmt.Sprintf("committed offset: the oldest unread record, %d records above the log start", r.Margin)
	switch {
	case r.Status == RetentionDataSkipped:
		notes[ColCommitted] = fmt.Sprintf("committed offset: %d records below the log start", r.Skipped)
		notes[ColStart] = fmt.Sprintf("log start offset: passed the committed offset; %d records deleted unread", r.Skipped)
	case r.Method == RetentionByStart:
		notes[ColStart] = fmt.Sprintf("log start offset: advances at %.1f records/s, reaching the committed offset in %s",
			r.StartRate, brief(int64(r.SecondsToDeletion*1000)))
	default:
		notes[ColStart] = "log start offset: did not advance in the window; forecast from " + r.Method
	}
	return []Citation{
		citeColumn(v, p, ColStart, r.FromMs, r.ToMs, notes[ColStart], &d.scratch),
		citeColumn(v, p, ColCommitted, r.FromMs, r.ToMs, notes[ColCommitted], &d.scratch),
	}
}

// facts describes the worst partition, the totals and the configuration.
func (d *RetentionDetector) facts(gt *GroupTopic, idx []int) []Fact {
	w := d.verdicts[idx[0]]
	f := []Fact{
		{Name: "partitions_affected", Value: float64(len(idx)), Unit: "partitions"},
		{Name: "worst_partition", Value: float64(gt.Partitions[idx[0]].Partition)},
		secondsFact("time_to_deletion", w.SecondsToDeletion),
		{Name: "forecast_method", Text: w.Method},
		{Name: "committed_offset", Value: float64(w.Committed)},
		{Name: "log_start_offset", Value: float64(w.Start)},
		{Name: "log_end_offset", Value: float64(w.End)},
		{Name: "margin", Value: float64(w.Margin), Unit: "messages"},
		{Name: "log_start_rate", Value: w.StartRate, Unit: "messages/s"},
		{Name: "produce_rate", Value: w.ProduceRate, Unit: "messages/s"},
	}
	if w.Status == RetentionDataSkipped {
		f = append(f, Fact{Name: "skipped_messages", Value: float64(d.totalSkipped(idx)), Unit: "messages"})
	}
	if w.TimeLag.Method != "" && w.TimeLag.Method != TimeLagUnknown {
		f = append(f,
			Fact{Name: "time_lag", Value: w.TimeLag.Seconds, Unit: "s", Text: w.TimeLag.Method},
			Fact{Name: "time_lag_low", Value: w.TimeLag.Low, Unit: "s"},
			Fact{Name: "time_lag_high", Value: w.TimeLag.High, Unit: "s"})
	}
	f = append(f, limitFact("retention_ms", d.topic.RetentionMs, "ms"), limitFact("retention_bytes", d.topic.RetentionBytes, "bytes"),
		Fact{Name: "compacted", Text: strconv.FormatBool(d.topic.Compacted)})
	return append(f, Fact{Name: "config.retention.horizon", Value: d.cfg.Horizon.Seconds(), Unit: "s"},
		Fact{Name: "config.retention.min_span", Value: d.cfg.MinSpan.Seconds(), Unit: "s"})
}

// limitFact renders a retention limit: -1 unlimited, 0 not known.
func limitFact(name string, v int64, unit string) Fact {
	switch {
	case v < 0:
		return Fact{Name: name, Text: "unlimited", Unit: unit}
	case v == 0:
		return Fact{Name: name, Text: "unknown", Unit: unit}
	}
	return Fact{Name: name, Value: float64(v), Unit: unit}
}

// secondsFact renders +Inf as text: facts carry finite numbers.
func secondsFact(name string, s float64) Fact {
	if math.IsInf(s, 1) {
		return Fact{Name: name, Text: "never at current rates", Unit: "s"}
	}
	return Fact{Name: name, Value: s, Unit: "s"}
}

// retentionSummary writes the one-sentence summary of a candidate.
func retentionSummary(gt *GroupTopic, t TopicRetention, st RetentionStatus, worst int32, w RetentionVerdict, parts []int32, skipped int64) string {
	g, topic, ps := strconv.Quote(gt.Group), strconv.Quote(gt.Topic), partitionList(parts)
	if st == RetentionDataSkipped {
		return fmt.Sprintf("Consumer group %s lost unread data on topic %s (%s): on partition %d its committed offset %d is %d records below the log start offset %d, so they were deleted before being read; %d records skipped in all.",
			g, topic, ps, worst, w.Committed, w.Skipped, w.Start, skipped)
	}
	why := ""
	switch w.Method {
	case RetentionByStart:
		why = fmt.Sprintf("the log start offset advances at %.1f records/s and is %d records below the committed offset", w.StartRate, w.Margin)
	case RetentionByMs:
		why = fmt.Sprintf("its oldest unread record is about %s old (%s time lag) against retention.ms of %s",
			brief(int64(w.TimeLag.Seconds*1000)), w.TimeLag.Method, brief(t.RetentionMs))
	case RetentionByBytes:
		why = fmt.Sprintf("at %.1f records/s the log past the committed offset outgrows retention.bytes of %s", w.ProduceRate, bytesIEC(float64(t.RetentionBytes)))
	}
	when := "in about " + brief(int64(w.SecondsToDeletion*1000))
	if w.SecondsToDeletion < 1 {
		when = "now (deletion is due at the next segment roll or retention check)"
	}
	return fmt.Sprintf("Unread data of consumer group %s on topic %s (%s) will be deleted %s: on partition %d %s (%d records behind).",
		g, topic, ps, when, worst, why, w.Lag)
}
