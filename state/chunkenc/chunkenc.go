// Package chunkenc is the chunk codec of the store: one compressed value
// column of one series, aligned to a range of sweep indexes [start, start+n).
// The start index lives in the store key and timestamps are not stored per
// series: each sweep's timestamp is stored once, in a timestamp column
// encoded as an int chunk like any other. It is a leaf: it imports nothing of
// the store, which imports it (as Prometheus keeps tsdb/chunkenc).
//
// A chunk is
//
//	version(1) kind(1) n(uvarint) presence first-value bit-stream crc32c(4)
//
// presence is run-length coded (a chunk without gaps spends one byte on it);
// int columns are bit-packed delta-of-delta in variable-width buckets (one bit
// per sample while the rate is constant); float columns use Gorilla XOR
// coding; the CRC32C trailer covers every preceding byte. docs/format.md
// specifies every bit.
//
// Contract:
//   - Round trip: every int64 and every float64 bit pattern (NaN payloads,
//     ±Inf, -0) decodes to exactly what was appended, absent samples as
//     absent.
//   - Canonical: any byte string the decoders accept is exactly what the
//     encoders produce for the decoded samples (FuzzIntChunkRoundTrip,
//     FuzzDecodeIntChunk and their float twins check it).
//   - Untrusted input: DecodeInt and DecodeFloat never panic and allocate at
//     most MaxSamples values; an undecodable chunk is an *Error naming the
//     byte offset.
//   - Encoders are not safe for concurrent use; their zero value is empty.
package chunkenc

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"math/bits"
	"unsafe"
)

const (
	// Version is the format version written in byte 0 of float chunks and
	// of int chunks an IntEncoder writes without Adaptive: delta-of-delta
	// buckets.
	Version = 1
	// VersionAdaptive is the format version of int chunks an IntEncoder
	// writes with Adaptive: adaptive Rice codes (adaptive.go). Decoders
	// read both versions.
	VersionAdaptive = 2

	// MaxSamples is the largest sample count (present + absent) a chunk
	// may hold. It bounds what a decoder allocates for untrusted input.
	MaxSamples = 1 << 16

	chunkKindInt   = 1 // delta-of-delta int64 column
	chunkKindFloat = 2 // Gorilla XOR float64 column

	chunkCRCLen = 4 // CRC32C trailer, big-endian
	// minChunkLen is version + kind + n + run count + trailer.
	minChunkLen = 1 + 1 + 1 + 1 + chunkCRCLen
)

var chunkCRCTable = crc32.MakeTable(crc32.Castagnoli)

// Error reports a chunk that cannot be decoded: truncated, corrupt
// (checksum mismatch or a non-canonical field), of an unknown version, or of
// another kind than the decoder expects.
type Error struct {
	Offset int    // byte offset in the chunk where the problem was detected
	Reason string // what was wrong
}

func (e *Error) Error() string {
	return fmt.Sprintf("state: bad chunk at byte %d: %s", e.Offset, e.Reason)
}

func chunkErr(off int, reason string) *Error {
	return &Error{Offset: off, Reason: reason}
}

// ---- bit stream ----

// bitWriter packs bit fields MSB-first into bytes.
type bitWriter struct {
	buf  []byte // completed 64-bit words, big-endian
	acc  uint64 // pending bits, right-aligned
	nacc uint   // number of pending bits, 0..63
}

// write appends the low n bits of v (1 ≤ n ≤ 64); v must have no higher bits set.
func (w *bitWriter) write(v uint64, n uint) {
	free := 64 - w.nacc
	if n < free {
		w.acc = w.acc<<n | v
		w.nacc += n
		return
	}
	rest := n - free // bits of v that do not fit in this word
	w.buf = binary.BigEndian.AppendUint64(w.buf, w.acc<<free|v>>rest)
	w.acc = v & (1<<rest - 1)
	w.nacc = rest
}

