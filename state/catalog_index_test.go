package state

import (
	"math/rand/v2"
	"testing"
)

// TestIDIndex: random adds and releases against a map: the index always
// finds exactly the registered keys, through growth and backward-shift
// deletions (a small key space forces long probe runs and reuse).
func TestIDIndex(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	c := newCatalog[SeriesKey]()
	want := map[SeriesKey]uint32{}
	keyOf := func(i int) SeriesKey {
		return SeriesKey{Metric: MetricCommitted, Group: "g", Topic: "t", Partition: int32(i)}
	}
	for step := range 200_000 {
		k := keyOf(rng.IntN(3000))
		if id, ok := want[k]; ok && rng.IntN(2) == 0 {
			c.release(id)
			delete(want, k)
		} else {
			id, added := c.add(k)
			if ok && (added || id != want[k]) {
				t.Fatalf("step %d: add(%v) = %d, %v; want %d already there", step, k, id, added, want[k])
			}
			want[k] = id
		}
		if step%5000 == 0 || step > 199_000 {
			if c.live() != len(want) {
				t.Fatalf("step %d: live %d, want %d", step, c.live(), len(want))
			}
			for i := range 3000 {
				k := keyOf(i)
				id, ok := c.lookup(k)
				wid, wok := want[k]
				if ok != wok || (ok && (id != wid || c.key(id) != k)) {
					t.Fatalf("step %d: lookup(%v) = %d, %v; want %d, %v", step, k, id, ok, wid, wok)
				}
			}
		}
	}
}
