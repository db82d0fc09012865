//go:build unix

package scrape

import (
	"bytes"
	"compress/gzip"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
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
// path: request, body read, parse, mapping. The server writes the body
// pre-rendered with its Content-Length, as jmx_exporter does when it does
// not compress. cache=warm is a Scraper polling the same broker, its steady
// state; cache=cold is a Scraper's first scrape; cache=none is the
// package-level Scrape. encoding=gzip serves the body pre-compressed, as
// jmx_exporter answers Go's default Accept-Encoding: the client inflates it.
func BenchmarkScrape(b *testing.B) {
	for _, bs := range benchStyles {
		body, mapped := genExposition(bs.style, benchLines, benchSeed)
		srv := httptest.NewServer(serveText(body))
		target := Target{URL: srv.URL, BrokerID: 1}
		check := func(b *testing.B, res Result, err error) {
			if err != nil || len(res.Samples) != mapped {
				b.Fatalf("%v: %d samples, want %d", err, len(res.Samples), mapped)
			}
		}
		scraper := func(b *testing.B) *Scraper {
			sc, err := NewScraper(srv.Client(), target, Options{})
			if err != nil {
				b.Fatal(err)
			}
			return sc
		}
		b.Run(bs.name+"/cache=warm", func(b *testing.B) {
			sc := scraper(b)
			res, err := sc.Scrape(context.Background())
			check(b, res, err)
			b.SetBytes(int64(len(body)))
			perLine(b, benchLines, func() {
				for b.Loop() {
					res, err := sc.Scrape(context.Background())
					check(b, res, err)
				}
			})
		})
		b.Run(bs.name+"/cache=warm/encoding=gzip", func(b *testing.B) {
			gz := httptest.NewServer(serveGzip(b, body))
			defer gz.Close()
			sc, err := NewScraper(gz.Client(), Target{URL: gz.URL, BrokerID: 1}, Options{})
			if err != nil {
				b.Fatal(err)
			}
			res, err := sc.Scrape(context.Background())
			check(b, res, err)
			b.SetBytes(int64(len(body)))
			perLine(b, benchLines, func() {
				for b.Loop() {
					res, err := sc.Scrape(context.Background())
					check(b, res, err)
				}
			})
		})
		b.Run(bs.name+"/cache=cold", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			perLine(b, benchLines, func() {
				for b.Loop() {
					res, err := scraper(b).Scrape(context.Background())
					check(b, res, err)
				}
			})
		})
		b.Run(bs.name+"/cache=none", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			perLine(b, benchLines, func() {
				for b.Loop() {
					res, err := Scrape(context.Background(), srv.Client(), target, Options{})
					check(b, res, err)
				}
			})
		})
		srv.Close()
	}
}

// BenchmarkParse is BenchmarkScrape without HTTP, plus the MSK fixture:
// cache=none is Parse, cache=warm a parse with the cache of the same body.
func BenchmarkParse(b *testing.B) {
	run := func(b *testing.B, body []byte, parse func() (Result, error)) {
		lines := bytes.Count(body, []byte{'\n'})
		b.SetBytes(int64(len(body)))
		perLine(b, lines, func() {
			for b.Loop() {
				if _, err := parse(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	type named struct {
		name string
		body []byte
	}
	var bodies []named
	for _, bs := range benchStyles {
		body, _ := genExposition(bs.style, benchLines, benchSeed)
		bodies = append(bodies, named{bs.name, body})
	}
	bodies = append(bodies, named{"fixture=msk-jmx", readFixture(b, "kafka-broker-jmx-exporter-0.12-msk.prom.gz")})
	for _, bb := range bodies {
		b.Run(bb.name+"/cache=none", func(b *testing.B) {
			run(b, bb.body, func() (Result, error) { return Parse(bytes.NewReader(bb.body), Options{}) })
		})
		b.Run(bb.name+"/cache=warm", func(b *testing.B) {
			c := newSeriesCache()
			if _, err := parseCached(bb.body, Options{}, c); err != nil {
				b.Fatal(err)
			}
			run(b, bb.body, func() (Result, error) { return parseCached(bb.body, Options{}, c) })
		})
	}
}

// serveGzip serves body gzip-compressed once, up front.
func serveGzip(tb testing.TB, body []byte) http.Handler {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(body); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	gz := buf.Bytes()
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Set("Content-Length", strconv.Itoa(len(gz)))
		_, _ = w.Write(gz)
	})
}
