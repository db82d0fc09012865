package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// t0 is a bucket-aligned start time for test sweeps.
var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC).UnixMilli()

// testStoreConfig keeps everything in memory; flushes happen when the test
// asks (Flush) or when a block fills (ChunkSamples).
func testStoreConfig() Config {
	c := DefaultConfig()
	c.FS = vfs.NewMem()
	c.FlushInterval = time.Hour
	c.ChunkSamples = 120
	c.Queue = 1 << 12
	return c
}

func openTestStore(t testing.TB, cfg Config, log *slog.Logger) (*Store, *metrics.Set) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	set := metrics.NewSet()
	s, err := Open("db", cfg, log, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, set
}

func flush(t testing.TB, s *Store) {
	t.Helper()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
}

var testKeys = []state.SeriesKey{
	{Metric: state.MetricEnd, Topic: "orders", Partition: 0},
	{Metric: state.MetricCommitted, Group: "billing", Topic: "orders", Partition: 0},
	{Metric: state.MetricStart, Topic: "orders", Partition: 0},
}

// testValue is the value of series i in sweep n, or a gap: series 1 misses
// every 7th sweep, series 2 joins at sweep 100.
func testValue(i, n int) int64 {
	switch {
	case i == 1 && n%7 == 3:
		return detect.Gap
	case i == 2 && n < 100:
		return detect.Gap
	}
	return int64(1000*i + n*n%97 + 5*n)
}

// appendTestSweeps appends sweeps [from, to) of testKeys, one per second.
func appendTestSweeps(t testing.TB, s *Store, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		sd := sweepData{At: t0 + int64(n)*1000}
		keys := 2
		if n >= 100 {
			keys = 3
		}
		if from == n || n == 100 {
			sd.FirstNew, sd.NewKeys = 0, testKeys[:keys]
		}
		for i := range keys {
			sd.Values = append(sd.Values, testValue(i, n))
		}
		if !s.appendSweep(sd) {
			t.Fatalf("sweep %d dropped", n)
		}
	}
}