// appendTo appends the stream, zero-padded to a whole byte, to dst.
// It does not change the writer.
func (w *bitWriter) appendTo(dst []byte) []byte {
	dst = append(dst, w.buf...)
	tail := w.acc << (64 - w.nacc) // left-aligned; zero when nacc == 0
	for i := uint(0); i < w.nacc; i += 8 {
		dst = append(dst, byte(tail>>56))
		tail <<= 8
	}
	return dst
}

func (w *bitWriter) reset() {
	w.buf, w.acc, w.nacc = w.buf[:0], 0, 0
}

// bitReader reads MSB-first bit fields from b.
type bitReader struct {
	b    []byte // the bit stream
	base int    // offset of b[0] in the chunk, for errors
	pos  int    // next byte of b to load into acc
	acc  uint64 // buffered bits, left-aligned; bits below nacc are zero
	nacc uint   // number of buffered bits
}

// refill loads whole bytes until acc holds more than 56 bits or b is exhausted.
func (r *bitReader) refill() {
	if r.pos+8 <= len(r.b) {
		nb := (64 - r.nacc) / 8 // whole bytes that fit
		word := binary.BigEndian.Uint64(r.b[r.pos:])
		r.acc |= word >> (64 - 8*nb) << (64 - r.nacc - 8*nb)
		r.pos += int(nb)
		r.nacc += 8 * nb
		return
	}
	for r.nacc <= 56 && r.pos < len(r.b) {
		r.acc |= uint64(r.b[r.pos]) << (56 - r.nacc)
		r.pos++
		r.nacc += 8
	}
}

// read returns the next n bits (1 ≤ n ≤ 56) right-aligned; ok is false if
// the stream holds fewer than n bits.
func (r *bitReader) read(n uint) (v uint64, ok bool) {
	if r.nacc < n {
		r.refill()
		if r.nacc < n {
			return 0, false
		}
	}
	v = r.acc >> (64 - n)
	r.acc <<= n
	r.nacc -= n
	return v, true
}

// read64 is read for 1 ≤ n ≤ 64.
func (r *bitReader) read64(n uint) (uint64, bool) {
	if n <= 56 {
		return r.read(n)
	}
	hi, ok1 := r.read(n - 32)
	lo, ok2 := r.read(32)
	return hi<<32 | lo, ok1 && ok2
}

// ones consumes a unary prefix: up to max one-bits, stopping after the
// first zero-bit. It returns the number of one-bits read.
func (r *bitReader) ones(max int) (int, bool) {
	if r.nacc < uint(max) {
		r.refill()
	}
	if r.nacc >= uint(max) { // fast path: the whole prefix is buffered
		j := bits.LeadingZeros64(^r.acc)
		if j >= max {
			j = max
			r.acc <<= uint(j)
			r.nacc -= uint(j)
		} else {
			r.acc <<= uint(j + 1)
			r.nacc -= uint(j + 1)
		}
		return j, true
	}
	for j := 0; j < max; j++ {
		bit, ok := r.read(1)
		if !ok {
			return 0, false
		}
		if bit == 0 {
			return j, true
		}
	}
	return max, true
}

// offset is the chunk byte offset of the next unread bit.
func (r *bitReader) offset() int {
	return r.base + r.pos - int(r.nacc/8)
}

// finish checks that the stream ends here: fewer than 8 bits remain and
// they are all zero.
func (r *bitReader) finish() *Error {
	r.refill()
	if r.pos != len(r.b) || r.nacc >= 8 {
		return chunkErr(r.offset(), "trailing bytes after last sample")
	}
	if r.acc != 0 {
		return chunkErr(r.offset(), "non-zero padding bits")
	}
	return nil
}

// ---- header and presence ----

// presenceRuns tracks the presence column of a chunk being encoded as runs.
// The zero value is an empty chunk whose current run is a present run.
type presenceRuns struct {
	runs  []uint32 // completed runs, alternating present/absent, present first
	cur   uint32   // length of the current (last) run
	inGap bool     // the current run is an absent run
	n     int      // samples so far
}

