package bench

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kwitness/kwitness/state"
)

// BenchmarkRing measures one Ring on its own, for the window's two rings at
// 1 M series: recent (Recent+1 = 7 slots, marked, in lanes of 8 series:
// state.NewMarkedRing) and history (Points = 56 slots, series-major:
// state.NewRing).
//
//   - op=write: one iteration is one Publish of every series; ns/value is
//     the cost of writing one series' value (target ≤ 10 ns, 0 allocs).
//   - op=read: one iteration reads every series' readable sweeps with
//     ReadSeries into a reused buffer; ns/value is per value returned
//     (target ≤ 2 ns, 0 allocs).
func BenchmarkRing(b *testing.B) {
	const series = 1_000_000
	for _, slots := range []int{7, 56} {
		b.Run(fmt.Sprintf("series=%d/slots=%d/op=write", series, slots), func(b *testing.B) {
			r, vals := filledRing(series, slots)
			ts := int64(t0)
			b.ReportAllocs()
			for b.Loop() {
				ts += 1000
				r.Publish(ts, vals)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*series), "ns/value")
		})
		b.Run(fmt.Sprintf("series=%d/slots=%d/op=read", series, slots), func(b *testing.B) {
			r, _ := filledRing(series, slots)
			h := r.Head()
			buf := make([]int64, 0, slots)
			read := 0
			b.ReportAllocs()
			for b.Loop() {
				for id := range uint32(series) {
					buf, _ = r.ReadSeries(h, id, buf[:0])
					read += len(buf)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(read), "ns/value")
		})
	}
}

// filledRing returns a ring of the given shape with every slot published,
// and the values of one sweep (fixed seed).
func filledRing(series, slots int) (*state.Ring, []int64) {
	rng := rand.New(rand.NewPCG(42, uint64(series)))
	vals := make([]int64, series)
	for i := range vals {
		vals[i] = rng.Int64N(1e12)
	}
	r := state.NewRing(slots)
	if slots < 8 { // the window's recent ring
		r = state.NewMarkedRing(slots)
	}
	r.Grow(series)
	for k := range slots {
		r.Publish(t0+int64(k)*1000, vals)
	}
	return r, vals
}
