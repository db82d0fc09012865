package detect

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Status is the health of one group-partition, with Burrow's semantics but
// measured in seconds of wall time against the group-partition's own learned
// rhythm (Rhythm) rather than in numbers of commits.
//
// Formulas, evaluated at the newest sweep t (lag = max(0, end − committed)):
//
//   - OFFSET_REWIND: committed(t) < max committed in the window — the offset
//     went backwards and has not recovered. Worst-case detection latency: one
//     poll interval (+ Book.OpenAfter).
//   - CONSUMER_STALLED (the group has, or may have, members) and
//     CONSUMER_STOPPED (it has none): lag(t) > 0 and a commit is overdue
//     (Rhythm.Overdue): work has waited since it appeared after the last
//     commit (the log end moved past the commit, or more than two records
//     were left at it) for longer than
//     interval + max(interval/4, 10 s), where interval is the p95 of the
//     group-partition's newest 8 commit intervals (for work left at a
//     commit, at least the typical time between two commits: a
//     timer-driven committer on a bursty topic shows short waits when the
//     work arrives between its commits, whole cycles when it does not). Worst case: last commit +
//     interval + max(interval/4, 10 s) + one poll; a 5 s committer is
//     reported ≤ 17 s after its last commit, a 60 s committer ≤ 16 s after
//     its missed commit was due. With 1 or 2 intervals learned the interval
//     is StallAfter (STOPPED: StopAfter; default 60 s) or the longest
//     interval seen, with none 2 × StallAfter (so consumers committing up
//     to every 120 s are never called stalled while kwitness learns them),
//     and the wait is how long the committed offset has been unchanged with
//     lag > 0 in the window: worst case 150 s + one poll for a group seen
//     for the first time. A group with members whose membership changed
//     (a rebalance or deploy) waits at most from the change. A group's membership is described every 10 polls,
//     so STOPPED can follow STALLED by up to 10 s. The wait already is the
//     hysteresis: the finding opens without Book.OpenAfter.
//   - LAG_GROWING: the lag troughs (the lag at each sweep that saw a
//     commit) rose at least twice in a run of non-decreasing troughs, by at
//     least MinGrowth + 2 × baseline production × poll interval + 2 × the
//     troughs' learned noise, with no single step more than 2/3 of the rise
//     (one jump — a burst caught at a commit — is not a trend), and either
//     the run spans GrowthSustain (default 60 s; at least 3 learned commit
//     intervals) and rose by more than one commit interval (p95) of peak
//     production (where a commit falls in a burst moves the troughs that
//     much without growth), or over the run the consumer read slower than 0.9 × the
//     baseline production while production stayed within 1.5 × its
//     baseline (it cannot catch up at normal load). A burst — production
//     above 1.5 × baseline — therefore opens nothing unless troughs keep
//     rising for GrowthSustain, and a lag sawtooth from rare commits never
//     does: its troughs do not rise. Worst case for a consumer reading
//     ≤ 50 % of production: four commits after kwitness first sees it
//     (≤ 20 s at 5 s commits); for any sustained growth above the
//     threshold: GrowthSustain + one commit interval. Two rising troughs
//     are the hysteresis: the finding opens without Book.OpenAfter.
//   - OK otherwise. An idle topic with zero lag is OK, never STOPPED: every
//     non-OK status except REWIND needs lag > 0.
//   - UNKNOWN when the newest sweep has no committed or end offset for the
//     partition (a data gap). UNKNOWN never opens or resolves a finding.
//
// Sources of defaults: Burrow's evaluator (linkedin/Burrow
// core/internal/evaluator/caching.go: the WARN/STALL/STOP/REWIND rules),
// judged in seconds and against each group's own cadence rather than in
// commits; 60 s stall_after is twelve missed auto-commits at the Kafka
// consumer's default auto.commit.interval.ms of 5 s (Kafka docs, consumer
// configs) and one Kafka Connect offset.flush.interval.ms (60 s, Kafka
// Connect worker configs); the slack max(interval/4, 10 s) absorbs the
// jitter of a commit loop driven by poll() and of 1 s sweeps.
type Status int

