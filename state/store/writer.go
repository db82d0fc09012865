package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state/chunkenc"
)

const (
	// pageSeries is how many consecutive sids share one checkpoint page.
	pageSeries = 4096
	// maxBatchBytes splits the write of a large block into several batches.
	maxBatchBytes = 16 << 20
)

// writer is one stream's open block, owned by its encoder goroutine: the
// shared timestamp chunk and one value chunk encoder per sid. The open
// block stays in memory until it is written; a failed write leaves it as
// it was, to be retried.
type writer[K comparable] struct {
	st        *stream[K]
	s         *Store
	bucket    int64 // bucket start of the open block, Unix ms
	start     int64 // At of the block's first sweep
	n         int   // sweeps in the open block
	lastAt    int64 // At of the newest sweep accepted
	ts        chunkenc.IntEncoder
	cols      columns
	win2sid   []uint32 // window series id → sid
	persisted int      // registry entries on disk: sids below it
	key       []byte
	page      []byte
}

func newWriter[K comparable](st *stream[K]) *writer[K] {
	w := &writer[K]{st: st, s: st.s, lastAt: st.newest.Load(), persisted: st.reg.len(), cols: columns{float: st.float},
		ts: chunkenc.IntEncoder{Adaptive: true}}
	w.cols.grow(st.reg.len())
	return w
}

// add encodes one sweep, first writing the open block if it is full or the
// sweep starts a new bucket. It returns false, leaving the sweep unencoded,
// if that write failed.
func (w *writer[K]) add(h handoff[K]) bool {
	w.register(h)
	if h.at <= w.lastAt {
		if !h.gap {
			w.st.m.outOfOrder.Inc()
		}
		return true
	}
	bucket := floorTo(h.at, w.s.cfg.Bucket.Milliseconds())
	if w.n > 0 && (bucket != w.bucket || w.n >= w.s.cfg.ChunkSamples) {
		if w.flushBlock() != nil {
			return false
		}
	}
	if w.n == 0 {
		w.bucket, w.start = bucket, h.at
	}
	w.ts.Append(h.at)
	for wid, sid := range w.win2sid {
		if sid == noSid {
			continue
		}
		v := detect.Gap
		if wid < len(h.values) {
			v = h.values[wid]
		}
		w.cols.add(sid, v, w.n)
	}
	w.n++
	w.lastAt = h.at
	if !h.gap {
		w.st.m.sweeps.Inc()
		w.st.m.samples.Add(len(w.win2sid))
	}
	return true
}

// register maps the sweep's new or reassigned window series to sids (a
// released one to none: its sid stops receiving samples, and its chunk in
// the open block ends early, read as gaps). Their registry entries are
// written with the next checkpoint or block (appendRegistry), so never
// after a chunk that uses them. Adding a sweep again (after a failed write)
// maps the same ids to the same sids.
func (w *writer[K]) register(h handoff[K]) {
	var zero K
	for i, k := range h.keys {
		wid := int(h.ids[i])
		for len(w.win2sid) <= wid {
			w.win2sid = append(w.win2sid, noSid)
		}
		if k == zero {
			w.win2sid[wid] = noSid
			continue
		}
		sid := w.st.reg.assign(k, h.at)
		w.win2sid[wid] = sid
		w.cols.grow(int(sid) + 1)
	}
}

// noSid marks a window id mapped to no stored series (released).
const noSid = ^uint32(0)

// dropUnmapped frees the encoder buffers of sids no window id maps to any
// more (series released by the window, whose chunks were just written), so
// the writer's memory follows the live series rather than every series
// ever stored. Each dead sid keeps only its empty encoder struct.
func (w *writer[K]) dropUnmapped() {
	mapped := make([]bool, w.cols.len())
	for _, sid := range w.win2sid {
		if sid != noSid && int(sid) < len(mapped) {
			mapped[sid] = true
		}
	}
	for sid, m := range mapped {
		if !m {
			w.cols.drop(sid)
		}
	}
}

// appendRegistry adds the registry entries not on disk yet to b and returns
// the registry length to record in persisted once b is committed.
func (w *writer[K]) appendRegistry(b *pebble.Batch) int {
	n := w.st.reg.len()
	for sid := w.persisted; sid < n; sid++ {
		_ = b.Set(w.st.ks.seriesKey(uint32(sid)), w.st.reg.entry(uint32(sid)), nil)
	}
	return n
}

