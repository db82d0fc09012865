package detect

import (
	"math"
	"testing"
	"time"
)

// idleCounter builds the cumulative idle counter (ns) of a pool whose idle
// ratio in minute i is ratios[i] (NaN: the sample is missing while the
// counter keeps running at the previous ratio), scaled by k (1 for Kafka's
// per-pool mean, threads for an undivided sum). reset, if ≥ 0, restarts the
// counter 10 s before the end of that minute.
func idleCounter(ratios []float64, k float64, reset int) []float64 {
	out := make([]float64, len(ratios))
	c, last := 1e15, 0.0 // a broker that has been up for weeks
	for i, r := range ratios {
		if math.IsNaN(r) {
			out[i] = math.NaN()
			c += last * 60e9 * k
			continue
		}
		c, last = c+r*60e9*k, r
		if i == reset {
			c = r * 10e9 * k
		}
		out[i] = c
	}
	return out
}

// TestHandlerSaturationTable: one sample a minute; the idle ratio must stay
// under 0.3 for 10 min.
func TestHandlerSaturationTable(t *testing.T) {
	const step = time.Minute
	f := func(n int, counter []float64, mode string, threads int, want string) {
		t.Helper()
		b := broker(1, step, map[Signal][]float64{SigHandlerIdleCounter: counter})
		b.HandlerThreads = threads
		res := sweepOnce(t, clusterOf(step, nil, b), func(c *BrokerConfig) { c.HandlerIdleCounter = mode })
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: 80 % idle.
	f(1, idleCounter(vals("0.8*30"), 1, -1), IdleCounterMean, 8, "| obs=1,c")
	// 2: 20 % idle for the last 10 intervals: saturated.
	f(2, idleCounter(vals("0.8*19 0.2*11"), 1, -1), IdleCounterMean, 8, "REQUEST_HANDLER_SATURATION@1:warning | obs=1,c")
	// 3: 20 % idle for 7 min only.
	f(3, idleCounter(vals("0.8*22 0.2*8"), 1, -1), IdleCounterMean, 8, "| obs=1,c")
	// 4: two idle hours before do not hide it: the rate, not the lifetime mean, counts.
	f(4, idleCounter(vals("0.95*120 0.2*11"), 1, -1), IdleCounterMean, 8, "REQUEST_HANDLER_SATURATION@1:warning | obs=1,c")
	// 5: busy for two hours but idle again now: OK though the window's mean is low.
	f(5, idleCounter(vals("0.1*120 0.8*5"), 1, -1), IdleCounterMean, 8, "| obs=1,c")
	// 6: a counter reset (broker restart) is one short interval, not saturation.
	f(6, idleCounter(vals("0.8*40"), 1, 25), IdleCounterMean, 8, "| obs=1,c")
	// 7: saturated across a 3-minute gap: the rate spans the gap.
	f(7, idleCounter(vals("0.8*10 0.2*15 _*3 0.2*5"), 1, -1), IdleCounterMean, 8, "REQUEST_HANDLER_SATURATION@1:warning | obs=1,c")
	// 8: an undivided sum over 8 threads, read as such: 20 % idle, saturated.
	f(8, idleCounter(vals("0.8*19 0.2*11"), 8, -1), IdleCounterSum, 8, "REQUEST_HANDLER_SATURATION@1:warning | obs=1,c")
	// 9: the same counter read as Kafka's mean meter: 160 %, not saturated.
	f(9, idleCounter(vals("0.8*19 0.2*11"), 8, -1), IdleCounterMean, 8, "| obs=1,c")
	// 10: sum mode with the thread count unknown: not judged.
	f(10, idleCounter(vals("0.8*19 0.2*11"), 8, -1), IdleCounterSum, 0, "| obs=1,c")
	// 11: newest sample missing: not judged, held.
	f(11, idleCounter(vals("0.2*30 _"), 1, -1), IdleCounterMean, 8, "| obs=c")
}

// TestLatencyRegressionTable: one sample a minute of Produce p99 and p999 in
// ms; the newest 5 min must be above 1.5 × the 95th percentile of at least
// an hour of older samples, and above 1 ms.
func TestLatencyRegressionTable(t *testing.T) {
	const step = time.Minute
	f := func(n int, p99, p999 []float64, want string) {
		t.Helper()
		b := broker(1, step, map[Signal][]float64{SigScrapeUp: ones(max(len(p99), len(p999)))})
		b.Latency = []RequestLatency{{Request: "Produce", P99: sig("p99", step, p99), P999: sig("p999", step, p999)}}
		res := sweepOnce(t, clusterOf(step, nil, b), nil)
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// history: n samples between 10 and 14 ms.
	hist := func(n int) []float64 { return gen(n, func(i int) float64 { return 10 + float64(i%5) }) }
	then := func(h []float64, spec string) []float64 { return append(h, vals(spec)...) }
	// 1: steady.
	f(1, hist(96), hist(96), "| obs=1,c")
	// 2: p99 at 40 ms for 5 min, over a 14 ms baseline (threshold 21 ms).
	f(2, then(hist(90), "40*6"), hist(96), "LATENCY_REGRESSION@1:warning | obs=1,c")
	// 3: for 3 min only.
	f(3, then(hist(92), "40*4"), hist(96), "| obs=1,c")
	// 4: sub-millisecond latencies tripled: ignored (≤ 1 ms).
	f(4, then(gen(90, func(int) float64 { return 0.3 }), "0.9*6"), nil, "| obs=1,c")
	// 5: 40 minutes of history: not enough to judge.
	f(5, then(hist(40), "40*6"), nil, "| obs=1,c")
	// 6: only the p999 regressed.
	f(6, hist(96), then(hist(90), "80*6"), "LATENCY_REGRESSION@1:warning | obs=1,c")
	// 7: 1.4 × the baseline: within the margin.
	f(7, then(hist(90), "19.5*6"), nil, "| obs=1,c")
	// 8: one earlier spike does not move the 95th percentile.
	f(8, then(append(hist(89), 500), "40*6"), nil, "LATENCY_REGRESSION@1:warning | obs=1,c")
	// 9: regressed, newest sample missing: not judged, held.
	f(9, then(hist(90), "40*6 _"), nil, "| obs=c")
}

// TestIdleRatios checks the formula on exact numbers.
func TestIdleRatios(t *testing.T) {
	w := sig("idle", 10*time.Second, []float64{0, 5e9, math.NaN(), 15e9, 1e9})
	r, ok := IdleRatios(w, IdleCounterMean, 0)
	want := []float64{math.NaN(), 0.5, math.NaN(), 0.5, 0.1} // the last interval is a reset: 1e9 ns in 10 s
	for i := range want {
		if !ok || !(r.Values[i] == want[i] || math.IsNaN(want[i]) && math.IsNaN(r.Values[i])) {
			t.Fatalf("ratios %v, want %v", r.Values, want)
		}
	}
	if r, ok := IdleRatios(w, IdleCounterSum, 4); !ok || r.Values[1] != 0.125 {
		t.Fatalf("sum mode over 4 threads: %v", r.Values)
	}
}

// TestPercentile compares selection with interpolation on a sorted copy.
func TestPercentile(t *testing.T) {
	vs := gen(101, func(i int) float64 { return float64((i * 37) % 101) }) // 0..100, shuffled
	for _, c := range []struct{ p, want float64 }{{0.95, 95}, {0.5, 50}, {0.999, 99.9}} {
		if got := percentile(append([]float64(nil), vs...), c.p); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if got := percentile([]float64{3}, 0.95); got != 3 {
		t.Errorf("one value: %v", got)
	}
}