func TestStoreQueryRaw(t *testing.T) {
	cfg := testStoreConfig()
	s, _ := openTestStore(t, cfg, nil)
	appendTestSweeps(t, s, 0, 500)
	flush(t, s)
	check := func(s *Store, i int, from, to int) {
		t.Helper()
		pts, err := s.Query(testKeys[i], time.UnixMilli(t0+int64(from)*1000), time.UnixMilli(t0+int64(to)*1000))
		if err != nil {
			t.Fatal(err)
		}
		first := from
		if i == 2 {
			first = max(from, 100) // gaps only after the series was first seen
		}
		if len(pts) != to-first+1 {
			t.Fatalf("series %d [%d, %d]: %d points, want %d", i, from, to, len(pts), to-first+1)
		}
		for j, p := range pts {
			n := first + j
			want := testValue(i, n)
			if p.T != t0+int64(n)*1000 || p.Gap != (want == detect.Gap) || (!p.Gap && p.V != want) {
				t.Fatalf("series %d sweep %d: got %+v, want %d", i, n, p, want)
			}
		}
	}
	for i := range testKeys {
		check(s, i, 0, 499)   // closed blocks and the checkpointed open one
		check(s, i, 117, 242) // across block boundaries
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil { // twice is fine
		t.Fatal(err)
	}
	s2, _ := openTestStore(t, cfg, nil)
	for i := range testKeys {
		check(s2, i, 0, 499)
	}
	if _, err := s2.Query(state.SeriesKey{Metric: state.MetricEnd, Topic: "nope"}, time.UnixMilli(t0), time.UnixMilli(t0+1)); !errors.Is(err, ErrUnknownSeries) {
		t.Fatalf("unknown series: got %v", err)
	}
}

func TestStoreRegistryStable(t *testing.T) {
	cfg := testStoreConfig()
	s, _ := openTestStore(t, cfg, nil)
	appendTestSweeps(t, s, 0, 150)
	flush(t, s)
	_ = s.Close()

	s2, _ := openTestStore(t, cfg, nil)
	for want, k := range testKeys {
		if sid, _, ok := s2.off.reg.lookup(k); !ok || sid != uint32(want) {
			t.Fatalf("%v: sid %d %v after restart, want %d", k, sid, ok, want)
		}
	}
	// A new process's window numbers series from 0 in another order.
	nk := state.SeriesKey{Metric: state.MetricEnd, Topic: "new", Partition: 3}
	s2.appendSweep(sweepData{At: t0 + 200_000, NewKeys: []state.SeriesKey{nk, testKeys[2]}, Values: []int64{7, 8}})
	flush(t, s2)
	if sid, _, _ := s2.off.reg.lookup(nk); sid != 3 {
		t.Fatalf("new series got sid %d, want 3", sid)
	}
	pts, err := s2.Query(testKeys[2], time.UnixMilli(t0+200_000), time.UnixMilli(t0+200_000))
	if err != nil || len(pts) != 1 || pts[0].V != 8 {
		t.Fatalf("remapped series: %+v %v", pts, err)
	}
}

func TestStoreReplayAndLoadWindow(t *testing.T) {
	s, _ := openTestStore(t, testStoreConfig(), nil)
	appendTestSweeps(t, s, 0, 300)
	flush(t, s)
	last := int64(-1)
	n := 0
	err := s.Replay(time.UnixMilli(t0+250_000), func(at int64, keys []state.SeriesKey, vals []int64) error {
		if at <= last {
			t.Fatalf("replay not increasing: %d after %d", at, last)
		}
		sweep := int((at - t0) / 1000)
		for i := range testKeys {
			if vals[i] != testValue(i, sweep) {
				t.Fatalf("sweep %d series %d: %d, want %d", sweep, i, vals[i], testValue(i, sweep))
			}
		}
		last = at
		n++
		return nil
	})
	if err != nil || n != 50 {
		t.Fatalf("replay: %d sweeps, err %v; want 50", n, err)
	}

	w, err := state.NewWindow(state.DefaultWindowConfig(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.LoadWindow(w, time.UnixMilli(t0+(300-600)*1000))
	if err != nil || got != 300 || w.Snapshot().Sweeps != 300 {
		t.Fatalf("LoadWindow: %d sweeps (window %d), err %v", got, w.Snapshot().Sweeps, err)
	}
	for i, k := range testKeys {
		id, ok := w.Lookup(k)
		if !ok {
			t.Fatalf("%v not registered in the window", k)
		}
		if v := w.Values()[id]; v != testValue(i, 299) {
			t.Fatalf("series %d newest value %d, want %d", i, v, testValue(i, 299))
		}
	}
}

func TestStoreAppendWindow(t *testing.T) {
	s, _ := openTestStore(t, testStoreConfig(), nil)
	w, _ := state.NewWindow(state.DefaultWindowConfig(), "c1")
	for n := range 130 {
		sw := w.Begin(time.UnixMilli(t0 + int64(n)*1000))
		for i, k := range testKeys {
			if v := testValue(i, n); v != detect.Gap {
				sw.Set(w.Register(k), v)
			}
		}
		w.Commit(sw)
		if !s.AppendWindow(w) {
			t.Fatal("AppendWindow dropped a sweep")
		}
	}
	flush(t, s)
	for i, k := range testKeys {
		pts, err := s.Query(k, time.UnixMilli(t0), time.UnixMilli(t0+129_000))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pts {
			if want := testValue(i, int((p.T-t0)/1000)); p.Gap != (want == detect.Gap) || (!p.Gap && p.V != want) {
				t.Fatalf("series %d at %d: %+v, want %d", i, p.T, p, want)
			}
		}
	}
}

func TestStoreRollupAndRetention(t *testing.T) {
	cfg := testStoreConfig()
	cfg.Bucket, cfg.RawRetention, cfg.RollupRetention = time.Minute, 3*time.Minute, 48*time.Hour
	s, _ := openTestStore(t, cfg, nil)
	appendTestSweeps(t, s, 0, 600) // 10 minutes
	flush(t, s)
	if err := s.update(s.maintainLocked); err != nil {
		t.Fatal(err)
	}
	// Raw: minutes 0..5 expired (end ≤ newest 9:59 − 3m), 6..9 kept.
	pts, err := s.Query(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+599_000))
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) != 240 || pts[0].T != t0+360_000 {
		t.Fatalf("raw after retention: %d points from %d, want 240 from minute 6", len(pts), (pts[0].T-t0)/1000)
	}
	for i := range testKeys {
		mins, err := s.QueryMinutes(testKeys[i], time.UnixMilli(t0), time.UnixMilli(t0+599_000))
		if err != nil {
			t.Fatal(err)
		}
		want := 10
		if i == 2 {
			want = 9 // joins at sweep 100, minute 1
		}
		if len(mins) != want {
			t.Fatalf("series %d: %d minutes, want %d", i, len(mins), want)
		}
		for _, m := range mins {
			if exp := referenceMinute(i, m.T); m != exp {
				t.Fatalf("series %d minute %d: %+v, want %+v", i, (m.T-t0)/60000, m, exp)
			}
		}
	}
	// By hand: series 0's first minute holds 0, 6, 14, … (n²%97 + 5n) up to
	// 86 + 295 = 381 at n = 59; series 1 misses n = 3, 10, …, 59 (9 of 60);
	// series 2 joins at n = 100, 20 samples into minute 1.
	mins0, _ := s.QueryMinutes(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0))
	mins1, _ := s.QueryMinutes(testKeys[1], time.UnixMilli(t0), time.UnixMilli(t0))
	mins2, _ := s.QueryMinutes(testKeys[2], time.UnixMilli(t0+60_000), time.UnixMilli(t0+60_000))
	if len(mins0) != 1 || mins0[0].First != 0 || mins0[0].Last != 381 || mins0[0].Count != 60 ||
		len(mins1) != 1 || mins1[0].Count != 51 || len(mins2) != 1 || mins2[0].Count != 20 || mins2[0].First != testValue(2, 100) {
		t.Fatalf("hand-checked minutes: %+v %+v %+v", mins0, mins1, mins2)
	}
}

