package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// waitFor polls cond until it holds. It asserts nothing about speed: the
// deadline only turns a hang into a failure.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// fullDiskSeries are the series of TestStoreSurvivesFullDisk: 3 offset
// series and 2 telemetry series per sweep.
var fullDiskTel = []state.TelemetryKey{
	{Signal: detect.SigScrapeUp, Broker: 1, Partition: -1},
	{Signal: detect.SigScrapeUp, Broker: 2, Partition: -1},
}

func fullDiskValue(i, n int) int64 {
	if (i+n)%11 == 5 { // never at sweep 0, when the telemetry series are first seen
		return detect.Gap
	}
	return int64(1000*i + 3*n)
}

// fullDiskOutcome is what the test handed to one stream: by sweep index,
// whether the store accepted it.
type fullDiskOutcome map[int]bool

// TestStoreSurvivesFullDisk runs a store on a real Pebble over a file
// system that answers every write with ENOSPC while the disk is "full":
// sweeps 0–239 are stored, the disk fills, sweeps 240–699 keep coming,
// the disk has room again, sweeps 700–899 are stored. It proves, for both
// streams (offsets and broker telemetry), that
//   - during the outage nothing panics, Append and AppendTelemetry keep
//     accepting into the bounded hand-off (the rest is counted as dropped),
//     Healthy is false with a reason naming the data dir and the OS error,
//     kwitness_store_healthy is 0, and reads, Flush and SaveFindings fail
//     with ErrUnavailable once Pebble is closed;
//   - once the disk has room, the store reopens Pebble by itself, Healthy
//     turns true, and the failure and the recovery are each logged once;
//   - every accepted sweep (before, during and after the outage) reads
//     back with its values, every dropped sweep is absent, and each stretch
//     of dropped sweeps reads as explicit gaps at its first and last
//     sweep, so no two values separated by a lost sweep look adjacent;
//   - Close then succeeds and leaves no goroutine behind.
func TestStoreSurvivesFullDisk(t *testing.T) {
	baseGoroutines := runtime.NumGoroutine()
	full := errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	})}
	cfg := testStoreConfig()
	cfg.FS = errorfs.Wrap(vfs.NewMem(), &full)
	cfg.Queue = 4
	cfg.RetryBackoff = time.Millisecond
	var logs bytes.Buffer
	set := metrics.NewSet()
	s, err := Open("db", cfg, slog.New(slog.NewTextHandler(&logs, nil)), set)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	defer func() {
		if !closed {
			_ = s.Close()
		}
	}()
	tel, err := state.NewTelemetry(state.DefaultWindowConfig(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	off, telOut := fullDiskOutcome{}, fullDiskOutcome{}
	put := func(n int) {
		sd := sweepData{At: t0 + int64(n)*1000, Values: s.buffer(len(testKeys))}
		if n == 0 {
			sd.NewKeys = testKeys
		}
		for i := range sd.Values {
			sd.Values[i] = fullDiskValue(i, n)
		}
		off[n] = s.appendSweep(sd)
		sw := tel.Begin(time.UnixMilli(sd.At))
		for i, k := range fullDiskTel {
			if v := fullDiskValue(i, n); v != detect.Gap {
				sw.Set(k, float64(v)/2)
			}
		}
		tel.Commit(sw)
		telOut[n] = s.AppendTelemetry(tel)
	}
	// putFlushed stores sweeps [from, to) without drops: no more than the
	// queue holds between two flushes.
	putFlushed := func(from, to int) {
		t.Helper()
		for n := from; n < to; n++ {
			put(n)
			if !off[n] || !telOut[n] {
				t.Fatalf("sweep %d dropped while the disk had room", n)
			}
			if n%cfg.Queue == cfg.Queue-1 {
				flush(t, s)
			}
		}
		flush(t, s)
	}

	putFlushed(0, 240) // two full blocks: sweep 240 has to write one first
	if ok, why := s.Healthy(); !ok {
		t.Fatalf("unhealthy before the disk filled: %s", why)
	}

	full.On()
	for n := 240; n < 700; n++ { // sweep 240 is accepted; writing its block fails
		put(n)
	}
	waitFor(t, "Healthy false", func() bool { ok, _ := s.Healthy(); return !ok })
	_, why := s.Healthy()
	if !strings.Contains(why, "store db") || !strings.Contains(why, syscall.ENOSPC.Error()) {
		t.Fatalf("Healthy reason %q; want it to name the data dir and %q", why, syscall.ENOSPC.Error())
	}
	waitFor(t, "reads fail while Pebble is closed", func() bool {
		_, err := s.Query(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+1000))
		return errors.Is(err, ErrUnavailable)
	})
	_, qerr := s.QueryTelemetry(fullDiskTel[0], time.UnixMilli(t0), time.UnixMilli(t0+1000))
	_, merr := s.QueryMinutes(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+1000))
	_, lerr := s.LoadFiring()
	ferr := s.Flush(context.Background())
	serr := s.SaveFindings([]detect.Event{{Type: detect.EventOpened, Finding: detect.Finding{ID: "f", State: detect.StateFiring}}})
	for i, err := range []error{qerr, merr, lerr, ferr, serr} {
		if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
			t.Fatalf("call %d during the outage: %v; want ErrUnavailable with the cause", i, err)
		}
	}
	if g := set.GetOrCreateGauge("kwitness_store_healthy", nil).Get(); g != 0 {
		t.Fatalf("kwitness_store_healthy = %v during the outage", g)
	}

	full.Off()
	waitFor(t, "Healthy true", func() bool { ok, _ := s.Healthy(); return ok })
	flush(t, s) // the encoders write what they held and empty their queues
	putFlushed(700, 900)

	for _, c := range []struct {
		stream string
		out    fullDiskOutcome
		drops  string
	}{
		{"offsets", off, "kwitness_store_dropped_sweeps_total"},
		{"telemetry", telOut, "kwitness_store_telemetry_dropped_sweeps_total"},
	} {
		dropped := 0
		for _, ok := range c.out {
			if !ok {
				dropped++
			}
		}
		if dropped == 0 {
			t.Fatalf("%s: no sweep dropped during the outage: the test proves nothing", c.stream)
		}
		if got := set.GetOrCreateCounter(c.drops).Get(); got != uint64(dropped) {
			t.Fatalf("%s: %s = %d, want %d", c.stream, c.drops, got, dropped)
		}
	}
	marks := 0
	for i, k := range testKeys {
		pts, err := s.Query(k, time.UnixMilli(t0), time.UnixMilli(t0+899_000))
		if err != nil {
			t.Fatal(err)
		}
		marks = checkFullDisk(t, fmt.Sprintf("offsets series %d", i), pts, off, func(n int) (int64, bool) {
			v := fullDiskValue(i, n)
			return v, v != detect.Gap
		})
	}
	for i, k := range fullDiskTel {
		tp, err := s.QueryTelemetry(k, time.UnixMilli(t0), time.UnixMilli(t0+899_000))
		if err != nil {
			t.Fatal(err)
		}
		pts := make([]Point, len(tp))
		for j, p := range tp {
			pts[j] = Point{T: p.T, V: int64(p.V * 2), Gap: math.IsNaN(p.V)}
		}
		checkFullDisk(t, fmt.Sprintf("telemetry series %d", i), pts, telOut, func(n int) (int64, bool) {
			v := fullDiskValue(i, n)
			return v, v != detect.Gap
		})
	}
	// A window refilled from the store sees the accepted sweeps and the
	// all-gap sweeps marking the lost stretches.
	w, err := state.NewWindow(state.WindowConfig{Span: time.Hour, Points: 4, Recent: 1000}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	accepted := 0
	for _, ok := range off {
		if ok {
			accepted++
		}
	}
	if n, err := s.LoadWindow(w, time.UnixMilli(t0)); err != nil || n != accepted+marks {
		t.Fatalf("LoadWindow after the recovery: %d sweeps, %v; want %d accepted + %d gap marks", n, err, accepted, marks)
	}
	if g := set.GetOrCreateGauge("kwitness_store_healthy", nil).Get(); g != 1 {
		t.Fatalf("kwitness_store_healthy = %v after the recovery", g)
	}
	if n := set.GetOrCreateCounter("kwitness_store_recoveries_total").Get(); n != 1 {
		t.Fatalf("kwitness_store_recoveries_total = %d, want 1", n)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after the recovery: %v", err)
	}
	closed = true
	for _, line := range []string{"store write failed", "store writable again"} {
		if c := strings.Count(logs.String(), line); c != 1 {
			t.Fatalf("%d log lines %q, want 1:\n%s", c, line, logs.String())
		}
	}
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= baseGoroutines })
}

