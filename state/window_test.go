package state

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

func testWindow(t *testing.T, cfg WindowConfig) *Window {
	t.Helper()
	w, err := NewWindow(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWindowConcurrentReaders proves readers never see a half-written sweep:
// the writer publishes sweeps in which every series of sweep k holds the
// value k*1000+series; a torn read would mix values of different sweeps
// within one timestamp. Readers hammer while the writer publishes.
func TestWindowConcurrentReaders(t *testing.T) {
	cfg := WindowConfig{Span: 20 * time.Second, Points: 6, Recent: 4}
	w := testWindow(t, cfg)
	specs := []GroupTopicSpec{{Group: "g", Topic: "t", Partitions: []int32{0, 1, 2, 3, 4, 5, 6, 7}}}
	topo := w.BuildTopology(specs)
	base := time.UnixMilli(1_700_000_000_000)

	var stop atomic.Bool
	var during, samples, torn atomic.Int64 // reads while the writer runs, samples checked, torn samples
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				v := w.View()
				v.EachGroupTopic(func(gt *detect.GroupTopic) {
					for j := range gt.Partitions {
						v.Load(gt, j)
						samples.Add(int64(len(gt.Partitions[j].Window.Times)))
						checkWindow(gt.Partitions[j], &torn)
					}
				})
				if n := v.Snapshot().Sweeps; n > 0 && n < 3000 {
					during.Add(1)
				}
			}
		}()
	}
	for k := int64(1); k <= 3000; k++ {
		if k%300 == 0 { // let the readers in at least once per 300 sweeps
			waitReads(t, &during)
		}
		s := w.Begin(base.Add(time.Duration(k) * time.Second))
		s.SetTopology(topo)
		for _, e := range topo.GroupTopics {
			for _, p := range e.Parts {
				for c, id := range p.Series {
					s.Set(id, k*1000+int64(p.Partition)*10+int64(c))
				}
			}
		}
		w.Commit(s)
	}
	stop.Store(true)
	wg.Wait()
	if torn.Load() != 0 {
		t.Fatalf("%d torn samples seen over %d reads", torn.Load(), during.Load())
	}
	if during.Load() < 10 || samples.Load() == 0 {
		t.Fatalf("%d reads while the writer published, %d samples checked; want reads interleaved with the writes", during.Load(), samples.Load())
	}
}

// waitReads waits until some reader has finished another read of a
// partly written window, for up to a minute (a loaded machine).
func waitReads(t *testing.T, during *atomic.Int64) {
	t.Helper()
	n := during.Load()
	for deadline := time.Now().Add(time.Minute); during.Load() <= n+1; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no reader read the window within a minute")
		}
	}
}

// checkWindow verifies every sample belongs to the sweep of its timestamp.
func checkWindow(p detect.PartitionInput, torn *atomic.Int64) {
	win := p.Window
	for i, ts := range win.Times {
		k := (ts - 1_700_000_000_000) / 1000
		for c, col := range [][]int64{win.Committed, win.End, win.Start} {
			if col[i] != k*1000+int64(p.Partition)*10+int64(c) {
				torn.Add(1)
			}
		}
		if i > 0 && win.Times[i-1] >= ts {
			torn.Add(1)
		}
	}
}

func TestWindowMergesHistoryAndRecent(t *testing.T) {
	cfg := WindowConfig{Span: 60 * time.Second, Points: 8, Recent: 3}
	w := testWindow(t, cfg)
	topo := w.BuildTopology([]GroupTopicSpec{{Group: "g", Topic: "t", Partitions: []int32{0}}})
	base := time.UnixMilli(1_700_000_000_000)
	for k := range int64(100) {
		s := w.Begin(base.Add(time.Duration(k) * time.Second))
		s.SetTopology(topo)
		if k != 98 { // one gap, in the recent part
			s.Set(topo.GroupTopics[0].Parts[0].Series[0], k)
		}
		w.Commit(s)
	}
	var got detect.PartitionWindow
	v := w.View()
	v.EachGroupTopic(func(gt *detect.GroupTopic) { v.Load(gt, 0); got = gt.Partitions[0].Window })
	n := len(got.Times)
	if got.Times[n-1] != base.Add(99*time.Second).UnixMilli() {
		t.Fatalf("newest time %d", got.Times[n-1])
	}
	span := got.Times[n-1] - got.Times[0]
	if span < cfg.Span.Milliseconds() {
		t.Fatalf("window spans %d ms, want ≥ %d", span, cfg.Span.Milliseconds())
	}
	if got.Committed[n-2] != detect.Gap || got.Committed[n-1] != 99 || got.Committed[n-3] != 97 {
		t.Fatalf("recent values %v", got.Committed[n-3:])
	}
	if got.End[n-1] != detect.Gap {
		t.Fatal("an unset series must read as a gap, not zero")
	}
	for i := 1; i < n; i++ {
		if got.Times[i] <= got.Times[i-1] {
			t.Fatalf("times not ascending at %d: %v", i, got.Times)
		}
	}
}
