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
// per series, one value per slot, laid out series-major in flat blocks of
// atomics (struct of arrays, no per-sample pointers).
//
// Concurrency: exactly one writer (Publish, Grow); any number of readers. A
// reader never blocks the writer. A slot is valid for readers once the sweep
// count (head) passes it; the writer overwrites the oldest slot only, so a
// reader that reads sweeps (h-(slots-1), h] and re-checks head afterwards can
// tell which of them may have been overwritten meanwhile (see ReadSeries).
type Ring struct {
	slots  int
	marked bool          // keeps a decrease mark per series (see Mark)
	head   atomic.Uint64 // sweeps fully written
	times  []atomic.Int64
	blocks atomic.Pointer[[]*valueBlock]
}

type valueBlock struct {
	v    []atomic.Int64 // blockSeries × slots; series s, slot k at s*slots+k
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
// the previous sweep's (see Mark). It costs 8 B per series.
func NewMarkedRing(slots int) *Ring {
	r := NewRing(slots)
	r.marked = true
	return r
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
	v := blocks[bi].v[(int(id)%blockSeries)*r.slots+int(k%uint64(r.slots))].Load()
	return v, k >= oldest(r.head.Load(), r.slots)
}

// Slots is the ring's capacity in sweeps; Slots()-1 are readable at once.
func (r *Ring) Slots() int { return r.slots }

// Head is the number of sweeps fully written so far.
func (r *Ring) Head() uint64 { return r.head.Load() }

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
	back := (r.slots - 1) % r.slots // from a slot to the previous sweep's slot, mod slots
	for bi, b := range blocks {
		src := vals[min(bi*blockSeries, len(vals)):min((bi+1)*blockSeries, len(vals))]
		j := slot
		prev := slot + back
		if prev >= r.slots {
			prev -= r.slots
		}
		for s, v := range src {
			if r.marked && h > 0 && v != detect.Gap {
				if p := b.v[j-slot+prev].Load(); p == detect.Gap || v < p {
					b.mark[s].Store(ts)
				}
			}
			b.v[j].Store(v)
			j += r.slots
		}
		for ; j < len(b.v); j += r.slots {
			b.v[j].Store(detect.Gap)
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
	row := blocks[bi].v[(int(id)%blockSeries)*r.slots:][:r.slots]
	dst = readRow(dst, row, int(first%uint64(r.slots)), int(h-first))
	valid := oldest(r.head.Load(), r.slots)
	if valid <= first {
		return dst, 0
	}
	return dst, int(min(valid-first, h-first))
}

// readRow appends n values of row starting at slot k, wrapping at the end of
// the row, to dst: one slice growth and no division per value.
func readRow(dst []int64, row []atomic.Int64, k, n int) []int64 {
	dst = slices.Grow(dst, n)
	out := dst[len(dst) : len(dst)+n]
	for i := range out {
		out[i] = row[k].Load()
		if k++; k == len(row) {
			k = 0
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
