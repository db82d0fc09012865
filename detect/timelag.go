package detect

import (
	"math"
	"slices"
	"time"
)

// Time-lag methods (TimeLag.Method).
const (
	TimeLagInterpolated = "interpolated" // the oldest unread record was produced inside the window
	TimeLagExtrapolated = "extrapolated" // produced before the window; dated from the produce rate
	TimeLagIdle         = "idle"         // produced before the window, no production in it: a lower bound
	TimeLagCaughtUp     = "caught-up"    // nothing unread: 0 s
	TimeLagUnknown      = "unknown"      // newest committed or end offset missing, or one sample only
)

// MaxTimeLag caps every time-lag estimate and bound: 30 days, about four
// times Kafka's default retention.ms of 7 days. A record older than that is
// almost always already deleted, so a larger number would only be a
// division by a tiny rate (the absurd values kafka-lag-exporter reported
// during replays).
const MaxTimeLag = 30 * 24 * time.Hour

// TimeLag is how far behind a consumer is in wall time: the age, at the
// newest sweep, of the oldest record it has not read (the record at its
// committed offset). All fields are seconds, finite and ≥ 0, with
// Low ≤ Seconds ≤ High ≤ MaxTimeLag.
type TimeLag struct {
	Seconds      float64 // best estimate
	Low, High    float64 // interval the true age lies in (see EstimateTimeLag for how sure)
	Method       string  // one of the TimeLag* methods
	Extrapolated bool    // the record was produced before the window: Seconds is not read off observed samples
	// Skipped is how many records between the committed offset and the log
	// start were deleted before the consumer read them; the age is then
	// that of the oldest record it can still read (the one at the log
	// start, which it reads next). 0 when nothing was skipped.
	Skipped int64
}

// Known reports whether the time lag could be estimated: an unknown time
// lag has no value, never 0 s.
func (tl TimeLag) Known() bool { return tl.Method != TimeLagUnknown && tl.Method != "" }

// EstimateTimeLag dates the oldest unread record of a group-partition from
// the log end offset history held in its window. It is a pure function.
//
// Let C be the committed offset and E the log end offset at the newest sweep
// "now". When the log start offset S is above C, retention deleted records
// the consumer never read: the record it reads next is the one at S, so C
// is taken to be S and Skipped = S − C. The record at offset C was appended
// at the moment the end offset went from C to C+1, so:
//
//   - E ≤ C (caught up, or committed listed after end): 0 s, "caught-up".
//   - Interpolated: find the newest present sample i with End[i] ≤ C and the
//     next present sample j (End[j] > C); gaps are skipped, so j may lie
//     several polls after i. The record was produced in (t_i, t_j], hence
//     Low = now − t_j and High = now − t_i are hard bounds (up to the
//     difference between a sweep's time and its ListOffsets answer, a few
//     ms). Seconds = now − t*, where t* interpolates linearly the time the
//     end offset reached C+1 between (t_i, End[i]) and (t_j, End[j]); its
//     error is at most t_j − t_i, one poll interval without gaps, and near
//     zero under steady production. When j lies more than one sweep
//     after i (a decimated history step, or gaps; the sweep interval is the
//     shortest spacing of the window's samples) and the end offset rose
//     there in a burst (burstBetween), t* is the middle of (t_i, t_j]
//     instead: the burst's records were appended together at an unknown
//     moment, and the middle halves the worst-case error.
//   - Extrapolated: every present end offset is already > C (the record is
//     older than the window, e.g. after a replay or a long stop). With the
//     oldest present sample o (age A = now − t_o) and the produce rate r,
//     the record is d = End[o] − C − 1 records before o, so
//     Seconds = A + d / r. r is the robust slope of End over the window
//     (RobustSlope), or the mean rate (End[last] − End[o]) / span when the
//     robust slope is ≤ 0 (bursts separated by idle polls). Low and High
//     date the record at the fastest and the slowest rate the fit saw (the
//     extreme slopes of its half-span pairs; High is MaxTimeLag when some
//     pair saw no production): they hold if production before the window
//     ran at a rate seen inside it. A itself is the only hard lower bound.
//     The estimate is flagged Extrapolated and capped at MaxTimeLag.
//   - Idle: no production in the window (End unchanged) but E > C: the record
//     was produced before the window, so its age is at least the window's
//     span A. Seconds = Low = A (a lower bound), High = MaxTimeLag, flagged
//     Extrapolated. Never NaN, never +Inf.
//   - Unknown: the newest committed or end offset is a Gap, or there is a
//     single sample and lag > 0 (nothing to date the record by). An
//     unknown time lag has no value (Known is false), never 0 s.
//
// The partition's history starts at its first observed sample: when the
// log end offset went backwards in the window (the topic was deleted and
// recreated), only the samples since are used, and no estimate or bound
// dates a record before the newest sample of the old log.
//
// Sources: kafka-lag-exporter's interpolation table (seglo/kafka-lag-exporter
// src/main/scala/com/lightbend/kafkalagexporter/LookupTable.scala). Its
// reported failures — absurd extrapolations during bursts and replays, NaN on
// idle topics — are what the cap, the robust rate and the idle rule avoid.
func EstimateTimeLag(w PartitionWindow) TimeLag {
	last := len(w.Times) - 1
	if last < 0 || w.Committed[last] == Gap || w.End[last] == Gap {
		return TimeLag{Method: TimeLagUnknown}
	}
	c, skipped := w.Committed[last], int64(0)
	if last < len(w.Start) && w.Start[last] != Gap && w.Start[last] > c {
		c, skipped = w.Start[last], w.Start[last]-c
	}
	tl := estimateTimeLag(w, c)
	tl.Skipped = skipped
	return tl
}

