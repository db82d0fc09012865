package bench

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Time-lag accuracy: a simulated partition whose producer knows the true
// produce time of every record, polled once a second into a real
// state.Window (decimated history + recent ring, as kwitness keeps it); at
// every sweep the estimate of detect.EstimateTimeLag (over the window the
// view hands out) is compared with the true age of the oldest unread record.
//
// Phases, 5 minutes each: steady (200 records/s with Poisson-like jitter),
// bursty (a 6,000-record burst every 45 s, idle between), idle (nothing
// produced, the consumer stays behind), replay (the consumer is reset to an
// offset 4 minutes back and re-reads at 1.5× the produce rate). The consumer
// reads 90 % of the produce rate in the steady and bursty phases, so lag
// grows and is never trivially zero.

type lagSim struct {
	rng       *rand.Rand
	now       int64   // ms
	produced  []int64 // produce time (ms) of each offset
	committed int64
}

func (s *lagSim) produce(n int) {
	for range n {
		s.produced = append(s.produced, s.now-int64(s.rng.IntN(1000))) // within the last second
	}
	slices.Sort(s.produced[len(s.produced)-n:])
}

// truth is the true age (s) of the oldest unread record, 0 when caught up.
func (s *lagSim) truth() float64 {
	if s.committed >= int64(len(s.produced)) {
		return 0
	}
	return float64(s.now-s.produced[s.committed]) / 1000
}

type lagError struct {
	phase       string
	truth, est  float64
	extrapolate bool
}

// runTimeLagSim returns one error record per sweep with lag > 0.
func runTimeLagSim(tb testing.TB) []lagError {
	tb.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "sim")
	if err != nil {
		tb.Fatal(err)
	}
	topo := w.BuildTopology([]state.GroupTopicSpec{{Group: "g", Topic: "t", Partitions: []int32{0}}})
	ids := topo.GroupTopics[0].Parts[0].Series
	s := &lagSim{rng: rand.New(rand.NewPCG(3, 9)), now: t0}
	var out []lagError
	phases := []string{"steady", "bursty", "idle", "replay"}
	for sec := range 4 * 300 {
		phase := phases[sec/300]
		s.now += 1000
		rate := 0
		switch phase {
		case "steady":
			rate = 180 + s.rng.IntN(41)
		case "bursty":
			if sec%45 == 0 {
				rate = 6000
			}
		case "replay":
			rate = 200
			if sec == 900 {
				s.committed = max(0, int64(len(s.produced))-int64(240*200))
			}
		}
		s.produce(rate)
		end := int64(len(s.produced))
		switch phase {
		case "steady":
			s.committed = min(end, s.committed+int64(float64(rate)*0.9))
		case "bursty":
			s.committed = min(end, s.committed+120)
		case "replay":
			s.committed = min(end, s.committed+300)
		}
		sw := w.Begin(time.UnixMilli(s.now))
		if sec == 0 {
			sw.SetTopology(topo)
		}
		sw.Set(ids[detect.ColCommitted], s.committed)
		sw.Set(ids[detect.ColEnd], end)
		sw.Set(ids[detect.ColStart], 0)
		w.Commit(sw)
		if sec < 60 || s.truth() == 0 {
			continue // let the window fill first; caught-up sweeps are exact by definition
		}
		v := w.View()
		v.EachGroupTopic(func(gt *detect.GroupTopic) {
			v.Load(gt, 0)
			tl := detect.EstimateTimeLag(gt.Partitions[0].Window)
			out = append(out, lagError{phase: phase, truth: s.truth(), est: tl.Seconds, extrapolate: tl.Extrapolated})
		})
	}
	return out
}

// errorStats returns the p50 and p95 of the error measure: relative error
// |est − truth| / truth, except that an absolute error within two poll
// intervals (2 s) counts as 0 (the target's allowance for small lags).
func errorStats(errs []lagError, phase string) (p50, p95 float64, n int) {
	var rel []float64
	for _, e := range errs {
		if phase != "" && e.phase != phase {
			continue
		}
		d := math.Abs(e.est - e.truth)
		if d <= 2 {
			d = 0
		}
		rel = append(rel, d/e.truth)
	}
	if len(rel) == 0 {
		return 0, 0, 0
	}
	slices.Sort(rel)
	return rel[len(rel)/2], rel[len(rel)*95/100], len(rel)
}

// TestTimeLagAccuracy: never NaN or negative; p95 error ≤ 10 % of the true
// lag (or within two poll intervals) in every phase.
func TestTimeLagAccuracy(t *testing.T) {
	errs := runTimeLagSim(t)
	for _, e := range errs {
		if math.IsNaN(e.est) || math.IsInf(e.est, 0) || e.est < 0 {
			t.Fatalf("%s: estimate %v for true lag %.1fs", e.phase, e.est, e.truth)
		}
	}
	for _, phase := range []string{"steady", "bursty", "idle", "replay"} {
		p50, p95, n := errorStats(errs, phase)
		t.Logf("%-6s n=%3d p50=%.3f p95=%.3f (relative error; within 2 s counts as 0)", phase, n, p50, p95)
		if n == 0 || p95 > 0.10 {
			t.Errorf("%s: p95 relative error %.3f over %d sweeps, want ≤ 0.10", phase, p95, n)
		}
	}
}

// BenchmarkTimeLagAccuracy reports the same comparison as metrics.
func BenchmarkTimeLagAccuracy(b *testing.B) {
	var errs []lagError
	for b.Loop() {
		errs = runTimeLagSim(b)
	}
	p50, p95, _ := errorStats(errs, "")
	b.ReportMetric(p50*100, "p50-err-%")
	b.ReportMetric(p95*100, "p95-err-%")
}