// Partition statuses, least to most specific.
const (
	StatusUnknown Status = iota
	StatusOK
	StatusLagGrowing
	StatusStalled
	StatusStopped
	StatusRewind
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusLagGrowing:
		return string(KindLagGrowing)
	case StatusStalled:
		return string(KindConsumerStalled)
	case StatusStopped:
		return string(KindConsumerStopped)
	case StatusRewind:
		return string(KindOffsetRewind)
	}
	return "UNKNOWN"
}

// Kind is the finding kind a non-OK status opens; "" for OK and UNKNOWN.
func (s Status) Kind() Kind {
	switch s {
	case StatusLagGrowing:
		return KindLagGrowing
	case StatusStalled:
		return KindConsumerStalled
	case StatusStopped:
		return KindConsumerStopped
	case StatusRewind:
		return KindOffsetRewind
	}
	return ""
}

// LagConfig holds the consumer-lag thresholds. Zero values are invalid; start
// from DefaultLagConfig.
type LagConfig struct {
	Window     time.Duration `yaml:"window"`      // how far back the detector looks; default 10m
	StallAfter time.Duration `yaml:"stall_after"` // default 60s
	StopAfter  time.Duration `yaml:"stop_after"`  // default 60s
	// MinSpan is accepted so existing configurations still load; no
	// detector reads it since LAG_GROWING is decided by the troughs
	// (GrowthSustain). Default 30s.
	MinSpan   time.Duration `yaml:"min_span"`
	MinGrowth int64         `yaml:"min_growth"` // messages; default 100
	// TroughSpan: the span over which PartitionLag.LagTrough is the
	// smallest lag; default 6s, one Kafka consumer auto.commit.interval.ms
	// (5 s) plus a poll.
	TroughSpan time.Duration `yaml:"trough_span"`
	// GrowthSustain: troughs rising this long (and at least three learned
	// commit intervals) open LAG_GROWING whatever the rates; default 60s,
	// twice the longest burst (30 s) a healthy consumer is expected to
	// absorb.
	GrowthSustain time.Duration `yaml:"growth_sustain"`
	// DeployWindow: a membership change this long before the onset of
	// LAG_GROWING or CONSUMER_STALLED is reported with it; default 5m.
	DeployWindow time.Duration `yaml:"deploy_window"`
	// DeploySlack: how far after the onset a change may be observed and
	// still count (membership is described every few sweeps); default 15s.
	DeploySlack time.Duration `yaml:"deploy_slack"`
	// AssignLagShare and AssignMinLag: CONSUMER_ASSIGNMENT_SKEW when one
	// member owns this share of a topic's lag (default 0.8) and the lag is
	// at least this many messages (default 1000); see assignment.go.
	AssignLagShare float64 `yaml:"assign_lag_share"`
	AssignMinLag   int64   `yaml:"assign_min_lag"`
}

// DefaultLagConfig returns the defaults documented on Status.
func DefaultLagConfig() LagConfig {
	return LagConfig{
		Window:     10 * time.Minute,
		StallAfter: 60 * time.Second,
		StopAfter:  60 * time.Second,
		MinSpan:    30 * time.Second,
		MinGrowth:  100,
		TroughSpan: 6 * time.Second,

		GrowthSustain: 60 * time.Second,

		DeployWindow: 5 * time.Minute,
		DeploySlack:  15 * time.Second,

		AssignLagShare: 0.8,
		AssignMinLag:   1000,
	}
}

