//go:build unix

package scrape

import (
	"bytes"
	"context"
	"net/http/httptest"
	"runtime"
	"syscall"
	"testing"
	"time"
)

var benchStyles = []struct {
	name  string
	style genStyle
}{
	{"profile=mbean", genStyle{profile: ProfileMBean}},
	{"profile=lowercase", genStyle{profile: ProfileLowercase}},
}

// perLine reports ns/line and allocs/line for a benchmark whose iterations
// each handle lines lines; run is the timed loop.
func perLine(b *testing.B, lines int, run func()) {
	b.Helper()
	b.ReportAllocs()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu := cpuTime()
	run()
	cpu = cpuTime() - cpu
	runtime.ReadMemStats(&after)
	n := float64(b.N) * float64(lines)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/n, "ns/line")
	b.ReportMetric(float64(cpu.Nanoseconds())/n, "cpu-ns/line")
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/n, "allocs/line")
}

// cpuTime is the user+system CPU time of the process, all threads (GC
// included). cpu-ns/line stays meaningful on a shared, loaded machine where
// wall-clock ns/line does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkScrape scrapes a 50 000-line body over loopback HTTP, the whole
// path: request, body read, parse, mapping.
func BenchmarkScrape(b *testing.B) {
	for _, bs := range benchStyles {
		body, mapped := genExposition(bs.style, benchLines, benchSeed)
		b.Run(bs.name, func(b *testing.B) {
			srv := httptest.NewServer(serveText(body))
			defer srv.Close()
			ctx := context.Background()
			target := Target{URL: srv.URL, BrokerID: 1}
			b.SetBytes(int64(len(body)))
			perLine(b, benchLines, func() {
				for b.Loop() {
					res, err := Scrape(ctx, srv.Client(), target, Options{})
					if err != nil || len(res.Samples) != mapped {
						b.Fatalf("%v: %d samples, want %d", err, len(res.Samples), mapped)
					}
				}
			})
		})
	}
}

// BenchmarkParse is BenchmarkScrape without HTTP, plus the MSK fixture.
func BenchmarkParse(b *testing.B) {
	run := func(b *testing.B, body []byte) {
		lines := bytes.Count(body, []byte{'\n'})
		b.SetBytes(int64(len(body)))
		perLine(b, lines, func() {
			for b.Loop() {
				if _, err := Parse(bytes.NewReader(body), Options{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	for _, bs := range benchStyles {
		body, _ := genExposition(bs.style, benchLines, benchSeed)
		b.Run(bs.name, func(b *testing.B) { run(b, body) })
	}
	b.Run("fixture=msk-jmx", func(b *testing.B) {
		run(b, readFixture(b, "kafka-broker-jmx-exporter-0.12-msk.prom.gz"))
	})
}
