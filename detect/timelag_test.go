package detect

import (
	"math"
	"sort"
	"testing"
)

const tlT0 int64 = 1_700_000_000_000 // Unix ms of the first sweep of every time-lag window

// tlProducer is a producer model: the log end offset at Unix ms t
// (non-decreasing). It knows the true produce time of every record.
type tlProducer func(t int64) int64

// steadyAt produces perSec records/s from startMs on.
func steadyAt(perSec float64, startMs int64) tlProducer {
	return func(t int64) int64 { return int64(max(0, float64(t-startMs)*perSec/1000)) }
}

// burstsOf appends n records at once every everyMs from tlT0 on (and before).
func burstsOf(n, everyMs int64) tlProducer {
	return func(t int64) int64 { return n * ((t - tlT0 + 1e9) / everyMs) }
}

// window polls p once a second for n sweeps; the consumer's committed offset
// is the end offset lagMs earlier.
func (p tlProducer) window(n int, lagMs int64) PartitionWindow {
	var w PartitionWindow
	for i := range n {
		t := tlT0 + int64(i)*1000
		w.Times = append(w.Times, t)
		w.Committed = append(w.Committed, p(t-lagMs))
		w.End = append(w.End, p(t))
		w.Start = append(w.Start, 0)
	}
	return w
}

// truth is the true age in seconds, at the newest sweep of window(n, lagMs),
// of the record at the committed offset: the first ms at which the end
// offset passed it.
func (p tlProducer) truth(n int, lagMs int64) float64 {
	return p.ageAt(tlT0+int64(n-1)*1000, lagMs)
}

// ageAt is the true age in seconds, at Unix ms now, of the record at the
// end offset lagMs earlier.
func (p tlProducer) ageAt(now, lagMs int64) float64 {
	c := p(now - lagMs)
	lo := now - lagMs
	at := lo + int64(sort.Search(int(lagMs)+1, func(k int) bool { return p(lo+int64(k)) > c }))
	return float64(now-at) / 1000
}

// decimated polls p as kwitness' window keeps it: nHist history samples
// stepMs apart from tlT0, then nRecent sweeps pollMs apart; the consumer's
// committed offset is the end offset lagMs earlier. It returns the window
// and the true age at its newest sweep.
func (p tlProducer) decimated(nHist int, stepMs int64, nRecent int, pollMs, lagMs int64) (PartitionWindow, float64) {
	var w PartitionWindow
	add := func(t int64) {
		w.Times = append(w.Times, t)
		w.Committed = append(w.Committed, p(t-lagMs))
		w.End = append(w.End, p(t))
		w.Start = append(w.Start, 0)
	}
	for i := range nHist {
		add(tlT0 + int64(i)*stepMs)
	}
	last := w.Times[len(w.Times)-1]
	for i := 1; i <= nRecent; i++ {
		add(last + int64(i)*pollMs)
	}
	return w, p.ageAt(w.Times[len(w.Times)-1], lagMs)
}

// withGaps marks the end offsets of every k-th sweep (never the newest) missing.
func withGaps(w PartitionWindow, k int) PartitionWindow {
	for i := 1; i < len(w.End)-1; i += k {
		w.End[i] = Gap
	}
	return w
}

