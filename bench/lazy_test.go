package bench

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// eagerView loads every window before handing a group-topic out, hiding the
// lazy interface: the lag detector then judges every partition in full.
type eagerView struct{ v *state.View }

func (e eagerView) EachGroupTopic(fn func(*detect.GroupTopic)) {
	e.v.EachGroupTopic(func(gt *detect.GroupTopic) {
		for j := range gt.Partitions {
			e.v.Load(gt, j)
		}
		fn(gt)
	})
}

func (e eagerView) SeriesRef(id uint32) detect.SeriesRef { return e.v.SeriesRef(id) }

// TestLazyMatchesEager: over the benchmark estate, with gaps and rewinds
// injected, the lag detector's sweep results through the lazy view (healthy
// partitions proven OK from summaries) equal those of full evaluation at
// every sweep.
func TestLazyMatchesEager(t *testing.T) {
	e := newEstate(2000, t0)
	w, err := state.NewWindow(state.WindowConfig{Span: 3 * time.Minute, Points: 20, Recent: 6}, "bench")
	if err != nil {
		t.Fatal(err)
	}
	topo := w.BuildTopology(e.specs)
	if err := e.resolve(w); err != nil {
		t.Fatal(err)
	}
	cfg := detect.DefaultLagConfig()
	cfg.Window = 3 * time.Minute
	lazy, _ := detect.NewLagDetector(cfg)
	full, _ := detect.NewLagDetector(cfg)
	rng := rand.New(rand.NewPCG(7, 7))
	kinds := map[detect.Kind]int{}
	for sweep := range 300 {
		e.advance(e.now + 1000)
		s := w.Begin(time.UnixMilli(e.now))
		if sweep == 0 {
			s.SetTopology(topo)
			s.SetGroups(e.contexts)
		}
		for i := range e.tps {
			if rng.IntN(500) != 0 { // 0.2 % gaps
				s.Set(e.tps[i].endID, e.tps[i].end)
			}
			s.Set(e.tps[i].startID, e.tps[i].start)
		}
		for i := range e.gps {
			gp := &e.gps[i]
			if rng.IntN(20000) == 0 { // a rare reset to an earlier offset
				gp.committed = max(0, gp.committed-1000-rng.Int64N(5000))
			}
			if rng.IntN(500) != 0 {
				s.Set(gp.comID, gp.committed)
			}
		}
		w.Commit(s)
		a := lazy.Sweep(w.View())
		b := full.Sweep(eagerView{w.View()})
		if !reflect.DeepEqual(a.Observed, b.Observed) || !reflect.DeepEqual(a.Present, b.Present) {
			t.Fatalf("sweep %d: observed/present differ", sweep)
		}
		if len(a.Candidates) != len(b.Candidates) {
			t.Fatalf("sweep %d: %d candidates lazily, %d in full", sweep, len(a.Candidates), len(b.Candidates))
		}
		for i := range a.Candidates {
			x, y := a.Candidates[i], b.Candidates[i]
			kinds[x.Kind]++
			if x.Fingerprint != y.Fingerprint || x.Summary != y.Summary || !reflect.DeepEqual(x.Evidence, y.Evidence) {
				t.Fatalf("sweep %d: candidate %d differs:\n lazy %s\n full %s", sweep, i, x.Summary, y.Summary)
			}
		}
	}
	if kinds[detect.KindLagGrowing] == 0 || kinds[detect.KindOffsetRewind] == 0 {
		t.Fatalf("the estate must exercise growing and rewound partitions, got %v", kinds)
	}
	t.Logf("candidates compared by kind: %v", kinds)
}
