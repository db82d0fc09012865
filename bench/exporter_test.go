package bench

import (
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/api/exporter"
	"github.com/kwitness/kwitness/state"
)

// countingWriter counts bytes and discards them.
type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

// BenchmarkScrapeLag is one GET /metrics of the lag exporter over the
// estate at each granularity: every value computed at scrape time from the
// newest window snapshot (time lag from each lagging partition's window).
// One iteration is one scrape. A gp is one group-partition.
//
// Metrics: MB/scrape of exposition text, ms/scrape, cpu-ns/gp (process CPU,
// all threads, GC included), B/gp and allocs/gp of heap allocated per scrape,
// series/scrape.
func BenchmarkScrapeLag(b *testing.B) {
	for _, n := range []int{1_000_000} {
		f := newSweepFixture(b, n)
		for _, g := range []exporter.Granularity{exporter.Partition, exporter.Topic, exporter.Group} {
			b.Run(fmt.Sprintf("gp=%d/granularity=%s", n, g), func(b *testing.B) { benchScrapeLag(b, f.w, n, g) })
		}
	}
}

func benchScrapeLag(b *testing.B, w *state.Window, n int, g exporter.Granularity) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e, err := exporter.New(exporter.Config{Granularity: g, MaxSeries: 10 * n}, w, state.NewFindings(time.Hour, 10), log, metrics.NewSet())
	if err != nil {
		b.Fatal(err)
	}
	var out countingWriter
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := cpuTime()
		e.WritePrometheus(&out)
		cpu += cpuTime() - start
	}
	if e.Dropped() != 0 {
		b.Fatalf("%d series dropped under a limit of %d", e.Dropped(), 10*n)
	}
	b.ReportMetric(float64(out.n)/1e6/float64(b.N), "MB/scrape")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/scrape")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/gp")
	}
}
