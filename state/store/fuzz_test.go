package store

import (
	"testing"

	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/chunkenc"
)

// FuzzStoreValues feeds arbitrary bytes to the store's own value decoders
// (offset and telemetry registry entries, checkpoint pages, rollup values).
// Invariants: no input makes them panic; a registry entry that decodes
// re-encodes to bytes that decode to the same key and time; every page
// record lies inside the page and names a sid of the page.
func FuzzStoreValues(f *testing.F) {
	f.Add(appendRegistryValue(nil, state.SeriesKey{Metric: state.MetricCommitted, Group: "g", Topic: "t", Partition: 3}, t0))
	f.Add(appendTelemetryRegistryValue(nil, state.TelemetryKey{Signal: "request_latency_ms", Broker: 2, Partition: -1, Request: "Produce", Quantile: "0.99", Origin: "admin"}, t0))
	var e chunkenc.IntEncoder
	e.Append(5)
	f.Add(append([]byte{0x02, byte(len(e.Bytes()))}, e.Bytes()...))
	agg := newMinuteAgg(0, 3)
	agg.add(0, 7)
	f.Add(agg.encode(nil, &e))
	f.Fuzz(func(t *testing.T, b []byte) {
		if k, created, err := decodeRegistryValue(b); err == nil {
			if got := appendRegistryValue(nil, k, created); string(got) != string(b) {
				// Non-minimal varints decode too; they must at least round-trip the key.
				if k2, c2, err := decodeRegistryValue(got); err != nil || k2 != k || c2 != created {
					t.Fatalf("registry entry %x does not round-trip", b)
				}
			}
		}
		if k, created, err := decodeTelemetryRegistryValue(b); err == nil {
			got := appendTelemetryRegistryValue(nil, k, created)
			if k2, c2, err := decodeTelemetryRegistryValue(got); err != nil || k2 != k || c2 != created {
				t.Fatalf("telemetry registry entry %x does not round-trip", b)
			}
		}
		_ = eachPageChunk(b, 7, func(sid uint32, c []byte) {
			if sid/pageSeries != 7 || len(c) > len(b) {
				t.Fatalf("page record sid %d, %d bytes", sid, len(c))
			}
		})
		_, _ = decodeRollup(b, 0, nil)
	})
}