// Validate reports the first invalid field by its YAML key.
func (c LagConfig) Validate() error {
	var errs []error
	pos := func(key string, d time.Duration) {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("lag.%s: must be a positive duration, got %s", key, d))
		}
	}
	pos("window", c.Window)
	pos("stall_after", c.StallAfter)
	pos("stop_after", c.StopAfter)
	pos("min_span", c.MinSpan)
	pos("trough_span", c.TroughSpan)
	pos("growth_sustain", c.GrowthSustain)
	pos("deploy_window", c.DeployWindow)
	if c.AssignLagShare <= 0.5 || c.AssignLagShare > 1 {
		errs = append(errs, fmt.Errorf("lag.assign_lag_share: must be in (0.5, 1], got %g", c.AssignLagShare))
	}
	if c.AssignMinLag < 1 {
		errs = append(errs, fmt.Errorf("lag.assign_min_lag: must be ≥ 1, got %d", c.AssignMinLag))
	}
	if c.DeploySlack < 0 {
		errs = append(errs, fmt.Errorf("lag.deploy_slack: must be ≥ 0, got %s", c.DeploySlack))
	}
	if c.MinGrowth < 1 {
		errs = append(errs, fmt.Errorf("lag.min_growth: must be ≥ 1 message, got %d", c.MinGrowth))
	}
	if c.MinSpan > c.Window {
		errs = append(errs, fmt.Errorf("lag.min_span: %s exceeds lag.window %s", c.MinSpan, c.Window))
	}
	return errors.Join(errs...)
}

// PartitionWindow is the recent history of one group-partition: aligned
// columns, oldest first. Absent samples are Gap.
type PartitionWindow struct {
	Times     []int64 // Unix ms of each sweep, ascending
	Committed []int64 // committed offset of the group (OffsetFetch)
	End       []int64 // log end offset (ListOffsets latest)
	Start     []int64 // log start offset (ListOffsets earliest); may be Gap
}

// GroupContext is what DescribeGroups said about the group most recently.
type GroupContext struct {
	Known      bool   // false until the group was described once
	State      string // e.g. "Stable", "Empty", "PreparingRebalance"
	Members    int
	Generation int32 // membership generation as observed by kwitness (see ingest)
	// The latest observed membership change (a rebalance or deploy), if any.
	Change MembershipChange
	// History holds the recent membership changes, oldest first (bounded by
	// the ingester); it must not be modified once published.
	History []MembershipChange
	// Owners maps topic → partition → the member that owns it
	// ("client-id@host"), from the assignment DescribeGroups reports; nil
	// when unknown. Must not be modified once published.
	Owners map[string]map[int32]string
}

// MembershipChange is one observed change of a group's member set.
type MembershipChange struct {
	AtMs         int64    // sweep at which the change was observed; 0 = none seen
	BeforeMs     int64    // the previous sweep, when the old generation was still in force
	From, To     int32    // generations before and after
	Joined, Left []string // members as "client-id@host"
	GenerationID uint32   // series id of the group's generation series, for citation
	HasSeries    bool     // GenerationID is set
}

// PartitionLag is the detector's verdict on one group-partition.
type PartitionLag struct {
	Status         Status
	Lag            int64   // newest lag in messages; Gap when unknown
	Committed      int64   // newest committed offset; Gap when unknown
	End            int64   // newest log end offset; Gap when unknown
	LagSlope       float64 // messages/s, robust
	ConsumeRate    float64 // messages/s, robust slope of the committed offset
	ProduceRate    float64 // messages/s, robust slope of the log end offset
	CatchUp        float64 // seconds to reach zero lag at current rates; 0 caught up; +Inf never
	UnchangedForMs int64   // how long the committed offset has not moved, ms
	StuckForMs     int64   // how long it has not moved while lag > 0, ms
	RewindBy       int64   // messages the committed offset went back by (REWIND)
	LagFirst       int64   // lag at the first sample of the window
	LagTrough      int64   // smallest lag over the newest TroughSpan of the window
	FromMs, ToMs   int64   // the window judged
	Points         int     // samples with both offsets present
	Growth         int64   // LAG_GROWING: how much the troughs rose, messages
	// Rhythm is what was learned about the group-partition, as judged
	// against; set for non-OK statuses and by GroupLag.
	Rhythm Rhythm
}

// LagScratch holds buffers reused across evaluations; the zero value is ready.
// Not safe for concurrent use.
type LagScratch struct {
	xs, lag, com, end, buf []float64
}

