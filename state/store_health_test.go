package state

import (
	"log/slog"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
)

// TestStoreHealthyOnWriteError: a full disk (ENOSPC on every write) makes
// Healthy false with the store's path, while Append keeps accepting sweeps
// and nothing crashes.
func TestStoreHealthyOnWriteError(t *testing.T) {
	full := errorfs.Toggle{Injector: errorfs.InjectorFunc(func(op errorfs.Op) error {
		if op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	})}
	cfg := testStoreConfig()
	cfg.FS = errorfs.Wrap(vfs.NewMem(), &full)
	s, err := Open("db", cfg, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendTestSweeps(t, s, 0, 10)
	flush(t, s)
	if ok, why := s.Healthy(); !ok {
		t.Fatalf("unhealthy before the disk filled: %s", why)
	}
	full.On()
	appendTestSweeps(t, s, 10, 20)
	flush(t, s)
	ok, why := s.Healthy()
	if ok || !strings.Contains(why, "db") {
		t.Fatalf("Healthy() = %v, %q; want false naming the store", ok, why)
	}
	// Ingest keeps going (the sweeps are counted as dropped), reads of what
	// was stored keep working, and Close does not crash.
	if !s.Append(SweepData{At: t0 + 30_000, Values: []int64{1, 2}}) {
		t.Fatal("Append refused after the write failure")
	}
	pts, err := s.Query(testKeys[0], time.UnixMilli(t0), time.UnixMilli(t0+9_000))
	if err != nil || len(pts) != 10 {
		t.Fatalf("query after the write failure: %d points, %v", len(pts), err)
	}
	full.Off()
	if err := s.Close(); err == nil {
		t.Log("close after a fatal commit error succeeded")
	}
}