// add records one sample. It panics if the chunk already holds MaxSamples.
func (p *presenceRuns) add(present bool) {
	if p.n >= MaxSamples {
		panic("state: chunk already holds MaxSamples samples")
	}
	if p.inGap == present { // run kind changes
		p.runs = append(p.runs, p.cur)
		p.cur, p.inGap = 0, !present
	}
	p.cur++
	p.n++
}

func (p *presenceRuns) reset() {
	*p = presenceRuns{runs: p.runs[:0]}
}

// appendHeader appends version, kind, n and the presence runs to dst. The
// last run is implied by n, so a chunk without gaps writes a single 0x00.
func appendHeader(dst []byte, version, kind byte, p *presenceRuns) []byte {
	dst = append(dst, version, kind)
	dst = binary.AppendUvarint(dst, uint64(p.n))
	dst = binary.AppendUvarint(dst, uint64(len(p.runs)))
	for _, r := range p.runs {
		dst = binary.AppendUvarint(dst, uint64(r))
	}
	return dst
}

// appendCRC appends the big-endian CRC32C of b to b.
func appendCRC(b []byte) []byte {
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, chunkCRCTable))
}

// chunkHeader is what readHeader learned about a chunk.
type chunkHeader struct {
	version  byte
	n        int    // samples, present and absent
	nPresent int    // present samples
	body     []byte // chunk without its CRC trailer
	off      int    // offset in body of the first value
}

// readUvarint reads a minimally encoded uvarint at b[off:].
func readUvarint(b []byte, off int, what string) (uint64, int, *Error) {
	v, k := binary.Uvarint(b[off:])
	switch {
	case k == 0:
		return 0, off, chunkErr(off, "truncated "+what)
	case k < 0:
		return 0, off, chunkErr(off, what+" overflows 64 bits")
	case k > 1 && b[off+k-1] == 0:
		return 0, off, chunkErr(off, "non-minimal varint for "+what)
	}
	return v, off + k, nil
}

// checkFrame checks, in this order, the length, version, checksum and kind
// of chunk b, and returns b without its CRC trailer. The version comes first
// because a later version may frame chunks differently.
func checkFrame(b []byte, kind byte) ([]byte, *Error) {
	if len(b) < minChunkLen {
		return nil, chunkErr(len(b), "truncated: shorter than the minimal chunk")
	}
	if b[0] != Version && b[0] != VersionAdaptive {
		return nil, chunkErr(0, fmt.Sprintf("unknown version %d", b[0]))
	}
	body := b[:len(b)-chunkCRCLen]
	if crc32.Checksum(body, chunkCRCTable) != binary.BigEndian.Uint32(b[len(body):]) {
		return nil, chunkErr(len(body), "checksum mismatch")
	}
	if b[1] != kind {
		return nil, chunkErr(1, fmt.Sprintf("kind %d, want %d", b[1], kind))
	}
	if b[0] == VersionAdaptive && kind != chunkKindInt {
		return nil, chunkErr(0, fmt.Sprintf("version %d is for int chunks only", b[0]))
	}
	return body, nil
}

// readHeader checks the frame of b and decodes its header, storing the
// presence column in present[:n] (resized as needed).
func readHeader(b []byte, kind byte, present []bool) (chunkHeader, []bool, *Error) {
	var h chunkHeader
	var err *Error
	if h.body, err = checkFrame(b, kind); err != nil {
		return h, present, err
	}
	h.version = b[0]
	n, off, err := readUvarint(h.body, 2, "sample count")
	if err != nil {
		return h, present, err
	}
	if n == 0 || n > MaxSamples {
		return h, present, chunkErr(2, fmt.Sprintf("sample count %d outside [1, %d]", n, MaxSamples))
	}
	h.n = int(n)
	present = sliceOfLen(present, h.n)
	h.nPresent, h.off, err = readPresence(h.body, off, present)
	return h, present, err
}