// EvaluatePartition judges one group-partition from its window: it learns
// the rhythm from the window's samples (as the detector learns it online)
// and judges the newest sweep against it. It is a pure function of its
// arguments; s only provides buffers.
func EvaluatePartition(cfg LagConfig, w PartitionWindow, g GroupContext, s *LagScratch) PartitionLag {
	var rh Rhythm
	observeWindow(&rh, w, cfg)
	return evaluatePartition(cfg, w, g, s, &rh, true)
}

// observeWindow feeds rh the samples of w newer than it has seen.
func observeWindow(rh *Rhythm, w PartitionWindow, cfg LagConfig) {
	stale := cfg.Window.Milliseconds()
	for i, t := range w.Times {
		if !rh.newer(t) {
			continue
		}
		if c, e := w.Committed[i], w.End[i]; c != Gap && e != Gap {
			rh.Observe(t, c, e, stale)
		}
	}
}

// evaluatePartition is EvaluatePartition against a rhythm already fed the
// window's newest sample. With allRates false it leaves LagSlope,
// ConsumeRate, ProduceRate and CatchUp zero on partitions judged OK unless
// the status needed them: a sweep reads them only for partitions it cites,
// and their robust slopes are most of the cost of a judgement.
func evaluatePartition(cfg LagConfig, w PartitionWindow, g GroupContext, s *LagScratch, rh *Rhythm, allRates bool) PartitionLag {
	r := PartitionLag{Lag: Gap, Committed: Gap, End: Gap}
	last := len(w.Times) - 1
	if last < 0 || w.Committed[last] == Gap || w.End[last] == Gap {
		return r // newest sweep is a gap: unknown, never OK
	}
	r.Committed, r.End = w.Committed[last], w.End[last]
	r.Lag = lagOf(r.End, r.Committed)
	r.ToMs = w.Times[last]
	from := r.ToMs - cfg.Window.Milliseconds()
	first := collect(w, from, r.ToMs, s)
	r.FromMs, r.Points = w.Times[first], len(s.xs)
	r.LagFirst = int64(s.lag[0])
	r.LagTrough = troughLag(w, max(from, r.ToMs-cfg.TroughSpan.Milliseconds()), last)

	maxC, unchangedSince, stuckSince := scanCommitted(w, first, last)
	r.UnchangedForMs, r.StuckForMs = r.ToMs-unchangedSince, r.ToMs-stuckSince
	if r.Committed < maxC {
		r.Status, r.RewindBy = StatusRewind, maxC-r.Committed
	}
	switch {
	case r.Status == StatusRewind:
	case r.Lag == 0:
		r.Status = StatusOK
	default:
		r.Status, r.Growth = classifyLagging(cfg, r.ToMs, r.StuckForMs, g, rh)
	}
	if allRates || r.Status != StatusOK {
		fillRates(&r, s)
		r.Rhythm = *rh
	}
	return r
}

// fillRates sets the robust slopes and the catch-up time of r from the
// samples collected in s.
func fillRates(r *PartitionLag, s *LagScratch) {
	if len(s.xs) >= 2 {
		r.ConsumeRate, _, s.buf = RobustSlope(s.xs, s.com, s.buf)
		r.ProduceRate, _, s.buf = RobustSlope(s.xs, s.end, s.buf)
		if r.Lag > 0 || r.LagFirst > 0 {
			r.LagSlope, _, s.buf = RobustSlope(s.xs, s.lag, s.buf)
		}
	}
	r.CatchUp = catchUp(r.Lag, r.ConsumeRate-r.ProduceRate)
}