func estimateTimeLag(w PartitionWindow, c int64) TimeLag {
	last := len(w.Times) - 1
	if w.End[last] <= c {
		return TimeLag{Method: TimeLagCaughtUp}
	}
	w, bornAfter := sinceRecreated(w)
	var tl TimeLag
	if i, j, ok := endBracket(w, c); ok {
		tl = interpolateTimeLag(w, c, i, j)
	} else {
		tl = extrapolateTimeLag(w, c)
	}
	if bornAfter != Gap && tl.Method != TimeLagUnknown {
		oldest := float64(w.Times[len(w.Times)-1]-bornAfter) / 1000
		tl.Seconds, tl.Low, tl.High = min(tl.Seconds, oldest), min(tl.Low, oldest), min(tl.High, oldest)
	}
	return tl
}

// sinceRecreated returns the part of w after the newest fall of the log end
// offset (a recreated partition), and the time of the newest sample before
// the fall (no record of the new log is older); w itself and Gap when the
// end offset never fell.
func sinceRecreated(w PartitionWindow) (PartitionWindow, int64) {
	prev := -1
	cut, before := -1, Gap
	for k, e := range w.End {
		if e == Gap {
			continue
		}
		if prev >= 0 && e < w.End[prev] {
			cut, before = k, w.Times[prev]
		}
		prev = k
	}
	if cut < 0 {
		return w, Gap
	}
	out := PartitionWindow{Times: w.Times[cut:], Committed: w.Committed[cut:], End: w.End[cut:]}
	if len(w.Start) == len(w.Times) {
		out.Start = w.Start[cut:]
	}
	return out, before
}

// endBracket finds the newest present sample i with End[i] ≤ c and the
// present sample j that follows it. The newest End must be present and > c.
func endBracket(w PartitionWindow, c int64) (i, j int, ok bool) {
	j = len(w.Times) - 1
	for i = j - 1; i >= 0; i-- {
		switch e := w.End[i]; {
		case e == Gap:
		case e <= c:
			return i, j, true
		default:
			j = i
		}
	}
	return 0, j, false
}

// interpolateTimeLag dates offset c between samples i and j (End[i] ≤ c < End[j]).
func interpolateTimeLag(w PartitionWindow, c int64, i, j int) TimeLag {
	now := float64(w.Times[len(w.Times)-1])
	ti, tj := float64(w.Times[i]), float64(w.Times[j])
	ei, ej := float64(w.End[i]), float64(w.End[j])
	at := ti + (float64(c)+1-ei)/(ej-ei)*(tj-ti)
	if tj-ti > 1.5*float64(SweepInterval(w)) && burstBetween(w, i, j) {
		// A burst across more than one sweep (a decimated history step, or
		// sweeps lost to gaps): its records were produced together at an
		// unknown moment of (t_i, t_j]; the middle bounds the error by half
		// the interval where linear interpolation could be off by all of
		// it. Measured by bench's TestTimeLagAccuracy (bursty p95 error
		// 15 % → 10 %) and, at a 250 ms poll interval, by cmd/kwitness's
		// TestTimeLagAccuracyDemo (bursty 30 % → within two polls).
		at = (ti + tj) / 2
	}
	return clampTimeLag(TimeLag{Seconds: (now - at) / 1000, Low: (now - tj) / 1000, High: (now - ti) / 1000,
		Method: TimeLagInterpolated})
}

