package chunkenc

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// encodeInts encodes vals as an int chunk; mask marks gaps with '_' (any
// other byte, or a mask shorter than vals, means present). Values at gap
// positions are ignored.
func encodeInts(vals []int64, mask string) []byte {
	return encodeIntsWith(IntEncoder{}, vals, mask)
}

func encodeIntsWith(e IntEncoder, vals []int64, mask string) []byte {
	for i, v := range vals {
		if i < len(mask) && mask[i] == '_' {
			e.AppendGap()
		} else {
			e.Append(v)
		}
	}
	return slices.Clone(e.Bytes())
}

func encodeFloats(vals []float64, mask string) []byte {
	var e FloatEncoder
	for i, v := range vals {
		if i < len(mask) && mask[i] == '_' {
			e.AppendGap()
		} else {
			e.Append(v)
		}
	}
	return slices.Clone(e.Bytes())
}

// wantPresent expands mask to a presence column of n samples.
func wantPresent(n int, mask string) []bool {
	p := make([]bool, n)
	for i := range p {
		p[i] = i >= len(mask) || mask[i] != '_'
	}
	return p
}

// withCRC returns body followed by its CRC32C trailer: a chunk whose
// checksum is right whatever the body holds.
func withCRC(body []byte) []byte {
	return appendCRC(slices.Clone(body))
}

func TestIntChunkRoundTrip(t *testing.T) {
	for _, adaptive := range []bool{false, true} {
		t.Run(fmt.Sprintf("adaptive=%v", adaptive), func(t *testing.T) { testIntChunkRoundTrip(t, adaptive) })
	}
}

func testIntChunkRoundTrip(t *testing.T, adaptive bool) {
	f := func(name string, vals []int64, mask string) {
		t.Helper()
		b := encodeIntsWith(IntEncoder{Adaptive: adaptive}, vals, mask)
		if want := byte(Version); adaptive && b[0] != VersionAdaptive || !adaptive && b[0] != want {
			t.Fatalf("%s: chunk version %d (adaptive %v)", name, b[0], adaptive)
		}
		got, present, err := DecodeInt(b, nil, nil)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		wantP := wantPresent(len(vals), mask)
		if !slices.Equal(present, wantP) {
			t.Fatalf("%s: present = %v, want %v", name, present, wantP)
		}
		for i := range vals {
			want := vals[i]
			if !wantP[i] {
				want = 0 // documented value of an absent slot
			}
			if got[i] != want {
				t.Fatalf("%s: sample %d = %d, want %d (chunk %x)", name, i, got[i], want, b)
			}
		}
		if len(got) != len(vals) {
			t.Fatalf("%s: %d samples, want %d", name, len(got), len(vals))
		}
	}
	const maxI, minI = math.MaxInt64, math.MinInt64
	// 1. Single sample: no bit stream at all.
	f("single", []int64{42}, "")
	// 2. Single gap: the chunk is all presence info.
	f("single gap", []int64{0}, "_")
	// 3. Idle: one '0' bit per sample.
	f("idle", []int64{7, 7, 7, 7, 7, 7}, "")
	// 4. Steady counter: first dod is the rate, then zeros.
	f("steady", []int64{100, 200, 300, 400, 500}, "")
	// 5. Negative deltas (a counter reset, a decreasing lag).
	f("negative", []int64{1000, 900, 750, -10, -10, -2000}, "")
	// 6. One dod per bucket boundary: 63/64, 255/256, 2047/2048, 2^19, 2^31.
	f("bucket edges", []int64{0, 63, 63 + 63 + 64, 0, -64, -64 - 65, 0, 255, 0, -256, 2047, 0, -2049, 1 << 19, 0, 1 << 31, 0, -(1 << 31) - 1}, "")
	// 7. Huge jumps: the dod wraps around int64 and must still round-trip.
	f("huge jumps", []int64{0, maxI, 0, minI, maxI, minI, minI, 0, -1, maxI}, "")
	// 8. MinInt64 everywhere is a plain value to the codec, not a gap.
	f("min int", []int64{minI, minI, minI}, "")
	// 9. Gap at the start: the first run is an empty present run.
	f("gap start", []int64{0, 0, 5, 6, 7}, "__ppp")
	// 10. Gaps in the middle: dods are taken across present samples only.
	f("gap middle", []int64{10, 20, 0, 0, 50, 60, 0, 80}, "pp__pp_p")
	// 11. Gap at the end.
	f("gap end", []int64{1, 2, 3, 0}, "ppp_")
	// 12. All gaps: no first value, no bit stream.
	f("all gaps", []int64{0, 0, 0, 0}, "____")
	// 13. Alternating presence: the most runs a chunk can have.
	f("alternating", []int64{0, 1, 0, 3, 0, 5, 0}, "_p_p_p_")

	r := rand.New(rand.NewPCG(1, 2))
	// 14. Long series of each generator kind, with random gaps.
	for _, k := range benchKinds {
		vals := k.gen(r, 3600)
		mask := make([]byte, len(vals))
		for i := range mask {
			mask[i] = "p_"[min(r.IntN(50), 1)^1]
		}
		f(k.name, vals, string(mask))
	}
	// 15. Uniformly random int64s: every dod lands in the 64-bit bucket.
	vals := make([]int64, 1000)
	for i := range vals {
		vals[i] = int64(r.Uint64())
	}
	f("random", vals, "")
	// 16. The largest chunk.
	f("max samples", make([]int64, MaxSamples), "")
}

