package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/chunkenc"
)

const (
	minuteMs = int64(time.Minute / time.Millisecond)
	dayMs    = 24 * 60 * minuteMs
	// maintainEvery is how often maintenance runs besides after each block.
	maintainEvery = time.Minute
)

// MinutePoint is the rollup of one series over one minute [T, T+60 s): the
// first, last, smallest and largest present sample, their sum (wrapping on
// int64 overflow) and how many samples were present. Minutes without a
// present sample are left out.
type MinutePoint struct {
	T             int64 // minute start, Unix ms
	First, Last   int64
	Min, Max, Sum int64
	Count         int64
}

// rollupColumns is the order of the int chunks in a rollup value.
const rollupColumns = 6

// minuteAgg accumulates the minutes of one bucket of one series.
type minuteAgg struct {
	bucket int64
	m      []MinutePoint // by minute index; Count 0 = no sample
}

func newMinuteAgg(bucket int64, minutes int) *minuteAgg {
	return &minuteAgg{bucket: bucket, m: make([]MinutePoint, minutes)}
}

func (a *minuteAgg) reset(bucket int64) {
	a.bucket = bucket
	clear(a.m)
}

// add accounts sample v at time at, which must lie in the bucket.
func (a *minuteAgg) add(at, v int64) {
	i := (at - a.bucket) / minuteMs
	if i < 0 || int(i) >= len(a.m) {
		return
	}
	p := &a.m[i]
	if p.Count == 0 {
		*p = MinutePoint{T: a.bucket + i*minuteMs, First: v, Last: v, Min: v, Max: v, Sum: v, Count: 1}
		return
	}
	p.Last, p.Min, p.Max, p.Sum, p.Count = v, min(p.Min, v), max(p.Max, v), p.Sum+v, p.Count+1
}

func (a *minuteAgg) empty() bool {
	for i := range a.m {
		if a.m[i].Count > 0 {
			return false
		}
	}
	return true
}

// encode appends the rollup value: six length-prefixed int chunks (first,
// last, min, max, sum, count), one sample per minute of the bucket, absent
// where the minute had no sample.
func (a *minuteAgg) encode(dst []byte, enc *chunkenc.IntEncoder) []byte {
	for c := range rollupColumns {
		enc.Reset()
		for i := range a.m {
			p := &a.m[i]
			if p.Count == 0 {
				enc.AppendGap()
				continue
			}
			enc.Append([rollupColumns]int64{p.First, p.Last, p.Min, p.Max, p.Sum, p.Count}[c])
		}
		b := enc.Bytes()
		dst = binary.AppendUvarint(dst, uint64(len(b)))
		dst = append(dst, b...)
	}
	return dst
}

// decodeRollup decodes a rollup value of bucket into minute points.
func decodeRollup(v []byte, bucket int64, out []MinutePoint) ([]MinutePoint, error) {
	var cols [rollupColumns][]int64
	var present []bool
	for c := range rollupColumns {
		l, n := binary.Uvarint(v)
		if n <= 0 || uint64(len(v)-n) < l {
			return out, errors.New("truncated rollup value")
		}
		var err error
		if cols[c], present, err = chunkenc.DecodeInt(v[n:n+int(l)], nil, present); err != nil {
			return out, err
		}
		if c > 0 && len(cols[c]) != len(cols[0]) {
			return out, errors.New("rollup columns of different lengths")
		}
		v = v[n+int(l):]
	}
	if len(v) != 0 {
		return out, errors.New("trailing bytes after rollup columns")
	}
	for i := range cols[0] {
		if cols[5][i] == 0 { // absent (decoded as 0) or empty
			continue
		}
		out = append(out, MinutePoint{
			T: bucket + int64(i)*minuteMs, First: cols[0][i], Last: cols[1][i],
			Min: cols[2][i], Max: cols[3][i], Sum: cols[4][i], Count: cols[5][i],
		})
	}
	return out, nil
}

// QueryMinutes returns the per-minute rollups of series k for the minutes
// starting in [from, to], oldest first. Buckets not rolled up yet (the
// current one) are rolled up on the fly from raw samples. While the store
// is closed after a write failure it fails with ErrUnavailable.
func (s *Store) QueryMinutes(k state.SeriesKey, from, to time.Time) (pts []MinutePoint, err error) {
	err = s.read(func() error {
		pts, err = s.queryMinutesLocked(k, from, to)
		return err
	})
	return pts, err
}

