package explain

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwitness/kwitness/detect"
)

// TestMostLagFirst: the selected prefix equals the fully sorted one, ties
// and gaps included.
func TestMostLagFirst(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200 {
		ps := make([]partLag, 1+rng.IntN(300))
		for i := range ps {
			ps[i] = partLag{topic: []string{"a", "b", "c"}[rng.IntN(3)], partition: int32(rng.IntN(1000)), j: i, lag: int64(rng.IntN(20))}
			if rng.IntN(10) == 0 {
				ps[i].lag = detect.Gap
			}
		}
		sorted := slices.Clone(ps)
		slices.SortFunc(sorted, byLag)
		n := 1 + rng.IntN(min(70, len(ps)))
		got := mostLagFirst(slices.Clone(ps), n)
		for i := range n {
			if byLag(got[i], sorted[i]) != 0 {
				t.Fatalf("n=%d of %d: entry %d is %+v, want %+v", n, len(ps), i, got[i], sorted[i])
			}
		}
	}
}

// TestMostLag: the k partitions with the most lag above zero, the lower
// index first on a tie, whatever the order they come in.
func TestMostLag(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		ps := make([]partLag, rng.IntN(100))
		for i := range ps {
			ps[i] = partLag{j: i, lag: int64(rng.IntN(8))}
		}
		k := 1 + rng.IntN(20)
		var want []partLag
		for _, p := range ps {
			if p.lag > 0 {
				want = append(want, p)
			}
		}
		order := func(a, b partLag) int {
			if a.lag != b.lag {
				return int(b.lag - a.lag)
			}
			return a.j - b.j
		}
		slices.SortFunc(want, order)
		want = want[:min(k, len(want))]
		got := mostLag(ps, k)
		slices.SortFunc(got, order)
		if !slices.Equal(got, want) {
			t.Fatalf("k=%d: got %v, want %v", k, got, want)
		}
	}
}
