package detect

import (
	"math"
	"slices"
	"time"
)

// Increase is how much the counter w grew over (from, to] (Unix ms): the sum,
// over each pair of consecutive present samples (a, b) with b in (from, to],
// of b − a — or of b alone when b < a, which is a counter reset (the broker
// or exporter restarted and counting began again at zero, so b is what
// accrued since). Gaps (NaN) are skipped: the pair spans them. a may lie
// before from, so adjacent intervals share no increase and lose none.
//
// secs is the time from the first a to the last b in seconds. ok is false
// when no pair qualifies.
func Increase(w SignalWindow, from, to int64) (inc, secs float64, ok bool) {
	i, _ := slices.BinarySearch(w.Times, from+1) // first entry after from
	prev, prevT := math.NaN(), int64(0)
	for j := i - 1; j >= 0; j-- { // the newest present entry at or before from
		if !math.IsNaN(w.Values[j]) {
			prev, prevT = w.Values[j], w.Times[j]
			break
		}
	}
	first, last := int64(0), int64(0)
	for ; i < len(w.Times) && w.Times[i] <= to; i++ {
		v := w.Values[i]
		if math.IsNaN(v) {
			continue
		}
		if !math.IsNaN(prev) {
			if !ok {
				first, ok = prevT, true
			}
			inc += counterDelta(prev, v)
			last = w.Times[i]
		}
		prev, prevT = v, w.Times[i]
	}
	return inc, float64(last-first) / 1000, ok
}

// Rate is Increase ÷ its span, per second; ok is false when Increase has no
// pair or the pairs span no time.
func Rate(w SignalWindow, from, to int64) (float64, bool) {
	inc, secs, ok := Increase(w, from, to)
	if !ok || secs <= 0 {
		return 0, false
	}
	return inc / secs, true
}

// counterDelta is the increase of a counter from a to b; a drop is a reset.
func counterDelta(a, b float64) float64 {
	if b < a {
		return b
	}
	return b - a
}

// newestPresent reports whether the newest entry of w is present: a series
// whose newest entry is a gap is not judged (unknown).
func newestPresent(w SignalWindow) bool {
	n := len(w.Values)
	return n > 0 && !math.IsNaN(w.Values[n-1])
}

// lost reports whether w had data in the window but its newest entry is a
// gap: the subject it feeds is unknown now.
func lost(w SignalWindow) bool {
	if len(w.Values) == 0 || newestPresent(w) {
		return false
	}
	v, _ := w.Last()
	return !math.IsNaN(v)
}

// runSince walks back from the newest entry of w over present samples while
// bad holds, skipping gaps. It returns the time of the oldest sample of that
// run and of the newest sample; ok is false when the newest entry is a gap or
// does not satisfy bad. The condition has held for newest − since.
func runSince(w SignalWindow, bad func(float64) bool) (since, newest int64, ok bool) {
	if !newestPresent(w) || !bad(w.Values[len(w.Values)-1]) {
		return 0, 0, false
	}
	newest = w.Times[len(w.Times)-1]
	since = newest
	for i := len(w.Values) - 1; i >= 0; i-- {
		v := w.Values[i]
		if math.IsNaN(v) {
			continue
		}
		if !bad(v) {
			break
		}
		since = w.Times[i]
	}
	return since, newest, true
}

// lastPresent returns the newest n present values of w, newest last, and
// whether the newest entry is present and n were found.
func lastPresent(w SignalWindow, n int, buf []float64) ([]float64, int64, bool) {
	buf = buf[:0]
	if !newestPresent(w) {
		return buf, 0, false
	}
	from := int64(0)
	for i := len(w.Values) - 1; i >= 0 && len(buf) < n; i-- {
		if !math.IsNaN(w.Values[i]) {
			buf = append(buf, w.Values[i])
			from = w.Times[i]
		}
	}
	return buf, from, len(buf) == n
}

// valueAt returns the entry of w at the largest time ≤ t, NaN if there is
// none or it is older than stale ms.
func valueAt(w SignalWindow, t, stale int64) float64 {
	lo, hi := 0, len(w.Times)
	for lo < hi { // first index with Times > t
		m := int(uint(lo+hi) >> 1)
		if w.Times[m] <= t {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 || t-w.Times[lo-1] > stale {
		return math.NaN()
	}
	return w.Values[lo-1]
}

// brokerScratch holds buffers reused across citations; not safe for
// concurrent use.
type brokerScratch struct {
	xs, ys, buf []float64
}

// cite summarises w over [from, to] (Unix ms) as evidence: first, last, min,
// max, present and missing counts, and the robust slope per second in
// unit+"/s". Source is w.Source at sweepAt.
func (s *brokerScratch) cite(w SignalWindow, from, to int64, unit string, sweepAt int64, note string) Citation {
	c := Citation{Series: w.Ref, From: time.UnixMilli(from), To: time.UnixMilli(to), SlopeUnit: unit + "/s",
		Source: Source{API: w.Source, SweepAt: time.UnixMilli(sweepAt)}, Note: note}
	s.xs, s.ys = s.xs[:0], s.ys[:0]
	for i, t := range w.Times {
		if t < from || t > to {
			continue
		}
		v := w.Values[i]
		if math.IsNaN(v) {
			c.Gaps++
			continue
		}
		if c.Count == 0 {
			c.First, c.Min, c.Max = v, v, v
		}
		c.Count++
		c.Last, c.Min, c.Max = v, math.Min(c.Min, v), math.Max(c.Max, v)
		s.xs = append(s.xs, float64(t-from)/1000)
		s.ys = append(s.ys, v)
	}
	c.Slope, _, s.buf = RobustSlope(s.xs, s.ys, s.buf)
	return c
}
