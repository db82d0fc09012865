package chunkenc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Invariants of the chunk decoders, for any input b, checked both on the raw
// fuzz bytes (which almost always fail the CRC) and on the bytes with a
// correct CRC32C trailer appended (so the fuzzer reaches the parser):
//
//  1. Decoding never panics and terminates.
//  2. A failure is a *Error whose Offset is within [0, len(b)].
//  3. A success returns n samples, 1 ≤ n ≤ MaxSamples, with
//     len(dst) == len(present) == n and dst[i] == 0 wherever !present[i].
//  4. The format is canonical: re-encoding the decoded samples reproduces b
//     byte for byte.
//  5. Reused buffers do not leak: decoding into slices full of stale values
//     gives the same result as decoding into nil slices.

func FuzzDecodeIntChunk(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, withCRC(data)} {
			dst, present, err := DecodeInt(b, nil, nil)
			if !checkDecodeErr(t, b, err) {
				continue
			}
			checkDecoded(t, dst, present, 0)
			e := IntEncoder{Adaptive: b[0] == VersionAdaptive}
			for i, v := range dst {
				if present[i] {
					e.Append(v)
				} else {
					e.AppendGap()
				}
			}
			if got := e.Bytes(); !slices.Equal(got, b) {
				t.Fatalf("not canonical: decoded %v %v re-encodes to %x, input %x", dst, present, got, b)
			}
			stale, staleP := slices.Repeat([]int64{-7}, len(dst)+3), slices.Repeat([]bool{true}, len(dst)+3)
			dst2, present2, err := DecodeInt(b, stale[:1], staleP[:0])
			if err != nil || !slices.Equal(dst2, dst) || !slices.Equal(present2, present) {
				t.Fatalf("decoding into reused slices: %v %v %v, want %v %v", dst2, present2, err, dst, present)
			}
		}
	})
}

func FuzzDecodeFloatChunk(f *testing.F) {
	addDecodeSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, b := range [][]byte{data, withCRC(data)} {
			dst, present, err := DecodeFloat(b, nil, nil)
			if !checkDecodeErr(t, b, err) {
				continue
			}
			checkDecoded(t, dst, present, 0)
			var e FloatEncoder
			for i, v := range dst {
				if present[i] {
					e.Append(v)
				} else {
					e.AppendGap()
				}
			}
			if got := e.Bytes(); !slices.Equal(got, b) {
				t.Fatalf("not canonical: re-encodes to %x, input %x", got, b)
			}
			stale, staleP := slices.Repeat([]float64{-7}, len(dst)+3), slices.Repeat([]bool{true}, len(dst)+3)
			dst2, present2, err := DecodeFloat(b, stale[:1], staleP[:0])
			if err != nil || !slices.EqualFunc(dst2, dst, sameFloat) || !slices.Equal(present2, present) {
				t.Fatalf("decoding into reused slices: %v %v %v, want %v %v", dst2, present2, err, dst, present)
			}
		}
	})
}

// checkDecodeErr checks invariant 2 and reports whether decoding succeeded.
func checkDecodeErr(t *testing.T, b []byte, err error) bool {
	t.Helper()
	if err == nil {
		return true
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *Error", err, err)
	}
	if ce.Offset < 0 || ce.Offset > len(b) {
		t.Fatalf("error offset %d outside [0, %d]: %v", ce.Offset, len(b), err)
	}
	return false
}

// checkDecoded checks invariant 3.
func checkDecoded[T int64 | float64](t *testing.T, dst []T, present []bool, zero T) {
	t.Helper()
	if n := len(dst); n < 1 || n > MaxSamples || len(present) != n {
		t.Fatalf("decoded %d values, %d presence flags", n, len(present))
	}
	for i, p := range present {
		if !p && dst[i] != zero {
			t.Fatalf("absent sample %d decoded as %v", i, dst[i])
		}
	}
}

func sameFloat(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }

// addDecodeSeeds seeds a decoder fuzzer with valid chunks of both kinds,
// with and without their CRC (the fuzzer mutates the body, then the target
// appends a fresh CRC).
func addDecodeSeeds(f *testing.F) {
	r := rand.New(rand.NewPCG(7, 8))
	chunks := [][]byte{
		encodeInts([]int64{100, 0, 105, 110}, "p_pp"),
		encodeInts([]int64{0, 0, 0}, "___"),
		encodeInts([]int64{math.MinInt64, math.MaxInt64, 0, -1, 1 << 40, 3, 3, 3}, ""),
		encodeInts(genBursty(r, 200), "pp_p"),
		encodeIntsWith(IntEncoder{Adaptive: true}, []int64{100, 0, 105, 110}, "p_pp"),
		encodeIntsWith(IntEncoder{Adaptive: true}, []int64{math.MinInt64, math.MaxInt64, 0, -1, 1 << 40, 3, 3, 3}, ""),
		encodeIntsWith(IntEncoder{Adaptive: true}, genBursty(r, 200), "pp_p"),
		encodeIntsWith(IntEncoder{Adaptive: true}, genNoisy(r, 300), ""),
		encodeFloats([]float64{1.5, 1.5, 3, 0}, "ppp_"),
		encodeFloats([]float64{math.NaN(), math.Inf(-1), 1e-300, 0.1, 0.2, 0.3, 0.30000000000000004}, "_p"),
	}
	for _, c := range chunks {
		f.Add(c)
		f.Add(c[:len(c)-chunkCRCLen])
	}
}

// Invariants of encoding, for any sequence of samples built from the fuzz
// bytes: decode(encode(x)) == x exactly (every int64 value and float64 bit
// pattern, and every gap), Len() counts all samples, and the chunk size is
// bounded as checkChunkSize states.

