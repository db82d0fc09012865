package detect

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestBrokerDiskTable: one log dir of 1000 bytes, one sample a minute. Each
// row: used bytes and the sweep rendered. DISK_FILL_FORECAST needs 10 min of
// data (FillMinSpan) and warns under 24 h, critical under 4 h.
func TestBrokerDiskTable(t *testing.T) {
	const step = time.Minute
	f := func(n int, used []float64, total float64, want string) {
		t.Helper()
		b := broker(1, step, map[Signal][]float64{SigScrapeUp: ones(len(used))})
		b.LogDirs = []LogDir{{Path: "/data", Used: sig("used", step, used), Total: sig("total", step, gen(len(used), func(int) float64 { return total }))}}
		res := sweepOnce(t, clusterOf(step, nil, b), nil)
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	line := func(n int, base, perMin float64) []float64 {
		return gen(n, func(i int) float64 { return base + perMin*float64(i) })
	}
	// 1: half full, flat.
	f(1, vals("500*60"), 1000, "| obs=1,c")
	// 2: 14 % free: warning.
	f(2, vals("860*60"), 1000, "DISK_NEARLY_FULL@1:warning | obs=1,c")
	// 3: 4 % free: critical.
	f(3, vals("960*60"), 1000, "DISK_NEARLY_FULL@1:critical | obs=1,c")
	// 4: newest used sample missing: not judged, the broker is held.
	f(4, vals("960*59 _"), 1000, "| obs=c")
	// 5: total unknown (0): not judged.
	f(5, vals("960*60"), 0, "| obs=1,c")
	// 6: +1 B/min with 841 B free: full in 14 h: warning.
	f(6, line(60, 100, 1), 1000, "DISK_FILL_FORECAST@1:warning | obs=1,c")
	// 7: +5 B/min with 605 B free: full in about 2 h: critical.
	f(7, line(60, 100, 5), 1000, "DISK_FILL_FORECAST@1:critical | obs=1,c")
	// 8: shrinking: never forecast.
	f(8, line(60, 500, -1), 1000, "| obs=1,c")
	// 9: fast growth seen for 5 min only: too short to forecast.
	f(9, line(6, 100, 5), 1000, "| obs=1,c")
	// 10: the same growth seen for 10 min: critical.
	f(10, line(11, 100, 5), 1000, "DISK_FILL_FORECAST@1:critical | obs=1,c")
	// 11: +0.1 B/min: full in 150 h, beyond 24 h.
	f(11, line(60, 100, 0.1), 1000, "| obs=1,c")
	// 12: retention sawtooth around a flat level: no trend, no forecast.
	f(12, gen(60, func(i int) float64 { return 500 + 5*float64(i%10) }), 1000, "| obs=1,c")
	// 13: one wild sample in a slow climb does not make it critical.
	f(13, gen(60, func(i int) float64 { return map[bool]float64{true: 900, false: 100 + float64(i)}[i == 30] }), 1000, "DISK_FILL_FORECAST@1:warning | obs=1,c")
	// 14: gaps inside the climb do not stop the forecast.
	f(14, gen(60, func(i int) float64 { return map[bool]float64{true: math.NaN(), false: 100 + float64(i)}[i%7 == 2] }), 1000, "DISK_FILL_FORECAST@1:warning | obs=1,c")
	// 15: nearly full and still filling: both.
	f(15, line(60, 850, 1), 1000, "DISK_FILL_FORECAST@1:critical DISK_NEARLY_FULL@1:warning | obs=1,c")
	// 16: flat, then a 5-minute burst at the end: the robust fit sees no trend.
	f(16, append(vals("500*55"), line(5, 550, 50)...), 1000, "| obs=1,c")
	// 17: flat log dir that filled a long time ago: nearly full, but not forecast.
	f(17, vals("990*60"), 1000, "DISK_NEARLY_FULL@1:critical | obs=1,c")
}

// TestDiskFillForecastEvidence: the numbers, and the topics that grew most
// named with their growth; flat and shrinking topics are not named.
func TestDiskFillForecastEvidence(t *testing.T) {
	const step = time.Minute
	lin := func(base, perMin float64) []float64 {
		return gen(61, func(i int) float64 { return base + perMin*float64(i) })
	}
	b := broker(1, step, map[Signal][]float64{SigScrapeUp: ones(61)})
	b.LogDirs = []LogDir{{Path: "/data", Used: sig("used", step, lin(400, 10)), Total: sig("total", step, lin(2000, 0))}}
	b.TopicSize = map[string]SignalWindow{
		"orders":  sig("orders", step, lin(100, 8)),
		"clicks":  sig("clicks", step, lin(50, 2)),
		"idle":    sig("idle", step, lin(70, 0)),
		"expired": sig("expired", step, lin(300, -1)),
	}
	res := sweepOnce(t, clusterOf(step, nil, b), nil)
	var c *Candidate
	for i := range res.Candidates {
		if res.Candidates[i].Kind == KindDiskFillForecast {
			c = &res.Candidates[i]
		}
	}
	if c == nil {
		t.Fatalf("no forecast: %s", render(res))
	}
	facts := map[string]float64{}
	for _, f := range c.Facts {
		facts[f.Name] = f.Value
	}
	// used 1000 of 2000 at +10 B/min: 100 min to full.
	if math.Abs(facts["time_to_full"]-6000) > 1e-6 || math.Abs(facts["fill_rate"]-10.0/60) > 1e-9 {
		t.Errorf("time to full %v s at %v B/s, want 6000 s at 0.1667", facts["time_to_full"], facts["fill_rate"])
	}
	if facts["topic_growth.orders"] != 480 || facts["topic_growth.clicks"] != 120 {
		t.Errorf("topic growth: %v", facts)
	}
	if _, ok := facts["topic_growth.idle"]; ok {
		t.Error("a flat topic is not a grower")
	}
	if !strings.Contains(c.Summary, "orders (+480 B), clicks (+120 B)") || !strings.Contains(c.Summary, "full in about 1h40m at its current growth of 0.167 B/s") {
		t.Errorf("summary: %s", c.Summary)
	}
	used := c.Evidence[0]
	if used.First != 400 || used.Last != 1000 || used.Count != 61 || math.Abs(used.Slope-10.0/60) > 1e-9 || used.SlopeUnit != "bytes/s" {
		t.Errorf("used citation: %+v", used)
	}
	if c.Severity != SeverityCritical {
		t.Errorf("severity %v, want critical (< 4 h)", c.Severity)
	}
}
