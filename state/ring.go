package state

import (
	"slices"
	"sync/atomic"

	"github.com/kwitness/kwitness/detect"
)

// blockSeries is how many series share one value block. Blocks let the series
// set grow without copying existing values or blocking readers.
const blockSeries = 4096

// Ring is a fixed number of sweep slots: one shared timestamp per slot and,
// per series, one value per slot, in flat blocks of atomics (struct of
// arrays, no per-sample pointers). Within a block, series are grouped in
// lanes of L (1 or 8): the L values of one group at one slot are adjacent,
// and a group's slots follow each other. L = 1 is series-major: reading a
// series' whole row touches slots × 8 B in one run, and publishing a sweep
// touches one cache line per series. L = 8 puts a group's values of one
// sweep in one 64 B cache line: publishing touches one line per 8 series,
// and a series' row is spread over slots lines shared with its 7
// neighbours (cheap for a scan in id order, costlier for one series alone).
//
// Concurrency: exactly one writer (Publish, Grow); any number of readers. A
// reader never blocks the writer. A slot is valid for readers once the sweep
// count (head) passes it; the writer overwrites the oldest slot only, so a
// reader that reads sweeps (h-(slots-1), h] and re-checks head afterwards can
// tell which of them may have been overwritten meanwhile (see ReadSeries).
type Ring struct {
	slots  int
	shift  uint          // log2 of the lane width L
	marked bool          // keeps a decrease mark per series (see Mark)
	head   atomic.Uint64 // sweeps fully written
	times  []atomic.Int64
	blocks atomic.Pointer[[]*valueBlock]
}

type valueBlock struct {
	v    []atomic.Int64 // blockSeries × slots; series s, slot k at Ring.index(s, k)
	mark []atomic.Int64 // per series: see Ring.Mark; nil unless marked
}

// NewRing returns a ring with the given number of slots (≥ 2).
func NewRing(slots int) *Ring {
	r := &Ring{slots: slots, times: make([]atomic.Int64, slots)}
	r.blocks.Store(&[]*valueBlock{})
	return r
}

// NewMarkedRing returns a ring that also keeps, per series, the time of the
// newest sweep at which its value decreased or could not be compared with
// the previous sweep's (see Mark). It costs 8 B per series. Its series are
// grouped in lanes of 8 (see Ring): it suits a ring published every sweep
// and read in id order.
func NewMarkedRing(slots int) *Ring {
	r := NewRing(slots)
	r.marked = true
	r.shift = 3
	return r
}

// index is the position of series s (within its block) at slot k.
func (r *Ring) index(s, k int) int {
	mask := 1<<r.shift - 1
	return ((s>>r.shift)*r.slots+k)<<r.shift + s&mask
}

// Mark returns the Unix ms of the newest sweep at which series id's value was
// lower than at the sweep before, or present after a gap (so a decrease may
// hide there); 0 if never. A series whose mark is older than some time t has
// been non-decreasing over its present samples since t. Marked rings only.
func (r *Ring) Mark(id uint32) int64 {
	blocks := *r.blocks.Load()
	bi := int(id) / blockSeries
	if !r.marked || bi >= len(blocks) {
		return 1<<63 - 1
	}
	return blocks[bi].mark[int(id)%blockSeries].Load()
}

// ReadAt returns series id's value at sweep k, if k is still readable with h
// sweeps published and was not overwritten during the read.
func (r *Ring) ReadAt(h, k uint64, id uint32) (int64, bool) {
	blocks := *r.blocks.Load()
	bi := int(id) / blockSeries
	if k >= h || k < oldest(h, r.slots) || bi >= len(blocks) {
		return detect.Gap, false
	}
	v := blocks[bi].v[r.index(int(id)%blockSeries, int(k%uint64(r.slots)))].Load()
	return v, k >= oldest(r.head.Load(), r.slots)
}

// Slots is the ring's capacity in sweeps; Slots()-1 are readable at once.
func (r *Ring) Slots() int { return r.slots }

// Head is the number of sweeps fully written so far.
func (r *Ring) Head() uint64 { return r.head.Load() }

// wrappedSince reports whether every slot has been written since head was
// h: nothing published at sweep h or before is readable any more.
func (r *Ring) wrappedSince(h uint64) bool { return r.head.Load() >= h+uint64(r.slots) }