// checkFullDisk checks one series' points over sweeps [0, 900) against
// what the store accepted (out): accepted sweeps read back exactly, dropped
// ones are absent except the first and last of each stretch, which are gaps.
// It returns the number of those gap marks.
func checkFullDisk(t *testing.T, what string, pts []Point, out fullDiskOutcome, want func(n int) (int64, bool)) int {
	t.Helper()
	got := map[int64]Point{}
	for j, p := range pts {
		if j > 0 && p.T <= pts[j-1].T {
			t.Fatalf("%s: point %d at %d after %d", what, j, p.T, pts[j-1].T)
		}
		got[p.T] = p
	}
	marks := 0
	for n := range 900 {
		at := t0 + int64(n)*1000
		p, ok := got[at]
		switch {
		case out[n]:
			v, present := want(n)
			if !ok || p.Gap == present || (present && p.V != v) {
				t.Fatalf("%s: accepted sweep %d reads %+v (found %v), want %d", what, n, p, ok, v)
			}
		case out[n-1] || out[n+1]: // the first or last of a stretch of drops
			if !ok || !p.Gap {
				t.Fatalf("%s: sweep %d, at an end of a dropped stretch, reads %+v (found %v); want a gap", what, n, p, ok)
			}
			marks++
		case ok: // inside a stretch: not stored at all
			t.Fatalf("%s: dropped sweep %d inside a stretch reads %+v", what, n, p)
		}
	}
	if len(got) != len(pts) || marks == 0 {
		t.Fatalf("%s: %d points, %d distinct, %d gap marks", what, len(pts), len(got), marks)
	}
	accepted := 0
	for _, ok := range out {
		if ok {
			accepted++
		}
	}
	if len(pts) != accepted+marks {
		t.Fatalf("%s: %d points, want %d accepted sweeps + %d gap marks", what, len(pts), accepted, marks)
	}
	return marks
}

