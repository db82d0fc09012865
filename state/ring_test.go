package state

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kwitness/kwitness/detect"
)

// TestRingLanesAgree publishes the same random sweeps (gaps, decreases, a
// series set that grows past a block and a lane group) into a series-major
// ring and an 8-lane ring, and checks every read agrees with the values
// written: the layout is invisible to readers.
func TestRingLanesAgree(t *testing.T) {
	const slots = 7
	plain := NewMarkedRing(slots)
	plain.shift = 0
	laned := NewMarkedRing(slots)
	if laned.shift != 3 {
		t.Fatalf("marked ring lanes: shift %d, want 3", laned.shift)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var written [][]int64 // written[sweep][series]
	n := 10
	for sweep := range 40 {
		if sweep%9 == 8 {
			n += blockSeries/2 + 3 // grow mid-stream, not a multiple of 8
		}
		vals := make([]int64, n)
		for i := range vals {
			switch rng.IntN(10) {
			case 0:
				vals[i] = detect.Gap
			case 1:
				vals[i] = rng.Int64N(100) // often a decrease
			default:
				vals[i] = int64(sweep*1000 + i)
			}
		}
		ts := int64(1_000_000 + sweep*1000)
		for _, r := range []*Ring{plain, laned} {
			r.Grow(n)
			r.Publish(ts, vals)
		}
		written = append(written, vals)
		h := laned.Head()
		for _, id := range []uint32{0, 7, 8, 9, uint32(n / 2), uint32(n - 1), uint32(n + 5)} {
			want := wantRow(written, h, slots, int(id))
			a, _ := plain.ReadSeries(h, id, nil)
			b, _ := laned.ReadSeries(h, id, nil)
			if !slices.Equal(a, want) || !slices.Equal(b, want) {
				t.Fatalf("sweep %d series %d: plain %v laned %v, want %v", sweep, id, a, b, want)
			}
			for k := oldest(h, slots); k < h; k++ {
				v, ok := laned.ReadAt(h, k, id)
				if w := want[k-oldest(h, slots)]; !ok || v != w {
					t.Fatalf("sweep %d series %d ReadAt %d: %d %v, want %d", sweep, id, k, v, ok, w)
				}
			}
			if plain.Mark(id) != laned.Mark(id) {
				t.Fatalf("sweep %d series %d: marks %d and %d differ", sweep, id, plain.Mark(id), laned.Mark(id))
			}
		}
	}
	if plain.Bytes() != laned.Bytes() {
		t.Fatalf("bytes %d and %d differ", plain.Bytes(), laned.Bytes())
	}
}

// wantRow is series id's values over the readable sweeps before h: Gap where
// the series did not exist yet.
func wantRow(written [][]int64, h uint64, slots, id int) []int64 {
	var row []int64
	for k := oldest(h, slots); k < h; k++ {
		v := detect.Gap
		if id < len(written[k]) {
			v = written[k][id]
		}
		row = append(row, v)
	}
	return row
}
