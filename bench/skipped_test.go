package bench

import (
	"fmt"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// BenchmarkSweepSkipped measures the DATA_SKIPPED check the engine runs at
// every sweep between full retention passes (detect.RetentionDetector's
// SweepSkipped over a fresh View of the estate's full window): one
// comparison per group-partition of its newest committed offset with its
// topic-partition's newest log start offset, read from the recent ring. The
// estate never commits below the log start, so no window is loaded. One
// iteration is one sweep; a sample is one group-partition. Metrics:
// ns/sample, cpu-ns/sample, ms/sweep.
func BenchmarkSweepSkipped(b *testing.B) {
	for _, n := range []int{100_000, 1_000_000} {
		b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) { benchSweepSkipped(b, n) })
	}
}

func benchSweepSkipped(b *testing.B, n int) {
	f := newSweepFixture(b, n)
	d, err := detect.NewRetentionDetector(detect.DefaultRetentionConfig())
	if err != nil {
		b.Fatal(err)
	}
	topics := func() map[string]detect.TopicRetention { return nil }
	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := cpuTime()
		if res := d.SweepSkipped(f.w.View(), topics); len(res.Candidates) != 0 {
			b.Fatalf("%d DATA_SKIPPED candidates on an estate that skips nothing", len(res.Candidates))
		}
		cpu += cpuTime() - start
	}
	ns := float64(b.Elapsed().Nanoseconds())
	b.ReportMetric(ns/float64(b.N*n), "ns/sample")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N*n), "cpu-ns/sample")
	}
	b.ReportMetric(ns/1e6/float64(b.N), "ms/sweep")
}