// fullDiskStore opens a store on a file system that answers every write
// with ENOSPC while the returned switch is on.
func fullDiskStore(t *testing.T) (*Store, *errorfs.Toggle) {
	t.Helper()
	full := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	})}
	cfg := testStoreConfig()
	cfg.FS = errorfs.Wrap(vfs.NewMem(), full)
	cfg.RetryBackoff = time.Millisecond
	s, _ := openTestStore(t, cfg, nil)
	return s, full
}

// TestStoreCheckpointOnFullDisk: a checkpoint (Flush) that hits the full
// disk fails with the cause and loses nothing: the open block stays in
// memory and is written once the store has recovered.
func TestStoreCheckpointOnFullDisk(t *testing.T) {
	s, full := fullDiskStore(t)
	appendTestSweeps(t, s, 0, 50)
	flush(t, s)
	full.On()
	appendTestSweeps(t, s, 50, 100)
	if err := s.Flush(context.Background()); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Fatalf("Flush on a full disk: %v; want ErrUnavailable naming the cause", err)
	}
	full.Off()
	waitFor(t, "Healthy true", func() bool { ok, _ := s.Healthy(); return ok })
	flush(t, s)
	pts, err := s.Query(testKeys[1], time.UnixMilli(t0), time.UnixMilli(t0+99_000))
	if err != nil || len(pts) != 100 {
		t.Fatalf("after the recovery: %d points, %v; want 100", len(pts), err)
	}
	for n, p := range pts {
		if want := testValue(1, n); p.Gap != (want == detect.Gap) || (!p.Gap && p.V != want) {
			t.Fatalf("sweep %d: %+v, want %d", n, p, want)
		}
	}
}

