package store

import (
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/chunkenc"
)

// FuzzStoreValues feeds arbitrary bytes to the store's own value decoders
// (offset and telemetry registry entries, checkpoint pages, rollup values).
// Invariants: no input makes them panic; a registry entry that decodes
// re-encodes to bytes that decode to the same key and time; the records of
// a page that decodes name sids of the page, lie inside it in order without
// overlapping, and re-encode to a page that decodes to the same records.
func FuzzStoreValues(f *testing.F) {
	f.Add(appendRegistryValue(nil, state.SeriesKey{Metric: state.MetricCommitted, Group: "g", Topic: "t", Partition: 3}, t0))
	f.Add(appendTelemetryRegistryValue(nil, state.TelemetryKey{Signal: "request_latency_ms", Broker: 2, Partition: -1, Request: "Produce", Quantile: "0.99", Origin: "admin"}, t0))
	var e chunkenc.IntEncoder
	e.Append(5)
	f.Add(append([]byte{0x02, byte(len(e.Bytes()))}, e.Bytes()...))
	agg := newMinuteAgg(0, 3)
	agg.add(0, 7)
	f.Add(agg.encode(nil, &e))
	adaptive := chunkenc.IntEncoder{Adaptive: true}
	f.Add(agg.encode(nil, &adaptive))
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
		checkPage(t, b)
		_, _ = decodeRollup(b, 0, nil)
	})
}

// checkPage checks the page invariants of FuzzStoreValues on b.
func checkPage(t *testing.T, b []byte) {
	type record struct {
		sid   uint32
		chunk []byte
	}
	var recs []record
	end := 0 // offset in b past the previous record's chunk
	err := eachPageChunk(b, 7, func(sid uint32, c []byte) {
		off := cap(b) - cap(c) // c is b[off : off+len(c)]
		if sid/pageSeries != 7 || off < end || off+len(c) > len(b) {
			t.Fatalf("page record sid %d at [%d, %d) after %d in %d bytes", sid, off, off+len(c), end, len(b))
		}
		end = off + len(c)
		recs = append(recs, record{sid, c})
	})
	if err != nil {
		return
	}
	if end != len(b) && len(recs) > 0 {
		t.Fatalf("page decodes with %d bytes after its last record", len(b)-end)
	}
	var again []byte
	for _, r := range recs {
		again = binary.AppendUvarint(again, uint64(r.sid%pageSeries))
		again = binary.AppendUvarint(again, uint64(len(r.chunk)))
		again = append(again, r.chunk...)
	}
	i := 0
	if err := eachPageChunk(again, 7, func(sid uint32, c []byte) {
		if i >= len(recs) || sid != recs[i].sid || !bytes.Equal(c, recs[i].chunk) {
			t.Fatalf("re-encoded page record %d differs", i)
		}
		i++
	}); err != nil || i != len(recs) {
		t.Fatalf("re-encoded page: %d of %d records, %v", i, len(recs), err)
	}
}
