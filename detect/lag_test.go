package detect

import (
	"math"
	"testing"
	"time"
)

// win builds a window of n sweeps one second apart; com and end give the
// offsets at sweep i (return Gap for a missing sample).
func win(n int, com, end func(i int) int64) PartitionWindow {
	w := PartitionWindow{}
	for i := range n {
		w.Times = append(w.Times, 1_700_000_000_000+int64(i)*1000)
		w.Committed = append(w.Committed, com(i))
		w.End = append(w.End, end(i))
		w.Start = append(w.Start, 0)
	}
	return w
}

func rate(base, perSec int64) func(int) int64 {
	return func(i int) int64 { return base + perSec*int64(i) }
}

func constant(v int64) func(int) int64 { return func(int) int64 { return v } }

// steps commits every k sweeps, as an auto-committing consumer does.
func steps(perSec int64, k int) func(int) int64 {
	return func(i int) int64 { return perSec * int64(i-i%k) }
}

var (
	stable  = GroupContext{Known: true, State: "Stable", Members: 2, Generation: 3}
	empty   = GroupContext{Known: true, State: "Empty", Members: 0, Generation: 4}
	unknown = GroupContext{}
)

func TestEvaluatePartitionTable(t *testing.T) {
	cfg := DefaultLagConfig()
	var s LagScratch
	f := func(n int, name string, w PartitionWindow, g GroupContext, want Status) {
		t.Helper()
		got := EvaluatePartition(cfg, w, g, &s)
		if got.Status != want {
			t.Errorf("%d %s: status %v, want %v (lag %d, slope %.2f, unchanged %dms, first lag %d)",
				n, name, got.Status, want, got.Lag, got.LagSlope, got.UnchangedForMs, got.LagFirst)
		}
	}
	// 1: consumer keeps up with a steady producer: lag 0 throughout.
	f(1, "caught up", win(120, rate(0, 50), rate(0, 50)), stable, StatusOK)
	// 2: idle topic, zero lag, nothing commits for ten minutes: OK, never STOPPED.
	f(2, "idle zero lag", win(600, constant(500), constant(500)), empty, StatusOK)
	// 3: idle topic, zero lag, group has members: OK, never STALLED.
	f(3, "idle zero lag members", win(600, constant(500), constant(500)), stable, StatusOK)
	// 4: producer 100/s, consumer 40/s, still committing: LAG_GROWING.
	f(4, "growing", win(90, rate(0, 40), rate(0, 100)), stable, StatusLagGrowing)
	// 5: 20 s of a consumer reading 40 % of production: its troughs rose
	// past the threshold while it reads below the baseline: LAG_GROWING.
	f(5, "growing early", win(20, rate(0, 40), rate(0, 100)), stable, StatusLagGrowing)
	// 5b: the same after only 3 sweeps: two rises of 60 are below the
	// threshold (100 + 2 × 100/s × 1 s): not yet.
	f(5, "growing too short", win(3, rate(0, 40), rate(0, 100)), stable, StatusOK)
	// 6: slow growth below MinGrowth over the window: OK.
	f(6, "tiny growth", win(60, rate(0, 99), rate(0, 100)), stable, StatusOK)
	// 7: committed frozen 160 s with lag > 0, members present, no cadence
	// learned: past 2 × stall_after + 30 s: STALLED.
	f(7, "stalled", win(160, constant(1000), rate(1000, 10)), stable, StatusStalled)
	// 8: frozen 120 s, no cadence learned (a consumer committing every
	// 2 × stall_after looks the same): OK.
	f(8, "frozen briefly", win(120, constant(1000), rate(1000, 10)), stable, StatusOK)
	// 9: frozen with lag > 0 on an idle topic (lag constant 50): STALLED.
	f(9, "stalled idle topic", win(160, constant(950), constant(1000)), stable, StatusStalled)
	// 10: no members, frozen 160 s, lag > 0: STOPPED.
	f(10, "stopped", win(160, constant(1000), rate(1000, 10)), empty, StatusStopped)
	// 11: no members, frozen 30 s only: not yet STOPPED.
	f(11, "stopped too soon", win(30, constant(1000), rate(1000, 10)), empty, StatusOK)
	// 12: committed went backwards and stayed there: REWIND.
	f(12, "rewind", win(30, func(i int) int64 {
		if i >= 25 {
			return 100
		}
		return 1000 + int64(i)
	}, constant(2000)), stable, StatusRewind)
	// 13: newest sweep is a gap: UNKNOWN, never OK.
	f(13, "gap at newest", win(60, func(i int) int64 {
		if i == 59 {
			return Gap
		}
		return 0
	}, rate(0, 100)), stable, StatusUnknown)
	// 14: gaps in the middle of a growing window do not hide the growth.
	f(14, "growing with gaps", win(90, func(i int) int64 {
		if i%7 == 3 {
			return Gap
		}
		return 40 * int64(i)
	}, rate(0, 100)), stable, StatusLagGrowing)
	// 15: auto-commit every 5 s at the produce rate: sawtooth lag, OK.
	f(15, "sawtooth", win(300, steps(100, 5), rate(0, 100)), stable, StatusOK)
	// 16: frozen with lag, members unknown (never described): STALLED, not STOPPED.
	f(16, "stalled unknown group", win(160, constant(1000), rate(1000, 10)), unknown, StatusStalled)
	// 17: lag spike that is draining: OK.
	f(17, "draining", win(90, rate(0, 200), func(i int) int64 { return 10000 + 100*int64(i) }), stable, StatusOK)
	// 18: committed ahead of end (offsets listed before the commit): lag floored at 0, OK.
	f(18, "committed ahead", win(60, rate(10, 100), rate(0, 100)), stable, StatusOK)
	// 19: a burst at the end of a healthy window does not read as growing.
	f(19, "late burst", win(120, rate(0, 50), func(i int) int64 {
		if i >= 117 {
			return 50*int64(i) + 400
		}
		return 50 * int64(i)
	}), stable, StatusOK)
	// 20: auto-commit every 5 s at 60 % of the produce rate: the sawtooth's
	// troughs rise, LAG_GROWING.
	f(20, "growing sawtooth", win(120, steps(60, 5), rate(0, 100)), stable, StatusLagGrowing)
	// 22: a consumer that committed every 5 s, then stopped 20 s ago while
	// production continues: its learned cadence says the commit is
	// overdue (5 s + 10 s slack): STALLED long before stall_after.
	f(22, "stalled against cadence", win(120, func(i int) int64 { return steps(100, 5)(min(i, 100)) }, rate(0, 100)), stable, StatusStalled)
	// 23: the same 12 s after its last commit: not yet overdue.
	f(23, "not yet overdue", win(112, func(i int) int64 { return steps(100, 5)(min(i, 100)) }, rate(0, 100)), stable, StatusOK)
	// 24: a consumer committing every 60 s and keeping up, judged just
	// before its next commit: its troughs are flat and its commit is not
	// overdue: OK, never LAG_GROWING or STALLED.
	f(24, "60 s committer", win(599, steps(100, 60), rate(0, 100)), stable, StatusOK)
	// 21: a fast sawtooth (amplitude 4,000 ≫ MinGrowth) judged at a peak,
	// its first sample a trough: OK, the newest trough is 0.
	f(21, "sawtooth at a peak", win(125, steps(1000, 5), rate(0, 1000)), stable, StatusOK)
}

