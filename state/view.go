package state

import (
	"time"

	"github.com/kwitness/kwitness/detect"
)

// View is a reader's consistent look at one published snapshot. It satisfies
// detect.LazyView: partition windows are read only on Load, and Summary
// answers from the newest sweeps. A View is owned by one goroutine; take a
// new one per detection pass.
type View struct {
	w      *Window
	snap   *Snapshot
	histT  []int64
	histLo uint64
	recT   []int64
	gt     detect.GroupTopic
	cur    *TopicEntry // the entry gt was filled from
	times0 []int64     // merged times without skips, shared by partitions
	arena  []int64
	hbuf   [3][]int64
	rbuf   [3][]int64
}

// View returns a view of the newest snapshot.
func (w *Window) View() *View {
	v := &View{w: w, snap: w.snap.Load()}
	v.histT, v.histLo = w.history.ReadTimes(v.snap.History, nil)
	v.recT, _ = w.recent.ReadTimes(v.snap.Recent, nil)
	return v
}

// Snapshot is the snapshot the view reads.
func (v *View) Snapshot() *Snapshot { return v.snap }

// At is the time of the newest sweep in the view.
func (v *View) At() time.Time { return time.UnixMilli(v.snap.At) }

// SeriesRef implements detect.ConsumerView.
func (v *View) SeriesRef(id uint32) detect.SeriesRef { return v.w.Ref(id) }

// EachGroupTopic implements detect.ConsumerView over every watched group-topic.
func (v *View) EachGroupTopic(fn func(gt *detect.GroupTopic)) {
	for i := range v.snap.Topology.GroupTopics {
		fn(v.groupTopic(&v.snap.Topology.GroupTopics[i]))
	}
}

// GroupTopics calls fn for each watched topic of one group.
func (v *View) GroupTopics(group string, fn func(gt *detect.GroupTopic)) {
	for i := range v.snap.Topology.GroupTopics {
		if e := &v.snap.Topology.GroupTopics[i]; e.Group == group {
			fn(v.groupTopic(e))
		}
	}
}

// groupTopic fills the view's reusable GroupTopic for e, windows not loaded.
func (v *View) groupTopic(e *TopicEntry) *detect.GroupTopic {
	gt := &v.gt
	v.cur = e
	gt.Cluster, gt.Group, gt.Topic = v.w.cluster, e.Group, e.Topic
	gt.Context = v.snap.Groups[e.Group]
	if cap(gt.Partitions) < len(e.Parts) {
		gt.Partitions = make([]detect.PartitionInput, 0, len(e.Parts))
	}
	gt.Partitions = gt.Partitions[:0]
	v.arena = v.arena[:0]
	for _, p := range e.Parts {
		gt.Partitions = append(gt.Partitions, detect.PartitionInput{Partition: p.Partition, Series: p.Series})
	}
	return gt
}

// Load implements detect.LazyView: it reads partition j's whole window,
// log start offsets included. gt must be the GroupTopic most recently handed
// out by this view.
func (v *View) Load(gt *detect.GroupTopic, j int) {
	if gt.Partitions[j].Window.Start == nil {
		gt.Partitions[j].Window = v.partitionWindow(v.cur.Parts[j], true)
	}
}

// LoadOffsets implements detect.LazyView: it reads partition j's committed
// and log end offsets only (Start stays nil), all the lag detector needs.
func (v *View) LoadOffsets(gt *detect.GroupTopic, j int) {
	if gt.Partitions[j].Window.Times == nil {
		gt.Partitions[j].Window = v.partitionWindow(v.cur.Parts[j], false)
	}
}

// NewestStart implements detect.StartReader: partition j's committed and
// log start offsets at the newest sweep, read from the recent ring without
// loading the window; Gap when absent or overwritten during the read.
func (v *View) NewestStart(gt *detect.GroupTopic, j int) (committed, start int64) {
	h := v.snap.Recent
	if h == 0 {
		return detect.Gap, detect.Gap
	}
	p := v.cur.Parts[j]
	c, okC := v.w.recent.ReadAt(h, h-1, p.Series[detect.ColCommitted])
	s, okS := v.w.recent.ReadAt(h, h-1, p.Series[detect.ColStart])
	if !okC || !okS {
		return detect.Gap, detect.Gap
	}
	return c, s
}

