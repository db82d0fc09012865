package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwitness/kwitness/detect"
)

// TestRobustSlopeMatchesSortedMedian guards the selection-based median of
// detect.RobustSlope: on random inputs with many ties, duplicate x and NaN, it
// returns exactly (bit for bit) what the full-sort median returns.
func TestRobustSlopeMatchesSortedMedian(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var buf []float64
	for trial := range 20_000 {
		n := rng.IntN(130)
		xs, ys := make([]float64, n), make([]float64, n)
		x := 0.0
		for i := range n {
			x += float64(rng.IntN(3)) * 0.5 // steps of 0, 0.5 or 1 s: duplicate x too
			xs[i] = x
			switch trial % 4 {
			case 0:
				ys[i] = float64(rng.IntN(5)) // heavy ties
			case 1:
				ys[i] = float64(rng.Int64N(1e12))
			case 2:
				ys[i] = rng.NormFloat64()
			default:
				ys[i] = float64(i * 7)
				if rng.IntN(20) == 0 {
					ys[i] = math.NaN()
				}
			}
		}
		want, wantOK := sortedMedianSlope(xs, ys)
		var got float64
		var ok bool
		got, ok, buf = detect.RobustSlope(xs, ys, buf)
		if ok != wantOK || math.Float64bits(got) != math.Float64bits(want) {
			t.Fatalf("trial %d (n=%d): got %v %v, want %v %v", trial, n, got, ok, want, wantOK)
		}
	}
}

// sortedMedianSlope is RobustSlope as first written: a full sort, then the median.
func sortedMedianSlope(xs, ys []float64) (float64, bool) {
	n := len(xs)
	h := (n + 1) / 2
	var s []float64
	for i := 0; i+h < n; i++ {
		if dx := xs[i+h] - xs[i]; dx > 0 {
			s = append(s, (ys[i+h]-ys[i])/dx)
		}
	}
	switch {
	case len(s) == 0, len(s) == 1 && n < 2:
		return 0, false
	case len(s) == 1:
		return s[0], true
	}
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m], true
	}
	return (s[m-1] + s[m]) / 2, true
}