// checkpoint writes the open block's timestamps and its partial chunks as
// pages of pageSeries sids, synced: what a crash cannot lose. On failure
// nothing is lost: the block is still in memory.
func (w *writer[K]) checkpoint() error {
	if w.n == 0 && w.persisted == w.st.reg.len() {
		return nil
	}
	err := w.s.update(func() error {
		b := w.s.mu.db.NewBatch()
		reg := w.appendRegistry(b)
		if w.n > 0 {
			w.appendPages(b)
		}
		if err := w.s.commit("checkpoint", b, pebble.Sync); err != nil {
			return err
		}
		w.persisted = reg
		return nil
	})
	if err == nil && w.n > 0 {
		w.st.newest.Store(w.lastAt)
	}
	return err
}

// appendPages adds the open block's t key and checkpoint pages to b.
func (w *writer[K]) appendPages(b *pebble.Batch) {
	ks := w.st.ks
	_ = b.Set(ks.timesKey(w.bucket, w.start), w.ts.Bytes(), nil)
	page := ^uint32(0)
	w.page = w.page[:0]
	for sid := range w.cols.len() {
		c := w.cols.chunk(sid)
		if c == nil {
			continue
		}
		if p := uint32(sid / pageSeries); p != page {
			if len(w.page) > 0 {
				_ = b.Set(ks.openKey(w.bucket, w.start, page), w.page, nil)
			}
			page, w.page = p, w.page[:0]
		}
		w.page = binary.AppendUvarint(w.page, uint64(sid%pageSeries))
		w.page = binary.AppendUvarint(w.page, uint64(len(c)))
		w.page = append(w.page, c...)
	}
	if len(w.page) > 0 {
		_ = b.Set(ks.openKey(w.bucket, w.start, page), w.page, nil)
	}
}

// flushBlock writes the open block, one key per series with a present
// sample, deletes its checkpoint pages, and starts an empty block. On
// failure the block stays open, unchanged, to be written again.
func (w *writer[K]) flushBlock() error {
	if w.n == 0 {
		return nil
	}
	err := w.s.update(func() error {
		ks := w.st.ks
		b := w.s.mu.db.NewBatch()
		reg := w.appendRegistry(b)
		_ = b.Set(ks.timesKey(w.bucket, w.start), w.ts.Bytes(), nil)
		for sid := range w.cols.len() {
			if c := w.cols.chunk(sid); c != nil {
				w.key = ks.chunkKey(w.key, w.bucket, uint32(sid), w.start)
				_ = b.Set(w.key, c, nil)
				if b.Len() >= maxBatchBytes {
					if err := w.s.commit("block", b, pebble.NoSync); err != nil {
						return err
					}
					b = w.s.mu.db.NewBatch()
				}
			}
		}
		_ = b.DeleteRange(ks.openKey(w.bucket, w.start, 0), ks.openKey(w.bucket, w.start+1, 0), nil)
		if err := w.s.commit("block", b, pebble.Sync); err != nil {
			return err
		}
		w.persisted = reg
		return nil
	})
	if err != nil {
		return err
	}
	w.dropUnmapped()
	for sid := range w.cols.len() {
		w.cols.reset(sid)
	}
	w.n = 0
	w.ts.Reset()
	w.st.newest.Store(w.lastAt)
	select {
	case w.s.kick <- struct{}{}:
	default:
	}
	return nil
}

// columns is the open block's value chunk encoders by sid: int chunks for
// offsets, float chunks (values are float64 bits) for broker telemetry.
type columns struct {
	float  bool
	ints   []chunkenc.IntEncoder
	floats []chunkenc.FloatEncoder
}

// grow makes room for n sids.
func (c *columns) grow(n int) {
	for c.float && len(c.floats) < n {
		c.floats = append(c.floats, chunkenc.FloatEncoder{})
	}
	for !c.float && len(c.ints) < n {
		c.ints = append(c.ints, chunkenc.IntEncoder{Adaptive: true})
	}
}

func (c *columns) len() int { return len(c.ints) + len(c.floats) }