// intOps turns fuzz bytes into int samples. Each op byte, mod 4, selects:
// 0 a gap; 1 a sample at the previous delta (steady); 2 a sample whose delta
// changes by the next byte as int8 (small dods); 3 a sample whose value is
// the next 8 bytes (any int64, huge dods). gaps[i] marks a gap.
func intOps(data []byte) (vals []int64, gaps []bool) {
	var v, d int64
	for len(data) > 0 && len(vals) < MaxSamples {
		op := data[0] % 4
		data = data[1:]
		switch {
		case op == 0:
			vals, gaps = append(vals, 0), append(gaps, true)
			continue
		case op == 2 && len(data) >= 1:
			d += int64(int8(data[0]))
			data = data[1:]
		case op == 3 && len(data) >= 8:
			nv := int64(binary.LittleEndian.Uint64(data))
			d, data = nv-v, data[8:]
		}
		v += d
		vals, gaps = append(vals, v), append(gaps, false)
	}
	return vals, gaps
}

func FuzzIntChunkRoundTrip(f *testing.F) {
	f.Add([]byte{1, 1, 1, 0, 2, 5, 1, 1})
	f.Add([]byte{0, 0, 0})
	f.Add([]byte{3, 0, 0, 0, 0, 0, 0, 0, 0x80, 3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 1, 1, 0})
	f.Add([]byte{2, 64, 2, 0xc0, 2, 1, 2, 0xff, 1, 1, 1})
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, gaps := intOps(data)
		for _, adaptive := range []bool{false, true} {
			intRoundTrip(t, IntEncoder{Adaptive: adaptive}, vals, gaps)
		}
	})
}

// encoder is what IntEncoder and FloatEncoder share.
type encoder[T any] interface {
	Append(T)
	AppendGap()
	Len() int
	Bytes() []byte
}

// intRoundTrip encodes vals (gaps where gaps[i]) with e and checks that
// they decode back exactly.
func intRoundTrip(t *testing.T, e IntEncoder, vals []int64, gaps []bool) {
	t.Helper()
	roundTrip(t, &e, vals, gaps, DecodeInt, func(a, b int64) bool { return a == b }, func(v int64) any { return v })
}

// roundTrip encodes vals (gaps where gaps[i]) with e, checks the chunk's
// size bound, and checks that decode gives them back: same compares
// samples and show prints one in a failure.
func roundTrip[T any](t *testing.T, e encoder[T], vals []T, gaps []bool,
	decode func([]byte, []T, []bool) ([]T, []bool, error), same func(a, b T) bool, show func(T) any) {
	t.Helper()
	for i, v := range vals {
		if gaps[i] {
			e.AppendGap()
		} else {
			e.Append(v)
		}
	}
	if e.Len() != len(vals) {
		t.Fatalf("Len() = %d, want %d", e.Len(), len(vals))
	}
	b := e.Bytes()
	if len(vals) == 0 {
		if b != nil {
			t.Fatalf("empty encoder gave %x", b)
		}
		return
	}
	checkChunkSize(t, b, gaps)
	got, present, err := decode(b, nil, nil)
	if err != nil {
		t.Fatalf("decode(encode(%v)): %v", vals, err)
	}
	for i := range vals {
		if present[i] == gaps[i] || (present[i] && !same(got[i], vals[i])) {
			t.Fatalf("sample %d: got %v present=%v, want %v gap=%v", i, show(got[i]), present[i], show(vals[i]), gaps[i])
		}
	}
}

// floatOps turns fuzz bytes into float samples like intOps: op 0 a gap;
// 1 repeat the previous value; 2 flip bit (next byte mod 64) of the previous
// value's pattern; 3 the next 8 bytes as a bit pattern (NaNs included).
func floatOps(data []byte) (vals []float64, gaps []bool) {
	var u uint64
	for len(data) > 0 && len(vals) < MaxSamples {
		op := data[0] % 4
		data = data[1:]
		switch {
		case op == 0:
			vals, gaps = append(vals, 0), append(gaps, true)
			continue
		case op == 2 && len(data) >= 1:
			u ^= 1 << (data[0] % 64)
			data = data[1:]
		case op == 3 && len(data) >= 8:
			u, data = binary.LittleEndian.Uint64(data), data[8:]
		}
		vals, gaps = append(vals, math.Float64frombits(u)), append(gaps, false)
	}
	return vals, gaps
}

func FuzzFloatChunkRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 2, 60, 2, 0, 0, 1})
	f.Add([]byte{3, 1, 0, 0, 0, 0, 0, 0xf8, 0x7f, 2, 5, 2, 63})
	f.Fuzz(func(t *testing.T, data []byte) {
		vals, gaps := floatOps(data)
		roundTrip(t, &FloatEncoder{}, vals, gaps, DecodeFloat, sameFloat, func(v float64) any { return fmt.Sprintf("%#x", math.Float64bits(v)) })
	})
}

// checkChunkSize checks that a chunk is at most 23 + 3·runs + 10·n bytes:
// version, kind, n and k (≤ 3 B each), first value (≤ 10 B), CRC and
// padding; ≤ 3 B per presence run; ≤ 77 bits per record (a float '11'
// record with 64 significant bits; the worst int record is 70 bits).
func checkChunkSize(t *testing.T, b []byte, gaps []bool) {
	t.Helper()
	runs := 0
	for i := range gaps {
		if i == 0 || gaps[i] != gaps[i-1] {
			runs++
		}
	}
	if limit := 23 + 3*runs + 10*len(gaps); len(b) > limit {
		t.Fatalf("%d-sample chunk with %d runs is %d bytes, limit %d", len(gaps), runs, len(b), limit)
	}
}
