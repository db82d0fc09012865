package chunkenc

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Benchmark inputs model a partition's log-end offset polled once a second,
// 3600 samples (one hour) per chunk, built with a fixed seed.

// genIdle: no traffic; the offset never moves.
func genIdle(r *rand.Rand, n int) []int64 {
	v := r.Int64N(1e9)
	out := make([]int64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// genSteady: a producer at a constant 100–5100 records/s.
func genSteady(r *rand.Rand, n int) []int64 {
	v, rate := r.Int64N(1e9), 100+r.Int64N(5000)
	out := make([]int64, n)
	for i := range out {
		v += rate
		out[i] = v
	}
	return out
}

// genBursty: idle, with a burst starting on average every 300 s that lasts
// 10–120 s at 1k–51k records/s with Poisson noise.
func genBursty(r *rand.Rand, n int) []int64 {
	v := r.Int64N(1e9)
	out := make([]int64, n)
	left, rate := 0, 0.0
	for i := range out {
		if left == 0 && r.IntN(300) == 0 {
			left, rate = 10+r.IntN(110), float64(1000+r.IntN(50000))
		}
		if left > 0 {
			v += poisson(r, rate)
			left--
		}
		out[i] = v
	}
	return out
}

// genNoisy: a busy producer, 100–5100 records/s with Poisson noise.
func genNoisy(r *rand.Rand, n int) []int64 {
	v, rate := r.Int64N(1e9), float64(100+r.IntN(5000))
	out := make([]int64, n)
	for i := range out {
		v += poisson(r, rate)
		out[i] = v
	}
	return out
}

// poisson approximates a Poisson(rate) count for large rates.
func poisson(r *rand.Rand, rate float64) int64 {
	return max(int64(math.Round(rate+r.NormFloat64()*math.Sqrt(rate))), 0)
}

var benchKinds = []struct {
	name string
	gen  func(*rand.Rand, int) []int64
}{
	{"idle", genIdle},
	{"steady", genSteady},
	{"bursty", genBursty},
	{"noisy", genNoisy},
}

// benchChunk is one series' samples; gap[i] marks a failed poll.
type benchChunk struct {
	vals []int64
	gap  []bool
}

const benchChunkLen = 3600

// benchSet returns the chunks of a benchmark kind: one series of a single
// kind, or for "mix" ten series in the proportions of a typical cluster
// (4 idle, 3 steady, 2 bursty, 1 noisy) with 0.1% of polls failed.
func benchSet(kind string) []benchChunk {
	r := rand.New(rand.NewPCG(42, 1))
	for _, k := range benchKinds {
		if k.name == kind {
			return []benchChunk{{vals: k.gen(r, benchChunkLen), gap: make([]bool, benchChunkLen)}}
		}
	}
	var set []benchChunk
	for i, count := range []int{4, 3, 2, 1} {
		for range count {
			c := benchChunk{vals: benchKinds[i].gen(r, benchChunkLen), gap: make([]bool, benchChunkLen)}
			for j := range c.gap {
				c.gap[j] = r.IntN(1000) == 0
			}
			set = append(set, c)
		}
	}
	return set
}

var benchKindNames = []string{"idle", "steady", "bursty", "noisy", "mix"}

// encodeBench encodes c with e and returns the chunk size in bytes.
func encodeBench(e *IntEncoder, c benchChunk) int {
	e.Reset()
	for i, v := range c.vals {
		if c.gap[i] {
			e.AppendGap()
		} else {
			e.Append(v)
		}
	}
	return len(e.Bytes())
}

// benchVersions are the int chunk versions the benchmarks encode.
var benchVersions = []IntEncoder{{}, {Adaptive: true}}

func versionName(e IntEncoder) string {
	if e.Adaptive {
		return "version=2"
	}
	return "version=1"
}

func BenchmarkChunkEncode(b *testing.B) {
	for _, kind := range benchKindNames {
		for _, proto := range benchVersions {
			b.Run("kind="+kind+"/"+versionName(proto), func(b *testing.B) {
				set := benchSet(kind)
				e := proto
				size := 0
				for _, c := range set {
					size += encodeBench(&e, c)
				}
				samples := len(set) * benchChunkLen
				b.ReportAllocs()
				for b.Loop() {
					for _, c := range set {
						encodeBench(&e, c)
					}
				}
				b.ReportMetric(float64(size)/float64(samples), "B/sample")
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*samples), "ns/sample")
			})
		}
	}
}

func BenchmarkChunkDecode(b *testing.B) {
	for _, kind := range benchKindNames {
		for _, proto := range benchVersions {
			b.Run("kind="+kind+"/"+versionName(proto), func(b *testing.B) {
				var chunks [][]byte
				e := proto
				for _, c := range benchSet(kind) {
					encodeBench(&e, c)
					chunks = append(chunks, append([]byte(nil), e.Bytes()...))
				}
				samples := len(chunks) * benchChunkLen
				dst, present := make([]int64, 0, benchChunkLen), make([]bool, 0, benchChunkLen)
				b.ReportAllocs()
				for b.Loop() {
					for _, c := range chunks {
						var err error
						if dst, present, err = DecodeInt(c, dst, present); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*samples), "ns/sample")
			})
		}
	}
}

// genGauge: a float gauge such as consumer lag in seconds, 2 decimals.
func genGauge(r *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	v := 5.0
	for i := range out {
		v = max(0, v+math.Round(r.NormFloat64()*50)/100)
		out[i] = v
	}
	return out
}

func BenchmarkFloatChunk(b *testing.B) {
	vals := genGauge(rand.New(rand.NewPCG(42, 1)), benchChunkLen)
	var e FloatEncoder
	encode := func() []byte {
		e.Reset()
		for _, v := range vals {
			e.Append(v)
		}
		return e.Bytes()
	}
	b.Run("op=encode/kind=gauge", func(b *testing.B) {
		b.ReportAllocs()
		size := len(encode())
		for b.Loop() {
			encode()
		}
		b.ReportMetric(float64(size)/benchChunkLen, "B/sample")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchChunkLen), "ns/sample")
	})
	b.Run("op=decode/kind=gauge", func(b *testing.B) {
		chunk := append([]byte(nil), encode()...)
		dst, present := make([]float64, 0, benchChunkLen), make([]bool, 0, benchChunkLen)
		b.ReportAllocs()
		for b.Loop() {
			var err error
			if dst, present, err = DecodeFloat(chunk, dst, present); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchChunkLen), "ns/sample")
	})
}
