package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Request handling: REQUEST_HANDLER_SATURATION and LATENCY_REGRESSION.
// Thresholds and sources are on BrokerConfig.

// IdleRatios turns the request handler idle counter into idle ratios, one
// per present sample that has a present predecessor (NaN elsewhere), on w's
// times:
//
//	ratio = Δcounter / Δt[s] / 1e9        (mode IdleCounterMean)
//	ratio = Δcounter / Δt[s] / 1e9 / threads   (mode IdleCounterSum)
//
// with Δcounter from counterDelta (a drop is a reset). In the Kafka meter's
// own units (IdleCounterMean, see its doc) this is the pool's mean idle
// fraction over the interval: 1 all threads idle, 0 all busy. It is the
// counter's rate, never the lifetime MeanRate gauge, so it reflects the
// interval and not the time since start. ok is false in IdleCounterSum mode
// when threads ≤ 0 (unknown).
func IdleRatios(w SignalWindow, mode string, threads int) (SignalWindow, bool) {
	div := 1e9
	if mode == IdleCounterSum {
		if threads <= 0 {
			return SignalWindow{}, false
		}
		div *= float64(threads)
	}
	out := SignalWindow{Ref: w.Ref, Source: w.Source, Times: w.Times, Values: make([]float64, len(w.Values))}
	prev, prevT := math.NaN(), int64(0)
	for i, v := range w.Values {
		out.Values[i] = math.NaN()
		if math.IsNaN(v) {
			continue
		}
		if t := w.Times[i]; !math.IsNaN(prev) && t > prevT {
			out.Values[i] = counterDelta(prev, v) / (float64(t-prevT) / 1000) / div
		}
		prev, prevT = v, w.Times[i]
	}
	return out, true
}

// handlerSaturation: REQUEST_HANDLER_SATURATION when the idle ratio
// (IdleRatios) has been below HandlerIdleBelow for HandlerIdleFor. Warning:
// requests queue for a handler thread and every request's latency grows.
func (s *brokerSweep) handlerSaturation(b *BrokerInput, subj Subject) {
	w, ok := b.Signals[SigHandlerIdleCounter]
	if !ok {
		return
	}
	r, ok := IdleRatios(w, s.cfg.HandlerIdleCounter, b.HandlerThreads)
	if !ok {
		return
	}
	since, newest, ok := runSince(r, func(v float64) bool { return v < s.cfg.HandlerIdleBelow })
	if !ok || newest-since < s.cfg.HandlerIdleFor.Milliseconds() {
		return
	}
	sum, n, lo := 0.0, 0, math.Inf(1)
	for i, t := range r.Times {
		if v := r.Values[i]; t >= since && !math.IsNaN(v) {
			sum, n, lo = sum+v, n+1, min(lo, v)
		}
	}
	now := r.Values[len(r.Values)-1]
	s.add(KindRequestHandlerSaturation, SeverityWarning, subj,
		fmt.Sprintf("Broker %d's request handler threads have been %.0f%% idle on average for %s (now %.0f%%, below %.0f%%): requests wait for a free handler and latency grows.",
			b.Broker, 100*sum/float64(n), brief(newest-since), 100*now, 100*s.cfg.HandlerIdleBelow),
		[]Citation{s.cite(w, since, "ns", fmt.Sprintf("handler idle counter; rate / 1e9 is the idle ratio (%s mode)", s.cfg.HandlerIdleCounter))},
		[]Fact{
			{Name: "idle_ratio", Value: now},
			{Name: "mean_idle_ratio", Value: sum / float64(n)},
			{Name: "min_idle_ratio", Value: lo},
			{Name: "saturated_for", Value: float64(newest-since) / 1000, Unit: "s"},
			{Name: "handler_threads", Value: float64(b.HandlerThreads), Unit: "threads"},
			{Name: "idle_counter_mode", Text: s.cfg.HandlerIdleCounter},
			cfgFact("handler_idle_below", s.cfg.HandlerIdleBelow, ""),
			cfgDur("handler_idle_for", s.cfg.HandlerIdleFor),
		})
}

// latencyJudgement is one request quantile judged against its history.
type latencyJudgement struct {
	w                     SignalWindow
	request, quantile     string
	now, baseline, thresh float64 // ms
	since, newest         int64
}

