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
// reads. It is pointer-free and fixed-size (96 bytes), so the detector can
// hold one per group-partition in a flat slice the garbage collector never
// scans.
//
// What is learned, and how:
//   - commit cadence: an interval is the time from when uncommitted work
//     appeared (the commit sweep itself when lag was left at the commit,
//     else the last sweep before the log end moved past the offset seen at
//     the commit) to the sweep that saw the committed offset advance. The
//     newest 8 intervals are kept, each in one byte on a logarithmic scale
//     (steps of 4 %, 5 s and 60 s exact, from 0.2 s to 83 min); Interval
//     summarises them as median and p95 (with 8 intervals the p95 is their
//     maximum). A topic that idles between records therefore does not
//     stretch the cadence of a consumer that commits soon after each record.
//     Beside them, the typical time between two successive commits (a
//     running median, moving one step per commit) bounds how long work left
//     at a commit may wait for the next one.
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
// Times are kept in 10 ms units and offsets in their low 32 bits, both
// compared by wrapping differences: exact while sweeps compared are less
// than 248 days and 2^31 messages apart; lags are float32 (exact below 2^24
// messages, within 1 part in 2^24 above).
//
// A rewound committed offset or a log end that went backwards (a recreated
// topic) restarts the troughs; a group-partition not observed for a whole
// lag window starts over from the configured defaults.
type Rhythm struct {
	Key uint64 // identity (rhythmKey of cluster, group, topic, partition)

	lastT, commitT, pendT uint32 // newest sweep, sweep that saw the newest commit, since when work waits (stamp)
	runT, trT             uint32 // the trough that starts the current run of non-decreasing troughs, and the newest trough (stamp)
	committed, end        uint32 // offsets at lastT (low 32 bits)
	commitEnd             uint32 // log end at commitT (low 32 bits)
	runCom, trCom         uint32 // committed offsets at runT and trT (low 32 bits)
	runLag, trLag         float32

	BaseLag  float32 // lag the troughs return to, messages: their minimum, creeping up by 1/16 per trough
	ProdRate float32 // baseline production, messages/s
	PeakRate float32 // decaying peak production, messages/s
	ConsMax  float32 // highest consume rate over a commit cycle, messages/s
	Noise    float32 // typical fall between successive troughs, messages
	MaxStep  float32 // largest single rise in the current run (the first step from an observed-at-start run excluded), messages

	iv      [8]uint8 // newest commit intervals (ivCode), a ring whose head is ivN % 8
	ivN     uint8    // intervals recorded; past 255 it cycles through 248–255
	pollDs  uint8    // spacing of the two newest sweeps, 100 ms units (saturating)
	Rises   uint8    // troughs in the current run that rose above the previous one
	prodAge uint8    // seconds of production learned (saturating)
	flags   uint8    // rh* bits
	cycleIv uint8    // ivCode of the typical interval between successive commits: a median tracked one code (4 %) per commit
}

// Rhythm flags.
const (
	rhSeen     = 1 << iota // something was learned
	rhCommit               // a commit was seen
	rhPend                 // uncommitted work waits since pendT
	rhRate                 // ProdRate holds a rate
	rhFirstRun             // the current run starts at the first sweep observed (an upper bound of its trough)
	rhIdle                 // a sweep of the current run saw neither offset move
	rhCycle                // cycleIv holds an interval
)

// Learning constants; see Rhythm.
const (
	prodTau      = 120.0  // s, time constant of ProdRate
	peakTau      = 600.0  // s, time constant of PeakRate's decay
	consHalfLife = 3600.0 // s, half-life of ConsMax
	markerSlack  = 2      // lag left at a commit that is not work (transaction markers, KIP-98)
	minCycleMs   = 5000   // shortest commit cycle ConsMax learns from
	stampMs      = 10     // resolution of stored times
)

// rhStamp is t (Unix ms) in the stored form: 10 ms units, wrapping.
func rhStamp(t int64) uint32 { return uint32(t / stampMs) }

// msBetween is a − b in ms for two stamps.
func msBetween(a, b uint32) int64 { return int64(int32(a-b)) * stampMs }