// readPresence decodes the presence runs at body[off:] into present (len n)
// and returns the number of present samples and the offset after the runs.
func readPresence(body []byte, off int, present []bool) (int, int, *Error) {
	n := uint64(len(present))
	kAt := off
	k, off, err := readUvarint(body, off, "run count")
	if err != nil {
		return 0, off, err
	}
	if k > n { // only the first run may be empty
		return 0, kAt, chunkErr(kAt, "more runs than samples")
	}
	var at, nPresent uint64
	isPresent := true
	for i := uint64(0); i < k; i++ {
		start := off
		var r uint64
		if r, off, err = readUvarint(body, off, "run length"); err != nil {
			return 0, off, err
		}
		if r == 0 && i > 0 {
			return 0, start, chunkErr(start, "empty run")
		}
		if r >= n-at { // the implied last run must be non-empty
			return 0, start, chunkErr(start, "runs exceed sample count")
		}
		fillBools(present[at:at+r], isPresent)
		if isPresent {
			nPresent += r
		}
		at += r
		isPresent = !isPresent
	}
	fillBools(present[at:], isPresent)
	if isPresent {
		nPresent += n - at
	}
	return int(nPresent), off, nil
}

func fillBools(p []bool, v bool) {
	for i := range p {
		p[i] = v
	}
}

// sliceOfLen returns s with length n, reusing its backing array when it can.
func sliceOfLen[T any](s []T, n int) []T {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]T, n)
}

// ---- int column ----

// Delta-of-delta buckets. A dod is written as a unary prefix of j one-bits
// (terminated by a zero-bit unless j is the last bucket) followed by the dod
// in intBucketWidth[j] bits of two's complement. The encoder always picks the
// smallest bucket whose range holds the dod.
var intBucketWidth = [...]uint{0, 7, 9, 12, 20, 32, 64}

const lastIntBucket = len(intBucketWidth) - 1

// fitsBits reports whether x is in [-2^(w-1), 2^(w-1)).
func fitsBits(x int64, w uint) bool {
	return -1<<(w-1) <= x && x < 1<<(w-1)
}

// IntEncoder builds an int64 chunk (offsets, byte counts, timestamps in
// milliseconds). Values are stored as delta-of-delta over the present
// samples (Version), or with Adaptive as adaptive Rice codes of the deltas'
// residuals from a prediction (VersionAdaptive): either way a constant or
// constant-rate series costs one bit per sample. Every int64 round-trips
// exactly (arithmetic wraps).
//
// The zero value is an empty encoder writing Version chunks. It is not safe
// for concurrent use.
type IntEncoder struct {
	// Adaptive selects the VersionAdaptive stream; set it before the first
	// Append. Reset keeps it.
	Adaptive bool

	rice     riceState
	p        presenceRuns
	w        bitWriter
	nPresent int
	first    int64 // first present value
	prev     int64 // last present value
	delta    int64 // last delta between present values
	out      []byte
}

// Append adds a present sample. It panics if Len() == MaxSamples.
func (e *IntEncoder) Append(v int64) {
	e.p.add(true)
	e.nPresent++
	if e.nPresent == 1 {
		e.first, e.prev = v, v
		return
	}
	d := v - e.prev
	if e.Adaptive {
		e.w.writeRice(&e.rice, d)
	} else {
		e.writeDod(d - e.delta)
	}
	e.prev, e.delta = v, d
}

func (e *IntEncoder) writeDod(dod int64) {
	if dod == 0 {
		e.w.write(0, 1)
		return
	}
	for j := 1; j < lastIntBucket; j++ {
		if w := intBucketWidth[j]; fitsBits(dod, w) {
			prefix := uint64(1)<<(j+1) - 2 // j ones and a zero
			e.w.write(prefix<<w|uint64(dod)&(1<<w-1), uint(j+1)+w)
			return
		}
	}
	e.w.write(1<<lastIntBucket-1, uint(lastIntBucket))
	e.w.write(uint64(dod), 64)
}