func TestFloatChunkRoundTrip(t *testing.T) {
	f := func(name string, vals []float64, mask string) {
		t.Helper()
		b := encodeFloats(vals, mask)
		got, present, err := DecodeFloat(b, nil, nil)
		if err != nil {
			t.Fatalf("%s: decode: %v", name, err)
		}
		wantP := wantPresent(len(vals), mask)
		if !slices.Equal(present, wantP) || len(got) != len(vals) {
			t.Fatalf("%s: present = %v (%d samples), want %v", name, present, len(got), wantP)
		}
		for i := range vals {
			want := math.Float64bits(vals[i])
			if !wantP[i] {
				want = 0
			}
			if math.Float64bits(got[i]) != want { // bit-exact: NaN payloads, -0
				t.Fatalf("%s: sample %d = %#x, want %#x (chunk %x)", name, i, math.Float64bits(got[i]), want, b)
			}
		}
	}
	nan := math.Float64frombits
	inf := math.Inf
	// 1. Single sample.
	f("single", []float64{3.25}, "")
	// 2. Constant: one '0' bit per sample.
	f("constant", []float64{0.5, 0.5, 0.5, 0.5}, "")
	// 3. NaN payloads, signalling NaN, negative NaN, ±Inf, ±0 all keep their bits.
	f("specials", []float64{nan(0x7ff8000000000001), math.NaN(), nan(0x7ff0000000000001), nan(0xfff8000000000000),
		inf(1), inf(-1), 0, math.Copysign(0, -1), 0, math.NaN()}, "")
	// 4. Extremes: XORs with 64 significant bits and with one.
	f("extremes", []float64{math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 0,
		nan(1), nan(1 << 63), nan(0), nan(1 << 63), nan(math.MaxUint64)}, "")
	// 5. Window reuse then a wider window, leading zeros beyond 31.
	f("windows", []float64{1, 1.5, 1.25, 1.125, 1e300, 1e-300, nan(0x1), nan(0x3), nan(0x2)}, "")
	// 6. Gaps at start, middle and end.
	f("gaps", []float64{0, 1.5, 0, 2.5, 0}, "_p_p_")
	// 7. All gaps.
	f("all gaps", []float64{0, 0, 0}, "___")

	r := rand.New(rand.NewPCG(3, 4))
	// 8. A noisy gauge and raw random bit patterns.
	gauge, random := make([]float64, 3600), make([]float64, 3600)
	for i := range gauge {
		gauge[i] = 100 + math.Round(r.NormFloat64()*1000)/100
		random[i] = math.Float64frombits(r.Uint64())
	}
	f("gauge", gauge, "")
	f("random", random, "")
}