// TestStoreCloseOnFullDisk: closing a store that is still failing neither
// hangs nor panics; it reports the failure, and the sweeps it could not
// write are counted as dropped.
func TestStoreCloseOnFullDisk(t *testing.T) {
	base := runtime.NumGoroutine()
	s, full := fullDiskStore(t)
	appendTestSweeps(t, s, 0, 50)
	full.On()
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("Flush on a full disk succeeded")
	}
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Fatalf("Close on a full disk: %v; want the failure", err)
	}
	if _, err := s.Query(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+1000)); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Query after Close: %v; want ErrUnavailable", err)
	}
	full.Off()
	waitFor(t, "goroutines to end", func() bool { return runtime.NumGoroutine() <= base })
}

// TestStoreSSTableOnFullDisk: when only sstables cannot be written (the WAL
// still can), Pebble's memtable flush fails in the background. The store
// reports that failure, reopens Pebble (which would otherwise retry the
// flush without pause) and recovers once sstables can be written again,
// without losing what was committed to the WAL.
func TestStoreSSTableOnFullDisk(t *testing.T) {
	full := &errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite && strings.HasSuffix(op.Path, ".sst") {
			return syscall.ENOSPC
		}
		return nil
	})}
	cfg := testStoreConfig()
	cfg.FS = errorfs.Wrap(vfs.NewMem(), full)
	cfg.RetryBackoff = time.Millisecond
	s, _ := openTestStore(t, cfg, nil)
	appendTestSweeps(t, s, 0, 150)
	flush(t, s)
	full.On()
	if err := s.read(func() error { _, err := s.mu.db.AsyncFlush(); return err }); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "Healthy false", func() bool { ok, _ := s.Healthy(); return !ok })
	if _, why := s.Healthy(); !strings.Contains(why, "store db") || !strings.Contains(why, syscall.ENOSPC.Error()) {
		t.Fatalf("Healthy reason %q; want the data dir and %q", why, syscall.ENOSPC.Error())
	}
	full.Off()
	waitFor(t, "Healthy true", func() bool { ok, _ := s.Healthy(); return ok })
	appendTestSweeps(t, s, 150, 200)
	flush(t, s)
	pts, err := s.Query(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+199_000))
	if err != nil || len(pts) != 200 {
		t.Fatalf("after the recovery: %d points, %v; want 200", len(pts), err)
	}
	for n, p := range pts {
		if p.Gap || p.V != testValue(0, n) {
			t.Fatalf("sweep %d: %+v, want %d", n, p, testValue(0, n))
		}
	}
}

// TestResolveTelemetryDuringOutage: while the store cannot be read (its
// disk is full and Pebble is closed), a broker citation still resolves
// from the telemetry window rather than failing.
func TestResolveTelemetryDuringOutage(t *testing.T) {
	s, full := fullDiskStore(t)
	tel, _ := state.NewTelemetry(state.WindowConfig{Span: time.Minute, Points: 4, Recent: 12}, "c1")
	k := state.TelemetryKey{Signal: detect.SigUnderReplicated, Broker: 1, Partition: -1}
	for n := range 10 {
		sw := tel.Begin(time.UnixMilli(t0 + int64(n)*1000))
		sw.Set(k, float64(n))
		tel.Commit(sw)
		s.AppendTelemetry(tel)
	}
	full.On()
	if err := s.Flush(context.Background()); err == nil {
		t.Fatal("Flush on a full disk succeeded")
	}
	from, to := time.UnixMilli(t0), time.UnixMilli(t0+9_000)
	waitFor(t, "reads unavailable", func() bool {
		_, err := s.QueryTelemetry(k, from, to)
		return errors.Is(err, ErrUnavailable)
	})
	pts, ok, err := ResolveTelemetry(s, tel, tel.Ref(k), from, to)
	if err != nil || !ok || len(pts) != 10 || pts[9].V != 9 {
		t.Fatalf("during the outage: %d samples, %v, %v; want the window's 10", len(pts), ok, err)
	}
	full.Off()
}
