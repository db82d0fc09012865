package store

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// reclaimStore opens a store on an in-memory file system that keeps every
// sweep handed to it (a long queue), reopenable under the same cfg.
func reclaimStore(t *testing.T, cfg Config) *Store {
	t.Helper()
	st, err := Open("data", cfg, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// TestStoreFollowsReusedIDs: the store follows the window's id reuse
// through the catalog journal. Group a's series live in sweeps 0–4 and are
// released; group b reuses their ids from sweep 60. Queried by key, a's
// stored samples are a's alone (gaps after it left) and b's are b's alone,
// before and after a restart.
func TestStoreFollowsReusedIDs(t *testing.T) {
	w, err := state.NewWindow(state.WindowConfig{Span: 10 * time.Second, Points: 6, Recent: 3}, "c")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.FS, cfg.Queue = vfs.NewMem(), 128
	st := reclaimStore(t, cfg)
	t0 := time.UnixMilli(1_800_000_000_000)
	ids := map[string]uint32{}
	step := func(k int, groups ...string) {
		var specs []state.GroupTopicSpec
		for _, g := range groups {
			specs = append(specs, state.GroupTopicSpec{Group: g, Topic: "t", Partitions: []int32{0}})
		}
		topo := w.BuildTopology(specs)
		s := w.Begin(t0.Add(time.Duration(k) * time.Second))
		s.SetTopology(topo)
		for _, e := range topo.GroupTopics {
			for _, id := range e.Parts[0].Series {
				s.Set(id, int64(k))
			}
			ids[e.Group] = e.Parts[0].Series[detect.ColCommitted]
		}
		w.Commit(s)
		if !st.AppendWindow(w) {
			t.Fatalf("sweep %d dropped", k)
		}
	}
	for k := range 5 {
		step(k, "a")
	}
	aID := ids["a"]
	for k := 5; k < 60; k++ {
		step(k)
	}
	step(60, "b")
	step(61, "b")
	if w.Reclaimed() == 0 || ids["b"] > 2 || w.Snapshot().Series != 3 {
		t.Fatalf("b got id %d (a had %d), id space %d, reclaimed %d: want b on a released id", ids["b"], aID, w.Snapshot().Series, w.Reclaimed())
	}
	check := func(when string, st *Store) {
		t.Helper()
		for _, g := range []struct {
			group      string
			first, end int64 // sweeps with values: [first, end)
		}{{"a", 0, 5}, {"b", 60, 62}} {
			pts, err := st.Query(state.SeriesKey{Metric: state.MetricCommitted, Group: g.group, Topic: "t"}, t0, t0.Add(time.Minute+2*time.Second))
			if err != nil {
				t.Fatalf("%s: %s: %v", when, g.group, err)
			}
			var vals []int64
			for _, p := range pts {
				if !p.Gap {
					vals = append(vals, p.V)
				}
			}
			var want []int64
			for k := g.first; k < g.end; k++ {
				want = append(want, k)
			}
			if !slices.Equal(vals, want) {
				t.Fatalf("%s: group %s stored %v, want %v", when, g.group, vals, want)
			}
		}
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	check("before restart", st)
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	st = reclaimStore(t, cfg)
	defer st.Close()
	check("after restart", st)
}

// TestStoreFollowsReusedTelemetryIDs: 100 topics each report a size for 5
// sweeps and then vanish, over 400 sweeps. Idle series are released and
// their ids reused, so the id space stays near the series set within two
// spans; the cluster input never shows a released series; and the store,
// following the reuse, keeps each topic's samples under its own key.
func TestStoreFollowsReusedTelemetryIDs(t *testing.T) {
	tel, err := state.NewTelemetry(state.WindowConfig{Span: 10 * time.Second, Points: 4, Recent: 3}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.FS, cfg.Queue = vfs.NewMem(), 512
	st := reclaimStore(t, cfg)
	defer st.Close()
	key := func(topic int) state.TelemetryKey {
		return state.TelemetryKey{Signal: detect.SigTopicSize, Broker: 1, Topic: fmt.Sprintf("t%03d", topic), Partition: -1}
	}
	up := state.TelemetryKey{Signal: detect.SigScrapeUp, Broker: 1, Partition: -1}
	const t0 = 1_800_000_000_000
	for k := range 400 {
		sw := tel.Begin(time.UnixMilli(t0 + int64(k)*1000))
		sw.Set(up, 1)
		if topic := k / 4; topic < 100 {
			sw.Set(key(topic), float64(1000*topic+k))
		}
		tel.Commit(sw)
		if !st.AppendTelemetry(tel) {
			t.Fatalf("sweep %d dropped", k)
		}
		if bs := tel.ClusterInput().Brokers; len(bs) != 1 || bs[0].Broker != 1 {
			t.Fatalf("sweep %d: cluster input lists %d brokers; a released series (zero key) must not show", k, len(bs))
		}
	}
	if n := tel.Snapshot().Series; n > 20 {
		t.Fatalf("id space %d after 100 topics came and went; want it bounded (ids reused)", n)
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []int{0, 37, 99} {
		pts, err := st.QueryTelemetry(key(topic), time.UnixMilli(t0), time.UnixMilli(t0+400_000))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range pts {
			if math.IsNaN(p.V) {
				continue
			}
			if want := float64(1000*topic + 4*topic + n); p.V != want {
				t.Fatalf("topic %d sample %d = %v, want %v: another series' value", topic, n, p.V, want)
			}
			n++
		}
		if n != 4 {
			t.Fatalf("topic %d has %d stored samples, want 4", topic, n)
		}
	}
}
