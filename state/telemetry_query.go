package state

import (
	"math"
	"reflect"

	"github.com/kwitness/kwitness/detect"
)

// TelemetryPoint is one sample of a broker series; NaN is a gap.
type TelemetryPoint struct {
	T int64 // Unix ms
	V float64
}

// Query returns the in-memory samples (history and recent rings) of the
// broker series ref in [from, to] (Unix ms), and whether the series exists.
// Broker telemetry is not in the store: only the window's span is kept.
func (t *Telemetry) Query(ref detect.SeriesRef, from, to int64) ([]TelemetryPoint, bool) {
	snap := t.snap.Load()
	for id := 0; id < snap.Series; id++ {
		k := t.catalog.key(uint32(id))
		if !reflect.DeepEqual(t.Ref(k), ref) {
			continue
		}
		histT, _ := t.history.ReadTimes(snap.History, nil)
		recT, _ := t.recent.ReadTimes(snap.Recent, nil)
		w := t.window(snap, uint32(id), histT, recT)
		var out []TelemetryPoint
		for i, ts := range w.Times {
			if ts >= from && ts <= to {
				out = append(out, TelemetryPoint{T: ts, V: w.Values[i]})
			}
		}
		return out, true
	}
	return nil, false
}

// IsGap reports whether p is a missing sample.
func (p TelemetryPoint) IsGap() bool { return math.IsNaN(p.V) }
