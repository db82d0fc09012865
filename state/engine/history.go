package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// History answers the questions a citation raises about the past: a
// series' raw samples and minute rollups, and a partition's time lag dated
// from every stored sweep rather than the window's decimated history. It
// reads the store (offsets and broker telemetry) and, for the broker sweeps
// not checkpointed yet, the telemetry window.
//
// Contract:
//   - Routing. A series named kafka_broker_* is broker telemetry (raw
//     samples only, float values, NaN a gap); any other is an offset series
//     of the window's cluster (integer values; raw samples or minute
//     rollups).
//   - Freshness. A query reaching past the newest sweep known flushed
//     flushes the store first, at most once per sweep, so the citations of a
//     finding that just opened resolve.
//   - Errors. A query the caller should fix, or whose series is not here, or
//     that cannot be answered now fails with a *QueryError saying which;
//     any other error is the store's, unexpected.
//
// Safe for concurrent use.
type History struct {
	window *state.Window
	store  *store.Store     // nil without a data dir
	tel    *state.Telemetry // nil without scrape targets

	mu      sync.Mutex
	through time.Time // every sweep stamped at or before it was queued before the last flush
}

// NewHistory answers from st and tel (either may be nil) for the series of
// w's cluster.
func NewHistory(w *state.Window, st *store.Store, tel *state.Telemetry) *History {
	return &History{window: w, store: st, tel: tel}
}

// QueryCode says why a history query failed.
type QueryCode int

// Query failure codes.
const (
	QueryInvalid     QueryCode = iota + 1 // the query is malformed (fix it)
	QueryNotFound                         // no such series here (another cluster, not a series of this kwitness)
	QueryOff                              // history is off: kwitness runs without a data dir
	QueryUnavailable                      // the store cannot answer now (flush failed)
)

// QueryError is a history query that failed for the reason Code names.
type QueryError struct {
	Code QueryCode
	Msg  string
}

func (e *QueryError) Error() string { return e.Msg }

func queryErr(c QueryCode, format string, args ...any) *QueryError {
	return &QueryError{Code: c, Msg: fmt.Sprintf(format, args...)}
}

// Samples are one series' raw samples, oldest first: Ints for an offset
// series, Floats (NaN a gap) for broker telemetry.
type Samples struct {
	Ints   []store.Point
	Floats []state.TelemetryPoint
}

// IsBroker reports whether ref names broker telemetry.
func IsBroker(ref detect.SeriesRef) bool { return strings.HasPrefix(ref.Metric, "kafka_broker_") }

// Samples returns ref's raw samples with from ≤ T ≤ to.
func (h *History) Samples(ctx context.Context, ref detect.SeriesRef, from, to time.Time) (Samples, error) {
	if IsBroker(ref) {
		pts, err := h.telemetry(ctx, ref, from, to)
		return Samples{Floats: pts}, err
	}
	k, err := h.offsetKey(ctx, ref, to)
	if err != nil {
		return Samples{}, err
	}
	pts, err := h.store.Query(k, from, to)
	if err != nil {
		return Samples{}, fmt.Errorf("query %s: %w", ref, err)
	}
	return Samples{Ints: pts}, nil
}

// Minutes returns the minute rollups of offset series ref with from ≤ T ≤
// to; broker telemetry is kept raw only.
func (h *History) Minutes(ctx context.Context, ref detect.SeriesRef, from, to time.Time) ([]store.MinutePoint, error) {
	if IsBroker(ref) {
		return nil, queryErr(QueryInvalid, "series %s: broker telemetry is kept raw only; ask for raw samples", ref)
	}
	k, err := h.offsetKey(ctx, ref, to)
	if err != nil {
		return nil, err
	}
	mins, err := h.store.QueryMinutes(k, from, to)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", ref, err)
	}
	return mins, nil
}