// TestChunkSize pins the compression the format promises: one bit per sample
// for idle and steady series, one byte of presence info without gaps.
func TestChunkSize(t *testing.T) {
	f := func(name string, vals []int64, mask string, maxBytes int) {
		t.Helper()
		if n := len(encodeInts(vals, mask)); n > maxBytes {
			t.Errorf("%s: %d bytes, want ≤ %d", name, n, maxBytes)
		}
	}
	idle := make([]int64, 3600)
	steady := make([]int64, 3600)
	for i := range idle {
		idle[i] = 123456789
		steady[i] = 123456789 + 1000*int64(i)
	}
	// header (2 + n 2 + runs 1 + first 4) + 3599 bits + crc 4.
	f("idle", idle, "", 9+450+4)
	// as idle plus the first dod (1000: bucket 12, 16 bits).
	f("steady", steady, "", 9+452+4)
	// a gap costs 3 bytes of runs and two 16-bit dods around it.
	f("steady one gap", steady, strings.Repeat("p", 1800)+"_", 9+3+456+4)
	// The no-gap presence info is the single byte 0x00 after the count.
	if b := encodeInts([]int64{5, 5}, ""); b[3] != 0 {
		t.Errorf("presence of a chunk without gaps = %#x, want 0x00", b[3])
	}
}

// TestChunkCorruption flips every bit of a chunk and truncates it at every
// length: each must fail with a *Error, a flip as a checksum mismatch
// (or, in byte 0, an unknown version: the version is checked first).
func TestChunkCorruption(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	vals := genBursty(r, 300)
	orig := encodeInts(vals, "pp_p")
	dst, present := make([]int64, 0, 300), make([]bool, 0, 300)
	for i := range orig {
		for bit := range 8 {
			b := slices.Clone(orig)
			b[i] ^= 1 << bit
			_, _, err := DecodeInt(b, dst, present)
			want := Error{Offset: len(b) - chunkCRCLen, Reason: "checksum mismatch"}
			if i == 0 {
				want = Error{Offset: 0, Reason: fmt.Sprintf("unknown version %d", b[0])}
			}
			var ce *Error
			if !errors.As(err, &ce) || *ce != want {
				t.Fatalf("flip byte %d bit %d: err = %v, want %v", i, bit, err, &want)
			}
		}
	}
	for n := range len(orig) {
		_, _, err := DecodeInt(orig[:n], dst, present)
		var ce *Error
		if !errors.As(err, &ce) {
			t.Fatalf("truncated to %d bytes: err = %v, want *Error", n, err)
		}
		if _, _, err := DecodeFloat(orig[:n], nil, nil); !errors.As(err, &ce) {
			t.Fatalf("float, truncated to %d bytes: err = %v, want *Error", n, err)
		}
	}
}