// judgeLatency: the series w regressed when every present sample from some
// time at least LatencyFor before its newest one is above
// max(LatencyFactor × baseline, LatencyFloorMs), where baseline is the
// LatencyPercentile of its present samples older than s.at − LatencyFor.
// Not judged unless those older samples span LatencyMinHistory.
func (s *brokerSweep) judgeLatency(w SignalWindow) (latencyJudgement, bool) {
	j := latencyJudgement{w: w}
	if !newestPresent(w) || w.Values[len(w.Values)-1] <= s.cfg.LatencyFloorMs {
		return j, false // cheap exit for the common case: nothing to judge
	}
	cut := s.at - s.cfg.LatencyFor.Milliseconds()
	hist, first, last := s.s.ys[:0], int64(-1), int64(0)
	for i, t := range w.Times {
		if v := w.Values[i]; t < cut && !math.IsNaN(v) {
			if first < 0 {
				first = t
			}
			hist, last = append(hist, v), t
		}
	}
	s.s.ys = hist
	if first < 0 || last-first < s.cfg.LatencyMinHistory.Milliseconds() {
		return j, false
	}
	j.baseline = percentile(hist, s.cfg.LatencyPercentile)
	j.thresh = max(s.cfg.LatencyFactor*j.baseline, s.cfg.LatencyFloorMs)
	var ok bool
	j.since, j.newest, ok = runSince(w, func(v float64) bool { return v > j.thresh })
	if !ok || j.newest-j.since < s.cfg.LatencyFor.Milliseconds() {
		return j, false
	}
	j.now = w.Values[len(w.Values)-1]
	return j, true
}

// percentile is the p-quantile (0 < p < 1) of vs (non-empty, free of NaN)
// by linear interpolation between closest ranks, found by selection in
// O(len(vs)) on average. It reorders vs.
func percentile(vs []float64, p float64) float64 {
	r := p * float64(len(vs)-1)
	lo := int(r)
	nthElement(vs, lo)
	if lo+1 >= len(vs) {
		return vs[lo]
	}
	return vs[lo] + (r-float64(lo))*(slices.Min(vs[lo+1:])-vs[lo])
}

// latencyRegression: LATENCY_REGRESSION when any request's p99 or p999 has
// regressed (judgeLatency). One finding per broker, headed by the largest
// ratio of latency to baseline; warning.
func (s *brokerSweep) latencyRegression(b *BrokerInput, subj Subject) {
	var hit []latencyJudgement
	for _, l := range b.Latency {
		for _, q := range []struct {
			name string
			w    SignalWindow
		}{{"p99", l.P99}, {"p999", l.P999}} {
			if j, ok := s.judgeLatency(q.w); ok {
				j.request, j.quantile = l.Request, q.name
				hit = append(hit, j)
			}
		}
	}
	if len(hit) == 0 {
		return
	}
	slices.SortStableFunc(hit, func(x, y latencyJudgement) int {
		return cmp.Compare(y.now/math.Max(y.baseline, 1e-9), x.now/math.Max(x.baseline, 1e-9))
	})
	var ev []Citation
	var facts []Fact
	var also []string
	for i, j := range hit {
		name := j.request + "." + j.quantile
		ev = append(ev, s.cite(j.w, j.since, "ms", fmt.Sprintf("%s %s latency, above %.1f ms", j.request, j.quantile, j.thresh)))
		facts = append(facts,
			Fact{Name: "latency." + name, Value: j.now, Unit: "ms"},
			Fact{Name: "baseline." + name, Value: j.baseline, Unit: "ms"},
			Fact{Name: "threshold." + name, Value: j.thresh, Unit: "ms"})
		if i > 0 {
			also = append(also, j.request+" "+j.quantile)
		}
	}
	w := hit[0]
	more := ""
	if len(also) > 0 {
		more = "; also " + strings.Join(also, ", ")
	}
	facts = append(facts, cfgFact("latency_factor", s.cfg.LatencyFactor, ""), cfgFact("latency_percentile", s.cfg.LatencyPercentile, ""),
		cfgFact("latency_floor_ms", s.cfg.LatencyFloorMs, "ms"), cfgDur("latency_for", s.cfg.LatencyFor), cfgDur("latency_min_history", s.cfg.LatencyMinHistory))
	s.add(KindLatencyRegression, SeverityWarning, subj,
		fmt.Sprintf("Broker %d's %s %s latency has been above %.1f ms for %s (now %.1f ms; its own %.0fth percentile is %.1f ms)%s.",
			b.Broker, w.request, w.quantile, w.thresh, brief(w.newest-w.since), w.now, 100*s.cfg.LatencyPercentile, w.baseline, more),
		ev, facts)
}