// TestLagTrough: the trough is the smallest lag over the newest TroughSpan,
// gaps skipped, and it alone (not the newest lag) is compared with the
// first lag.
func TestLagTrough(t *testing.T) {
	cfg := DefaultLagConfig()
	var s LagScratch
	// Commits every 5 sweeps: lag at sweep i is 100 × (i mod 5).
	w := win(125, steps(100, 5), rate(0, 100))
	got := EvaluatePartition(cfg, w, stable, &s)
	if got.Lag != 400 || got.LagTrough != 0 || got.LagFirst != 0 {
		t.Fatalf("lag %d trough %d first %d, want 400 0 0", got.Lag, got.LagTrough, got.LagFirst)
	}
	// The trough sample (sweep 120) is a gap. Sweeps 118..124 lie within
	// 6 s, lags 300, 400, gap, 100, 200, 300, 400: the trough is 100.
	w.Committed[120] = Gap
	got = EvaluatePartition(cfg, w, stable, &s)
	if got.LagTrough != 100 {
		t.Fatalf("trough with a gap: %d, want 100 (sweep 121)", got.LagTrough)
	}
	// A shorter span sees only the newest two sweeps (300, 400).
	cfg.TroughSpan = time.Second
	if got = EvaluatePartition(cfg, w, stable, &s); got.LagTrough != 300 {
		t.Fatalf("trough over 1s: %d, want 300", got.LagTrough)
	}
}