// referenceMinute is the rollup of series i over the minute starting at T,
// computed from testValue with the slices package — not with the store's
// own aggregation.
func referenceMinute(i int, T int64) MinutePoint {
	var vals []int64
	for n := int(T-t0) / 1000; n < int(T-t0)/1000+60; n++ {
		if v := testValue(i, n); v != detect.Gap {
			vals = append(vals, v)
		}
	}
	if len(vals) == 0 {
		return MinutePoint{}
	}
	var sum int64
	for _, v := range vals {
		sum += v
	}
	return MinutePoint{T: T, First: vals[0], Last: vals[len(vals)-1], Min: slices.Min(vals), Max: slices.Max(vals),
		Sum: sum, Count: int64(len(vals))}
}

func TestStoreCorruptChunkSkipped(t *testing.T) {
	cfg := testStoreConfig()
	s, _ := openTestStore(t, cfg, nil)
	appendTestSweeps(t, s, 0, 240)
	_ = s.Close()

	// Flip a byte in the value of the first chunk of series 0.
	db, err := pebble.Open("db", &pebble.Options{FS: cfg.FS})
	if err != nil {
		t.Fatal(err)
	}
	key := offsetKeys.chunkKey(nil, t0, 0, t0)
	v, closer, err := db.Get(key)
	if err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(v)
	_ = closer.Close()
	bad[len(bad)/2] ^= 0x5a
	if err := db.Set(key, bad, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	var logs bytes.Buffer
	s2, set := openTestStore(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	pts, err := s2.Query(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+239_000))
	if err != nil {
		t.Fatal(err)
	}
	gaps := 0
	for _, p := range pts {
		if p.Gap {
			gaps++
		}
	}
	if len(pts) != 240 || gaps != 120 {
		t.Fatalf("%d points, %d gaps; want 240 with the corrupt block's 120 as gaps", len(pts), gaps)
	}
	if c := set.GetOrCreateCounter("kwitness_store_corrupt_chunks_total").Get(); c != 1 {
		t.Fatalf("corrupt counter %d, want 1", c)
	}
	if !strings.Contains(logs.String(), "corrupt chunk skipped") {
		t.Fatalf("no log line for the corrupt chunk:\n%s", logs.String())
	}
	n := 0
	if err := s2.Replay(time.UnixMilli(t0), func(int64, []state.SeriesKey, []int64) error { n++; return nil }); err != nil || n != 240 {
		t.Fatalf("replay over a corrupt chunk: %d sweeps, %v", n, err)
	}
}

func TestStoreDropsWhenBehind(t *testing.T) {
	set := metrics.NewSet()
	var logs bytes.Buffer
	// Not opened, so no encoder goroutine: each queue of 1 stays full.
	cfg := DefaultConfig()
	cfg.Queue = 1
	s := newStore(cfg, "db", slog.New(slog.NewTextHandler(&logs, nil)), set)
	if !s.appendSweep(sweepData{At: 1}) || s.appendSweep(sweepData{At: 2}) || s.appendSweep(sweepData{At: 3}) {
		t.Fatal("want the first sweep queued and the next two dropped")
	}
	if n := set.GetOrCreateCounter("kwitness_store_dropped_sweeps_total").Get(); n != 2 {
		t.Fatalf("dropped counter %d, want 2", n)
	}
	if c := strings.Count(logs.String(), "sweep dropped"); c != 1 {
		t.Fatalf("%d log lines, want 1 (rate-limited)", c)
	}
	// The telemetry stream has its own queue and counter. A dropped sweep's
	// new keys are handed over again with the next one.
	tel, _ := state.NewTelemetry(state.DefaultWindowConfig(), "c1")
	for n := range 3 {
		sw := tel.Begin(time.UnixMilli(t0 + int64(n)*1000))
		sw.Set(state.TelemetryKey{Signal: detect.SigScrapeUp, Broker: int32(n), Partition: -1}, 1)
		tel.Commit(sw)
		if s.AppendTelemetry(tel) != (n == 0) {
			t.Fatalf("telemetry sweep %d: want only the first queued", n)
		}
	}
	if n := set.GetOrCreateCounter("kwitness_store_telemetry_dropped_sweeps_total").Get(); n != 2 || s.tel.handed != 1 {
		t.Fatalf("telemetry dropped counter %d, %d keys handed; want 2 and 1", n, s.tel.handed)
	}
}

func TestStoreAppendAfterClose(t *testing.T) {
	s, _ := openTestStore(t, testStoreConfig(), nil)
	_ = s.Close()
	if s.appendSweep(sweepData{At: t0}) {
		t.Fatal("Append after Close succeeded")
	}
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("Flush after Close succeeded")
	}
}

