package state

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// churn drives a window with a 10 s span through sweeps one second apart
// while consumer groups come and go: group g lives for sweeps [3g, 3g+20).
type churn struct {
	t    *testing.T
	w    *Window
	at   time.Time
	step time.Duration     // between sweeps
	ids  map[string]uint32 // committed series id of each group's partition 0
}

func newChurn(t *testing.T) *churn {
	w, err := NewWindow(WindowConfig{Span: 10 * time.Second, Points: 6, Recent: 3}, "c")
	if err != nil {
		t.Fatal(err)
	}
	return &churn{t: t, w: w, at: time.UnixMilli(1_800_000_000_000), step: time.Second, ids: map[string]uint32{}}
}

// sweep publishes one sweep watching groups (topic "t", partition 0), each
// committed at the sweep number.
func (c *churn) sweep(k int, groups []string) {
	var specs []GroupTopicSpec
	for _, g := range groups {
		specs = append(specs, GroupTopicSpec{Group: g, Topic: "t", Partitions: []int32{0}})
	}
	topo := c.w.BuildTopology(specs)
	s := c.w.Begin(c.at)
	s.SetTopology(topo)
	for _, e := range topo.GroupTopics {
		s.Set(e.Parts[0].Series[detect.ColCommitted], int64(k))
		s.Set(e.Parts[0].Series[detect.ColEnd], int64(k))
		s.Set(e.Parts[0].Series[detect.ColStart], int64(k))
		c.ids[e.Group] = e.Parts[0].Series[detect.ColCommitted]
	}
	c.w.Commit(s)
	c.at = c.at.Add(c.step)
}

// TestReclaimBoundsChurn: 200 short-lived groups over 640 sweeps. Without
// reclamation the id space would hold 200 committed series; with it, ids
// are reused once a group has been gone two spans, so it stays near the
// groups alive or retired within 20 s.
func TestReclaimBoundsChurn(t *testing.T) {
	c := newChurn(t)
	for k := range 640 {
		var alive []string
		for g := max(0, (k-20)/3); g <= k/3 && g < 200; g++ {
			if k >= 3*g && k < 3*g+20 {
				alive = append(alive, fmt.Sprintf("g%03d", g))
			}
		}
		c.sweep(k, alive)
	}
	if n := c.w.catalog.len(); n > 2*(7+7)+2 {
		t.Fatalf("id space %d after 200 groups came and went: want it bounded by the groups alive or recently gone", n)
	}
	if c.w.Reclaimed() == 0 {
		t.Fatal("nothing reclaimed")
	}
	if live := c.w.LiveSeries(); live > 3*7 {
		t.Fatalf("%d series still registered; want at most the recently gone groups' and t/0's", live)
	}
}

// TestReclaimKeepsReturningSeries: a group that is gone for less than the
// delay comes back under the same id; one gone longer may get any id, and
// its window then holds only its new samples — none of the previous
// owner's.
func TestReclaimKeepsReturningSeries(t *testing.T) {
	c := newChurn(t)
	for k := range 5 {
		c.sweep(k, []string{"a"})
	}
	first := c.ids["a"]
	for k := 5; k < 15; k++ { // gone 10 s: under two spans
		c.sweep(k, nil)
	}
	c.sweep(15, []string{"a"})
	if c.ids["a"] != first {
		t.Fatalf("group back after 10 s got id %d, want its old id %d", c.ids["a"], first)
	}
	for k := 16; k < 60; k++ { // gone 44 s: its id is released
		c.sweep(k, nil)
	}
	if c.w.Reclaimed() == 0 {
		t.Fatal("an id gone 44 s (> 2 spans of 10 s) was not released")
	}
	space := c.w.catalog.len()
	c.sweep(60, []string{"b"})
	if n := c.w.catalog.len(); n != space || space != 3 {
		t.Fatalf("id space %d → %d; want the 3 released ids (committed, end, start) reused", space, n)
	}
	v := c.w.View()
	var got detect.PartitionWindow
	v.GroupTopics("b", func(gt *detect.GroupTopic) {
		v.Load(gt, 0)
		got = gt.Partitions[0].Window
	})
	for i, cv := range got.Committed[:len(got.Committed)-1] {
		if cv != detect.Gap {
			t.Fatalf("reused id shows the old owner's sample %d at %d", cv, got.Times[i])
		}
	}
	if last := got.Committed[len(got.Committed)-1]; last != 60 {
		t.Fatalf("newest committed %d, want 60", last)
	}
	if k, _ := c.w.Key(c.ids["b"]); k.Group != "b" || k.Metric != MetricCommitted {
		t.Fatalf("id %d now names %+v, want b's committed offset", c.ids["b"], k)
	}
}

