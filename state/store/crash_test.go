package store

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

const (
	crashDirEnv   = "KWITNESS_STORE_CRASH_DIR"
	crashSeries   = 200
	crashFlush    = 100 * time.Millisecond
	crashSweepGap = 2 * time.Millisecond // real time between sweeps
	crashSweeps   = 700                  // the parent kills the child after these
	crashFlushAt  = 150                  // the child flushes after every crashFlushAt sweeps
)

// crashConfig checkpoints often, and queues more sweeps than the child
// hands over, so that none is dropped however slowly the encoder runs.
func crashConfig() Config {
	c := DefaultConfig()
	c.FlushInterval, c.ChunkSamples, c.Queue = crashFlush, 120, 2*crashSweeps
	return c
}

func crashValue(sid, n int) int64 {
	if (sid+n)%13 == 0 {
		return detect.Gap
	}
	return int64(n * (sid + 1))
}

// TestStoreCrashChild is the process TestStoreCrashKill9 kills: it appends
// sweeps (simulated one second apart) to the store in $KWITNESS_STORE_CRASH_DIR
// forever, printing the index of each sweep handed over, and after every
// crashFlushAt of them flushes the store and prints "flushed".
func TestStoreCrashChild(t *testing.T) {
	dir := os.Getenv(crashDirEnv)
	if dir == "" {
		t.Skip("only run as the child of TestStoreCrashKill9")
	}
	s, err := Open(dir, crashConfig(), slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	keys := make([]state.SeriesKey, crashSeries)
	for i := range keys {
		keys[i] = state.SeriesKey{Metric: state.MetricEnd, Topic: "t", Partition: int32(i)}
	}
	out := bufio.NewWriter(os.Stdout)
	for n := 0; ; n++ {
		sd := sweepData{At: t0 + int64(n)*1000, Values: s.buffer(crashSeries)}
		if n == 0 {
			sd.NewKeys = keys
		}
		for i := range sd.Values {
			sd.Values[i] = crashValue(i, n)
		}
		if !s.appendSweep(sd) {
			fmt.Println("dropped:", n)
			os.Exit(2)
		}
		fmt.Fprintln(out, n)
		if (n+1)%crashFlushAt == 0 {
			if err := s.Flush(context.Background()); err != nil {
				fmt.Println("flush:", err)
				os.Exit(2)
			}
			fmt.Fprintln(out, "flushed")
		}
		_ = out.Flush()
		time.Sleep(crashSweepGap)
	}
}

// TestStoreCrashKill9 kills a process in the middle of ingest (its periodic
// checkpoints every crashFlush running) and proves the store opens cleanly,
// kept every sweep of the last Flush that returned, replays in order, and
// refills a window.
func TestStoreCrashKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestStoreCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashDirEnv+"="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Read sweep indexes until a few blocks and checkpoints have been
	// written; flushed is how many sweeps the last Flush covered.
	handed, flushed := 0, 0
	sc := bufio.NewScanner(stdout)
	for handed < crashSweeps && sc.Scan() {
		if sc.Text() == "flushed" {
			flushed = handed
			continue
		}
		n, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil || n != handed {
			_ = cmd.Process.Kill()
			t.Fatalf("child said %q", sc.Text())
		}
		handed++
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // sweeps handed over before the kill landed
		handed++
	}
	_ = cmd.Wait()
	if flushed < crashFlushAt {
		t.Fatalf("child flushed %d sweeps before the kill, want ≥ %d", flushed, crashFlushAt)
	}

	s, err := Open(dir, crashConfig(), slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	lastAt, sweeps := int64(-1), 0
	err = s.Replay(time.UnixMilli(t0), func(at int64, _ []state.SeriesKey, vals []int64) error {
		n := int((at - t0) / 1000)
		if at <= lastAt || n != sweeps {
			return fmt.Errorf("sweep %d at %d after %d: not the next sweep", sweeps, at, lastAt)
		}
		for sid, v := range vals {
			if v != crashValue(sid, n) {
				return fmt.Errorf("sweep %d series %d: %d, want %d", n, sid, v, crashValue(sid, n))
			}
		}
		lastAt, sweeps = at, sweeps+1
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Every sweep the last returned Flush covered survived.
	if sweeps < flushed {
		t.Fatalf("kept %d sweeps; the last Flush before the kill covered %d", sweeps, flushed)
	}
	t.Logf("kept %d of %d sweeps handed over (%d flushed)", sweeps, handed, flushed)

	w, err := state.NewWindow(state.DefaultWindowConfig(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.LoadWindow(w, time.UnixMilli(lastAt-int64(10*time.Minute/time.Millisecond)))
	want := min(sweeps, 601) // the 10 minutes up to lastAt, both ends included
	if err != nil || n != want || w.Snapshot().At != lastAt || w.Snapshot().Series != crashSeries {
		t.Fatalf("LoadWindow: %d sweeps, newest %d, %d series, %v; want %d sweeps up to %d", n, w.Snapshot().At, w.Snapshot().Series, err, want, lastAt)
	}
	// The restarted process keeps appending after the restored sweeps.
	if !s.appendSweep(sweepData{At: lastAt + 1000, Values: []int64{1}, NewKeys: []state.SeriesKey{{Metric: state.MetricEnd, Topic: "t"}}}) {
		t.Fatal("append after restart dropped")
	}
}