// AppendGap adds an absent sample (the poll failed). It panics if
// Len() == MaxSamples.
func (e *IntEncoder) AppendGap() { e.p.add(false) }

// Len returns the number of samples appended, present and absent.
func (e *IntEncoder) Len() int { return e.p.n }

// Present returns the number of present samples appended.
func (e *IntEncoder) Present() int { return e.nPresent }

// Reset empties the encoder, keeping its buffers.
func (e *IntEncoder) Reset() {
	e.p.reset()
	e.w.reset()
	e.nPresent, e.first, e.prev, e.delta, e.rice = 0, 0, 0, 0, riceState{}
}

// Bytes returns the encoded chunk, or nil if no sample was appended. The
// slice is owned by the encoder and valid until its next method call; more
// samples may be appended afterwards.
func (e *IntEncoder) Bytes() []byte {
	if e.p.n == 0 {
		return nil
	}
	version := byte(Version)
	if e.Adaptive {
		version = VersionAdaptive
	}
	out := appendHeader(e.out[:0], version, chunkKindInt, &e.p)
	if e.nPresent > 0 {
		out = binary.AppendVarint(out, e.first)
	}
	e.out = appendCRC(e.w.appendTo(out))
	return e.out
}

// DecodeInt decodes an int chunk into dst[:n] and present[:n], where n
// is the chunk's sample count; present[i] reports whether sample i was
// present, and dst[i] is 0 when it was not. Both slices are reused when their
// capacity suffices (then decoding does not allocate) and grown otherwise.
// On error it returns a *Error, and the contents of dst and present are
// unspecified. It never panics, whatever b holds.
func DecodeInt(b []byte, dst []int64, present []bool) ([]int64, []bool, error) {
	return decode(b, chunkKindInt, dst, present)
}

// decode is DecodeInt and DecodeFloat: the header and presence runs, then
// the values of the present samples.
func decode[T int64 | float64](b []byte, kind byte, dst []T, present []bool) ([]T, []bool, error) {
	h, present, err := readHeader(b, kind, present)
	if err == nil {
		dst = sliceOfLen(dst, h.n)
		err = decodeValues(h, kind, asBits(dst), present)
	}
	if err != nil {
		return dst, present, err
	}
	return dst, present, nil
}

// decodeValues decodes the bits of a chunk's values, which follow its
// header, into dst.
func decodeValues(h chunkHeader, kind byte, dst []uint64, present []bool) *Error {
	if h.nPresent == 0 {
		clear(dst)
		if h.off != len(h.body) {
			return chunkErr(h.off, "trailing bytes after last sample")
		}
		return nil
	}
	c := column{kind: kind, version: h.version}
	if err := c.first(h); err != nil {
		return err
	}
	seen := false
	for i := range dst {
		switch {
		case !present[i]:
			dst[i] = 0
			continue
		case seen:
			if err := c.next(); err != nil {
				return err
			}
		}
		seen = true
		dst[i] = c.prev
	}
	return c.r.finish()
}

// asBits views s as the bits of its values: an int64 in two's complement,
// a float64 in IEEE 754 (the reinterpretation math.Float64frombits makes),
// both 8 bytes wide.
func asBits[T int64 | float64](s []T) []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(unsafe.SliceData(s))), len(s))
}

// column is the decoding state of one chunk's values: the bit stream, and
// the bits of the last value with the state its kind needs to read the next
// (the last delta of an int column, the XOR window of a float column).
type column struct {
	kind    byte
	version byte
	rice    riceState // int columns of VersionAdaptive
	r       bitReader
	prev    uint64
	delta   int64     // int columns
	win     xorWindow // float columns
}