// TestInvariantRingWrap: with sweeps 5 s apart, every sweep lands in the
// decimated history, whose 6 points then cover 30 s — more than two 10 s
// spans. An id must not be reused until the history ring has wrapped since
// its series left: group b, arriving after a's ids could be freed by time
// alone, must never show a's samples. The telemetry window waits the same
// way for a series gone idle.
func TestInvariantRingWrap(t *testing.T) {
	c := newChurn(t)
	c.step = 5 * time.Second
	for k := range 4 {
		c.sweep(k, []string{"a"})
	}
	for k := 4; k < 9; k++ { // 25 s gone: past two spans, history not yet wrapped
		c.sweep(k, nil)
	}
	if n := c.w.Reclaimed(); n != 0 {
		t.Fatalf("%d ids released while the history ring still holds their samples", n)
	}
	for k := 9; k < 12; k++ {
		c.sweep(k, nil)
	}
	if c.w.Reclaimed() == 0 {
		t.Fatal("nothing released after the history ring wrapped")
	}
	c.sweep(12, []string{"b"})
	v := c.w.View()
	seen := 0
	v.GroupTopics("b", func(gt *detect.GroupTopic) {
		seen++
		v.Load(gt, 0)
		w := gt.Partitions[0].Window
		for col, vals := range [][]int64{w.Committed, w.End, w.Start} {
			for i, x := range vals[:len(vals)-1] {
				if x != detect.Gap {
					t.Fatalf("column %d of b shows %d at %d, a sample of the id's previous series", col, x, w.Times[i])
				}
			}
			if vals[len(vals)-1] != 12 {
				t.Fatalf("column %d of b: newest %d, want 12", col, vals[len(vals)-1])
			}
		}
	})
	if seen != 1 {
		t.Fatalf("group b listed %d times in the view, want once", seen)
	}

	// Telemetry: a series last set at sweep 4, sweeps a second apart, 40
	// history points (40 s). At the idleness scan of sweep 31 it has been
	// idle 27 s — past two spans — but the history ring has not wrapped; it
	// is released at the scan of sweep 47.
	tel := newIdleTelemetry(t, 40)
	for k := range 48 {
		tel.sweep(k, time.Second, k < 5)
		if tel.t.reclaim.released > 0 && k < 47 {
			t.Fatalf("telemetry series released %d s after its last value, before the history ring (40 s) wrapped", k-4)
		}
	}
	if tel.t.reclaim.released == 0 {
		t.Fatal("idle telemetry series not released once the history ring wrapped")
	}
}

// idleTelemetry drives a telemetry window (10 s span, 3 recent sweeps) with
// series "up", set every sweep, and "x", set when asked.
type idleTelemetry struct {
	tb testing.TB
	t  *Telemetry
}

var (
	telUp = TelemetryKey{Signal: detect.SigScrapeUp, Broker: 1, Partition: -1}
	telX  = TelemetryKey{Signal: detect.SigTopicSize, Broker: 1, Topic: "x", Partition: -1}
)

func newIdleTelemetry(tb testing.TB, points int) *idleTelemetry {
	t, err := NewTelemetry(WindowConfig{Span: 10 * time.Second, Points: points, Recent: 3}, "c")
	if err != nil {
		tb.Fatal(err)
	}
	return &idleTelemetry{tb: tb, t: t}
}

// sweep commits sweep k at k × step, setting x when withX.
func (it *idleTelemetry) sweep(k int, step time.Duration, withX bool) {
	sw := it.t.Begin(time.UnixMilli(1_800_000_000_000).Add(time.Duration(k) * step))
	sw.Set(telUp, 1)
	if withX {
		sw.Set(telX, float64(k))
	}
	it.t.Commit(sw)
}

// TestInvariantTwoSpanDelay: a group gone at sweep 5 (one second apart,
// 10 s span) keeps its ids through sweep 24 and has them released at sweep
// 25, two spans after it was retired — though both rings wrapped long
// before. A telemetry series last set at sweep 4 is released at the first
// idleness scan two spans later, not before.
func TestInvariantTwoSpanDelay(t *testing.T) {
	c := newChurn(t)
	for k := range 5 {
		c.sweep(k, []string{"a"})
	}
	for k := 5; k < 25; k++ {
		c.sweep(k, nil)
		if n := c.w.Reclaimed(); n != 0 {
			t.Fatalf("sweep %d: %d ids released %d s after their series was retired (< 2 spans)", k, n, k-5)
		}
	}
	c.sweep(25, nil)
	if n := c.w.Reclaimed(); n != 3 {
		t.Fatalf("sweep 25: %d ids released two spans after retirement, want a's 3", n)
	}

	tel := newIdleTelemetry(t, 4)
	for k := range 32 {
		tel.sweep(k, time.Second, k < 5)
		released := tel.t.reclaim.released > 0
		switch {
		case released && k < 24:
			t.Fatalf("sweep %d: telemetry series released %d s after its last value (< 2 spans)", k, k-4)
		case !released && k == 31: // the scan at the 32nd sweep is the first one 2 spans on
			t.Fatal("idle telemetry series not released at the first scan two spans on")
		}
	}
	if id, ok := tel.t.catalog.lookup(telX); ok {
		t.Fatalf("released series still registered as id %d", id)
	}
}