// add appends sample i of the block, v or a gap (detect.Gap), to sid's
// chunk, first padding it with gaps to i samples when the series joined
// the block late.
func (c *columns) add(sid uint32, v int64, i int) {
	if c.float {
		e := &c.floats[sid]
		for e.Len() < i {
			e.AppendGap()
		}
		if v == detect.Gap {
			e.AppendGap()
		} else {
			e.Append(math.Float64frombits(uint64(v)))
		}
		return
	}
	e := &c.ints[sid]
	for e.Len() < i {
		e.AppendGap()
	}
	if v == detect.Gap {
		e.AppendGap()
	} else {
		e.Append(v)
	}
}

// chunk returns sid's encoded chunk, or nil if it has no present sample.
func (c *columns) chunk(sid int) []byte {
	if c.float {
		if e := &c.floats[sid]; e.Present() > 0 {
			return e.Bytes()
		}
		return nil
	}
	if e := &c.ints[sid]; e.Present() > 0 {
		return e.Bytes()
	}
	return nil
}

// drop replaces sid's encoder with an empty one, freeing its buffers.
func (c *columns) drop(sid int) {
	if c.float {
		c.floats[sid] = chunkenc.FloatEncoder{}
		return
	}
	c.ints[sid] = chunkenc.IntEncoder{Adaptive: true}
}

func (c *columns) reset(sid int) {
	if c.float {
		if c.floats[sid].Len() > 0 {
			c.floats[sid].Reset()
		}
		return
	}
	if c.ints[sid].Len() > 0 {
		c.ints[sid].Reset()
	}
}

// eachPageChunk calls fn for every (sid, chunk) record of a checkpoint page.
func eachPageChunk(val []byte, page uint32, fn func(sid uint32, chunk []byte)) error {
	for len(val) > 0 {
		rel, n := binary.Uvarint(val)
		if n <= 0 || rel >= pageSeries {
			return errors.New("bad series in checkpoint page")
		}
		val = val[n:]
		l, n := binary.Uvarint(val)
		if n <= 0 || uint64(len(val)-n) < l {
			return errors.New("truncated checkpoint page")
		}
		fn(page*pageSeries+uint32(rel), val[n:n+int(l)])
		val = val[n+int(l):]
	}
	return nil
}

// recoverOpenBlocks turns the checkpoint pages of blocks a crash left open
// into ordinary chunks (unless a chunk for that series and block was already
// written) and deletes the pages.
func (st *stream[K]) recoverOpenBlocks() error {
	s, ks := st.s, st.ks
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: []byte{ks.open}, UpperBound: []byte{ks.open + 1}})
	if err != nil {
		return err
	}
	b := s.mu.db.NewBatch()
	var key []byte
	pages := 0
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 21 {
			continue
		}
		pages++
		bucket, start, page := be64(k, 1), be64(k, 9), be32(k, 17)
		perr := eachPageChunk(it.Value(), page, func(sid uint32, chunk []byte) {
			key = ks.chunkKey(key, bucket, sid, start)
			if _, closer, err := s.mu.db.Get(key); err == nil {
				_ = closer.Close()
				return
			}
			_ = b.Set(key, chunk, nil)
		})
		if perr != nil {
			s.chunkCorrupt(k, perr)
		}
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		_ = b.Close()
		return err
	}
	if pages == 0 {
		return b.Close()
	}
	_ = b.DeleteRange([]byte{ks.open}, []byte{ks.open + 1}, nil)
	s.log.Info("recovered open block from checkpoint", "stream", st.name, "pages", pages, "chunks", b.Count()-1)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("write recovered chunks: %w", err)
	}
	return b.Close()
}

// lastStoredAt is the At of the newest stored sweep, or 0.
func (st *stream[K]) lastStoredAt() int64 {
	s := st.s
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: []byte{st.ks.times}, UpperBound: []byte{st.ks.times + 1}})
	if err != nil {
		return 0
	}
	defer it.Close()
	if !it.Last() {
		return 0
	}
	ts, present, err := chunkenc.DecodeInt(it.Value(), nil, nil)
	if err != nil {
		s.chunkCorrupt(it.Key(), err)
		return be64(it.Key(), 9)
	}
	for i := len(ts) - 1; i >= 0; i-- {
		if present[i] {
			return ts[i]
		}
	}
	return be64(it.Key(), 9)
}