// Summary implements detect.LazyView from the newest sweeps: the newest
// offsets, where the committed offset last moved (if within the recent
// ring), the lag at the window's first sample, the lag's trough over the
// newest trough span, and the decrease mark.
func (v *View) Summary(gt *detect.GroupTopic, j int, cfg *detect.LagConfig) detect.PartitionSummary {
	s := detect.PartitionSummary{Committed: detect.Gap, End: detect.Gap, FirstLag: detect.Gap, TroughLag: detect.Gap}
	n := len(v.recT)
	if n == 0 {
		return s
	}
	p := v.cur.Parts[j]
	var cs, es int
	v.rbuf[0], cs = v.w.recent.ReadSeries(v.snap.Recent, p.Series[detect.ColCommitted], v.rbuf[0][:0])
	v.rbuf[1], es = v.w.recent.ReadSeries(v.snap.Recent, p.Series[detect.ColEnd], v.rbuf[1][:0])
	c, e := v.rbuf[0], v.rbuf[1]
	s.ToMs, s.Committed, s.End = v.recT[n-1], c[n-1], e[n-1]
	if s.Committed == detect.Gap || s.End == detect.Gap {
		return s
	}
	from := s.ToMs - cfg.Window.Milliseconds()
	s.NoDecrease = v.w.recent.Mark(p.Series[detect.ColCommitted]) < from
	lo := max(cs, es)
	s.StuckForMs, s.StuckKnown = stuckInRecent(v.recT, c, e, lo, from)
	if s.NoDecrease && s.StuckKnown && s.End > s.Committed {
		// Only a lagging partition needs them, and the first lag only when
		// the trough alone could reach MinGrowth.
		s.TroughLag = v.troughLag(c, e, lo, max(from, s.ToMs-cfg.TroughSpan.Milliseconds()))
		if s.TroughLag >= cfg.MinGrowth {
			s.FirstLag = v.firstLag(p, from, c, e, lo)
		}
	}
	return s
}

// troughLag is the smallest lag over the recent samples [lo, n) at or after
// from with both offsets present (the newest is), or Gap when the merged
// window would also hold a history sample at or after from: then the
// recent samples alone do not decide it.
func (v *View) troughLag(c, e []int64, lo int, from int64) int64 {
	n := len(v.recT)
	if _, hHi, _ := mergeBounds(v.histT, v.recT, 0, lo); hHi > 0 && v.histT[hHi-1] >= from {
		return detect.Gap
	}
	trough := max(0, e[n-1]-c[n-1])
	for i := n - 2; i >= lo && v.recT[i] >= from; i-- {
		if c[i] != detect.Gap && e[i] != detect.Gap {
			trough = min(trough, max(0, e[i]-c[i]))
		}
	}
	return trough
}

// stuckInRecent walks back from the newest sample (present) while the
// committed offset equals the newest and lag > 0, skipping gaps, as
// detect's scanCommitted does; it knows the answer if the run ends within
// the recent samples [lo, n) or at the window start.
func stuckInRecent(times, c, e []int64, lo int, from int64) (int64, bool) {
	n := len(times)
	cNow := c[n-1]
	if e[n-1]-cNow <= 0 {
		return 0, true
	}
	since := times[n-1]
	for i := n - 2; i >= lo; i-- {
		if times[i] < from {
			return times[n-1] - since, true
		}
		if c[i] == detect.Gap || e[i] == detect.Gap {
			continue
		}
		if c[i] != cNow || e[i]-c[i] <= 0 {
			return times[n-1] - since, true
		}
		since = times[i]
	}
	return 0, false
}

