package state

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/kwitness/kwitness/detect"
)

// TelemetryPoint is one sample of a broker series; NaN is a gap.
type TelemetryPoint struct {
	T int64 // Unix ms
	V float64
}

// Query returns the in-memory samples (history and recent rings) of the
// broker series ref in [from, to] (Unix ms), and whether the series exists.
// The history ring is decimated: ResolveTelemetry gives the raw samples,
// from the store.
func (t *Telemetry) Query(ref detect.SeriesRef, from, to int64) ([]TelemetryPoint, bool) {
	snap := t.snap.Load()
	for id := 0; id < snap.Series; id++ {
		k := t.catalog.key(uint32(id))
		if k == (TelemetryKey{}) {
			continue // released
		}
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

// TelemetryKeyOf parses the series reference a broker citation gives
// (Telemetry.Ref) back into a key. The cluster label is not part of the key:
// a store holds one cluster. A key with a partition but no topic renders
// without its partition, so it parses back with Partition -1 (the broker
// poller writes no such key); a reference with a partition but no topic is
// refused.
func TelemetryKeyOf(ref detect.SeriesRef) (TelemetryKey, error) {
	sig, ok := strings.CutPrefix(ref.Metric, "kafka_broker_")
	if !ok || sig == "" {
		return TelemetryKey{}, fmt.Errorf("state: series %s: not a broker series", ref)
	}
	k := TelemetryKey{Signal: detect.Signal(sig), Partition: -1}
	broker := false
	for _, l := range ref.Labels {
		var err error
		switch l.Name {
		case "broker":
			k.Broker, err = parseInt32(l.Value)
			broker = true
		case "partition":
			k.Partition, err = parseInt32(l.Value)
		case "cluster":
		case "dir":
			k.Dir = l.Value
		case "origin":
			k.Origin = l.Value
		case "quantile":
			k.Quantile = l.Value
		case "request":
			k.Request = l.Value
		case "topic":
			k.Topic = l.Value
		default:
			err = fmt.Errorf("unknown label %q", l.Name)
		}
		if err != nil {
			return k, fmt.Errorf("state: series %s: %s: %w", ref, l.Name, err)
		}
	}
	switch {
	case !broker:
		return k, fmt.Errorf("state: series %s: no broker label", ref)
	case k.Partition != -1 && (k.Partition < 0 || k.Topic == ""):
		return k, fmt.Errorf("state: series %s: partition needs a topic and must be ≥ 0", ref)
	}
	return k, nil
}

func parseInt32(s string) (int32, error) {
	v, err := strconv.ParseInt(s, 10, 32)
	return int32(v), err
}