// offsetKey maps an offset series of this cluster to its stored key, and
// flushes the store if the query reaches past the last flush.
func (h *History) offsetKey(ctx context.Context, ref detect.SeriesRef, to time.Time) (state.SeriesKey, error) {
	if err := h.checkCluster(ref); err != nil {
		return state.SeriesKey{}, err
	}
	k, err := store.SeriesKeyOf(ref)
	if err != nil {
		return k, queryErr(QueryInvalid, "%v", err)
	}
	if h.store == nil {
		return k, queryErr(QueryOff, "series history is off: kwitness runs without a data_dir")
	}
	if err := h.flushFor(ctx, to); err != nil {
		return k, queryErr(QueryUnavailable, "store flush: %v", err)
	}
	return k, nil
}

// telemetry returns a broker series' raw samples: stored, then the
// window's newest.
func (h *History) telemetry(ctx context.Context, ref detect.SeriesRef, from, to time.Time) ([]state.TelemetryPoint, error) {
	if err := h.checkCluster(ref); err != nil {
		return nil, err
	}
	if h.store == nil && h.tel == nil {
		return nil, queryErr(QueryNotFound, "series %s: no broker telemetry is configured", ref)
	}
	if h.store != nil {
		// A store that cannot flush (a full disk) still answers what it holds,
		// and ResolveTelemetry falls back to the window when it cannot read.
		if err := h.flushFor(ctx, to); err != nil && !errors.Is(err, store.ErrUnavailable) {
			return nil, queryErr(QueryUnavailable, "store flush: %v", err)
		}
	}
	pts, ok, err := store.ResolveTelemetry(h.store, h.tel, ref, from, to)
	switch {
	case err != nil:
		return nil, fmt.Errorf("query %s: %w", ref, err)
	case !ok:
		return nil, queryErr(QueryNotFound, "series %s: not a broker series of this kwitness", ref)
	}
	return pts, nil
}

// checkCluster fails a reference labelled with another cluster.
func (h *History) checkCluster(ref detect.SeriesRef) error {
	for _, l := range ref.Labels {
		if l.Name == "cluster" && l.Value != h.window.Cluster() {
			return queryErr(QueryNotFound, "series %s: this kwitness watches cluster %q", ref, h.window.Cluster())
		}
	}
	return nil
}

// flushFor flushes the store if a query up to to may need sweeps not yet
// flushed. The window's newest sweep stamp is read before flushing: the
// poller queues each sweep for the store right after publishing it in the
// window, so a flush covers every sweep through it (short of a query
// landing between those two steps of the poller).
func (h *History) flushFor(ctx context.Context, to time.Time) error {
	newest := time.UnixMilli(h.window.Snapshot().At)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !to.After(h.through) || !newest.After(h.through) {
		return nil
	}
	if err := h.store.Flush(ctx); err != nil {
		return err
	}
	h.through = newest
	return nil
}

// Time lag at full resolution. The detectors' window keeps the newest
// sweeps at full resolution and older ones decimated (one per history
// step, 11 s by default), so a record produced in a burst older than the
// recent ring can only be dated to within one step from the window alone.
// The store keeps every sweep: when the window's estimate brackets the
// record's produce time (t_i, t_j] by more than one sweep, TimeLag reads
// the raw log end offsets of that bracket from the store and dates the
// record again from them.

// TimeLag estimates partition j's time lag from its window (gt's, loaded),
// refined from the store's raw samples when the window's bracket spans
// decimated history. A failed store read keeps the window's estimate: it is
// still correct, only coarser.
func (h *History) TimeLag(ctx context.Context, gt *detect.GroupTopic, j int) detect.TimeLag {
	w := gt.Partitions[j].Window
	tl := detect.EstimateTimeLag(w)
	if h == nil || h.store == nil || tl.Method != detect.TimeLagInterpolated {
		return tl
	}
	now := w.Times[len(w.Times)-1]
	ti, tj := now-msOf(tl.High), now-msOf(tl.Low)
	if float64(tj-ti) <= 1.5*float64(detect.SweepInterval(w)) {
		return tl // already one sweep wide
	}
	key, ok := h.window.Key(gt.Partitions[j].Series[detect.ColEnd])
	if !ok || h.flushFor(ctx, time.UnixMilli(tj)) != nil {
		return tl
	}
	raw, err := h.store.Query(key, time.UnixMilli(ti+1), time.UnixMilli(tj-1))
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
