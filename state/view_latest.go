package state

import "github.com/kwitness/kwitness/detect"

// Latest returns series id's value at the view's newest sweep: one read of
// the full-resolution ring, no window loaded. It is Gap when the sweep had
// no sample for the series or the writer overwrote the slot meanwhile.
func (v *View) Latest(id uint32) int64 {
	h := v.snap.Recent
	if h == 0 {
		return detect.Gap
	}
	x, ok := v.w.recent.ReadAt(h, h-1, id)
	if !ok {
		return detect.Gap
	}
	return x
}
