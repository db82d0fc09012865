package chunkenc

import "math/bits"

// Version 2 int stream: adaptive Rice codes of prediction residuals.
//
// Each present value after the first has a delta d (from the previous
// present value) and a prediction p of it: 0 before any delta, the last
// delta while fewer than three are known, then the median of the last
// three. The residual r = d − p (mod 2^64) is zigzag-coded to
// u = (r << 1) XOR (r >> 63) and written as a Rice code with parameter k:
//
//	q = u >> k < riceEscape:  q one-bits, a zero-bit, the low k bits of u
//	otherwise:                riceEscape one-bits, w−1 in 6 bits, the low
//	                          w−1 bits of u (w = bit length of u, its top
//	                          bit implied)
//
// k = (a + 8) >> 4, where a is a running bit length of the codes in 1/16
// bits: 0 until two codes are written; after the second code it is 16 × its
// bit length L; after each later code a += (16 × m − a) >> 2 (arithmetic
// shift), m the median bit length of the last three codes. So a constant or
// constant-rate series costs one bit per sample, a lone burst one escape
// without moving k, a change of rate a few samples to adapt to, and noise
// about its entropy plus a fraction of a bit.
const riceEscape = 8

// riceState is the prediction and parameter state both coders keep.
type riceState struct {
	d    [3]int64 // last deltas, newest first
	lens [3]uint8 // bit lengths of the last codes, newest first
	n    uint8    // deltas seen, saturating at 3
	avg  int32    // running bit length of the codes, in 1/16 bits
}

func median3[T int64 | uint8](a, b, c T) T {
	if a > b {
		a, b = b, a
	}
	if b > c {
		b = c
	}
	return max(a, b)
}

// pred is the prediction of the next delta.
func (s *riceState) pred() int64 {
	switch s.n {
	case 0:
		return 0
	case 1, 2:
		return s.d[0]
	}
	return median3(s.d[0], s.d[1], s.d[2])
}

// k is the Rice parameter of the next code, 0..64.
func (s *riceState) k() uint { return uint(s.avg+8) >> 4 }

// push records a delta and the code it was written with.
func (s *riceState) push(d int64, u uint64) {
	s.d[2], s.d[1], s.d[0] = s.d[1], s.d[0], d
	s.n = min(s.n+1, 3)
	l := uint8(bits.Len64(u))
	switch s.n {
	case 1: // the first delta is predicted from nothing: not a residual's size
	case 2:
		s.lens = [3]uint8{l, l, l}
		s.avg = 16 * int32(l)
	default:
		s.lens[2], s.lens[1], s.lens[0] = s.lens[1], s.lens[0], l
		s.avg += (16*int32(median3(s.lens[0], s.lens[1], s.lens[2])) - s.avg) >> 2
	}
}

func zigzag(r int64) uint64   { return uint64(r<<1) ^ uint64(r>>63) }
func unzigzag(u uint64) int64 { return int64(u>>1) ^ -int64(u&1) }

// writeRice writes delta d as the next code of state s.
func (w *bitWriter) writeRice(s *riceState, d int64) {
	u := zigzag(d - s.pred())
	k := s.k()
	if q := u >> k; q < riceEscape {
		w.write(1<<(q+1)-2, uint(q)+1) // q ones and a zero
		if k > 0 {
			w.write(u&(1<<k-1), k)
		}
	} else {
		wm1 := uint(bits.Len64(u)) - 1
		w.write(1<<riceEscape-1, riceEscape)
		w.write(uint64(wm1), 6)
		if wm1 > 0 {
			w.write(u&(1<<wm1-1), wm1)
		}
	}
	s.push(d, u)
}

// readRice reads the next delta of state s and checks that it is coded as
// the encoder codes it.
func (r *bitReader) readRice(s *riceState) (int64, *Error) {
	at := r.offset()
	k := s.k()
	q, ok := r.ones(riceEscape)
	if !ok {
		return 0, chunkErr(at, "truncated bit stream")
	}
	var u uint64
	if q < riceEscape {
		u = uint64(q) << k
		if k > 0 {
			low, ok := r.read64(k)
			if !ok {
				return 0, chunkErr(at, "truncated bit stream")
			}
			u |= low
		}
	} else {
		wm1, ok := r.read(6)
		if !ok {
			return 0, chunkErr(at, "truncated bit stream")
		}
		u = 1 << wm1
		if wm1 > 0 {
			low, ok := r.read64(uint(wm1))
			if !ok {
				return 0, chunkErr(at, "truncated bit stream")
			}
			u |= low
		}
		if u>>k < riceEscape {
			return 0, chunkErr(at, "escape for a residual that fits a Rice code")
		}
	}
	d := unzigzag(u) + s.pred()
	s.push(d, u)
	return d, nil
}
