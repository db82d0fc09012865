// Broker telemetry in the store: its registry entries, hand-off, queries
// and warm restart. Blocks, float chunks, checkpoint pages, crash recovery
// and raw retention are the offsets' (stream.go), under the telemetry
// key kinds K, T, C and O. Telemetry has no minute rollups: the API's
// minute samples are integers, and broker detectors read raw windows.

package store

import (
	"encoding/binary"
	"errors"
	"math"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// AppendTelemetry hands the sweep t just committed to the store: it copies
// t's dense values (float64 bits, detect.Gap when absent) and the keys
// registered since the last call, which the store registers as first seen
// at this sweep. Call it on t's writer goroutine right after Commit (the
// broker poller's callback), and only for one Telemetry. It never blocks:
// false when the sweep was dropped (kwitness_store_telemetry_dropped_sweeps_total).
func (s *Store) AppendTelemetry(t *state.Telemetry) bool {
	snap := t.Snapshot()
	return s.tel.appendDense(snap.At, t.Values(), snap.Series, t.Journal())
}

// QueryTelemetry returns the stored raw samples of broker series k with
// from ≤ T ≤ to, oldest first: every stored telemetry sweep from the one in
// which k was first handed over on, a gap (NaN) where k had no value. It
// sees what Query sees (call Flush to include everything appended).
func (s *Store) QueryTelemetry(k state.TelemetryKey, from, to time.Time) ([]state.TelemetryPoint, error) {
	pts, err := s.tel.query(k, from, to)
	if err != nil {
		return nil, err
	}
	out := make([]state.TelemetryPoint, len(pts))
	for i, p := range pts {
		out[i] = state.TelemetryPoint{T: p.T, V: math.NaN()}
		if !p.Gap {
			out[i].V = math.Float64frombits(uint64(p.V))
		}
	}
	return out, nil
}

// LoadTelemetry refills t from the stored telemetry sweeps with at ≥ since
// (use time.Now() minus the window span): for each it calls t.Begin, sets
// the series with a value, and commits. Broker contexts and the
// reassignment flag are not stored: the first live sweep sets them. It
// returns the number of sweeps restored. Call it on t's writer goroutine
// before the broker poller starts.
func (s *Store) LoadTelemetry(t *state.Telemetry, since time.Time) (int, error) {
	n := 0
	err := s.tel.replay(since, func(at int64, keys []state.TelemetryKey, vals []int64) error {
		sw := t.Begin(time.UnixMilli(at))
		for sid, v := range vals {
			if v != detect.Gap {
				sw.Set(keys[sid], math.Float64frombits(uint64(v)))
			}
		}
		t.Commit(sw)
		n++
		return nil
	})
	return n, err
}

// ResolveTelemetry returns the raw samples of the broker series ref (a
// citation's) with from ≤ T ≤ to, oldest first, and whether st or t knows
// the series. Samples come from the store (st, may be nil) up to its newest
// stored telemetry sweep, then from the window (t, may be nil) after it:
// the sweeps appended since the last checkpoint. Flush st first so the
// window only adds the newest sweeps, which its recent ring holds at full
// resolution.
func ResolveTelemetry(st *Store, t *state.Telemetry, ref detect.SeriesRef, from, to time.Time) ([]state.TelemetryPoint, bool, error) {
	var out []state.TelemetryPoint
	found := false
	cut := int64(math.MinInt64) // window samples after cut are added
	if k, err := state.TelemetryKeyOf(ref); st != nil && err == nil {
		newest := st.tel.newest.Load() // before the query: a later checkpoint only adds
		pts, err := st.QueryTelemetry(k, from, to)
		switch {
		case err == nil:
			found, out, cut = true, pts, newest
			if len(pts) > 0 {
				cut = max(cut, pts[len(pts)-1].T)
			}
		case errors.Is(err, ErrUnavailable):
			// The store is down (a full disk): the window alone answers,
			// decimated beyond its recent ring, rather than nothing.
		case !errors.Is(err, ErrUnknownSeries):
			return nil, false, err
		}
	}
	if t != nil {
		win, ok := t.Query(ref, max(from.UnixMilli(), cut+1), to.UnixMilli())
		found = found || ok
		out = append(out, win...)
	}
	return out, found, nil
}

// appendTelemetryRegistryValue encodes a telemetry registry entry:
//
//	created(varint ms) signal broker(varint) topic partition(varint) request quantile dir origin
//
// where each string is len(uvarint) followed by its UTF-8 bytes.
func appendTelemetryRegistryValue(dst []byte, k state.TelemetryKey, created int64) []byte {
	dst = binary.AppendVarint(dst, created)
	dst = appendString(dst, string(k.Signal))
	dst = binary.AppendVarint(dst, int64(k.Broker))
	dst = appendString(dst, k.Topic)
	dst = binary.AppendVarint(dst, int64(k.Partition))
	for _, s := range [...]string{k.Request, k.Quantile, k.Dir, k.Origin} {
		dst = appendString(dst, s)
	}
	return dst
}

func decodeTelemetryRegistryValue(b []byte) (state.TelemetryKey, int64, error) {
	var k state.TelemetryKey
	bad := errors.New("malformed telemetry registry entry")
	created, b, ok := readVarint(b, 64)
	if !ok {
		return k, 0, bad
	}
	var sig string
	var broker, part int64
	if sig, b, ok = readString(b); !ok || sig == "" {
		return k, 0, bad
	}
	k.Signal = detect.Signal(sig)
	if broker, b, ok = readVarint(b, 32); !ok {
		return k, 0, bad
	}
	if k.Topic, b, ok = readString(b); !ok {
		return k, 0, bad
	}
	if part, b, ok = readVarint(b, 32); !ok {
		return k, 0, bad
	}
	k.Broker, k.Partition = int32(broker), int32(part)
	for _, s := range [...]*string{&k.Request, &k.Quantile, &k.Dir, &k.Origin} {
		if *s, b, ok = readString(b); !ok {
			return k, 0, bad
		}
	}
	if len(b) != 0 {
		return k, 0, bad
	}
	return k, created, nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// readVarint reads a varint that fits in bits bits.
func readVarint(b []byte, bits uint) (int64, []byte, bool) {
	v, n := binary.Varint(b)
	if n <= 0 || v != v<<(64-bits)>>(64-bits) {
		return 0, nil, false
	}
	return v, b[n:], true
}