// offBetween is a − b for two offsets' low 32 bits.
func offBetween(a, b uint32) int64 { return int64(int32(a - b)) }

// Interval codes: ivCode maps an interval to one byte on a logarithmic scale
// with 5 s at code 80 and 60 s at code 143 (ratio 12^(1/63) ≈ 1.040 per
// step), so the two commonest cadences — the Kafka consumer's
// auto.commit.interval.ms and Kafka Connect's offset.flush.interval.ms —
// are exact.
const (
	ivCode5s  = 80
	ivPer12x  = 63
	ivCodeMax = math.MaxUint8
)

var ivMs = func() (t [ivCodeMax + 1]int64) {
	for c := range t {
		t[c] = int64(math.Round(5000 * math.Pow(12, float64(c-ivCode5s)/ivPer12x)))
	}
	return t
}()

func ivCode(ms int64) uint8 {
	if ms <= ivMs[0] {
		return 0
	}
	c := math.Round(ivCode5s + ivPer12x*math.Log(float64(ms)/5000)/math.Log(12))
	return uint8(min(c, ivCodeMax))
}

func (r *Rhythm) has(f uint8) bool { return r.flags&f != 0 }

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
func (r *Rhythm) Learned() bool { return r.ivN >= 3 }

// Intervals is how many commit intervals the cadence rests on (at most 8).
func (r *Rhythm) Intervals() int { return min(int(r.ivN), len(r.iv)) }

// Seen reports whether the rhythm has observed a sweep.
func (r *Rhythm) Seen() bool { return r.has(rhSeen) }