// Capacity is the number of series the ring has room for.
func (r *Ring) Capacity() int { return len(*r.blocks.Load()) * blockSeries }

// Grow makes room for n series. New series read as gaps in every slot.
// Writer only.
func (r *Ring) Grow(n int) {
	old := *r.blocks.Load()
	if len(old)*blockSeries >= n {
		return
	}
	blocks := append([]*valueBlock(nil), old...)
	for len(blocks)*blockSeries < n {
		b := &valueBlock{v: make([]atomic.Int64, blockSeries*r.slots)}
		for i := range b.v {
			b.v[i].Store(detect.Gap)
		}
		if r.marked {
			b.mark = make([]atomic.Int64, blockSeries)
		}
		blocks = append(blocks, b)
	}
	r.blocks.Store(&blocks)
}

// Publish writes one sweep: vals[i] is series i's value (detect.Gap when
// absent) at time ts (Unix ms). Series beyond len(vals) are written as gaps.
// Writer only; the caller has grown the ring to len(vals).
func (r *Ring) Publish(ts int64, vals []int64) {
	h := r.head.Load()
	slot := int(h % uint64(r.slots))
	blocks := *r.blocks.Load()
	prev := (slot + r.slots - 1) % r.slots // the previous sweep's slot
	lanes := 1 << r.shift
	back := (prev - slot) << r.shift
	for bi, b := range blocks {
		src := vals[min(bi*blockSeries, len(vals)):min((bi+1)*blockSeries, len(vals))]
		for g := 0; g < blockSeries; g += lanes {
			j := r.index(g, slot)
			for s := g; s < g+lanes; s, j = s+1, j+1 {
				v := detect.Gap
				if s < len(src) {
					v = src[s]
				}
				if r.marked && h > 0 && v != detect.Gap {
					if p := b.v[j+back].Load(); p == detect.Gap || v < p {
						b.mark[s].Store(ts)
					}
				}
				b.v[j].Store(v)
			}
		}
	}
	r.times[slot].Store(ts)
	r.head.Store(h + 1)
}

// ReadTimes appends the timestamps of sweeps [first, h) to dst, where first is
// the oldest readable sweep before h, and returns first.
func (r *Ring) ReadTimes(h uint64, dst []int64) ([]int64, uint64) {
	first := oldest(h, r.slots)
	for k := first; k < h; k++ {
		dst = append(dst, r.times[k%uint64(r.slots)].Load())
	}
	return dst, first
}

// ReadSeries appends series id's values for sweeps [first, h) to dst. It
// returns dst and how many leading values must be discarded because the
// writer may have overwritten them during the read.
func (r *Ring) ReadSeries(h uint64, id uint32, dst []int64) ([]int64, int) {
	first := oldest(h, r.slots)
	blocks := *r.blocks.Load()
	bi := int(id) / blockSeries
	if bi >= len(blocks) {
		for k := first; k < h; k++ {
			dst = append(dst, detect.Gap)
		}
		return dst, 0
	}
	s := int(id) % blockSeries
	dst = r.readRow(dst, blocks[bi].v[r.index(s, 0):], int(first%uint64(r.slots)), int(h-first))
	valid := oldest(r.head.Load(), r.slots)
	if valid <= first {
		return dst, 0
	}
	return dst, int(min(valid-first, h-first))
}

// readRow appends n values of one series starting at slot k, wrapping after
// the last slot, to dst; row starts at the series' slot 0 and its slots are
// one lane group apart. One slice growth and no division per value.
func (r *Ring) readRow(dst []int64, row []atomic.Int64, k, n int) []int64 {
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	stride := 1 << r.shift
	end := r.slots << r.shift
	j := k << r.shift
	for i := range out {
		out[i] = row[j].Load()
		if j += stride; j == end {
			j = 0
		}
	}
	return dst[:len(dst)+n]
}

// oldest is the oldest sweep readable when h sweeps are published: the writer
// may be filling slot h%slots, which held sweep h-slots.
func oldest(h uint64, slots int) uint64 {
	if h < uint64(slots) {
		return 0
	}
	return h - uint64(slots) + 1
}

// Bytes is the memory held by the ring's values, marks and timestamps.
func (r *Ring) Bytes() int {
	perSeries := r.slots * 8
	if r.marked {
		perSeries += 8
	}
	return len(*r.blocks.Load())*blockSeries*perSeries + r.slots*8
}