// TestInvariantTwoReclaimers: the offsets window releases by reference,
// the telemetry window by idleness. A group the topology keeps listing
// keeps its ids through a minute of gaps; one the topology dropped is
// released although it had values to the end. A telemetry series set every
// sweep keeps its id; one set once is released.
func TestInvariantTwoReclaimers(t *testing.T) {
	c := newChurn(t)
	spec := []GroupTopicSpec{{Group: "kept", Topic: "t", Partitions: []int32{0}}}
	for k := range 60 {
		specs := spec // gone leaves the topology at sweep 5
		if k < 5 {
			specs = append(spec, GroupTopicSpec{Group: "gone", Topic: "u", Partitions: []int32{0}})
		}
		topo := c.w.BuildTopology(specs)
		s := c.w.Begin(c.at)
		s.SetTopology(topo)
		if k < 5 {
			for _, e := range topo.GroupTopics {
				for _, id := range e.Parts[0].Series {
					s.Set(id, int64(k))
				}
			}
		}
		c.w.Commit(s)
		c.at = c.at.Add(c.step)
	}
	for _, k := range []SeriesKey{{Metric: MetricCommitted, Group: "kept", Topic: "t"}, {Metric: MetricEnd, Topic: "t"}} {
		if _, ok := c.w.Lookup(k); !ok {
			t.Fatalf("%+v released while the topology lists it", k)
		}
	}
	for _, k := range []SeriesKey{{Metric: MetricCommitted, Group: "gone", Topic: "u"}, {Metric: MetricEnd, Topic: "u"}} {
		if id, ok := c.w.Lookup(k); ok {
			t.Fatalf("%+v still has id %d a minute after the topology dropped it", k, id)
		}
	}

	tel := newIdleTelemetry(t, 4)
	for k := range 64 {
		tel.sweep(k, time.Second, k == 0)
	}
	if _, ok := tel.t.catalog.lookup(telUp); !ok {
		t.Fatal("a telemetry series set every sweep was released")
	}
	if _, ok := tel.t.catalog.lookup(telX); ok {
		t.Fatal("a telemetry series idle for a minute was not released")
	}
}

// TestInvariantCatalogJournal: a mirror that tracks the journal learns of
// every id given or stripped of a key, in order: a's three ids when they
// are added, again when they are released (their key then the zero key, and
// Window.Key reports them unregistered), and again when b reuses them, with
// b's keys.
func TestInvariantCatalogJournal(t *testing.T) {
	c := newChurn(t)
	j := c.w.Journal()
	j.Track()
	var pos uint64
	next := func() []uint32 {
		t.Helper()
		ids, end, ok := j.Assigned(pos)
		if !ok {
			t.Fatalf("journal lost position %d", pos)
		}
		out := slices.Clone(ids)
		j.Trim(end)
		pos = end
		slices.Sort(out)
		return slices.Compact(out)
	}
	c.sweep(0, []string{"a"})
	aIDs := next()
	if len(aIDs) != 3 {
		t.Fatalf("journal after a's first sweep: ids %v, want a's 3", aIDs)
	}
	for k := 1; k < 30; k++ {
		c.sweep(k, nil)
	}
	if got := next(); !slices.Equal(got, aIDs) || c.w.Reclaimed() != 3 {
		t.Fatalf("journal after a's release: %v (released %d), want %v", got, c.w.Reclaimed(), aIDs)
	}
	for _, id := range aIDs {
		if k := j.Key(id); k != (SeriesKey{}) {
			t.Fatalf("released id %d has key %+v, want the zero key", id, k)
		}
		if _, ok := c.w.Key(id); ok {
			t.Fatalf("Window.Key reports released id %d registered", id)
		}
	}
	c.sweep(30, []string{"b"})
	if got := next(); !slices.Equal(got, aIDs) {
		t.Fatalf("journal after b arrived: %v, want the reused ids %v", got, aIDs)
	}
	if k := j.Key(c.ids["b"]); k.Group != "b" {
		t.Fatalf("journal key of b's committed id: %+v", k)
	}
	if _, _, ok := j.Assigned(pos + 1); ok {
		t.Fatal("a position past the journal's end was accepted")
	}
}
