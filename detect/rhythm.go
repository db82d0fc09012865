package detect

import (
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Rhythm is what kwitness has learned about one group-partition from the
// sweeps it observed, online: its commit cadence, the lag troughs right after
// its commits, its consumption capacity and the shape of the production it
// reads. It is pointer-free and fixed-size (160 bytes), so the detector can
// hold one per group-partition in a flat slice the garbage collector never
// scans.
//
// What is learned, and how:
//   - commit cadence: an interval is the time from when uncommitted work
//     appeared (the commit sweep itself when lag was left at the commit,
//     else the last sweep before the log end moved past the offset seen at
//     the commit) to the sweep that saw the committed offset advance. The
//     newest 8 intervals are kept (100 ms resolution, at most 6,553 s);
//     IntervalMedian and IntervalP95 summarise them (with 8 intervals the
//     p95 is their maximum). A topic that idles between records therefore
//     does not stretch the cadence of a consumer that commits soon after
//     each record.
//   - troughs: the lag at each sweep that saw the committed offset advance
//     (the low right after a commit), and the start of the current run of
//     non-decreasing troughs; the first sweep observed starts a run too (its
//     lag bounds the trough from above, so growth measured from it is never
//     overstated).
//   - production: ProdRate, the plain mean of the log end offset's
//     per-sweep rates over the first prodTau learned (so a burst seen first
//     is averaged with the quiet that follows it), then an exponentially
//     weighted mean (time constant prodTau) whose inputs are clipped at
//     twice the mean plus 1 message/s, so a burst moves it little;
//     PeakRate, the highest per-sweep rate, decaying toward ProdRate (time
//     constant peakTau). The shape is idle, steady or bursty (Shape).
//   - capacity: ConsMax, the highest consume rate over one commit cycle of at
//     least 5 s, decaying by half per hour.
//
// A rewound committed offset or a log end that went backwards (a recreated
// topic) restarts the troughs; a group-partition not observed for a whole
// lag window starts over from the configured defaults.
type Rhythm struct {
	Key                 uint64 // identity (rhythmKey of cluster, group, topic, partition)
	LastMs              int64  // newest sweep observed; 0 = nothing learned
	Committed, End      int64  // offsets at LastMs
	CommitMs, CommitEnd int64  // sweep that saw the newest commit, and the log end then; 0 = none seen
	PendMs              int64  // since when uncommitted work waits; 0 = none
	RunMs, RunCom       int64  // the trough that starts the current run of non-decreasing troughs
	RunEnd              int64
	TrMs, TrCom, TrEnd  int64 // the newest trough

	BaseLag  float32 // lag the troughs return to, messages: their minimum, creeping up by 1/16 per trough
	ProdRate float32 // baseline production, messages/s
	PeakRate float32 // decaying peak production, messages/s
	ConsMax  float32 // highest consume rate over a commit cycle, messages/s
	Noise    float32 // typical fall between successive troughs, messages
	MaxStep  float32 // largest single rise in the current run (the first step from an observed-at-start run excluded), messages

	iv           [8]uint16 // newest commit intervals, 100 ms units
	IvMed, IvP95 uint16    // median and p95 of iv, 100 ms units
	IvN          uint16    // intervals recorded (saturating)
	PollMs       uint16    // spacing of the two newest sweeps, ms (saturating)
	ProdAge      uint16    // seconds of production learned (saturating)
	Rises        uint8     // troughs in the current run that rose above the previous one
	ivHead       uint8
	haveRate     bool
	firstRun     bool // the current run starts at the first sweep observed (an upper bound of its trough)
}

// Learning constants; see Rhythm.
const (
	prodTau      = 120.0          // s, time constant of ProdRate
	peakTau      = 600.0          // s, time constant of PeakRate's decay
	consHalfLife = 3600.0         // s, half-life of ConsMax
	markerSlack  = 2              // lag left at a commit that is not work (transaction markers, KIP-98)
	minCycleMs   = 5000           // shortest commit cycle ConsMax learns from
	ivUnitMs     = 100            // resolution of the stored intervals
	maxIv        = math.MaxUint16 // saturated interval, 100 ms units
)

// rhythmKey identifies a group-partition across sweeps.
func rhythmKey(topicKey uint64, partition int32) uint64 {
	return topicKey ^ (uint64(uint32(partition))+1)*0x9E3779B97F4A7C15
}

// groupTopicKey hashes the cluster, group and topic of gt.
func groupTopicKey(gt *GroupTopic) uint64 {
	h := fnv.New64a()
	h.Write([]byte(gt.Cluster))
	h.Write([]byte{0})
	h.Write([]byte(gt.Group))
	h.Write([]byte{0})
	h.Write([]byte(gt.Topic))
	return h.Sum64()
}

// Learned reports whether the cadence has enough intervals (3) to replace
// the configured stall_after and stop_after.
func (r *Rhythm) Learned() bool { return r.IvN >= 3 }

// Interval returns the median and p95 commit intervals.
func (r *Rhythm) Interval() (median, p95 time.Duration) {
	return time.Duration(r.IvMed) * ivUnitMs * time.Millisecond, time.Duration(r.IvP95) * ivUnitMs * time.Millisecond
}

// Shape names the production shape: "idle" (baseline and peak below 0.01
// messages/s), "bursty" (peak above 3× the baseline) or "steady".
func (r *Rhythm) Shape() string {
	switch {
	case r.ProdRate < 0.01 && r.PeakRate < 0.01:
		return "idle"
	case r.PeakRate > 3*r.ProdRate:
		return "bursty"
	}
	return "steady"
}

// Observe learns from one sweep at t (Unix ms) with the committed and log
// end offsets of the group-partition (both present). Sweeps at or before
// the newest observed are ignored. staleMs: a rhythm not observed for longer
// starts over.
func (r *Rhythm) Observe(t, committed, end, staleMs int64) {
	if r.LastMs != 0 && t <= r.LastMs {
		return
	}
	if r.LastMs == 0 || t-r.LastMs > staleMs {
		*r = Rhythm{Key: r.Key, LastMs: t, Committed: committed, End: end}
		r.startRun(t, committed, end)
		r.firstRun = true
		r.BaseLag = float32(lagOf(end, committed))
		return
	}
	dt := t - r.LastMs
	r.PollMs = uint16(min(dt, math.MaxUint16))
	switch {
	case end < r.End || committed < r.Committed: // recreated topic or rewound offset
		r.startRun(t, committed, end)
		r.commit(t, committed, end, false)
		r.BaseLag = float32(lagOf(end, committed))
	default:
		r.learnProduction(float64(end-r.End) / (float64(dt) / 1000))
		if committed > r.Committed {
			r.commit(t, committed, end, true)
		} else if r.PendMs == 0 && r.CommitMs != 0 && end > r.CommitEnd {
			r.PendMs = r.LastMs // the work arrived after the previous sweep
		}
	}
	r.LastMs, r.Committed, r.End = t, committed, end
}

// learnProduction folds one per-sweep production rate into ProdRate and
// PeakRate.
func (r *Rhythm) learnProduction(rate float64) {
	dt := float64(r.PollMs) / 1000
	base := float64(r.ProdRate)
	r.ProdAge = uint16(min(int(r.ProdAge)+int(r.PollMs+500)/1000, math.MaxUint16))
	age := float64(r.ProdAge)
	switch {
	case !r.haveRate:
		base = rate
		r.haveRate = true
	case age < prodTau:
		base += (rate - base) * min(1, dt/max(age, 1)) // the plain mean of the rates seen so far
	case base < 1 && r.PeakRate < 1 && rate >= 1:
		base = rate // production starting on a partition idle for long
	default:
		in := min(rate, 2*base+1)
		base += (in - base) * min(1, dt/prodTau)
	}
	peak := float64(r.PeakRate)
	peak -= (peak - base) * min(1, dt/peakTau)
	r.ProdRate, r.PeakRate = float32(base), float32(max(peak, rate, base))
}

// commit records a commit seen at t: the interval since work waited (when
// measure is set), the trough, and the capacity over the cycle.
func (r *Rhythm) commit(t, committed, end int64, measure bool) {
	if measure && r.CommitMs != 0 {
		since := r.PendMs
		if since == 0 {
			since = r.CommitMs
		}
		r.pushInterval(t - since)
		if cyc := t - r.TrMs; cyc >= minCycleMs && r.TrMs != 0 {
			rate := float64(committed-r.TrCom) / (float64(cyc) / 1000)
			decay := math.Exp2(-float64(cyc) / 1000 / consHalfLife)
			r.ConsMax = float32(max(rate, float64(r.ConsMax)*decay))
		}
		r.pushTrough(t, committed, end)
	}
	r.CommitMs, r.CommitEnd, r.PendMs = t, end, 0
	if lagOf(end, committed) > markerSlack {
		r.PendMs = t
	}
}

func (r *Rhythm) pushInterval(ms int64) {
	r.iv[r.ivHead] = uint16(min((ms+ivUnitMs/2)/ivUnitMs, maxIv))
	r.ivHead = (r.ivHead + 1) % uint8(len(r.iv))
	if r.IvN < math.MaxUint16 {
		r.IvN++
	}
	n := min(int(r.IvN), len(r.iv))
	var s [8]uint16
	copy(s[:], r.iv[:n])
	for i := 1; i < n; i++ { // insertion sort of at most 8
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	r.IvMed = s[(n-1)/2]
	r.IvP95 = s[min(n-1, int(math.Ceil(0.95*float64(n)))-1)]
}

// pushTrough records the trough at a commit and extends or restarts the
// run of non-decreasing troughs.
func (r *Rhythm) pushTrough(t, committed, end int64) {
	prev, now := lagOf(r.TrEnd, r.TrCom), lagOf(end, committed)
	switch {
	case now < prev:
		fall := float64(prev - now)
		limit := 2*float64(r.Noise) + 4*float64(r.ProdRate)*float64(r.PollMs)/1000 + 100
		r.Noise += (float32(min(fall, limit)) - r.Noise) / 8
		r.startRun(t, committed, end)
	case now == prev && r.Rises == 0:
		r.startRun(t, committed, end)
	case now > prev:
		if !(r.firstRun && r.Rises == 0) {
			r.MaxStep = max(r.MaxStep, float32(now-prev))
		}
		if r.Rises < math.MaxUint8 {
			r.Rises++
		}
	}
	r.TrMs, r.TrCom, r.TrEnd = t, committed, end
	if b := float32(now); b < r.BaseLag {
		r.BaseLag = b
	} else {
		r.BaseLag += (b - r.BaseLag) / 16
	}
}

func (r *Rhythm) startRun(t, committed, end int64) {
	r.RunMs, r.RunCom, r.RunEnd, r.Rises, r.MaxStep, r.firstRun = t, committed, end, 0, 0, false
	r.TrMs, r.TrCom, r.TrEnd = t, committed, end
}

// Overdue returns how long uncommitted work has waited at now (Unix ms)
// and the limit the cadence allows: interval + max(interval/4, 10 s), where
// interval is the learned p95 once Learned; with fewer intervals it is
// fallback (stall_after or stop_after) or the longest interval seen if
// longer, and twice fallback before any interval is known, so a consumer
// committing every 2 × stall_after is never called stalled while its
// cadence is learned. stuckMs is the
// window's StuckForMs, used while the cadence is not learned. A group-
// partition whose log end has not moved since its last commit waits for
// nothing (lag that is only transaction markers, or a backlog nobody
// produces to).
func (r *Rhythm) Overdue(now, stuckMs int64, fallback time.Duration) (waited, limit time.Duration) {
	_, p95 := r.Interval()
	interval := p95
	switch {
	case r.IvN == 0:
		interval = 2 * fallback // nothing known: silent for commit intervals up to twice stall_after
		waited = time.Duration(stuckMs) * time.Millisecond
	case !r.Learned():
		interval = max(fallback, p95)
		waited = time.Duration(stuckMs) * time.Millisecond
	case r.PendMs != 0:
		waited = time.Duration(now-r.PendMs) * time.Millisecond
	}
	return waited, interval + max(interval/4, 10*time.Second)
}

// Growing reports whether the troughs show lag growth the consumer does not
// clear (formula on Status), and the growth in messages.
func (r *Rhythm) Growing(cfg LagConfig) (bool, int64) {
	if r.Rises < 2 {
		return false, 0
	}
	rise := lagOf(r.TrEnd, r.TrCom) - lagOf(r.RunEnd, r.RunCom)
	poll := float64(r.PollMs) / 1000
	if float64(rise) < float64(cfg.MinGrowth)+2*float64(r.ProdRate)*poll+2*float64(r.Noise) ||
		3*float64(r.MaxStep) > 2*float64(rise) { // one jump (a burst caught at a commit) is not a trend
		return false, rise
	}
	span := float64(r.TrMs-r.RunMs) / 1000
	_, p95 := r.Interval()
	if time.Duration(span*float64(time.Second)) >= max(cfg.GrowthSustain, 3*p95) {
		return true, rise
	}
	prod, cons := float64(r.TrEnd-r.RunEnd)/span, float64(r.TrCom-r.RunCom)/span
	base := float64(r.ProdRate)
	return prod <= 1.5*base && cons < 0.9*base, rise
}

// Describe renders the learned rhythm in one clause at now (Unix ms), e.g.
// "commits every 5.0 s (p95 5.4 s); last commit 17 s ago; consumes up to
// 120.0/s; production steady at 100.0/s (peak 130.0/s); lag returns to
// about 12 after commits".
func (r *Rhythm) Describe(now int64) string {
	s := "commit cadence not learned yet"
	if r.IvN > 0 {
		med, p95 := r.Interval()
		s = fmt.Sprintf("commits every %.1f s (p95 %.1f s)", med.Seconds(), p95.Seconds())
		if !r.Learned() {
			s += fmt.Sprintf(" from only %d interval(s)", r.IvN)
		}
	}
	if r.CommitMs != 0 {
		s += "; last commit " + secs(now-r.CommitMs) + " ago"
	}
	if r.ConsMax > 0 {
		s += fmt.Sprintf("; consumes up to %.1f/s", r.ConsMax)
	}
	s += fmt.Sprintf("; production %s at %.1f/s (peak %.1f/s)", r.Shape(), r.ProdRate, r.PeakRate)
	return s + "; lag returns to about " + strconv.FormatInt(int64(r.BaseLag), 10) + " after commits"
}

// facts lists the learned rhythm as facts.
func (r *Rhythm) facts(now int64) []Fact {
	med, p95 := r.Interval()
	f := []Fact{
		{Name: "learned_rhythm", Text: r.Describe(now)},
		{Name: "commit_interval_median", Value: med.Seconds(), Unit: "s"},
		{Name: "commit_interval_p95", Value: p95.Seconds(), Unit: "s"},
		{Name: "commit_intervals_learned", Value: float64(r.IvN)},
		{Name: "consume_capacity", Value: float64(r.ConsMax), Unit: "messages/s", Text: "highest consume rate over a commit cycle"},
		{Name: "production_baseline", Value: float64(r.ProdRate), Unit: "messages/s"},
		{Name: "production_peak", Value: float64(r.PeakRate), Unit: "messages/s"},
		{Name: "production_shape", Text: r.Shape()},
		{Name: "lag_baseline", Value: float64(r.BaseLag), Unit: "messages", Text: "lag the troughs return to after commits"},
	}
	if r.CommitMs != 0 {
		f = append(f, Fact{Name: "last_commit_ago", Value: float64(now-r.CommitMs) / 1000, Unit: "s"})
	}
	return f
}

// rhythms holds one Rhythm per group-partition in the order a view hands
// them out, so a sweep reads them sequentially. When the order changes (a
// group or topic came or went), the sweep rebuilds the slice by key.
type rhythms struct {
	slots, next []Rhythm
	index       map[uint64]int32
	k           int
	rebuilding  bool
}

func (rs *rhythms) begin() { rs.k, rs.rebuilding = 0, false }

// at returns the rhythm of the next group-partition of the sweep; the
// pointer is valid until the next call.
func (rs *rhythms) at(key uint64) *Rhythm {
	k := rs.k
	rs.k++
	if !rs.rebuilding {
		if k < len(rs.slots) && rs.slots[k].Key == key {
			return &rs.slots[k]
		}
		rs.rebuilding = true
		rs.index = make(map[uint64]int32, len(rs.slots))
		for i := range rs.slots {
			rs.index[rs.slots[i].Key] = int32(i)
		}
		rs.next = append(rs.next[:0], rs.slots[:k]...)
	}
	r := Rhythm{Key: key}
	if i, ok := rs.index[key]; ok {
		r = rs.slots[i]
	}
	rs.next = append(rs.next, r)
	return &rs.next[len(rs.next)-1]
}

// get returns the rhythm at position k of the current sweep (k < rs.k).
func (rs *rhythms) get(k int) *Rhythm {
	if rs.rebuilding {
		return &rs.next[k]
	}
	return &rs.slots[k]
}

// end finishes a sweep: group-partitions not visited are forgotten. A
// rebuilt order is copied into a slice of exactly its size and the
// rebuild's buffer is released, so steady memory is one Rhythm per
// group-partition.
func (rs *rhythms) end() {
	if !rs.rebuilding {
		rs.slots = rs.slots[:min(rs.k, len(rs.slots))]
		return
	}
	rs.slots = append(make([]Rhythm, 0, len(rs.next)), rs.next...)
	rs.next, rs.index = nil, nil
}

// Bytes is the memory the learned rhythms hold.
func (rs *rhythms) Bytes() int { return (cap(rs.slots) + cap(rs.next)) * rhythmSize }

const rhythmSize = int(unsafe.Sizeof(Rhythm{}))