// Interval returns the median and p95 commit intervals; zero before any.
func (r *Rhythm) Interval() (median, p95 time.Duration) {
	n := r.Intervals()
	if n == 0 {
		return 0, 0
	}
	s := r.iv
	for i := 1; i < n; i++ { // insertion sort of at most 8
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	p := min(n-1, int(math.Ceil(0.95*float64(n)))-1)
	return time.Duration(ivMs[s[(n-1)/2]]) * time.Millisecond, time.Duration(ivMs[s[p]]) * time.Millisecond
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

// wrapGuardMs: a sweep this far before the newest observed can only be
// one 248 days or more after it, seen through the wrapping stamps.
const wrapGuardMs = 100 * 24 * 3600 * 1000

// newer reports whether a sweep at t (Unix ms) is one Observe learns from:
// later than the newest observed.
func (r *Rhythm) newer(t int64) bool {
	if !r.Seen() {
		return true
	}
	d := msBetween(rhStamp(t), r.lastT)
	return d > 0 || d < -wrapGuardMs
}

// Observe learns from one sweep at t (Unix ms) with the committed and log
// end offsets of the group-partition (both present). Sweeps at or before
// the newest observed are ignored. staleMs: a rhythm not observed for longer
// starts over.
func (r *Rhythm) Observe(t, committed, end, staleMs int64) {
	if !r.newer(t) {
		return
	}
	ts := rhStamp(t)
	dt := msBetween(ts, r.lastT)
	if !r.Seen() || dt > staleMs || dt <= 0 {
		*r = Rhythm{Key: r.Key, lastT: ts, committed: uint32(committed), end: uint32(end), flags: rhSeen}
		r.startRun(ts, committed, end)
		r.flags |= rhFirstRun
		r.BaseLag = float32(lagOf(end, committed))
		return
	}
	r.pollDs = uint8(min((dt+50)/100, math.MaxUint8))
	dEnd, dCom := offBetween(uint32(end), r.end), offBetween(uint32(committed), r.committed)
	switch {
	case dEnd < 0 || dCom < 0: // recreated topic or rewound offset
		r.startRun(ts, committed, end)
		r.commit(ts, committed, end, false)
		r.BaseLag = float32(lagOf(end, committed))
	default:
		r.learnProduction(float64(dEnd)/(float64(dt)/1000), float64(dt)/1000)
		if dEnd == 0 && dCom == 0 {
			r.flags |= rhIdle
		}
		if dCom > 0 {
			r.commit(ts, committed, end, true)
		} else if !r.has(rhPend) && r.has(rhCommit) && offBetween(uint32(end), r.commitEnd) > 0 {
			r.pendT = r.lastT // the work arrived after the previous sweep
			r.flags |= rhPend
		}
	}
	r.lastT, r.committed, r.end = ts, uint32(committed), uint32(end)
}

// learnProduction folds one per-sweep production rate (messages/s, over dt
// seconds) into ProdRate and PeakRate.
func (r *Rhythm) learnProduction(rate, dt float64) {
	base := float64(r.ProdRate)
	r.prodAge = uint8(min(float64(r.prodAge)+math.Round(dt), math.MaxUint8))
	age := float64(r.prodAge)
	switch {
	case !r.has(rhRate):
		base = rate
		r.flags |= rhRate
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

// commit records a commit seen at ts: the interval since work waited (when
// measure is set), the trough, and the capacity over the cycle.
func (r *Rhythm) commit(ts uint32, committed, end int64, measure bool) {
	if measure && r.has(rhCommit) {
		since := r.commitT
		if r.has(rhPend) {
			since = r.pendT
		}
		r.pushInterval(msBetween(ts, since))
		r.trackCycle(ivCode(msBetween(ts, r.commitT)))
		if cyc := msBetween(ts, r.trT); cyc >= minCycleMs {
			rate := float64(offBetween(uint32(committed), r.trCom)) / (float64(cyc) / 1000)
			decay := math.Exp2(-float64(cyc) / 1000 / consHalfLife)
			r.ConsMax = float32(max(rate, float64(r.ConsMax)*decay))
		}
		r.pushTrough(ts, committed, end)
	}
	r.commitT, r.commitEnd = ts, uint32(end)
	r.flags = r.flags&^rhPend | rhCommit
	if lagOf(end, committed) > markerSlack {
		r.pendT = ts
		r.flags |= rhPend
	}
}

// trackCycle moves cycleIv one code toward c, the newest interval between
// two commits (the first sets it): a running median of them.
func (r *Rhythm) trackCycle(c uint8) {
	switch {
	case !r.has(rhCycle):
		r.cycleIv = c
		r.flags |= rhCycle
	case c > r.cycleIv:
		r.cycleIv++
	case c < r.cycleIv:
		r.cycleIv--
	}
}

func (r *Rhythm) pushInterval(ms int64) {
	r.iv[r.ivN%uint8(len(r.iv))] = ivCode(ms)
	r.ivN++
	if r.ivN == 0 {
		r.ivN = 248 // past 255, keep counting modulo len(r.iv)
	}
}

// pushTrough records the trough at a commit and extends or restarts the
// run of non-decreasing troughs.
func (r *Rhythm) pushTrough(ts uint32, committed, end int64) {
	prev, now := r.trLag, float32(lagOf(end, committed))
	switch {
	case now < prev:
		fall := float64(prev - now)
		limit := 2*float64(r.Noise) + 4*float64(r.ProdRate)*r.poll() + 100
		r.Noise += (float32(min(fall, limit)) - r.Noise) / 8
		r.startRun(ts, committed, end)
	case now == prev && r.Rises == 0:
		r.startRun(ts, committed, end)
	case now > prev:
		if r.Rises == 0 && r.has(rhPend) && msBetween(r.pendT, r.runT) > 0 {
			// The work of this rise arrived after the run's first trough:
			// offsets did not move in between, so the run starts with the
			// work and an idle spell before it does not dilute its rates.
			r.runT = r.pendT
		}
		if !(r.has(rhFirstRun) && r.Rises == 0) {
			r.MaxStep = max(r.MaxStep, now-prev)
		}
		if r.Rises < math.MaxUint8 {
			r.Rises++
		}
	}
	r.trT, r.trCom, r.trLag = ts, uint32(committed), now
	if now < r.BaseLag {
		r.BaseLag = now
	} else {
		r.BaseLag += (now - r.BaseLag) / 16
	}
}

func (r *Rhythm) startRun(ts uint32, committed, end int64) {
	lag := float32(lagOf(end, committed))
	r.runT, r.runCom, r.runLag, r.Rises, r.MaxStep = ts, uint32(committed), lag, 0, 0
	r.flags &^= rhFirstRun | rhIdle
	r.trT, r.trCom, r.trLag = ts, uint32(committed), lag
}

// poll is the spacing of the two newest sweeps, seconds.
func (r *Rhythm) poll() float64 { return float64(r.pollDs) / 10 }

// Pending reports whether uncommitted work waits.
func (r *Rhythm) Pending() bool { return r.has(rhPend) }

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
	case r.ivN == 0:
		interval = 2 * fallback // nothing known: silent for commit intervals up to twice stall_after
		waited = time.Duration(stuckMs) * time.Millisecond
	case !r.Learned():
		interval = max(fallback, p95)
		waited = time.Duration(stuckMs) * time.Millisecond
	case r.has(rhPend):
		waited = time.Duration(msBetween(rhStamp(now), r.pendT)) * time.Millisecond
		if r.pendT == r.commitT && r.has(rhCycle) { // work left at a commit waits for the next commit: a whole cycle
			interval = max(interval, time.Duration(ivMs[r.cycleIv])*time.Millisecond)
		}
	}
	return waited, interval + max(interval/4, 10*time.Second)
}

// Growing reports whether the troughs show lag growth the consumer does not
// clear (formula on Status), and the growth in messages.
func (r *Rhythm) Growing(cfg LagConfig) (bool, int64) {
	if r.Rises < 2 {
		return false, 0
	}
	rise := int64(r.trLag - r.runLag)
	poll := r.poll()
	if float64(rise) < float64(cfg.MinGrowth)+2*float64(r.ProdRate)*poll+2*float64(r.Noise) ||

		3*float64(r.MaxStep) > 2*float64(rise) { // one jump (a burst caught at a commit) is not a trend
		return false, rise
	}
	span := float64(msBetween(r.trT, r.runT)) / 1000
	_, p95 := r.Interval()
	if time.Duration(span*float64(time.Second)) >= max(cfg.GrowthSustain, 3*p95) &&
		float64(rise) > float64(r.PeakRate)*p95.Seconds() { // more than one commit cycle of peak production: not where a commit fell in a burst
		return true, rise
	}
	if med, _ := r.Interval(); r.Learned() && r.has(rhIdle) && span > 1.5*float64(r.Rises+1)*med.Seconds() {
		return false, rise // the run spans a gap between commits in an idle spell: its rates say nothing of the consumer
	}
	consumed := float64(offBetween(r.trCom, r.runCom))
	prod, cons := (consumed+float64(r.trLag-r.runLag))/span, consumed/span // end = committed + lag
	base := float64(r.ProdRate)
	return prod <= 1.5*base && cons < 0.9*base, rise
}

// Describe renders the learned rhythm in one clause at now (Unix ms), e.g.
// "commits every 5.0 s (p95 5.4 s); last commit 17 s ago; consumes up to
// 120.0/s; production steady at 100.0/s (peak 130.0/s); lag returns to
// about 12 after commits".
func (r *Rhythm) Describe(now int64) string {
	s := "commit cadence not learned yet"
	if r.ivN > 0 {
		med, p95 := r.Interval()
		s = fmt.Sprintf("commits every %.1f s (p95 %.1f s)", med.Seconds(), p95.Seconds())
		if !r.Learned() {
			s += fmt.Sprintf(" from only %d interval(s)", r.ivN)
		}
	}
	if r.has(rhCommit) {
		s += "; last commit " + secs(msBetween(rhStamp(now), r.commitT)) + " ago"
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
		{Name: "commit_intervals_learned", Value: float64(r.Intervals())},
		{Name: "consume_capacity", Value: float64(r.ConsMax), Unit: "messages/s", Text: "highest consume rate over a commit cycle"},
		{Name: "production_baseline", Value: float64(r.ProdRate), Unit: "messages/s"},
		{Name: "production_peak", Value: float64(r.PeakRate), Unit: "messages/s"},
		{Name: "production_shape", Text: r.Shape()},
		{Name: "lag_baseline", Value: float64(r.BaseLag), Unit: "messages", Text: "lag the troughs return to after commits"},
	}
	if r.has(rhCommit) {
		f = append(f, Fact{Name: "last_commit_ago", Value: float64(msBetween(rhStamp(now), r.commitT)) / 1000, Unit: "s"})
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
