package api

import (
	"context"
	"math"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state/store"
)

// Time lag at full resolution. The detectors' window keeps the newest
// sweeps at full resolution and older ones decimated (one per history
// step, 11 s by default), so a record produced in a burst older than the
// recent ring can only be dated to within one step from the window alone.
// The store keeps every sweep: when the window's estimate brackets the
// record's produce time (t_i, t_j] by more than one sweep, GetGroupLag reads
// the raw log end offsets of that bracket from the store and dates the
// record again from them.

// timeLag estimates partition j's time lag from its window, refined from
// the store's raw samples when the window's bracket spans decimated
// history. A failed store read keeps the window's estimate: it is still
// correct, only coarser.
func (s *Server) timeLag(ctx context.Context, gt *detect.GroupTopic, j int) detect.TimeLag {
	w := gt.Partitions[j].Window
	tl := detect.EstimateTimeLag(w)
	if s.history == nil || s.history.Store == nil || tl.Method != detect.TimeLagInterpolated {
		return tl
	}
	now := w.Times[len(w.Times)-1]
	ti, tj := now-msOf(tl.High), now-msOf(tl.Low)
	if float64(tj-ti) <= 1.5*float64(detect.SweepInterval(w)) {
		return tl // already one sweep wide
	}
	key, ok := s.window.Key(gt.Partitions[j].Series[detect.ColEnd])
	if !ok || s.history.flushFor(ctx, time.UnixMilli(tj), s.newestSweep()) != nil {
		return tl
	}
	raw, err := s.history.Store.Query(key, time.UnixMilli(ti+1), time.UnixMilli(tj-1))
	if err != nil || len(raw) == 0 {
		return tl
	}
	return detect.EstimateTimeLag(withRawEnds(w, ti, tj, raw))
}

// withRawEnds returns w with the raw end offsets strictly inside (ti, tj)
// inserted in time order (their committed offsets Gap: the estimate reads
// only the newest committed offset). w's own samples are kept.
func withRawEnds(w detect.PartitionWindow, ti, tj int64, raw []store.Point) detect.PartitionWindow {
	n := len(w.Times) + len(raw)
	out := detect.PartitionWindow{Times: make([]int64, 0, n), Committed: make([]int64, 0, n), End: make([]int64, 0, n)}
	add := func(t, c, e int64) {
		out.Times, out.Committed, out.End = append(out.Times, t), append(out.Committed, c), append(out.End, e)
	}
	k := 0
	for i, t := range w.Times {
		for ; k < len(raw) && raw[k].T < t; k++ {
			if p := raw[k]; p.T > ti && p.T < tj {
				add(p.T, detect.Gap, endValue(p))
			}
		}
		if k < len(raw) && raw[k].T == t {
			k++ // the window's own sample
		}
		add(t, w.Committed[i], w.End[i])
	}
	return out
}

func endValue(p store.Point) int64 {
	if p.Gap {
		return detect.Gap
	}
	return p.V
}

// msOf converts a time-lag bound in seconds back to the milliseconds it
// was computed from.
func msOf(sec float64) int64 { return int64(math.Round(sec * 1000)) }