func TestStoreOpenBadDir(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{file, filepath.Join(file, "sub")} {
		_, err := Open(dir, DefaultConfig(), log, metrics.NewSet())
		if err == nil || !strings.Contains(err.Error(), dir) {
			t.Fatalf("Open(%s): %v; want an error naming the path", dir, err)
		}
	}
	if os.Geteuid() != 0 { // root ignores permissions
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o500); err != nil {
			t.Fatal(err)
		}
		_, err := Open(ro, DefaultConfig(), log, metrics.NewSet())
		if err == nil || !strings.Contains(err.Error(), ro) {
			t.Fatalf("Open(read-only %s): %v; want an error naming the path", ro, err)
		}
	}
}

func TestStoreFindings(t *testing.T) {
	cfg := testStoreConfig()
	s, _ := openTestStore(t, cfg, nil)
	f := func(id string, st detect.State, sev detect.Severity) detect.Finding {
		return detect.Finding{
			ID: id, Fingerprint: "fp-" + id, Kind: detect.KindLagGrowing, State: st, Severity: sev,
			OpenedAt: time.UnixMilli(t0).UTC(), Subject: detect.Subject{Group: "g", Topic: "t", Partitions: []int32{0, 1}, Broker: -1},
			Evidence: []detect.Citation{{Series: detect.SeriesRef{Metric: "m", Labels: []detect.Label{{Name: "a", Value: "b"}}}}},
		}
	}
	err := s.SaveFindings([]detect.Event{
		{Type: detect.EventOpened, Finding: f("a", detect.StateFiring, detect.SeverityWarning)},
		{Type: detect.EventOpened, Finding: f("b", detect.StateFiring, detect.SeverityWarning)},
		{Type: detect.EventUpdated, Finding: f("a", detect.StateFiring, detect.SeverityCritical)},
		{Type: detect.EventResolved, Finding: f("b", detect.StateResolved, detect.SeverityWarning)},
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	s2, _ := openTestStore(t, cfg, nil)
	got, err := s2.LoadFiring()
	if err != nil {
		t.Fatal(err)
	}
	want := f("a", detect.StateFiring, detect.SeverityCritical)
	if len(got) != 1 || got[0].ID != "a" || got[0].Severity != want.Severity || !got[0].OpenedAt.Equal(want.OpenedAt) ||
		got[0].Evidence[0].Series.String() != want.Evidence[0].Series.String() {
		t.Fatalf("LoadFiring: %+v", got)
	}
}

func TestSeriesKeyOfRef(t *testing.T) {
	w, _ := state.NewWindow(state.DefaultWindowConfig(), "c1")
	for _, k := range testKeys {
		got, err := SeriesKeyOf(w.RefOf(k))
		if err != nil || got != k {
			t.Fatalf("SeriesKeyOf(RefOf(%v)) = %v, %v", k, got, err)
		}
	}
	for _, bad := range []detect.SeriesRef{
		{Metric: "nope"},
		{Metric: state.MetricEnd.String()},
		{Metric: state.MetricCommitted.String(), Labels: []detect.Label{{Name: "partition", Value: "1"}}},
		{Metric: state.MetricEnd.String(), Labels: []detect.Label{{Name: "partition", Value: "x"}}},
	} {
		if _, err := SeriesKeyOf(bad); err == nil {
			t.Fatalf("SeriesKeyOf(%v) accepted", bad)
		}
	}
}

func TestStoreConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultConfig()
	c.Bucket, c.ChunkSamples, c.Queue = 7*time.Minute, 10, 0
	err := c.Validate()
	for _, key := range []string{"store.bucket", "store.chunk_samples", "store.queue"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Fatalf("want an error for %s, got %v", key, err)
		}
	}
}

