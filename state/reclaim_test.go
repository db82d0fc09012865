package state

import (
	"fmt"
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

// TestReclaimWaitsForHistory: with sweeps 5 s apart, every sweep lands in
// the decimated history, whose 6 points then cover 30 s — more than two
// 10 s spans. An id must not be reused until the history ring has wrapped
// since its series left: group b, arriving after a's ids could be freed by
// time alone, must never show a's samples.
func TestReclaimWaitsForHistory(t *testing.T) {
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
	v.GroupTopics("b", func(gt *detect.GroupTopic) {
		v.Load(gt, 0)
		w := gt.Partitions[0].Window
		for col, vals := range [][]int64{w.Committed, w.End, w.Start} {
			for i, x := range vals[:len(vals)-1] {
				if x != detect.Gap {
					t.Fatalf("column %d of b shows %d at %d, a sample of the id's previous series", col, x, w.Times[i])
				}
			}
		}
	})
}