// TestChunkRejects feeds chunks with a valid checksum but a bad or
// non-canonical body; each row names the reason the decoder must give.
func TestChunkRejects(t *testing.T) {
	f := func(name, bodyHex, reason string, float bool) {
		t.Helper()
		body, err := hex.DecodeString(strings.ReplaceAll(bodyHex, " ", ""))
		if err != nil {
			t.Fatal(err)
		}
		b := withCRC(body)
		if float {
			_, _, err = DecodeFloat(b, nil, nil)
		} else {
			_, _, err = DecodeInt(b, nil, nil)
		}
		var ce *Error
		if !errors.As(err, &ce) || !strings.Contains(ce.Reason, reason) {
			t.Errorf("%s: err = %v, want a *Error containing %q", name, err, reason)
		}
	}
	e := &Error{Offset: 7, Reason: "checksum mismatch"}
	if got, want := e.Error(), "state: bad chunk at byte 7: checksum mismatch"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	// Valid reference: 01 01 02 00 0a 00 = int chunk [5, 5].
	f("short", "01 01", "truncated", false)
	f("version", "03 01 02 00 0a 00", "unknown version", false)
	f("version 2 float", "02 02 02 00 3ff0000000000000 00", "int chunks only", true)
	f("kind", "01 02 02 00 0a 00", "kind 2, want 1", false)
	f("kind float", "01 01 02 00 0a 00", "kind 1, want 2", true)
	f("zero samples", "01 01 00 00 0a 00", "outside", false)
	f("too many samples", "01 01 81 80 04 00 0a 00", "outside", false) // 65537
	f("non-minimal count", "01 01 82 00 00 0a 00", "non-minimal", false)
	f("count overflow", "01 01 ff ff ff ff ff ff ff ff ff ff 01", "overflow", false)
	f("too many runs", "01 01 02 03 00 01 01", "more runs", false)
	f("empty inner run", "01 01 03 02 01 00 0a", "empty run", false)
	f("runs exceed n", "01 01 02 01 02 0a", "exceed", false)
	f("implied run empty", "01 01 03 02 01 02", "exceed", false)
	f("truncated run", "01 01 02 02 01", "truncated run length", false)
	f("all gaps, trailing byte", "01 01 02 01 00 00", "trailing bytes", false)
	f("non-minimal first", "01 01 02 00 8a 00 00", "bad first value", false)
	f("missing stream", "01 01 02 00 0a", "truncated bit stream", false)
	f("extra byte", "01 01 02 00 0a 00 00", "trailing bytes", false)
	f("padding", "01 01 02 00 0a 01", "non-zero padding", false)
	f("dod 0 in bucket 1", "01 01 02 00 0a 80 00", "smallest bucket", false)               // '10' 0000000
	f("dod 1 in bucket 2", "01 01 02 00 0a c0 10", "smallest bucket", false)               // '110' 000000001
	f("dod 1 in bucket 6", "01 01 02 00 0a fc 00 00 00 00 00 00 00 04", "smallest", false) // '111111' then 64 bits of 1
	// Version 2 reference: 02 01 02 00 0a 00 = int chunk [5, 5] (one '0').
	f("v2 missing stream", "02 01 02 00 0a", "truncated bit stream", false)
	f("v2 padding", "02 01 02 00 0a 01", "non-zero padding", false)
	f("v2 escape that fits", "02 01 02 00 0a ff 00", "escape", false)    // 8 ones, w−1 = 0: u = 1, fits k = 0
	f("v2 truncated escape", "02 01 02 00 0a ff 0c", "truncated", false) // w−1 = 3, bits missing
	f("float truncated first", "01 02 02 00 3f f0", "truncated first value", true)
	f("float window unset", "01 02 02 00 3ff0000000000000 80", "window reused", true)
	f("float zero in window", "01 02 03 00 3ff0000000000000 c2 0e 00", "zero XOR", true) // '11' L=1 S=1 '1', then '10' '0'
	f("float wide window", "01 02 02 00 3ff0000000000000 ff ff ff ff ff ff ff ff ff ff", "wider than 64", true)
	f("float non-canonical", "01 02 02 00 3ff0000000000000 c0 09", "non-canonical", true) // '11' L=0 S=2 '01': x has L=1
}

func TestChunkDecodeReuse(t *testing.T) {
	a := encodeInts([]int64{1, 2, 3, 4, 5, 6}, "")
	b := encodeInts([]int64{9, 0, 9}, "p_p")
	dst, present := make([]int64, 0, 8), make([]bool, 0, 8)
	dst, present, err := DecodeInt(a, dst, present)
	if err != nil {
		t.Fatal(err)
	}
	// 1. A shorter chunk overwrites the slices in place; the gap slot is 0,
	// not the stale 2 from the previous chunk.
	dst, present, err = DecodeInt(b, dst, present)
	if err != nil || !slices.Equal(dst, []int64{9, 0, 9}) || !slices.Equal(present, []bool{true, false, true}) {
		t.Fatalf("reuse: %v %v %v", dst, present, err)
	}
	// 2. With enough capacity, decoding allocates nothing.
	allocs := testing.AllocsPerRun(100, func() {
		dst, present, _ = DecodeInt(a, dst, present)
	})
	fb := encodeFloats([]float64{1, 2, 3, math.NaN()}, "pp_p")
	fdst := make([]float64, 0, 8)
	allocs += testing.AllocsPerRun(100, func() {
		fdst, present, _ = DecodeFloat(fb, fdst, present)
	})
	if allocs != 0 {
		t.Errorf("decode allocated %v times per run, want 0", allocs)
	}
}