// Test-only feeding: sweeps with explicit ids, as the benchmarks and crash
// tests build them without a Window.

// sweepData is one sweep handed to the store. The store takes ownership of
// Values and NewKeys; Values may come from Store.buffer. Series ids handed
// over this way are never reassigned; a Window, whose ids are reused, goes
// through AppendWindow.
type sweepData struct {
	At int64 // Unix ms, shared by every sample of the sweep
	// Values[i] is the value of window series i, detect.Gap when absent.
	Values []int64
	// NewKeys are the keys of window series FirstNew, FirstNew+1, … not
	// handed over before. Every index of Values must have been handed over.
	FirstNew uint32
	NewKeys  []state.SeriesKey
}

// appendSweep hands a sweep of offsets to the encoder without blocking. It
// returns false (counted and logged) if the queue is full or the store is
// closed.
func (s *Store) appendSweep(sd sweepData) bool {
	h := handoff[state.SeriesKey]{at: sd.At, values: sd.Values, keys: sd.NewKeys}
	for i := range sd.NewKeys {
		h.ids = append(h.ids, sd.FirstNew+uint32(i))
	}
	return s.off.append(h)
}

// buffer returns a value slice of length n for appendSweep, reusing one the
// encoder is done with when it can.
func (s *Store) buffer(n int) []int64 { return s.off.buffer(n) }