func TestEstimateTimeLagTable(t *testing.T) {
	steady := steadyAt(100, tlT0-1e8) // 100 records/s for days before the window
	f := func(n int, name string, w PartitionWindow, method string, want, tol float64) {
		t.Helper()
		got := EstimateTimeLag(w)
		ok := got.Low >= 0 && got.Low <= got.Seconds && got.Seconds <= got.High && got.High <= MaxTimeLag.Seconds()
		if !ok || math.IsNaN(got.Seconds) {
			t.Errorf("%d %s: invariants broken: %+v", n, name, got)
		}
		if got.Method != method || math.Abs(got.Seconds-want) > tol {
			t.Errorf("%d %s: %s %.3f s, want %s %.3f ± %.3f (%+v)", n, name, got.Method, got.Seconds, method, want, tol, got)
		}
		if method == TimeLagInterpolated && (want < got.Low || want > got.High) {
			t.Errorf("%d %s: true age %.3f outside [%.3f, %.3f]", n, name, want, got.Low, got.High)
		}
		if ex := method == TimeLagExtrapolated || method == TimeLagIdle; got.Extrapolated != ex {
			t.Errorf("%d %s: extrapolated %v, want %v", n, name, got.Extrapolated, ex)
		}
	}
	bursty := burstsOf(1000, 10_000)
	slow := burstsOf(1, 5_000)
	idle := tlProducer(func(int64) int64 { return 5000 })
	// 1: steady 100/s, consumer 30 s behind: interpolated, within a poll interval.
	f(1, "steady", steady.window(600, 30_000), TimeLagInterpolated, steady.truth(600, 30_000), 0.02)
	// 2: steady, consumer caught up: 0 s.
	f(2, "steady caught up", steady.window(600, 0), TimeLagCaughtUp, 0, 0)
	// 3: 1000 records every 10 s (steps), consumer 25 s behind: the record lies between two polls.
	f(3, "bursty", bursty.window(600, 25_000), TimeLagInterpolated, bursty.truth(600, 25_000), 1)
	// 4: bursty, consumer 13 s behind: the oldest unread record is the last burst's, 9 s old.
	f(4, "bursty short lag", bursty.window(600, 13_000), TimeLagInterpolated, bursty.truth(600, 13_000), 1)
	// 5: one record every 5 s, consumer 60 s behind: interpolated, not divided by a tiny rate.
	f(5, "slow topic", slow.window(600, 60_000), TimeLagInterpolated, slow.truth(600, 60_000), 0.001)
	// 6: idle topic, nothing unread: 0 s "caught-up", never NaN.
	f(6, "idle caught up", idle.window(600, 0), TimeLagCaughtUp, 0, 0)
	// 7: idle topic, 50 records unread: produced before the window: lower bound = window span (599 s).
	f(7, "idle with lag", withCommitted(idle.window(600, 0), 4950), TimeLagIdle, 599, 0)
	// 8: replay: consumer reset 3 h back on a steady topic: extrapolated from the rate, accurate.
	f(8, "replay steady", steady.window(600, 3*3600_000), TimeLagExtrapolated, steady.truth(600, 3*3600_000), 0.1)
	// 9: replay to offset 0 of a topic with 1e6 records now producing 0.01/s: capped at 30 days, finite.
	f(9, "replay capped", withCommitted(steadyAt(0.01, tlT0-1e11).window(600, 0), 0), TimeLagExtrapolated, MaxTimeLag.Seconds(), 0)
	// 10: every third end offset missing: gaps are skipped, the bracket widens, still within it.
	f(10, "gaps", withGaps(steady.window(600, 30_500), 3), TimeLagInterpolated, steady.truth(600, 30_500), 0.02)
	// 11: the bracket itself spans the gaps (every sample near the record missing).
	f(11, "gap at the record", withGaps(bursty.window(600, 25_000), 2), TimeLagInterpolated, bursty.truth(600, 25_000), 2)
	// 12: committed ahead of end (end listed before the commit): caught up, 0 s.
	f(12, "committed ahead", withCommitted(steady.window(600, 0), steady(tlT0+599_000)+50), TimeLagCaughtUp, 0, 0)
	// 13: newest committed offset missing: unknown, not 0.
	f(13, "gap at newest", withCommitted(steady.window(600, 30_000), Gap), TimeLagUnknown, 0, 0)
	// 14: replay on a bursty topic (robust slope 0 between bursts): mean rate, extrapolated, finite.
	f(14, "replay bursty", withCommitted(oneBurst.window(300, 0), 0), TimeLagExtrapolated, extrapolatedBursty(), 1)
	// 15: one sample with lag: nothing to date the record by.
	f(15, "single sample", withCommitted(steady.window(1, 0), 0), TimeLagUnknown, 0, 0)
	// 16: empty window.
	f(16, "empty", PartitionWindow{}, TimeLagUnknown, 0, 0)
	// 17: 800 records at once every 2.5 s, polled every 250 ms with an
	// 840 ms history step (the demo accuracy run's shape). The oldest
	// unread record is the first of the burst at +10 s, 80 ms before the
	// history sample at +10.08 s: dated at the middle of the step (≤ 420 ms
	// off), not next to the older sample at +9.24 s (760 ms off).
	w, age := burstsOf(800, 2500).decimated(40, 840, 6, 250, 34_260-9_670)
	f(17, "burst across a short history step", w, TimeLagInterpolated, age, 0.42)
	// 18: the same with steady production: the step is no burst, linear
	// interpolation stays exact.
	w, age = steady.decimated(40, 840, 6, 250, 4_000)
	f(18, "steady across a short history step", w, TimeLagInterpolated, age, 0.01)
}