// classifyLagging picks the status of a partition with lag > 0 at now (Unix
// ms) against its rhythm; stuckMs is the window's StuckForMs. It returns the
// troughs' growth for LAG_GROWING.
func classifyLagging(cfg LagConfig, now, stuckMs int64, g GroupContext, rh *Rhythm) (Status, int64) {
	if g.Known && g.Members == 0 {
		if waited, limit := rh.Overdue(now, stuckMs, cfg.StopAfter); waited >= limit {
			return StatusStopped, 0
		}
	} else if waited, limit := rh.Overdue(now, stuckMs, cfg.StallAfter); min(waited, sinceChange(g, now)) >= limit {
		return StatusStalled, 0
	}
	if ok, growth := rh.Growing(cfg); ok {
		return StatusLagGrowing, growth
	}
	return StatusOK, 0
}

// sinceChange is how long ago (at now, Unix ms) the group's membership last
// changed; unbounded when no change was seen. A rebalance pauses every
// member, so a group with members waits from the change, not from work that
// waited before it, and the cadence learned before a deploy does not read
// the deploy's pause as a stall.
func sinceChange(g GroupContext, now int64) time.Duration {
	if c := g.Change.AtMs; c > 0 && c <= now {
		return time.Duration(now-c) * time.Millisecond
	}
	return math.MaxInt64
}

// collect fills s with the samples in [from, to] where both offsets are
// present, x in seconds relative to the first one. It returns the index of the
// first sample used. The newest sample is always present (checked by caller).
func collect(w PartitionWindow, from, to int64, s *LagScratch) int {
	// Local slices keep the loop in registers; s is written back once.
	n := len(w.Times)
	xs, lag := slices.Grow(s.xs[:0], n)[:n], slices.Grow(s.lag[:0], n)[:n]
	com, end := slices.Grow(s.com[:0], n)[:n], slices.Grow(s.end[:0], n)[:n]
	committed, ends := w.Committed[:n], w.End[:n]
	first, k := -1, 0
	for i, t := range w.Times {
		c, e := committed[i], ends[i]
		if t < from || t > to || c == Gap || e == Gap {
			continue
		}
		if first < 0 {
			first = i
		}
		xs[k] = float64(t-w.Times[first]) / 1000
		lag[k] = float64(lagOf(e, c))
		com[k], end[k] = float64(c), float64(e)
		k++
	}
	s.xs, s.lag, s.com, s.end = xs[:k], lag[:k], com[:k], end[:k]
	return first
}

// scanCommitted returns the largest committed offset in w[first:last+1], the
// time since which the committed offset has equalled its newest value, and the
// time since which it has done so with lag > 0 at every present sample.
func scanCommitted(w PartitionWindow, first, last int) (maxC, unchangedSince, stuckSince int64) {
	times, committed, ends := w.Times[:last+1], w.Committed[:last+1], w.End[:last+1]
	cLast := committed[last]
	maxC, unchangedSince, stuckSince = cLast, times[last], times[last]
	unchanged, stuck := true, lagOf(ends[last], cLast) > 0
	for i := last; i >= first; i-- {
		c, e := committed[i], ends[i]
		if c == Gap || e == Gap {
			continue
		}
		maxC = max(maxC, c)
		unchanged = unchanged && c == cLast
		stuck = stuck && unchanged && lagOf(e, c) > 0
		if unchanged {
			unchangedSince = times[i]
		}
		if stuck {
			stuckSince = times[i]
		}
	}
	return maxC, unchangedSince, stuckSince
}

// troughLag is the smallest lag over the samples of w[:last+1] at or after
// from with both offsets present; w's newest sample (last) is present.
func troughLag(w PartitionWindow, from int64, last int) int64 {
	trough := lagOf(w.End[last], w.Committed[last])
	for i := last - 1; i >= 0 && w.Times[i] >= from; i-- {
		if c, e := w.Committed[i], w.End[i]; c != Gap && e != Gap {
			trough = min(trough, lagOf(e, c))
		}
	}
	return trough
}

func lagOf(end, committed int64) int64 {
	return max(0, end-committed)
}

// catchUp is the time to drain lag at a net drain rate (messages/s).
func catchUp(lag int64, net float64) float64 {
	if lag <= 0 {
		return 0
	}
	if net <= 0 {
		return math.Inf(1)
	}
	return float64(lag) / net
}
