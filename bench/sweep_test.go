package bench

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// t0 is the estate's clock at setup (Unix ms), fixed so runs are comparable.
const t0 = 1_800_000_000_000

// BenchmarkSweep measures the detectors' hot path once per poll: publish one
// sweep of the estate into the window (Begin, Set of every series, Commit),
// then run the lag detector over a fresh View. One iteration is one sweep.
// A sample is one group-partition judged at one sweep: its committed offset
// plus its topic-partition's end and start offsets, which are set once per
// topic-partition and shared by every group consuming the topic.
//
// Metrics:
//   - ns/sample, ms/sweep: wall time of publish + detect.
//   - cpu-ns/sample: process CPU time of the same (all threads, GC
//     included); steadier than wall time on a busy machine.
//   - B/series: ring bytes (Window.Bytes) per registered ring series.
//   - B/gp: ring bytes per group-partition.
//   - heapB/series: Go heap in use held by the window and the lag detector
//     after setup (rings, series catalog, id map, topology, the learned
//     rhythms) per ring series.
//   - heapB/gp: the same per group-partition: the all-in memory budget.
//   - rhythmB/gp: the lag detector's learned rhythms per group-partition.
//   - cand/sweep: lag candidates, a check that the lagging consumers are seen.
func BenchmarkSweep(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) { benchSweep(b, n) })
	}
}

func benchSweep(b *testing.B, n int) {
	f := newSweepFixture(b, n)
	b.Log(f.e.mix())
	cands := 0
	var cpu time.Duration // process CPU time of the timed part, all threads
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		f.e.advance(f.e.now + 1000) // the next poll's offsets: the estate, not kwitness
		b.StartTimer()
		start := cpuTime()
		f.publish(nil)
		cands += len(f.det.Sweep(f.w.View()).Candidates)
		cpu += cpuTime() - start
	}
	if cands == 0 {
		b.Fatal("no lag candidates: the estate's lagging consumers were not detected")
	}
	ring := f.w.Snapshot().Series
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(ns/float64(b.N*n), "ns/sample")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/sample")
	}
	b.ReportMetric(ns/1e6/float64(b.N), "ms/sweep")
	b.ReportMetric(float64(f.w.Bytes())/float64(ring), "B/series")
	b.ReportMetric(float64(f.w.Bytes())/float64(n), "B/gp")
	b.ReportMetric(float64(f.heap)/float64(ring), "heapB/series")
	b.ReportMetric(float64(f.heap)/float64(n), "heapB/gp")
	b.ReportMetric(float64(f.det.RhythmBytes())/float64(n), "rhythmB/gp")
	b.ReportMetric(float64(cands)/float64(b.N), "cand/sweep")
}

type sweepFixture struct {
	e    *estate
	w    *state.Window
	det  *detect.LagDetector
	heap uint64 // heap in use held by the window and the detector after setup, bytes
}

// newSweepFixture builds an estate of n group-partitions and a window with
// full history: Points sweeps spaced one history step apart (each lands in
// the decimated ring too), then Recent+1 sweeps one second apart, so the
// View covers the whole span as it does after ten minutes of polling. The
// detector judges every one of those sweeps, as it does in production, so
// the timed sweeps run against learned rhythms.
func newSweepFixture(b *testing.B, n int) *sweepFixture {
	b.Helper()
	f := &sweepFixture{e: newEstate(n, t0)}
	cfg := state.DefaultWindowConfig()
	var err error
	if f.det, err = detect.NewLagDetector(detect.DefaultLagConfig()); err != nil {
		b.Fatal(err)
	}
	before := heapInUse()
	if f.w, err = state.NewWindow(cfg, "bench"); err != nil {
		b.Fatal(err)
	}
	topo := f.w.BuildTopology(f.e.specs)
	if err := f.e.resolve(f.w); err != nil {
		b.Fatal(err)
	}
	first := true
	step := (cfg.Span.Milliseconds() + int64(cfg.Points-3)) / int64(cfg.Points-2) // the window's history step
	for range cfg.Points {
		f.e.advance(f.e.now + step)
		if first {
			f.publish(topo)
			first = false
		} else {
			f.publish(nil)
		}
		f.det.Sweep(f.w.View())
	}
	for range cfg.Recent + 1 {
		f.e.advance(f.e.now + 1000)
		f.publish(nil)
		f.det.Sweep(f.w.View())
	}
	f.heap = heapInUse() - before
	return f
}

// publish writes the estate's current offsets as one sweep. The first sweep
// also publishes the topology and group contexts; later sweeps inherit them.
func (f *sweepFixture) publish(topo *state.Topology) {
	s := f.w.Begin(time.UnixMilli(f.e.now))
	if topo != nil {
		s.SetTopology(topo)
		s.SetGroups(f.e.contexts)
	}
	for i := range f.e.tps {
		tp := &f.e.tps[i]
		s.Set(tp.endID, tp.end)
		s.Set(tp.startID, tp.start)
	}
	for i := range f.e.gps {
		s.Set(f.e.gps[i].comID, f.e.gps[i].committed)
	}
	f.w.Commit(s)
}

// heapInUse is the heap in use after a full collection, bytes.
func heapInUse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}