func TestEvaluatePartitionNumbers(t *testing.T) {
	var s LagScratch
	r := EvaluatePartition(DefaultLagConfig(), win(61, rate(0, 40), rate(0, 100)), stable, &s)
	if r.Lag != 60*60 {
		t.Fatalf("lag %d, want 3600", r.Lag)
	}
	if math.Abs(r.LagSlope-60) > 1e-9 || math.Abs(r.ConsumeRate-40) > 1e-9 || math.Abs(r.ProduceRate-100) > 1e-9 {
		t.Fatalf("rates: lag %.3f consume %.3f produce %.3f", r.LagSlope, r.ConsumeRate, r.ProduceRate)
	}
	if !math.IsInf(r.CatchUp, 1) {
		t.Fatalf("catch-up %v, want +Inf (never at current rates)", r.CatchUp)
	}
	// From the inputs: at the newest sweep (60 s) committed = 150 × 60 = 9000
	// and end = 6000 + 100 × 60 = 12000, so lag 3000 shrinks at
	// 150 − 100 = 50 messages/s: caught up in 60 s.
	r = EvaluatePartition(DefaultLagConfig(), win(61, rate(0, 150), func(i int) int64 { return 6000 + 100*int64(i) }), stable, &s)
	if r.Lag != 3000 || math.Abs(r.CatchUp-60) > 1e-6 {
		t.Fatalf("lag %d catch-up %.2f s, want 3000 and 60 s", r.Lag, r.CatchUp)
	}
}

func TestEvaluatePartitionWindowBound(t *testing.T) {
	cfg := DefaultLagConfig()
	cfg.Window = 30 * time.Second
	var s LagScratch
	// Stalled for 100 s, but the window is 30 s: unchanged-for is capped by what is judged.
	r := EvaluatePartition(cfg, win(100, constant(5), constant(10)), stable, &s)
	if r.UnchangedForMs != 30_000 {
		t.Fatalf("unchanged for %d ms, want 30000", r.UnchangedForMs)
	}
}

func TestRobustSlopeResistsOutlier(t *testing.T) {
	xs := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	ys := []float64{0, 2, 4, 6, 8, 1000, 12, 14, 16, 18}
	got, ok, _ := RobustSlope(xs, ys, nil)
	if !ok || got != 2 {
		t.Fatalf("slope %v ok %v, want 2", got, ok)
	}
	if _, ok, _ := RobustSlope(xs[:1], ys[:1], nil); ok {
		t.Fatal("one point must not give a slope")
	}
}

// TestStallWaitsFromMembershipChange: a 5 s committer whose commits stop
// is STALLED 20 s later, but not when its membership changed 8 s ago (a
// rebalance pauses every member: the wait starts at the change); a group
// without members is STOPPED whatever the change, since its members leaving
// is the change.
func TestStallWaitsFromMembershipChange(t *testing.T) {
	cfg := DefaultLagConfig()
	var s LagScratch
	com := func(i int) int64 { return 50 * int64(min(i, 100)-min(i, 100)%5) } // commits every 5 s until 100 s
	w := win(121, com, rate(0, 50))
	now := w.Times[len(w.Times)-1]
	if got := EvaluatePartition(cfg, w, stable, &s).Status; got != StatusStalled {
		t.Fatalf("stopped committing 20 s ago: %v, want CONSUMER_STALLED", got)
	}
	changed := stable
	changed.Change = MembershipChange{AtMs: now - 8000, BeforeMs: now - 9000, From: 3, To: 4}
	if got := EvaluatePartition(cfg, w, changed, &s).Status; got == StatusStalled {
		t.Fatalf("membership changed 8 s ago: %v, want the wait to start at the change", got)
	}
	left := empty
	left.Change = changed.Change
	if got := EvaluatePartition(cfg, w, left, &s).Status; got != StatusStopped {
		t.Fatalf("members left 8 s ago after 20 s without commits: %v, want CONSUMER_STOPPED", got)
	}
}
