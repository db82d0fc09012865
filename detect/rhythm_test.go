package detect

import (
	"testing"
	"time"
)

// feed observes n sweeps one second apart from t0; com and end give the
// offsets at sweep i.
func feed(r *Rhythm, from, n int, com, end func(i int) int64) {
	for i := from; i < from+n; i++ {
		r.Observe(1_700_000_000_000+int64(i)*1000, com(i), end(i), 600_000)
	}
}

func TestRhythmLearnsCadence(t *testing.T) {
	var r Rhythm
	feed(&r, 0, 120, steps(100, 5), rate(0, 100))
	med, p95 := r.Interval()
	if !r.Learned() || med != 5*time.Second || p95 != 5*time.Second {
		t.Fatalf("learned %v median %s p95 %s, want 5s 5s", r.Learned(), med, p95)
	}
	if r.Shape() != "steady" || r.ProdRate < 90 || r.ProdRate > 110 {
		t.Fatalf("production %s at %.1f/s, want steady ≈ 100", r.Shape(), r.ProdRate)
	}
	if r.BaseLag != 0 {
		t.Fatalf("lag baseline %.0f, want 0 (the consumer catches up at each commit)", r.BaseLag)
	}
}

// TestRhythmIdleDoesNotStretchCadence: a topic that idles for minutes
// between records, consumed and committed 5 s after each arrives, keeps a
// 5 s cadence; lag of one transaction marker left at each commit is not
// waiting work.
func TestRhythmIdleDoesNotStretchCadence(t *testing.T) {
	var r Rhythm
	end := func(i int) int64 { return int64(i/120)*10 + 1 } // 10 records (and a marker) every 2 min
	com := func(i int) int64 {
		if i%120 < 5 {
			return int64(i/120-1)*10 + 0 // not yet committed past the newest batch
		}
		return int64(i/120) * 10 // committed up to the marker
	}
	feed(&r, 0, 1200, com, end)
	if _, p95 := r.Interval(); p95 > 6500*time.Millisecond { // 6 s within the stored 4 % steps
		t.Fatalf("p95 interval %s, want ≈ 6s: idle time between batches is not cadence", p95)
	}
	if r.Pending() {
		t.Fatalf("work pending since %d with only a marker left", r.pendT)
	}
	if waited, _ := r.Overdue(1_700_000_000_000+1199*1000, 0, time.Minute); waited != 0 {
		t.Fatalf("waited %s on a marker", waited)
	}
}

func TestRhythmGrowthNeedsATrend(t *testing.T) {
	cfg := DefaultLagConfig()
	// A burst caught at one commit: one big step, then flat troughs.
	var r Rhythm
	feed(&r, 0, 60, steps(100, 5), rate(0, 100))
	jump := func(i int) int64 {
		if i >= 62 {
			return 100*int64(i) + 5000
		}
		return 100 * int64(i)
	}
	feed(&r, 60, 60, steps(100, 5), jump) // the consumer never reads the burst: lag stays 5,000 higher
	if ok, _ := r.Growing(cfg); ok {
		t.Fatal("one jump read as growth")
	}
	// A consumer at 40 % of production: troughs rise steadily.
	var s Rhythm
	feed(&s, 0, 20, steps(40, 5), rate(0, 100))
	if ok, rise := s.Growing(cfg); !ok {
		t.Fatalf("40 %% consumer not growing after 20 s (rise %d, rises %d)", rise, s.Rises)
	}
}

func TestRhythmSize(t *testing.T) {
	if rhythmSize > 96 {
		t.Fatalf("Rhythm is %d bytes, budget 96", rhythmSize)
	}
}

// TestRhythmsFollowOrderChanges: when the view's order changes, each
// group-partition keeps its own rhythm and a vanished one is forgotten.
func TestRhythmsFollowOrderChanges(t *testing.T) {
	var rs rhythms
	keys := []uint64{11, 22, 33}
	for sweep := range 3 {
		rs.begin()
		for i, k := range keys {
			r := rs.at(k)
			r.Observe(int64(1+sweep)*1000, int64(i), int64(i)+1, 600_000)
		}
		rs.end()
	}
	rs.begin()
	for _, k := range []uint64{33, 44, 11} {
		r := rs.at(k)
		if k == 44 && r.Seen() {
			t.Fatal("a new key inherited a rhythm")
		}
		if k != 44 && r.lastT != rhStamp(3000) {
			t.Fatalf("key %d lost its rhythm: %+v", k, r)
		}
	}
	rs.end()
	if len(rs.slots) != 3 || rs.slots[0].Key != 33 || rs.slots[2].Key != 11 {
		t.Fatalf("slots %+v", rs.slots)
	}
}

// TestRhythmIdleGapIsNotGrowth: a 5 s committer that leaves a few records
// at its last commit before an idle spell, then reads a burst at 40 % of
// its rate: the run spans the idle spell, whose rates say nothing of the
// consumer.
func TestRhythmIdleGapIsNotGrowth(t *testing.T) {
	cfg := DefaultLagConfig()
	var r Rhythm
	feed(&r, 0, 60, steps(30, 5), rate(0, 30)) // steady, keeps up, 5 s commits
	end := func(i int) int64 {
		switch {
		case i < 60:
			return 30 * int64(i)
		case i < 95:
			return 30*60 + 5 // five records, then idle for 35 s
		}
		return 30*60 + 5 + 100*int64(i-95) // a burst at 100/s
	}
	com := func(i int) int64 {
		if i < 100 {
			return 30 * 60 // the five records stay uncommitted
		}
		return 30*60 + 40*int64((i-95)/5*5) // reads 40/s, commits every 5 s
	}
	for i := 60; i < 110; i++ {
		r.Observe(1_700_000_000_000+int64(i)*1000, com(i), end(i), 600_000)
		if ok, rise := r.Growing(cfg); ok {
			t.Fatalf("growing at %d s (rise %d, %d rises, production %.1f/s): a burst after an idle spell", i, rise, r.Rises, r.ProdRate)
		}
	}
}

// TestRhythmSparseSamplesAreNotIdle: a window whose older samples are
// 11 s apart (history) and newest 1 s apart, each showing a commit of a
// consumer reading half of production: the sparse spacing is not an idle
// spell, and the growth is reported.
func TestRhythmSparseSamplesAreNotIdle(t *testing.T) {
	var r Rhythm
	for _, s := range []int{0, 11, 22, 33, 34, 35, 36, 37, 38, 39} {
		r.Observe(1_700_000_000_000+int64(s)*1000, 1000+10*int64(s), 1000+20*int64(s), 600_000)
	}
	if ok, rise := r.Growing(DefaultLagConfig()); !ok {
		t.Fatalf("not growing (rise %d, %d rises): a consumer reading half of production", rise, r.Rises)
	}
}
