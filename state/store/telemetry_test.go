package store

import (
	"math"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// joinSeries is a broker series of the alignment test: it is first written
// (registered in the telemetry window) in sweep join, and in later sweeps is
// either set, set to NaN (a gap), or not set at all (also a gap).
type joinSeries struct {
	k    state.TelemetryKey
	join int
}

// joinValue is series j's value in sweep n: NaN when set as a gap, ok false
// when not set at all. The first sample of series 3 is a NaN, so the series
// joins with a gap; series 4 keeps a -0, an Inf and large jumps.
func joinValue(j, n int) (v float64, ok bool) {
	switch {
	case (n+j)%11 == 5:
		return 0, false
	case (3*n+j)%7 == 2, j == 3 && n == joinAt[3]:
		return math.NaN(), true
	case j == 4 && n%50 == 7:
		return math.Copysign(0, -1), true
	case j == 4 && n%50 == 8:
		return math.Inf(1), true
	case j == 4:
		return float64(int64(1)<<(n%60)) * 1.25, true
	}
	return float64(n)*1.5 + float64(j)*1e6 + float64(n%9)/8, true
}

// joinAt: the sweep each series is first written in. They straddle the
// bucket boundary (sweep 100), block boundaries (100 + 120 = 220) and the
// checkpoint at sweep 150; the last joins in the final sweep.
var joinAt = []int{0, 1, 57, 99, 100, 101, 119, 150, 151, 219, 220, 221, 298, 299}

func joinKeys() []joinSeries {
	out := make([]joinSeries, len(joinAt))
	for j, n := range joinAt {
		out[j] = joinSeries{k: state.TelemetryKey{Signal: detect.SigBytesIn, Broker: int32(j % 3), Topic: "t", Partition: int32(j), Origin: []string{"", "admin", "node"}[j%3]}, join: n}
	}
	return out
}

// joinSweepAt is the time of sweep n: the bucket boundary falls at sweep 100.
func joinSweepAt(n int) int64 { return t0 - 100_000 + int64(n)*1000 }

// TestStoreTelemetryJoinAlignment: series that join the telemetry window in
// sweep k of N (registered during that sweep, in varying order, some with a
// gap as their first sample, all with gaps later) come back from the store
// sample for sample as the window holds them: same times, same gaps, the
// same bits — before and after a restart, across the bucket and block
// boundaries and the checkpoint of an open block. Before its first sweep a
// series has no stored samples, and the window only gaps.
func TestStoreTelemetryJoinAlignment(t *testing.T) {
	const sweeps = 300
	cfg := testStoreConfig()
	s, _ := openTestStore(t, cfg, nil)
	// A window holding every sweep at full resolution, to compare against.
	tel, err := state.NewTelemetry(state.WindowConfig{Span: time.Hour, Points: 4, Recent: sweeps + 10}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	series := joinKeys()
	for n := range sweeps {
		sw := tel.Begin(time.UnixMilli(joinSweepAt(n)))
		// Newest series first on odd sweeps: ids are assigned mid-sweep,
		// in an order unrelated to the store's.
		for i := range series {
			j := i
			if n%2 == 1 {
				j = len(series) - 1 - i
			}
			if n < series[j].join {
				continue
			}
			if v, ok := joinValue(j, n); ok || n == series[j].join {
				if !ok {
					v = math.NaN()
				}
				sw.Set(series[j].k, v)
			}
		}
		tel.Commit(sw)
		if !s.AppendTelemetry(tel) {
			t.Fatalf("sweep %d dropped", n)
		}
		if n == 150 {
			flush(t, s) // checkpoint the open block mid-way
		}
	}
	flush(t, s)
	check := func(what string, s *Store, from, to int) {
		t.Helper()
		for j, x := range series {
			f, l := time.UnixMilli(joinSweepAt(from)), time.UnixMilli(joinSweepAt(to))
			win, ok := tel.Query(tel.Ref(x.k), f.UnixMilli(), l.UnixMilli())
			if !ok {
				t.Fatalf("%s: series %d not in the window", what, j)
			}
			got, err := s.QueryTelemetry(x.k, f, l)
			if err != nil {
				t.Fatalf("%s: series %d: %v", what, j, err)
			}
			// The window holds gaps for the sweeps before the series
			// joined; the store starts at the join.
			for len(win) > 0 && win[0].T < joinSweepAt(x.join) {
				if !win[0].IsGap() {
					t.Fatalf("%s: series %d: window has a value at %d, before it joined", what, j, win[0].T)
				}
				win = win[1:]
			}
			if len(got) != len(win) {
				t.Fatalf("%s: series %d (joined in sweep %d), sweeps [%d, %d]: %d stored samples, window %d", what, j, x.join, from, to, len(got), len(win))
			}
			for i := range got {
				n := int((got[i].T - joinSweepAt(0)) / 1000)
				want, set := joinValue(j, n)
				if !set || n == x.join && j == 3 {
					want = math.NaN()
				}
				if math.Float64bits(want) == math.Float64bits(math.Copysign(0, -1)) {
					want = 0 // the window keeps -0 as +0
				}
				if got[i].T != win[i].T || got[i].IsGap() != win[i].IsGap() ||
					!got[i].IsGap() && math.Float64bits(got[i].V) != math.Float64bits(win[i].V) ||
					got[i].IsGap() != math.IsNaN(want) || !got[i].IsGap() && got[i].V != want {
					t.Fatalf("%s: series %d (joined in sweep %d) sample %d: stored %+v, window %+v, written %g at sweep %d",
						what, j, x.join, i, got[i], win[i], want, n)
				}
			}
		}
	}
	check("all", s, 0, sweeps-1)
	check("across blocks", s, 95, 230)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2, _ := openTestStore(t, cfg, nil)
	check("after restart", s2, 0, sweeps-1)

	// Warm restart: a new window refilled from the store holds the same
	// samples as the original, from each series' join on.
	tel2, _ := state.NewTelemetry(state.WindowConfig{Span: time.Hour, Points: 4, Recent: sweeps + 10}, "c1")
	n, err := s2.LoadTelemetry(tel2, time.UnixMilli(joinSweepAt(0)))
	if err != nil || n != sweeps {
		t.Fatalf("LoadTelemetry: %d sweeps, %v; want %d", n, err, sweeps)
	}
	for j, x := range series {
		from, to := joinSweepAt(x.join), joinSweepAt(sweeps-1)
		a, _ := tel.Query(tel.Ref(x.k), from, to)
		b, ok := tel2.Query(tel2.Ref(x.k), from, to)
		if !ok && x.join != sweeps-1 || len(a) != len(b) && ok {
			t.Fatalf("refilled window, series %d: %d samples (found %v), want %d", j, len(b), ok, len(a))
		}
		for i := range b {
			if a[i].T != b[i].T || a[i].IsGap() != b[i].IsGap() || !a[i].IsGap() && a[i].V != b[i].V {
				t.Fatalf("refilled window, series %d sample %d: %+v, want %+v", j, i, b[i], a[i])
			}
		}
	}
}

// TestResolveTelemetryMerge: the samples of a citation are the stored ones
// up to the newest stored telemetry sweep, then the window's newer ones
// (appended but not yet checkpointed). A series the store has not
// registered yet resolves from the window alone.
func TestResolveTelemetryMerge(t *testing.T) {
	s, _ := openTestStore(t, testStoreConfig(), nil)
	tel, _ := state.NewTelemetry(state.WindowConfig{Span: time.Minute, Points: 4, Recent: 12}, "c1")
	old := state.TelemetryKey{Signal: detect.SigUnderReplicated, Broker: 1, Partition: -1}
	adm := state.TelemetryKey{Signal: detect.SigUnderReplicated, Broker: 1, Partition: -1, Origin: "admin"}
	for n := range 40 {
		sw := tel.Begin(time.UnixMilli(t0 + int64(n)*1000))
		sw.Set(old, float64(n))
		if n >= 33 {
			sw.Set(adm, float64(n-2)) // the Metadata count lags the scrape
		}
		tel.Commit(sw)
		s.AppendTelemetry(tel)
		if n == 30 {
			flush(t, s)
		}
	}
	from, to := time.UnixMilli(t0), time.UnixMilli(t0+39_000)
	stored, _ := s.QueryTelemetry(old, from, to)
	if len(stored) != 31 {
		t.Fatalf("%d stored samples, want the 31 checkpointed", len(stored))
	}
	pts, ok, err := ResolveTelemetry(s, tel, tel.Ref(old), from, to)
	if err != nil || !ok || len(pts) != 40 {
		t.Fatalf("resolve: %d samples, %v, %v; want 40", len(pts), ok, err)
	}
	for i, p := range pts {
		if p.T != t0+int64(i)*1000 || p.V != float64(i) {
			t.Fatalf("sample %d: %+v", i, p)
		}
	}
	// The admin series has its own reference (origin label) and, not yet
	// in the store, resolves from the window.
	if tel.Ref(adm).String() == tel.Ref(old).String() {
		t.Fatalf("two origins share the reference %s", tel.Ref(adm))
	}
	pts, ok, err = ResolveTelemetry(s, tel, tel.Ref(adm), time.UnixMilli(t0+33_000), to)
	if err != nil || !ok || len(pts) != 7 || pts[0].V != 31 {
		t.Fatalf("admin series: %+v, %v, %v", pts, ok, err)
	}
	unknown := tel.Ref(state.TelemetryKey{Signal: detect.SigUnderReplicated, Broker: 9, Partition: -1})
	if _, ok, err := ResolveTelemetry(s, tel, unknown, from, to); ok || err != nil {
		t.Fatalf("an unknown series resolved: %v", err)
	}
	if pts, ok, err := ResolveTelemetry(s, nil, tel.Ref(old), from, to); err != nil || !ok || len(pts) != 31 {
		t.Fatalf("store only: %d samples, %v, %v", len(pts), ok, err)
	}
}

// TestTelemetryKeyOfRef: every key shape the broker poller writes survives
// Ref and back.
func TestTelemetryKeyOfRef(t *testing.T) {
	tel, _ := state.NewTelemetry(state.DefaultWindowConfig(), "c1")
	for _, k := range append([]state.TelemetryKey{
		{Signal: detect.SigAdminUp, Broker: -1, Partition: -1},
		{Signal: detect.SigOfflinePartitions, Broker: -1, Partition: -1, Origin: "admin"},
		{Signal: detect.SigScrapeUp, Broker: 2, Partition: -1, Origin: "node"},
		{Signal: detect.SigRequestLatency, Broker: 2, Partition: -1, Request: "Produce", Quantile: "0.999"},
		{Signal: detect.SigTopicSize, Broker: 2, Topic: "orders", Partition: -1},
		{Signal: detect.SigLogDirUsed, Broker: 3, Partition: -1, Dir: "/kafka/data", Origin: "node"},
	}, func() (out []state.TelemetryKey) {
		for _, x := range joinKeys() {
			out = append(out, x.k)
		}
		return out
	}()...) {
		got, err := state.TelemetryKeyOf(tel.Ref(k))
		if err != nil || got != k {
			t.Fatalf("TelemetryKeyOf(%s) = %+v, %v; want %+v", tel.Ref(k), got, err, k)
		}
	}
	for _, bad := range []detect.SeriesRef{
		{Metric: "kafka_partition_log_end_offset"},
		{Metric: "kafka_broker_scrape_up"},
		{Metric: "kafka_broker_scrape_up", Labels: []detect.Label{{Name: "broker", Value: "x"}}},
		{Metric: "kafka_broker_scrape_up", Labels: []detect.Label{{Name: "broker", Value: "1"}, {Name: "shard", Value: "1"}}},
	} {
		if _, err := state.TelemetryKeyOf(bad); err == nil {
			t.Fatalf("TelemetryKeyOf(%s) accepted", bad)
		}
	}
}
