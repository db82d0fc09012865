package state

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/detect"
)

const (
	// pageSeries is how many consecutive sids share one checkpoint page.
	pageSeries = 4096
	// maxBatchBytes splits the write of a large block into several batches.
	maxBatchBytes = 16 << 20
)

// writer is the open block, owned by the encoder goroutine: the shared
// timestamp chunk and one int chunk encoder per sid.
type writer struct {
	s       *Store
	bucket  int64 // bucket start of the open block, Unix ms
	start   int64 // At of the block's first sweep
	n       int   // sweeps in the open block
	lastAt  int64 // At of the newest sweep accepted
	ts      IntChunkEncoder
	enc     []IntChunkEncoder // by sid
	win2sid []uint32          // window series id → sid
	reg     *pebble.Batch     // registry entries not yet committed
	key     []byte
	page    []byte
}

func newWriter(s *Store) *writer {
	return &writer{s: s, lastAt: s.newest.Load(), reg: s.db.NewBatch(), enc: make([]IntChunkEncoder, s.reg.len())}
}

// add encodes one sweep, first closing the open block if it is full or the
// sweep starts a new bucket.
func (w *writer) add(sd SweepData) {
	if w.s.broken.Load() {
		w.s.m.dropped.Inc()
		return
	}
	w.register(sd)
	if sd.At <= w.lastAt {
		w.s.m.outOfOrder.Inc()
		return
	}
	bucket := floorTo(sd.At, w.s.cfg.Bucket.Milliseconds())
	if w.n > 0 && (bucket != w.bucket || w.n >= w.s.cfg.ChunkSamples) {
		w.flushBlock()
	}
	if w.n == 0 {
		w.bucket, w.start = bucket, sd.At
	}
	w.ts.Append(sd.At)
	n := w.n
	for wid, sid := range w.win2sid {
		v := detect.Gap
		if wid < len(sd.Values) {
			v = sd.Values[wid]
		}
		e := &w.enc[sid]
		for e.Len() < n { // series joined mid-block
			e.AppendGap()
		}
		if v == detect.Gap {
			e.AppendGap()
		} else {
			e.Append(v)
		}
	}
	w.n++
	w.lastAt = sd.At
	w.s.m.sweeps.Inc()
	w.s.m.samples.Add(len(w.win2sid))
}

// register maps the sweep's new window series to sids and persists new
// registry entries. A failed commit is retried with the next sweep.
func (w *writer) register(sd SweepData) {
	for i, k := range sd.NewKeys {
		wid := int(sd.FirstNew) + i
		sid, _ := w.s.reg.assign(k, sd.At, w.reg)
		for len(w.win2sid) <= wid {
			w.win2sid = append(w.win2sid, 0)
		}
		w.win2sid[wid] = sid
		for len(w.enc) <= int(sid) {
			w.enc = append(w.enc, IntChunkEncoder{})
		}
	}
	if w.reg.Empty() {
		return
	}
	if w.s.broken.Load() {
		return
	}
	if err := w.s.guard("series registry", func() error { return w.reg.Commit(pebble.NoSync) }); err != nil {
		w.s.writeFailed("series registry", err)
		return
	}
	w.s.m.keys.Add(int(w.reg.Count()))
	w.reg = w.s.db.NewBatch()
}

// checkpoint writes the open block's timestamps and its partial chunks as
// pages of pageSeries sids, synced: what a crash cannot lose.
func (w *writer) checkpoint() {
	if w.n == 0 {
		return
	}
	b := w.s.db.NewBatch()
	_ = b.Set(timesKey(w.bucket, w.start), w.ts.Bytes(), nil)
	page := ^uint32(0)
	w.page = w.page[:0]
	for sid := range w.enc {
		e := &w.enc[sid]
		if e.nPresent == 0 {
			continue
		}
		if p := uint32(sid / pageSeries); p != page {
			if len(w.page) > 0 {
				_ = b.Set(openKey(w.bucket, w.start, page), w.page, nil)
			}
			page, w.page = p, w.page[:0]
		}
		c := e.Bytes()
		w.page = binary.AppendUvarint(w.page, uint64(sid%pageSeries))
		w.page = binary.AppendUvarint(w.page, uint64(len(c)))
		w.page = append(w.page, c...)
	}
	if len(w.page) > 0 {
		_ = b.Set(openKey(w.bucket, w.start, page), w.page, nil)
	}
	w.commit(b, "checkpoint", pebble.Sync)
	w.s.newest.Store(w.lastAt)
}

// flushBlock writes the open block, one key per series with a present
// sample, deletes its checkpoint pages, and starts an empty block.
func (w *writer) flushBlock() {
	if w.n == 0 {
		return
	}
	b := w.s.db.NewBatch()
	_ = b.Set(timesKey(w.bucket, w.start), w.ts.Bytes(), nil)
	for sid := range w.enc {
		e := &w.enc[sid]
		if e.nPresent > 0 {
			w.key = chunkKey(w.key, w.bucket, uint32(sid), w.start)
			_ = b.Set(w.key, e.Bytes(), nil)
			if b.Len() >= maxBatchBytes {
				w.commit(b, "block", pebble.NoSync)
				b = w.s.db.NewBatch()
			}
		}
		if e.Len() > 0 {
			e.Reset()
		}
	}
	_ = b.DeleteRange(openKey(w.bucket, w.start, 0), openKey(w.bucket, w.start+1, 0), nil)
	w.commit(b, "block", pebble.Sync)
	w.n = 0
	w.ts.Reset()
	w.s.newest.Store(w.lastAt)
	select {
	case w.s.kick <- struct{}{}:
	default:
	}
}

func (w *writer) commit(b *pebble.Batch, what string, opts *pebble.WriteOptions) {
	n := int(b.Count())
	if w.s.broken.Load() {
		_ = b.Close()
		return
	}
	if err := w.s.guard(what, func() error { return b.Commit(opts) }); err != nil {
		w.s.writeFailed(what, err)
	} else {
		w.s.m.keys.Add(n)
		w.s.writeOK()
	}
	_ = b.Close()
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
func (s *Store) recoverOpenBlocks() error {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindOpen}, UpperBound: []byte{kindOpen + 1}})
	if err != nil {
		return err
	}
	b := s.db.NewBatch()
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
			key = chunkKey(key, bucket, sid, start)
			if _, closer, err := s.db.Get(key); err == nil {
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
	_ = b.DeleteRange([]byte{kindOpen}, []byte{kindOpen + 1}, nil)
	s.log.Info("recovered open block from checkpoint", "pages", pages, "chunks", b.Count()-1)
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("write recovered chunks: %w", err)
	}
	return b.Close()
}

// lastStoredAt is the At of the newest stored sweep, or 0.
func (s *Store) lastStoredAt() int64 {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindTimes}, UpperBound: []byte{kindTimes + 1}})
	if err != nil {
		return 0
	}
	defer it.Close()
	if !it.Last() {
		return 0
	}
	ts, present, err := DecodeIntChunk(it.Value(), nil, nil)
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