// burstBetween reports whether the end offset rose between samples i and j
// at more than burstFactor times the rate of the intervals on either side
// (present samples only): production there came in a burst, not evenly.
func burstBetween(w PartitionWindow, i, j int) bool {
	rate := func(a, b int) float64 {
		if a < 0 || b >= len(w.Times) || w.End[a] == Gap || w.End[b] == Gap || w.Times[b] <= w.Times[a] {
			return -1
		}
		return float64(w.End[b]-w.End[a]) / float64(w.Times[b]-w.Times[a])
	}
	mid := rate(i, j)
	before, after := rate(prevPresent(w, i), i), rate(j, nextPresent(w, j))
	if mid <= 0 || before < 0 && after < 0 {
		return false
	}
	return mid > burstFactor*max(before, after, 0)
}

const burstFactor = 3

// SweepInterval is the shortest spacing of consecutive sweeps in w, in ms:
// the poll interval, which the recent (full-resolution) part of the window
// keeps even where the history is decimated. 1 with fewer than two sweeps.
func SweepInterval(w PartitionWindow) int64 {
	iv := int64(math.MaxInt64)
	for k := 1; k < len(w.Times); k++ {
		if d := w.Times[k] - w.Times[k-1]; d > 0 {
			iv = min(iv, d)
		}
	}
	if iv == math.MaxInt64 {
		return 1
	}
	return iv
}

func prevPresent(w PartitionWindow, i int) int {
	for k := i - 1; k >= 0; k-- {
		if w.End[k] != Gap {
			return k
		}
	}
	return -1
}

func nextPresent(w PartitionWindow, j int) int {
	for k := j + 1; k < len(w.Times); k++ {
		if w.End[k] != Gap {
			return k
		}
	}
	return len(w.Times)
}

// extrapolateTimeLag dates offset c, older than every present end offset,
// from the produce rate of the window.
func extrapolateTimeLag(w PartitionWindow, c int64) TimeLag {
	xs, ys := presentSeconds(w.Times, w.End)
	if len(xs) < 2 {
		return TimeLag{Method: TimeLagUnknown}
	}
	age := xs[len(xs)-1]              // now − t_o: xs are seconds since the oldest present sample
	d := ys[0] - float64(c) - 1       // records between c and the oldest end offset
	produced := ys[len(ys)-1] - ys[0] // records appended inside the window
	r, ok, pairs := RobustSlope(xs, ys, nil)
	if !ok || !(r > 0) {
		r = produced / age
	}
	if !(produced > 0) || !(r > 0) {
		return clampTimeLag(TimeLag{Seconds: age, Low: age, High: math.Inf(1), Method: TimeLagIdle, Extrapolated: true})
	}
	fast, slow := r, r
	if len(pairs) > 0 {
		fast, slow = max(r, slices.Max(pairs)), min(r, slices.Min(pairs))
	}
	high := math.Inf(1)
	if slow > 0 {
		high = age + d/slow
	}
	return clampTimeLag(TimeLag{Seconds: age + d/r, Low: age + d/fast, High: high,
		Method: TimeLagExtrapolated, Extrapolated: true})
}

// presentSeconds returns the present samples of vals, x in seconds since the
// first present one.
func presentSeconds(times, vals []int64) (xs, ys []float64) {
	first := Gap
	for i, t := range times {
		if vals[i] == Gap {
			continue
		}
		if first == Gap {
			first = t
		}
		xs, ys = append(xs, float64(t-first)/1000), append(ys, float64(vals[i]))
	}
	return xs, ys
}

// clampTimeLag enforces the TimeLag invariants: finite, ≥ 0, ordered, at
// most MaxTimeLag (NaN becomes the cap: it only arises from a zero rate).
func clampTimeLag(tl TimeLag) TimeLag {
	ceiling := MaxTimeLag.Seconds()
	c := func(v float64) float64 {
		if math.IsNaN(v) {
			return ceiling
		}
		return min(max(v, 0), ceiling)
	}
	tl.Seconds, tl.Low, tl.High = c(tl.Seconds), c(tl.Low), c(tl.High)
	tl.Low = min(tl.Low, tl.Seconds)
	tl.High = max(tl.High, tl.Seconds)
	return tl
}
