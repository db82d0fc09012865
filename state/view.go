package state

import (
	"time"

	"github.com/kwitness/kwitness/detect"
)

// View is a reader's consistent look at one published snapshot. It satisfies
// detect.ConsumerView. A View is owned by one goroutine; take a new one per
// detection pass.
type View struct {
	w      *Window
	snap   *Snapshot
	histT  []int64
	histLo uint64
	recT   []int64
	recLo  uint64
	gt     detect.GroupTopic
	arena  []int64
	hbuf   [3][]int64
	rbuf   [3][]int64
}

// View returns a view of the newest snapshot.
func (w *Window) View() *View {
	v := &View{w: w, snap: w.snap.Load()}
	v.histT, v.histLo = w.history.ReadTimes(v.snap.History, nil)
	v.recT, v.recLo = w.recent.ReadTimes(v.snap.Recent, nil)
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

// groupTopic fills the view's reusable GroupTopic for e.
func (v *View) groupTopic(e *TopicEntry) *detect.GroupTopic {
	gt := &v.gt
	gt.Cluster, gt.Group, gt.Topic = v.w.cluster, e.Group, e.Topic
	gt.Context = v.snap.Groups[e.Group]
	gt.Partitions = gt.Partitions[:0]
	per := len(v.histT) + len(v.recT)
	if need := len(e.Parts) * 4 * per; cap(v.arena) < need {
		v.arena = make([]int64, 0, need)
	}
	v.arena = v.arena[:0]
	for _, p := range e.Parts {
		gt.Partitions = append(gt.Partitions, detect.PartitionInput{
			Partition: p.Partition,
			Window:    v.partitionWindow(p),
			Series:    p.Series,
		})
	}
	return gt
}

// partitionWindow merges history (older than the recent ring) and recent
// samples of the three series of p into arena-backed columns. Samples the
// writer may have overwritten during the read are dropped from all columns.
func (v *View) partitionWindow(p PartRef) detect.PartitionWindow {
	hSkip, rSkip := 0, 0
	for c := range 3 {
		var hs, rs int
		v.hbuf[c], hs = v.w.history.ReadSeries(v.snap.History, p.Series[c], v.hbuf[c][:0])
		v.rbuf[c], rs = v.w.recent.ReadSeries(v.snap.Recent, p.Series[c], v.rbuf[c][:0])
		hSkip, rSkip = max(hSkip, hs), max(rSkip, rs)
	}
	hLo, hHi, rLo := v.mergeRange(hSkip, rSkip)
	return detect.PartitionWindow{
		Times:     v.merge(v.histT, v.recT, hLo, hHi, rLo),
		Committed: v.merge(v.hbuf[0], v.rbuf[0], hLo, hHi, rLo),
		End:       v.merge(v.hbuf[1], v.rbuf[1], hLo, hHi, rLo),
		Start:     v.merge(v.hbuf[2], v.rbuf[2], hLo, hHi, rLo),
	}
}

// mergeRange returns which history samples [hLo, hHi) and recent samples
// [rLo, end) form the window after skipping hs history and rs recent leading
// samples: history samples at or after the oldest recent one are left out.
func (v *View) mergeRange(hs, rs int) (hLo, hHi, rLo int) {
	return mergeBounds(v.histT, v.recT, hs, rs)
}

// merge appends h[hLo:hHi] and r[rLo:] to the arena and returns them.
func (v *View) merge(h, r []int64, hLo, hHi, rLo int) []int64 {
	start := len(v.arena)
	v.arena = append(v.arena, h[hLo:hHi]...)
	v.arena = append(v.arena, r[rLo:]...)
	return v.arena[start:len(v.arena):len(v.arena)]
}