func TestChunkEncoderReuse(t *testing.T) {
	var e IntEncoder
	for _, v := range []int64{5, 8, 13} {
		e.Append(v)
	}
	e.AppendGap()
	// 1. Bytes does not disturb the encoder: appending more afterwards gives
	// the same chunk as appending everything at once.
	mid := slices.Clone(e.Bytes())
	e.Append(21)
	if got, want := e.Bytes(), encodeInts([]int64{5, 8, 13, 0, 21}, "ppp_p"); !slices.Equal(got, want) {
		t.Fatalf("after Bytes: %x, want %x", got, want)
	}
	if want := encodeInts([]int64{5, 8, 13, 0}, "ppp_"); !slices.Equal(mid, want) {
		t.Fatalf("mid-stream Bytes: %x, want %x", mid, want)
	}
	// 2. Reset forgets everything.
	e.Reset()
	if e.Len() != 0 || e.Bytes() != nil {
		t.Fatalf("after Reset: Len %d, Bytes %x", e.Len(), e.Bytes())
	}
	e.AppendGap()
	e.Append(1)
	if got, want := e.Bytes(), encodeInts([]int64{0, 1}, "_p"); !slices.Equal(got, want) || e.Len() != 2 {
		t.Fatalf("after Reset: %x (Len %d), want %x", got, e.Len(), want)
	}
	// 3. Same for floats.
	var fe FloatEncoder
	fe.Append(1e9)
	fe.Append(-3)
	fe.Reset()
	fe.Append(2)
	if got, want := fe.Bytes(), encodeFloats([]float64{2}, ""); !slices.Equal(got, want) || fe.Len() != 1 {
		t.Fatalf("float after Reset: %x, want %x", got, want)
	}
	// 4. Appending past MaxSamples panics rather than corrupting.
	var full IntEncoder
	for range MaxSamples {
		full.AppendGap()
	}
	defer func() {
		if recover() == nil {
			t.Fatal("Append to a full chunk did not panic")
		}
	}()
	full.Append(1)
}

// Worked examples of docs/format.md. Each must be what the encoder
// produces, and must appear verbatim in the doc.
var docExamples = []struct {
	name string
	hex  string
	enc  func() []byte
}{
	{"int", "01 01 04 02 01 01 c8 01 82 80 0e fc 14 e1", func() []byte {
		return encodeInts([]int64{100, 0, 105, 110}, "p_pp")
	}},
	{"float", "01 02 04 01 03 3f f8 00 00 00 00 00 00 61 2f ff 80 3a 5c 66 6c", func() []byte {
		return encodeFloats([]float64{1.5, 1.5, 3, 0}, "ppp_")
	}},
	{"int version 2", "02 01 04 02 01 01 c8 01 ff 0d 00 91 e4 24 e2", func() []byte {
		return encodeIntsWith(IntEncoder{Adaptive: true}, []int64{100, 0, 105, 110}, "p_pp")
	}},
}

func TestDocExamples(t *testing.T) {
	doc, err := os.ReadFile("../../docs/format.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, ex := range docExamples {
		if got := hexSpaced(ex.enc()); got != ex.hex {
			t.Errorf("%s example: encoder gives %s, doc example says %s", ex.name, got, ex.hex)
		}
		if !strings.Contains(string(doc), ex.hex) {
			t.Errorf("%s example: docs/format.md does not contain %q", ex.name, ex.hex)
		}
	}
}

func hexSpaced(b []byte) string {
	s := make([]string, len(b))
	for i, c := range b {
		s[i] = hex.EncodeToString([]byte{c})
	}
	return strings.Join(s, " ")
}

// TestChunkCRC pins the trailer: big-endian CRC32C of all preceding bytes.
func TestChunkCRC(t *testing.T) {
	b := encodeInts([]int64{1, 2, 3}, "")
	body := b[:len(b)-chunkCRCLen]
	want := crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli))
	if got := binary.BigEndian.Uint32(b[len(body):]); got != want {
		t.Fatalf("trailer %#x, want CRC32C %#x", got, want)
	}
}
