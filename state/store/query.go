package store

import (
	"errors"
	"math"
	"slices"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/chunkenc"
)

// Point is one raw sample of a series: its sweep's time (Unix ms) and value,
// or a gap when the series was known but its poll failed (V is then 0).
type Point struct {
	T   int64
	V   int64
	Gap bool
}

// storedBlock is one block's timestamps, as read back.
type storedBlock struct {
	bucket, start int64
	ts            []int64 // present timestamps only
	idx           []int   // sample index of ts[i] in the block's chunks
}

// readBlocks returns the blocks of bucket b whose sweeps reach [from, to],
// oldest first. A corrupt timestamp chunk drops its block.
func (st *stream[K]) readBlocks(b, from, to int64) ([]storedBlock, error) {
	s := st.s
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: prefixTime(st.ks.times, b), UpperBound: prefixTime(st.ks.times, b+1)})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []storedBlock
	var vals []int64
	var present []bool
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != 17 || be64(it.Key(), 9) > to {
			continue
		}
		if vals, present, err = chunkenc.DecodeInt(it.Value(), vals, present); err != nil {
			s.chunkCorrupt(it.Key(), err)
			continue
		}
		blk := storedBlock{bucket: b, start: be64(it.Key(), 9), ts: make([]int64, 0, len(vals)), idx: make([]int, 0, len(vals))}
		for i, at := range vals {
			if present[i] {
				blk.ts, blk.idx = append(blk.ts, at), append(blk.idx, i)
			}
		}
		if len(blk.ts) > 0 && blk.ts[len(blk.ts)-1] >= from {
			out = append(out, blk)
		}
	}
	return out, it.Error()
}

// seriesChunk returns the stored chunk of sid in blk: its own key, or else
// its record in the block's checkpoint page. nil if there is none.
func (st *stream[K]) seriesChunk(it *pebble.Iterator, blk storedBlock, sid uint32) []byte {
	s, ks := st.s, st.ks
	key := ks.chunkKey(nil, blk.bucket, sid, blk.start)
	if it.SeekGE(key) && string(it.Key()) == string(key) {
		return append([]byte(nil), it.Value()...)
	}
	page := sid / pageSeries
	v, closer, err := s.mu.db.Get(ks.openKey(blk.bucket, blk.start, page))
	if err != nil {
		return nil
	}
	defer closer.Close()
	var out []byte
	if err := eachPageChunk(v, page, func(id uint32, c []byte) {
		if id == sid {
			out = append([]byte(nil), c...)
		}
	}); err != nil {
		s.chunkCorrupt(ks.openKey(blk.bucket, blk.start, page), err)
	}
	return out
}

// Query returns the raw samples of offset series k with from ≤ T ≤ to,
// oldest first. Sweeps after the series was first seen in which it has no
// value are gaps, and so are the first and last of a stretch of sweeps the
// store could not keep (dropped, see the Store contract): two values are
// adjacent only if no sweep between them was lost. A corrupt chunk reads
// as gaps (and is counted and logged). While the store is closed after a
// write failure it fails with ErrUnavailable.
func (s *Store) Query(k state.SeriesKey, from, to time.Time) ([]Point, error) {
	return s.off.query(k, from, to)
}

// query is Query for any stream; a float stream's V are float64 bits.
func (st *stream[K]) query(k K, from, to time.Time) (pts []Point, err error) {
	err = st.s.read(func() error {
		pts, err = st.queryLocked(k, from, to)
		return err
	})
	return pts, err
}