// withCommitted sets the newest committed offset.
func withCommitted(w PartitionWindow, c int64) PartitionWindow {
	if len(w.Committed) > 0 {
		w.Committed[len(w.Committed)-1] = c
	}
	return w
}

// oneBurst: 1e6 records before the window, then 1000 at once 20 s into it.
var oneBurst = tlProducer(func(t int64) int64 {
	if t >= tlT0+20_000 {
		return 1_001_000
	}
	return 1_000_000
})

// extrapolatedBursty is the estimate row 14 expects: in 300 sweeps one burst
// of 1000 records, so the robust slope is 0 (most half-span pairs see no
// production) and the mean rate 1000/299 records/s dates offset 0.
func extrapolatedBursty() float64 {
	return 299 + (1_000_000-1)/(1000.0/299)
}

// TestEstimateTimeLagBoundsHoldUnderRateChange: after a replay on a topic
// whose rate changed (60/s before the window, 50/s then 100/s inside it), the
// estimate is flagged extrapolated and the true age lies within [Low, High]:
// the interval spans the slowest and fastest rates the window saw.
func TestEstimateTimeLagBoundsHoldUnderRateChange(t *testing.T) {
	p := tlProducer(func(t int64) int64 {
		const base, mid = 1_000_000, tlT0 + 300_000
		switch {
		case t < tlT0:
			return base - 60*(tlT0-t)/1000
		case t < mid:
			return base + 50*(t-tlT0)/1000
		}
		return base + 15_000 + 100*(t-mid)/1000
	})
	lag := int64(3600_000 + 599_000)
	got := EstimateTimeLag(p.window(600, lag))
	truth := p.truth(600, lag)
	if !got.Extrapolated || got.Low > truth || got.High < truth {
		t.Fatalf("true age %.0f s outside [%.0f, %.0f] (estimate %.0f, %s)", truth, got.Low, got.High, got.Seconds, got.Method)
	}
	if low := 599 + float64(p(tlT0)-p(tlT0-3600_000)-1)/100; math.Abs(got.Low-low) > 10 {
		t.Fatalf("low %.2f s, want %.2f ± 10: the record dated at the fastest rate seen (~100/s)", got.Low, low)
	}
	if math.Abs(got.Seconds-truth) > 0.25*truth {
		t.Fatalf("estimate %.0f s more than 25%% off the true age %.0f s", got.Seconds, truth)
	}
}

// TestTimeLagEdges: unknown has no value; below the log start the age is
// that of the oldest readable record, with the skipped records counted; a
// recreated partition's records are never dated before its recreation.
func TestTimeLagEdges(t *testing.T) {
	one := steadyAt(10, tlT0-600_000).window(1, 5_000)
	if tl := EstimateTimeLag(one); tl.Known() || tl.Method != TimeLagUnknown {
		t.Fatalf("one sample: %+v, want unknown", tl)
	}
	// 10 records/s; the consumer is 120 s behind but retention deleted
	// everything older than 60 s: it reads the record produced 60 s ago next.
	p := steadyAt(10, tlT0-600_000)
	w := p.window(30, 120_000)
	for i := range w.Start {
		w.Start[i] = p(w.Times[i] - 60_000)
	}
	tl := EstimateTimeLag(w)
	if tl.Skipped != 600 || math.Abs(tl.Seconds-60) > 1.5 {
		t.Fatalf("below the log start: %.1f s, skipped %d; want ≈ 60 s and 600", tl.Seconds, tl.Skipped)
	}
	// The topic was recreated at sweep 20; the new log's committed offset
	// is before every end offset sampled since, at 1 record/s: the
	// extrapolation must not date it before sweep 19.
	w = PartitionWindow{}
	for i := range 40 {
		end := int64(100_000 + 1000*i)
		if i >= 20 {
			end = int64(50 + (i - 20))
		}
		w.Times = append(w.Times, tlT0+int64(i)*1000)
		w.End = append(w.End, end)
		w.Committed = append(w.Committed, 10)
		w.Start = append(w.Start, 0)
	}
	tl = EstimateTimeLag(w)
	if tl.Seconds > 20 || tl.High > 20 {
		t.Fatalf("recreated: %.1f s [%.1f, %.1f], want ≤ 20 s (the recreation)", tl.Seconds, tl.Low, tl.High)
	}
}