// firstLag is the lag at the first sample at or after from with both
// offsets present, or Gap when a read was overtaken by the writer.
func (v *View) firstLag(p PartRef, from int64, c, e []int64, lo int) int64 {
	hLo, hHi, rLo := mergeBounds(v.histT, v.recT, 0, 0)
	for i := hLo; i < hHi; i++ {
		if v.histT[i] < from {
			continue
		}
		k := v.histLo + uint64(i)
		hc, ok1 := v.w.history.ReadAt(v.snap.History, k, p.Series[detect.ColCommitted])
		he, ok2 := v.w.history.ReadAt(v.snap.History, k, p.Series[detect.ColEnd])
		if !ok1 || !ok2 {
			return detect.Gap
		}
		if hc != detect.Gap && he != detect.Gap {
			return max(0, he-hc)
		}
	}
	for i := rLo; i < len(v.recT); i++ {
		if v.recT[i] < from {
			continue
		}
		if i < lo {
			return detect.Gap
		}
		if c[i] != detect.Gap && e[i] != detect.Gap {
			return max(0, e[i]-c[i])
		}
	}
	return detect.Gap
}

// partitionWindow merges history (older than the recent ring) and recent
// samples of the three series of p into arena-backed columns. Samples the
// writer may have overwritten during the read are dropped from all columns.
func (v *View) partitionWindow(p PartRef, withStart bool) detect.PartitionWindow {
	cols := 2
	if withStart {
		cols = 3
	}
	hSkip, rSkip := 0, 0
	for c := range cols {
		var hs, rs int
		v.hbuf[c], hs = v.w.history.ReadSeries(v.snap.History, p.Series[c], v.hbuf[c][:0])
		v.rbuf[c], rs = v.w.recent.ReadSeries(v.snap.Recent, p.Series[c], v.rbuf[c][:0])
		hSkip, rSkip = max(hSkip, hs), max(rSkip, rs)
	}
	hLo, hHi, rLo := v.mergeRange(hSkip, rSkip)
	w := detect.PartitionWindow{
		Times:     v.mergedTimes(hLo, hHi, rLo),
		Committed: v.merge(v.hbuf[0], v.rbuf[0], hLo, hHi, rLo),
		End:       v.merge(v.hbuf[1], v.rbuf[1], hLo, hHi, rLo),
	}
	if withStart {
		w.Start = v.merge(v.hbuf[2], v.rbuf[2], hLo, hHi, rLo)
	}
	return w
}

// mergedTimes returns the merged timestamps for the given bounds, shared by
// every partition read without skips (the common case).
func (v *View) mergedTimes(hLo, hHi, rLo int) []int64 {
	h0, h1, r0 := v.mergeRange(0, 0)
	if hLo != h0 || hHi != h1 || rLo != r0 {
		return v.merge(v.histT, v.recT, hLo, hHi, rLo)
	}
	if v.times0 == nil {
		v.times0 = append(append(make([]int64, 0, h1-h0+len(v.recT)-r0), v.histT[h0:h1]...), v.recT[r0:]...)
	}
	return v.times0[:len(v.times0):len(v.times0)]
}

// mergeRange returns which history samples [hLo, hHi) and recent samples
// [rLo, end) form the window after skipping hs history and rs recent leading
// samples: history samples at or after the oldest recent one are left out.
func (v *View) mergeRange(hs, rs int) (hLo, hHi, rLo int) {
	return mergeBounds(v.histT, v.recT, hs, rs)
}

// minArena is the smallest arena chunk, in samples.
const minArena = 4096

// merge appends h[hLo:hHi] and r[rLo:] to the arena and returns them. The
// arena grows as windows are loaded, so a reader loading a few partitions
// of a large group-topic allocates for those only: a full chunk is left to
// the windows already handed out and a new one, twice as large, is taken.
func (v *View) merge(h, r []int64, hLo, hHi, rLo int) []int64 {
	if n := hHi - hLo + len(r) - rLo; cap(v.arena)-len(v.arena) < n {
		v.arena = make([]int64, 0, max(minArena, 2*cap(v.arena), n))
	}
	start := len(v.arena)
	v.arena = append(v.arena, h[hLo:hHi]...)
	v.arena = append(v.arena, r[rLo:]...)
	return v.arena[start:len(v.arena):len(v.arena)]
}
