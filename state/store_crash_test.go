package state

import (
	"bufio"
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
)

const (
	crashDirEnv   = "KWITNESS_STORE_CRASH_DIR"
	crashSeries   = 200
	crashFlush    = 100 * time.Millisecond
	crashSweepGap = 2 * time.Millisecond // real time between sweeps
)

func crashConfig() StoreConfig {
	c := DefaultStoreConfig()
	c.FlushInterval, c.ChunkSamples = crashFlush, 120
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
// forever, printing the index of each sweep handed over.
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
	keys := make([]SeriesKey, crashSeries)
	for i := range keys {
		keys[i] = SeriesKey{Metric: MetricEnd, Topic: "t", Partition: int32(i)}
	}
	out := bufio.NewWriter(os.Stdout)
	for n := 0; ; n++ {
		sd := SweepData{At: t0 + int64(n)*1000, Values: s.Buffer(crashSeries)}
		if n == 0 {
			sd.NewKeys = keys
		}
		for i := range sd.Values {
			sd.Values[i] = crashValue(i, n)
		}
		for !s.Append(sd) {
			time.Sleep(time.Millisecond) // never happens with this load; keep sweeps dense
		}
		fmt.Fprintln(out, n)
		_ = out.Flush()
		time.Sleep(crashSweepGap)
	}
}

// TestStoreCrashKill9 kills a process in the middle of ingest and proves the
// store opens cleanly, lost only the sweeps appended in the last flush
// interval (plus scheduling slack), replays in order, and refills a window.
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
	// Read sweep indexes and when each was handed over, until a few blocks
	// and checkpoints have been written.
	var handedAt []time.Time
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && len(handedAt) < 700 {
		n, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
		if err != nil || n != len(handedAt) {
			_ = cmd.Process.Kill()
			t.Fatalf("child said %q", sc.Text())
		}
		handedAt = append(handedAt, time.Now())
	}
	killed := time.Now()
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() { // sweeps handed over before the kill landed
		handedAt = append(handedAt, killed)
	}
	_ = cmd.Wait()

	s, err := Open(dir, crashConfig(), slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	lastAt, sweeps := int64(-1), 0
	err = s.Replay(time.UnixMilli(t0), func(at int64, _ []SeriesKey, vals []int64) error {
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
	// Every lost sweep was handed over within FlushInterval (plus slack for
	// scheduling under -race) of the kill.
	slack := 500 * time.Millisecond
	if sweeps < len(handedAt) {
		if lost := handedAt[sweeps]; killed.Sub(lost) > crashFlush+slack {
			t.Fatalf("lost sweeps %d..%d; the first was handed over %s before the kill (flush interval %s)",
				sweeps, len(handedAt)-1, killed.Sub(lost), crashFlush)
		}
	}
	t.Logf("kept %d of %d sweeps handed over", sweeps, len(handedAt))

	w, err := NewWindow(DefaultWindowConfig(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.LoadWindow(w, time.UnixMilli(lastAt-int64(10*time.Minute/time.Millisecond)))
	want := min(sweeps, 601) // the 10 minutes up to lastAt, both ends included
	if err != nil || n != want || w.Snapshot().At != lastAt || w.Snapshot().Series != crashSeries {
		t.Fatalf("LoadWindow: %d sweeps, newest %d, %d series, %v; want %d sweeps up to %d", n, w.Snapshot().At, w.Snapshot().Series, err, want, lastAt)
	}
	// The restarted process keeps appending after the restored sweeps.
	if !s.Append(SweepData{At: lastAt + 1000, Values: []int64{1}, NewKeys: []SeriesKey{{Metric: MetricEnd, Topic: "t"}}}) {
		t.Fatal("append after restart dropped")
	}
}