func (s *Store) queryMinutesLocked(k state.SeriesKey, from, to time.Time) ([]MinutePoint, error) {
	sid, _, ok := s.off.reg.lookup(k)
	if !ok {
		return nil, ErrUnknownSeries
	}
	f, t := floorTo(from.UnixMilli(), minuteMs), to.UnixMilli()
	bms := s.cfg.Bucket.Milliseconds()
	var out []MinutePoint
	for b := floorTo(f, bms); b <= t; b += bms {
		pts, err := s.bucketMinutes(k, sid, b)
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			if p.T >= f && p.T <= t {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// bucketMinutes returns the stored rollup of sid in bucket b, or computes it
// from raw samples when b has not been rolled up.
func (s *Store) bucketMinutes(k state.SeriesKey, sid uint32, b int64) ([]MinutePoint, error) {
	key := rollupKey(floorTo(b, dayMs), sid, b)
	v, closer, err := s.mu.db.Get(key)
	if err == nil {
		defer closer.Close()
		pts, err := decodeRollup(v, b, nil)
		if err != nil {
			s.chunkCorrupt(key, err)
		}
		return pts, nil
	}
	if !errors.Is(err, pebble.ErrNotFound) {
		return nil, err
	}
	if s.has(rolledUpKey(b)) { // rolled up: the series had no sample in b
		return nil, nil
	}
	bms := s.cfg.Bucket.Milliseconds()
	raw, err := s.off.queryLocked(k, time.UnixMilli(b), time.UnixMilli(b+bms-1))
	if err != nil {
		return nil, err
	}
	agg := newMinuteAgg(b, int(bms/minuteMs))
	for _, p := range raw {
		if !p.Gap {
			agg.add(p.T, p.V)
		}
	}
	var out []MinutePoint
	for _, p := range agg.m {
		if p.Count > 0 {
			out = append(out, p)
		}
	}
	return out, nil
}

func (s *Store) has(key []byte) bool {
	_, closer, err := s.mu.db.Get(key)
	if err != nil {
		return false
	}
	_ = closer.Close()
	return true
}

// runMaintenance rolls up closed buckets, applies retention and refreshes the
// disk gauges, after every block and at least every maintainEvery.
func (s *Store) runMaintenance() {
	defer s.wg.Done()
	t := time.NewTicker(maintainEvery)
	defer t.Stop()
	for {
		// Nothing is maintained while the store is failing; a failed
		// commit has been reported (Store.commit), other errors are logged.
		if err := s.update(s.maintainLocked); err != nil && !s.failing.Load() && s.logLimit.allow(time.Now()) {
			s.log.Error("store maintenance failed", "dir", s.dir, "err", err)
		}
		select {
		case <-s.stop:
			return
		case <-t.C:
		case <-s.kick:
		}
	}
}

// maintainLocked runs one maintenance pass: rollups and retention of the
// offsets, retention of the telemetry.
func (s *Store) maintainLocked() error {
	defer s.updateDiskGauges()
	err := s.maintainOffsets()
	if terr := expireRaw(s.tel); terr != nil {
		err = errors.Join(err, fmt.Errorf("telemetry retention: %w", terr))
	}
	return err
}

// maintainOffsets rolls up the closed offset buckets and applies the
// offsets' retention.
func (s *Store) maintainOffsets() error {
	newest := s.off.newest.Load()
	if newest == 0 {
		return nil
	}
	bms := s.cfg.Bucket.Milliseconds()
	current := floorTo(newest, bms)
	buckets, err := s.off.rawBuckets()
	if err != nil {
		return err
	}
	for _, b := range buckets {
		if b >= current || s.has(rolledUpKey(b)) {
			continue
		}
		select {
		case <-s.stop:
			return nil
		default:
		}
		if err := s.rollupBucket(b); err != nil {
			return fmt.Errorf("rollup of bucket %s: %w", time.UnixMilli(b).UTC().Format(time.RFC3339), err)
		}
	}
	if err := s.expire(buckets, newest); err != nil {
		return fmt.Errorf("retention: %w", err)
	}
	return nil
}

// rawBuckets lists the buckets with stored sweeps, oldest first.
func (st *stream[K]) rawBuckets() ([]int64, error) {
	it, err := st.s.mu.db.NewIter(&pebble.IterOptions{LowerBound: []byte{st.ks.times}, UpperBound: []byte{st.ks.times + 1}})
	if err != nil {
		return nil, err
	}
	var out []int64
	for ok := it.First(); ok; ok = it.SeekGE(prefixTime(st.ks.times, out[len(out)-1]+1)) {
		if len(it.Key()) < 9 {
			break
		}
		out = append(out, be64(it.Key(), 1))
	}
	return out, errors.Join(it.Error(), it.Close())
}

// rollupBucket writes the minute rollups of every series in closed bucket b
// and then its marker.
func (s *Store) rollupBucket(b int64) error {
	blocks, err := s.off.readBlocks(b, b, b+s.cfg.Bucket.Milliseconds()-1)
	if err != nil {
		return err
	}
	byStart := make(map[int64]storedBlock, len(blocks))
	for _, blk := range blocks {
		byStart[blk.start] = blk
	}
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: prefixTime(kindChunk, b), UpperBound: prefixTime(kindChunk, b+1)})
	if err != nil {
		return err
	}
	defer it.Close()
	r := rollupWriter{s: s, b: s.mu.db.NewBatch(), agg: newMinuteAgg(b, int(s.cfg.Bucket/time.Minute)), sid: -1, enc: chunkenc.IntEncoder{Adaptive: true}}
	defer func() {
		if r.b != nil {
			_ = r.b.Close()
		}
	}()
	var vals []int64
	var present []bool
	for it.First(); it.Valid(); it.Next() {
		k := it.Key()
		if len(k) != 21 {
			continue
		}
		blk, ok := byStart[be64(k, 13)]
		if !ok {
			continue
		}
		r.next(int64(be32(k, 9)))
		vals, present = s.off.decodeOrGaps(it.Value(), blk, be32(k, 9), vals, present)
		for i, at := range blk.ts {
			if j := blk.idx[i]; j < len(vals) && present[j] {
				r.agg.add(at, vals[j])
			}
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	r.next(-1)
	if r.err != nil {
		return r.err
	}
	_ = r.b.Set(rolledUpKey(b), nil, nil)
	return r.commit(pebble.Sync)
}

// rollupWriter batches the rollup values of one bucket, series by series.
type rollupWriter struct {
	s   *Store
	b   *pebble.Batch
	agg *minuteAgg
	sid int64 // series being accumulated, -1 none
	enc chunkenc.IntEncoder
	buf []byte
	err error
}

// next writes the accumulated series if sid starts another one.
func (r *rollupWriter) next(sid int64) {
	if sid == r.sid {
		return
	}
	if r.sid >= 0 && !r.agg.empty() {
		r.buf = r.agg.encode(r.buf[:0], &r.enc)
		_ = r.b.Set(rollupKey(floorTo(r.agg.bucket, dayMs), uint32(r.sid), r.agg.bucket), r.buf, nil)
		if r.b.Len() >= maxBatchBytes && r.err == nil {
			r.err = r.commit(pebble.NoSync)
			r.b = r.s.mu.db.NewBatch()
		}
	}
	r.sid = sid
	r.agg.reset(r.agg.bucket)
}

// commit commits and closes the batch (Store.commit).
func (r *rollupWriter) commit(opts *pebble.WriteOptions) error {
	b := r.b
	r.b = nil
	return r.s.commit("rollup", b, opts)
}

// expireRaw applies the raw retention of a stream without rollups.
func expireRaw[K comparable](st *stream[K]) error {
	newest := st.newest.Load()
	if newest == 0 {
		return nil
	}
	buckets, err := st.rawBuckets()
	if err != nil {
		return err
	}
	return st.expireBuckets(buckets, newest)
}

// expireBuckets deletes the raw buckets whose end is at least RawRetention
// before newest: one DeleteRange per key kind, from the oldest stored bucket
// (buckets[0]) to the cut.
func (st *stream[K]) expireBuckets(buckets []int64, newest int64) error {
	s := st.s
	rawCut := floorTo(newest-s.cfg.RawRetention.Milliseconds(), s.cfg.Bucket.Milliseconds())
	if len(buckets) == 0 || buckets[0] >= rawCut {
		return nil
	}
	b := s.mu.db.NewBatch()
	for _, kind := range []byte{st.ks.times, st.ks.chunk, st.ks.open} {
		_ = b.DeleteRange(prefixTime(kind, buckets[0]), prefixTime(kind, rawCut), nil)
	}
	if err := s.commit("retention", b, pebble.NoSync); err != nil {
		return err
	}
	s.log.Info("raw buckets expired", "stream", st.name, "before", time.UnixMilli(rawCut).UTC())
	return nil
}

// expire deletes the offsets' expired raw buckets (expireBuckets) and the
// rollup days whose end is at least RollupRetention before newest.
func (s *Store) expire(buckets []int64, newest int64) error {
	if err := s.off.expireBuckets(buckets, newest); err != nil {
		return err
	}
	dayCut := floorTo(newest-s.cfg.RollupRetention.Milliseconds(), dayMs)
	if first, ok := s.firstTime(kindRollup); ok && first < dayCut {
		b := s.mu.db.NewBatch()
		_ = b.DeleteRange(prefixTime(kindRollup, first), prefixTime(kindRollup, dayCut), nil)
		_ = b.DeleteRange(prefixTime(kindRolledUp, 0), prefixTime(kindRolledUp, dayCut), nil)
		if err := s.commit("retention", b, pebble.NoSync); err != nil {
			return err
		}
		s.log.Info("rollup days expired", "before", time.UnixMilli(dayCut).UTC())
	}
	return nil
}

// firstTime is the first time field of the oldest key of kind.
func (s *Store) firstTime(kind byte) (int64, bool) {
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kind}, UpperBound: []byte{kind + 1}})
	if err != nil {
		return 0, false
	}
	defer it.Close()
	if !it.First() || len(it.Key()) < 9 {
		return 0, false
	}
	return be64(it.Key(), 1), true
}

// updateDiskGauges publishes disk use, total and per registered series of
// both streams.
func (s *Store) updateDiskGauges() {
	disk := float64(s.mu.db.Metrics().DiskSpaceUsage())
	no, nt := s.off.reg.len(), s.tel.reg.len()
	s.off.m.series.Set(float64(no))
	s.tel.m.series.Set(float64(nt))
	n := no + nt
	s.m.diskBytes.Set(disk)
	if n > 0 {
		s.m.bytesPerSeries.Set(disk / float64(n))
	}
}