// first reads the first present value, which follows the header.
func (c *column) first(h chunkHeader) *Error {
	off := h.off
	if c.kind == chunkKindInt {
		first, k := binary.Varint(h.body[off:])
		if k <= 0 || (k > 1 && h.body[off+k-1] == 0) {
			return chunkErr(off, "bad first value")
		}
		c.prev, off = uint64(first), off+k
	} else {
		if len(h.body)-off < 8 {
			return chunkErr(off, "truncated first value")
		}
		c.prev, off = binary.BigEndian.Uint64(h.body[off:]), off+8
	}
	c.r = bitReader{b: h.body[off:], base: off}
	return nil
}

// next reads the next present value from the bit stream.
func (c *column) next() *Error {
	if c.kind == chunkKindInt && c.version == VersionAdaptive {
		d, err := c.r.readRice(&c.rice)
		c.prev = uint64(int64(c.prev) + d)
		return err
	}
	if c.kind == chunkKindInt {
		dod, err := c.r.readDod()
		c.delta += dod
		c.prev = uint64(int64(c.prev) + c.delta)
		return err
	}
	x, err := c.r.readXOR(&c.win)
	c.prev ^= x
	return err
}

// readDod reads one delta-of-delta and checks that it sits in the smallest
// bucket that holds it.
func (r *bitReader) readDod() (int64, *Error) {
	at := r.offset()
	j, ok := r.ones(lastIntBucket)
	if !ok {
		return 0, chunkErr(at, "truncated bit stream")
	}
	if j == 0 {
		return 0, nil
	}
	w := intBucketWidth[j]
	u, ok := r.read64(w)
	if !ok {
		return 0, chunkErr(at, "truncated bit stream")
	}
	dod := int64(u<<(64-w)) >> (64 - w) // sign-extend
	if dod == 0 || (j > 1 && fitsBits(dod, intBucketWidth[j-1])) {
		return 0, chunkErr(at, "delta-of-delta not in its smallest bucket")
	}
	return dod, nil
}

// ---- float column ----

// Float XOR coding. Each present value after the first is XORed with the
// previous one; x is that XOR, L = min(leading zeros of x, maxLeading) and
// T its trailing zeros.
//
//	'0'                      x == 0
//	'10' bits                x fits the current window: its 64-wL-wT middle bits
//	'11' L(5) S(6) bits      a new window; S = 64-L-T significant bits (64 as 0)
const (
	maxLeading = 31 // largest L that fits 5 bits
)

// FloatEncoder builds a float64 chunk with Gorilla XOR coding. Values
// round-trip bit-exactly, including NaN payloads, ±Inf and -0.
//
// The zero value is an empty encoder. It is not safe for concurrent use.
type FloatEncoder struct {
	p        presenceRuns
	w        bitWriter
	nPresent int
	first    uint64 // bits of the first present value
	prev     uint64 // bits of the last present value
	win      xorWindow
	out      []byte
}

// xorWindow is the leading/trailing zero window of the last '11' record.
type xorWindow struct {
	set     bool
	lead    uint // 0..maxLeading
	trail   uint
	sigBits uint // 64 - lead - trail
}

// fits reports whether x (non-zero) can be written in the window.
func (w *xorWindow) fits(lead, trail uint) bool {
	return w.set && lead >= w.lead && trail >= w.trail
}

// Append adds a present sample. It panics if Len() == MaxSamples.
func (e *FloatEncoder) Append(v float64) {
	e.p.add(true)
	e.nPresent++
	u := math.Float64bits(v)
	if e.nPresent == 1 {
		e.first, e.prev = u, u
		return
	}
	e.writeXOR(u ^ e.prev)
	e.prev = u
}

