package store

import "encoding/binary"

// Key kinds: the first byte of every store key (docs/format.md, "Key layout").
// Every integer in a key is big-endian so keys sort by time, then series.
const (
	kindMeta     = 'm' // 'm' name                           → meta value
	kindSeries   = 'k' // 'k' sid(4)                         → registry entry
	kindTimes    = 't' // 't' bucket(8) start(8)             → timestamp chunk of a block
	kindChunk    = 'c' // 'c' bucket(8) sid(4) start(8)      → value chunk of one series in a block
	kindOpen     = 'o' // 'o' bucket(8) start(8) page(4)     → checkpoint page of an open block
	kindRollup   = 'r' // 'r' day(8) sid(4) bucket(8)        → minute rollups of one series in a bucket
	kindRolledUp = 'u' // 'u' bucket(8)                      → marker: bucket's rollups are written
	kindFinding  = 'f' // 'f' finding id                     → JSON of a firing finding

	// The broker telemetry stream: the same layouts as k, t, c and o, with
	// its own sids, sweep times and float chunks.
	kindTelSeries = 'K' // 'K' sid(4)                        → telemetry registry entry
	kindTelTimes  = 'T' // 'T' bucket(8) start(8)            → timestamp chunk of a telemetry block
	kindTelChunk  = 'C' // 'C' bucket(8) sid(4) start(8)     → float chunk of one telemetry series
	kindTelOpen   = 'O' // 'O' bucket(8) start(8) page(4)    → checkpoint page of an open telemetry block
)

// keyspace is the key kinds of one stream of sweeps (stream.go).
type keyspace struct {
	series, times, chunk, open byte
	rollup, rolledUp           byte // 0 when the stream keeps no rollups
}

var (
	offsetKeys    = keyspace{series: kindSeries, times: kindTimes, chunk: kindChunk, open: kindOpen, rollup: kindRollup, rolledUp: kindRolledUp}
	telemetryKeys = keyspace{series: kindTelSeries, times: kindTelTimes, chunk: kindTelChunk, open: kindTelOpen}
)

// metaVersion is the key of the store format version.
var metaVersion = []byte("mversion")

// storeFormatVersion is written under metaVersion on first open, and over
// an older readable version when the store is opened (docs/format.md):
// version 2 writes int chunks of chunk version 2 and reads those of 1.
const storeFormatVersion = 2

// oldestFormatVersion is the oldest store format version a store opens.
const oldestFormatVersion = 1

func (ks keyspace) seriesKey(sid uint32) []byte {
	return binary.BigEndian.AppendUint32([]byte{ks.series}, sid)
}

// timesKey is times bucket start; timesKey(b, 0) is the first key of bucket b.
func (ks keyspace) timesKey(bucket, start int64) []byte {
	k := make([]byte, 0, 17)
	k = append(k, ks.times)
	k = binary.BigEndian.AppendUint64(k, uint64(bucket))
	return binary.BigEndian.AppendUint64(k, uint64(start))
}

func (ks keyspace) chunkKey(dst []byte, bucket int64, sid uint32, start int64) []byte {
	dst = append(dst[:0], ks.chunk)
	dst = binary.BigEndian.AppendUint64(dst, uint64(bucket))
	dst = binary.BigEndian.AppendUint32(dst, sid)
	return binary.BigEndian.AppendUint64(dst, uint64(start))
}

func (ks keyspace) openKey(bucket, start int64, page uint32) []byte {
	k := make([]byte, 0, 21)
	k = append(k, ks.open)
	k = binary.BigEndian.AppendUint64(k, uint64(bucket))
	k = binary.BigEndian.AppendUint64(k, uint64(start))
	return binary.BigEndian.AppendUint32(k, page)
}

func rollupKey(day int64, sid uint32, bucket int64) []byte {
	k := make([]byte, 0, 21)
	k = append(k, kindRollup)
	k = binary.BigEndian.AppendUint64(k, uint64(day))
	k = binary.BigEndian.AppendUint32(k, sid)
	return binary.BigEndian.AppendUint64(k, uint64(bucket))
}

func rolledUpKey(bucket int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kindRolledUp}, uint64(bucket))
}

func findingKey(id string) []byte { return append([]byte{kindFinding}, id...) }

// prefixTime is kind followed by one big-endian time: the lower bound of
// every key of that kind whose first time field is ≥ t.
func prefixTime(kind byte, t int64) []byte {
	return binary.BigEndian.AppendUint64([]byte{kind}, uint64(t))
}

// prefixTimeSeries is kind t sid: the lower bound of one series' keys in
// bucket (or day) t.
func prefixTimeSeries(kind byte, t int64, sid uint32) []byte {
	return binary.BigEndian.AppendUint32(prefixTime(kind, t), sid)
}

// be64 reads the big-endian int64 at b[off:].
func be64(b []byte, off int) int64 { return int64(binary.BigEndian.Uint64(b[off:])) }

func be32(b []byte, off int) uint32 { return binary.BigEndian.Uint32(b[off:]) }

// floorTo rounds t (ms) down to a multiple of step (ms), also for t < 0.
func floorTo(t, step int64) int64 {
	r := t % step
	if r < 0 {
		r += step
	}
	return t - r
}
