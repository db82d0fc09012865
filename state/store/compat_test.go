package store

import (
	"context"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/chunkenc"
)

// The store in testdata/store-v1 was written by kwitness at commit 75a0f93
// (store format version 1, every int chunk of chunk version 1) from
// fixtureSweep's sweeps [0, fixtureSweeps), through Store's own
// appendSweep, Flush and Close, with fixtureConfig on the OS file system.

const fixtureSweeps = 1500 // 25 min: two closed 10 min buckets and an open one

var fixtureKeys = []state.SeriesKey{
	{Metric: state.MetricEnd, Topic: "orders", Partition: 0},
	{Metric: state.MetricCommitted, Group: "billing", Topic: "orders", Partition: 0},
	{Metric: state.MetricStart, Topic: "orders", Partition: 0},
	{Metric: state.MetricEnd, Topic: "bursts", Partition: 3},
}

func fixtureConfig() Config {
	c := DefaultConfig()
	c.Bucket, c.ChunkSamples, c.FlushInterval, c.Queue = 10*time.Minute, 120, time.Hour, 1<<12
	return c
}

// fixtureValue is series i in sweep n, or a gap: a steady end offset, a
// committed offset with a gap every 13th sweep, a log start that joins at
// sweep 300 and moves by segments, a bursty end offset.
func fixtureValue(i, n int) int64 {
	switch i {
	case 0:
		return 1_000_000_000_000 + int64(n)*480 + int64(n*n*31%97)
	case 1:
		if n%13 == 5 {
			return detect.Gap
		}
		return 1_000_000_000_000 + int64(n)*480 - int64(n*17%1000)
	case 2:
		if n < 300 {
			return detect.Gap
		}
		return 999_000_000_000 + int64(n/200)*100_000
	}
	return 42 + int64(n/30)*20_000 + int64(n/30%7)*3
}

// fixtureSweep is sweep n of the fixture; joined is true when the sweep
// introduces new keys (the first sweep and sweep 300).
func fixtureSweep(n int) sweepData {
	sd := sweepData{At: t0 + int64(n)*1000}
	keys := []int{0, 1, 3}
	if n >= 300 {
		keys = []int{0, 1, 3, 2}
	}
	if n == 0 {
		sd.NewKeys = []state.SeriesKey{fixtureKeys[0], fixtureKeys[1], fixtureKeys[3]}
	}
	if n == 300 {
		sd.FirstNew, sd.NewKeys = 3, []state.SeriesKey{fixtureKeys[2]}
	}
	for _, i := range keys {
		sd.Values = append(sd.Values, fixtureValue(i, n))
	}
	return sd
}

// appendFixture appends sweeps [from, to) of the fixture.
func appendFixture(t *testing.T, s *Store, from, to int) {
	t.Helper()
	for n := from; n < to; n++ {
		sd := fixtureSweep(n)
		if n == from && n > 300 { // a new writer: every window series is new to it
			sd.FirstNew, sd.NewKeys = 0, []state.SeriesKey{fixtureKeys[0], fixtureKeys[1], fixtureKeys[3], fixtureKeys[2]}
		}
		for !s.appendSweep(sd) {
			time.Sleep(time.Millisecond)
		}
	}
}

// checkFixture queries every series over sweeps [0, to) and compares with
// fixtureValue.
func checkFixture(t *testing.T, s *Store, to int) {
	t.Helper()
	for i, k := range fixtureKeys {
		pts, err := s.Query(k, time.UnixMilli(t0), time.UnixMilli(t0+int64(to-1)*1000))
		if err != nil {
			t.Fatal(err)
		}
		first := 0
		if i == 2 {
			first = 300
		}
		if len(pts) != to-first {
			t.Fatalf("%v: %d points, want %d", k, len(pts), to-first)
		}
		for j, p := range pts {
			n := first + j
			want := fixtureValue(i, n)
			if p.T != t0+int64(n)*1000 || p.Gap != (want == detect.Gap) || (!p.Gap && p.V != want) {
				t.Fatalf("%v sweep %d: got %+v, want %d", k, n, p, want)
			}
		}
	}
}

// copyDir copies the fixture so the test never changes testdata.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, filepath.Base(p)), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestStoreOpensVersion1: a store written by the release before chunk
// version 2 opens; its samples and rollups read back exactly; sweeps
// appended now (version 2 chunks) read back beside them, also after a
// reopen; and the store says format version 2 from then on.
func TestStoreOpensVersion1(t *testing.T) {
	dir := copyDir(t, "testdata/store-v1")
	cfg := fixtureConfig()
	cfg.FS = vfs.Default
	open := func() *Store {
		t.Helper()
		s, err := Open(dir, cfg, slog.New(slog.DiscardHandler), metrics.NewSet())
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s := open()
	checkFixture(t, s, fixtureSweeps)
	mins, err := s.QueryMinutes(fixtureKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+20*60_000-1))
	if err != nil {
		t.Fatal(err)
	}
	if len(mins) != 20 {
		t.Fatalf("%d minute rollups of the two closed buckets, want 20", len(mins))
	}
	for _, m := range mins {
		n0 := int(m.T-t0) / 1000
		if m.First != fixtureValue(0, n0) || m.Last != fixtureValue(0, n0+59) || m.Count != 60 {
			t.Fatalf("minute %d: %+v", n0/60, m)
		}
	}
	if fs, err := s.LoadFiring(); err != nil || len(fs) != 1 || fs[0].ID != "fixture-1" {
		t.Fatalf("firing findings: %v %v", fs, err)
	}
	appendFixture(t, s, fixtureSweeps, fixtureSweeps+700)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkFixture(t, s, fixtureSweeps+700)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	checkFixture(t, s, fixtureSweeps+700)
	versions := map[byte]int{}
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindChunk}, UpperBound: []byte{kindChunk + 1}})
	if err != nil {
		t.Fatal(err)
	}
	for it.First(); it.Valid(); it.Next() {
		versions[it.Value()[0]]++
	}
	if err := it.Close(); err != nil {
		t.Fatal(err)
	}
	if versions[chunkenc.Version] == 0 || versions[chunkenc.VersionAdaptive] == 0 {
		t.Fatalf("chunks by version %v: want old and new side by side", versions)
	}
	v, closer, err := s.mu.db.Get(metaVersion)
	if err != nil {
		t.Fatal(err)
	}
	defer closer.Close()
	if len(v) != 1 || v[0] != storeFormatVersion {
		t.Fatalf("format version %v after opening, want %d", v, storeFormatVersion)
	}
}