func (e *FloatEncoder) writeXOR(x uint64) {
	if x == 0 {
		e.w.write(0, 1)
		return
	}
	lead := min(uint(bits.LeadingZeros64(x)), maxLeading)
	trail := uint(bits.TrailingZeros64(x))
	if e.win.fits(lead, trail) {
		e.w.write(0b10, 2)
		e.w.write(x>>e.win.trail, e.win.sigBits)
		return
	}
	sig := 64 - lead - trail
	e.win = xorWindow{set: true, lead: lead, trail: trail, sigBits: sig}
	e.w.write(0b11<<11|uint64(lead)<<6|uint64(sig&63), 13)
	e.w.write(x>>trail, sig)
}

// AppendGap adds an absent sample (the poll failed). It panics if
// Len() == MaxSamples.
func (e *FloatEncoder) AppendGap() { e.p.add(false) }

// Len returns the number of samples appended, present and absent.
func (e *FloatEncoder) Len() int { return e.p.n }

// Present returns the number of present samples appended.
func (e *FloatEncoder) Present() int { return e.nPresent }

// Reset empties the encoder, keeping its buffers.
func (e *FloatEncoder) Reset() {
	e.p.reset()
	e.w.reset()
	e.nPresent, e.first, e.prev, e.win = 0, 0, 0, xorWindow{}
}

// Bytes returns the encoded chunk, or nil if no sample was appended. The
// slice is owned by the encoder and valid until its next method call; more
// samples may be appended afterwards.
func (e *FloatEncoder) Bytes() []byte {
	if e.p.n == 0 {
		return nil
	}
	out := appendHeader(e.out[:0], Version, chunkKindFloat, &e.p)
	if e.nPresent > 0 {
		out = binary.BigEndian.AppendUint64(out, e.first)
	}
	e.out = appendCRC(e.w.appendTo(out))
	return e.out
}

// DecodeFloat decodes a float chunk into dst[:n] and present[:n], with
// the same contract as DecodeInt: dst[i] is 0 where present[i] is
// false, slices are reused when large enough (no allocation), errors are
// *Error, and no input makes it panic.
func DecodeFloat(b []byte, dst []float64, present []bool) ([]float64, []bool, error) {
	return decode(b, chunkKindFloat, dst, present)
}

// readXOR reads one XOR record, updating win, and checks that it is the
// record the encoder would have written.
func (r *bitReader) readXOR(win *xorWindow) (uint64, *Error) {
	at := r.offset()
	j, ok := r.ones(2)
	switch {
	case !ok:
		return 0, chunkErr(at, "truncated bit stream")
	case j == 0:
		return 0, nil
	case j == 1:
		if !win.set {
			return 0, chunkErr(at, "window reused before one was set")
		}
		v, ok := r.read64(win.sigBits)
		if !ok {
			return 0, chunkErr(at, "truncated bit stream")
		}
		if v == 0 {
			return 0, chunkErr(at, "zero XOR in a window record")
		}
		return v << win.trail, nil
	}
	return r.readXORWindow(win, at)
}

// readXORWindow reads the body of a '11' record at chunk offset at.
func (r *bitReader) readXORWindow(win *xorWindow, at int) (uint64, *Error) {
	ls, ok := r.read(11)
	if !ok {
		return 0, chunkErr(at, "truncated bit stream")
	}
	lead, sig := uint(ls>>6), uint(ls&63)
	if sig == 0 {
		sig = 64
	}
	if lead+sig > 64 {
		return 0, chunkErr(at, "XOR window wider than 64 bits")
	}
	v, ok := r.read64(sig)
	if !ok {
		return 0, chunkErr(at, "truncated bit stream")
	}
	trail := 64 - lead - sig
	x := v << trail
	if x == 0 || min(uint(bits.LeadingZeros64(x)), maxLeading) != lead ||
		uint(bits.TrailingZeros64(x)) != trail || win.fits(lead, trail) {
		return 0, chunkErr(at, "non-canonical XOR window")
	}
	*win = xorWindow{set: true, lead: lead, trail: trail, sigBits: sig}
	return x, nil
}