func (st *stream[K]) queryLocked(k K, from, to time.Time) ([]Point, error) {
	sid, created, ok := st.reg.lookup(k)
	if !ok {
		return nil, ErrUnknownSeries
	}
	s := st.s
	f, t := from.UnixMilli(), to.UnixMilli()
	bms := s.cfg.Bucket.Milliseconds()
	var out []Point
	var vals []int64
	var present []bool
	for b := floorTo(f, bms); b <= t; b += bms {
		blocks, err := st.readBlocks(b, f, t)
		if err != nil {
			return nil, err
		}
		if len(blocks) == 0 {
			continue
		}
		it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: prefixTimeSeries(st.ks.chunk, b, sid), UpperBound: prefixTimeSeries(st.ks.chunk, b, sid+1)})
		if err != nil {
			return nil, err
		}
		for _, blk := range blocks {
			out = slices.Grow(out, len(blk.ts))
			vals, present = st.decodeOrGaps(st.seriesChunk(it, blk, sid), blk, sid, vals, present)
			out = appendPoints(out, blk, vals, present, max(f, created), t)
		}
		if err := it.Close(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeOrGaps decodes chunk c (a float chunk's values as float64 bits);
// nil or corrupt chunks decode as no samples.
func (st *stream[K]) decodeOrGaps(c []byte, blk storedBlock, sid uint32, vals []int64, present []bool) ([]int64, []bool) {
	if c == nil {
		return vals[:0], present[:0]
	}
	var err error
	if st.float {
		vals, present, err = decodeFloatBits(c, vals, present)
	} else {
		vals, present, err = chunkenc.DecodeInt(c, vals, present)
	}
	if err != nil {
		st.s.chunkCorrupt(st.ks.chunkKey(nil, blk.bucket, sid, blk.start), err)
		return vals[:0], present[:0]
	}
	return vals, present
}

// decodeFloatBits decodes a float chunk into the bit patterns of its values.
func decodeFloatBits(c []byte, dst []int64, present []bool) ([]int64, []bool, error) {
	fs, present, err := chunkenc.DecodeFloat(c, nil, present)
	dst = slices.Grow(dst[:0], len(fs))[:len(fs)]
	for i, v := range fs {
		dst[i] = int64(math.Float64bits(v))
	}
	return dst, present, err
}

// appendPoints appends the samples of one block in [from, to]. Samples past
// the end of the chunk are gaps (the chunk was checkpointed or recovered
// before the block closed).
func appendPoints(out []Point, blk storedBlock, vals []int64, present []bool, from, to int64) []Point {
	for i, at := range blk.ts {
		if at < from || at > to {
			continue
		}
		if j := blk.idx[i]; j < len(vals) && present[j] {
			out = append(out, Point{T: at, V: vals[j]})
		} else {
			out = append(out, Point{T: at, Gap: true})
		}
	}
	return out
}

// replayMemory bounds the value matrix Replay holds (sweeps × series × 8 B).
const replayMemory = 64 << 20

// Replay calls fn for every stored sweep of offsets with at ≥ from, oldest
// first. keys[sid] is the key of store series sid and vals[sid] its value in
// the sweep (detect.Gap when absent); both are valid only during the call
// and must not be modified. Series registered after Replay starts are left
// out. A stretch of sweeps the store could not keep replays as all-gap
// sweeps at its first and last times. fn must not call the store. An error
// from fn stops the replay and is returned.
func (s *Store) Replay(from time.Time, fn func(at int64, keys []state.SeriesKey, vals []int64) error) error {
	return s.off.replay(from, fn)
}

// replay is Replay for any stream; a float stream's vals are float64 bits.
// Pebble stays read-locked during the replay: fn must not call the store.
func (st *stream[K]) replay(from time.Time, fn func(at int64, keys []K, vals []int64) error) error {
	return st.s.read(func() error { return st.replayLocked(from, fn) })
}

func (st *stream[K]) replayLocked(from time.Time, fn func(at int64, keys []K, vals []int64) error) error {
	keys := st.reg.snapshot()
	f := from.UnixMilli()
	last := st.newest.Load()
	bms := st.s.cfg.Bucket.Milliseconds()
	for b := floorTo(f, bms); b <= last; b += bms {
		blocks, err := st.readBlocks(b, f, last)
		if err != nil {
			return err
		}
		for _, blk := range blocks {
			if err := st.replayBlock(blk, f, keys, fn); err != nil {
				return err
			}
		}
	}
	return nil
}

// replayBlock replays the sweeps of one block with at ≥ from, in groups of
// sweeps small enough for replayMemory.
func (st *stream[K]) replayBlock(blk storedBlock, from int64, keys []K, fn func(int64, []K, []int64) error) error {
	first := 0
	for first < len(blk.ts) && blk.ts[first] < from {
		first++
	}
	group := max(1, replayMemory/8/max(1, len(keys)))
	mat := make([]int64, min(group, len(blk.ts)-first)*len(keys))
	for g0 := first; g0 < len(blk.ts); g0 += group {
		g1 := min(g0+group, len(blk.ts))
		if err := st.fillMatrix(blk, g0, g1, len(keys), mat); err != nil {
			return err
		}
		for g := g0; g < g1; g++ {
			row := mat[(g-g0)*len(keys) : (g-g0+1)*len(keys)]
			if err := fn(blk.ts[g], keys, row); err != nil {
				return err
			}
		}
	}
	return nil
}

// fillMatrix sets mat[(g-g0)*S+sid] to series sid's value in sweep g of blk
// for g in [g0, g1), sid < S; absent values are gaps.
func (st *stream[K]) fillMatrix(blk storedBlock, g0, g1, S int, mat []int64) error {
	for i := range mat {
		mat[i] = detect.Gap
	}
	var vals []int64
	var present []bool
	scatter := func(sid uint32, c []byte) {
		if int(sid) >= S {
			return
		}
		vals, present = st.decodeOrGaps(c, blk, sid, vals, present)
		for g := g0; g < g1; g++ {
			if j := blk.idx[g]; j < len(vals) && present[j] {
				mat[(g-g0)*S+int(sid)] = vals[j]
			}
		}
	}
	if err := st.scatterPages(blk, scatter); err != nil {
		return err
	}
	it, err := st.s.mu.db.NewIter(&pebble.IterOptions{LowerBound: prefixTime(st.ks.chunk, blk.bucket), UpperBound: prefixTime(st.ks.chunk, blk.bucket+1)})
	if err != nil {
		return err
	}
	for sid := uint32(0); int(sid) < S; sid++ {
		key := st.ks.chunkKey(nil, blk.bucket, sid, blk.start)
		if !it.SeekGE(key) {
			break
		}
		if k := it.Key(); string(k) == string(key) {
			scatter(sid, it.Value())
		} else if len(k) == 21 && be32(k, 9) > sid {
			sid = be32(k, 9) - 1 // no chunk in this block up to the next stored series
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// scatterPages calls fn for every chunk in the checkpoint pages of blk.
func (st *stream[K]) scatterPages(blk storedBlock, fn func(uint32, []byte)) error {
	it, err := st.s.mu.db.NewIter(&pebble.IterOptions{LowerBound: st.ks.openKey(blk.bucket, blk.start, 0), UpperBound: st.ks.openKey(blk.bucket, blk.start+1, 0)})
	if err != nil {
		return err
	}
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != 21 {
			continue
		}
		if err := eachPageChunk(it.Value(), be32(it.Key(), 17), fn); err != nil {
			st.s.chunkCorrupt(it.Key(), err)
		}
	}
	return errors.Join(it.Error(), it.Close())
}

// LoadWindow refills w from the stored sweeps with at ≥ since (use
// time.Now() minus the window span): for each it calls w.Begin, registers
// and sets the series with a value, and commits. It returns the number of
// sweeps restored. Call it on w's writer goroutine before ingest starts.
func (s *Store) LoadWindow(w *state.Window, since time.Time) (int, error) {
	var wids []int64 // sid → window id + 1; 0: not registered yet
	n := 0
	err := s.Replay(since, func(at int64, keys []state.SeriesKey, vals []int64) error {
		for len(wids) < len(keys) {
			wids = append(wids, 0)
		}
		sw := w.Begin(time.UnixMilli(at))
		for sid, v := range vals {
			if v == detect.Gap {
				continue
			}
			if wids[sid] == 0 {
				wids[sid] = int64(w.Register(keys[sid])) + 1
			}
			sw.Set(uint32(wids[sid]-1), v)
		}
		w.Commit(sw)
		n++
		return nil
	})
	return n, err
}
