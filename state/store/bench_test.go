package store

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/state"
)

// Offset series kinds of the benchmark mix, sampled once a second.
const (
	seriesIdle   = iota // nothing produced: a constant offset
	seriesSteady        // Poisson-like production at 10..1000 msg/s (sd √rate)
	seriesBursty        // idle, with a batch of 1k..50k messages about every 30 s
	seriesNoisy         // 10..1000 msg/s with ±50 % noise
)

var kindNames = []string{"idle", "steady", "bursty", "noisy"}

// benchSeries generates offsets of one kind from a fixed seed.
type benchSeries struct {
	kind  int
	v     int64
	rate  float64
	phase int
}

// benchMix returns n series: 40 % idle, 30 % steady, 15 % bursty, 15 %
// noisy, or all of one kind when only ≥ 0.
func benchMix(n, only int) []benchSeries {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]benchSeries, n)
	for i := range out {
		k := only
		if k < 0 {
			switch p := rng.Float64(); {
			case p < 0.40:
				k = seriesIdle
			case p < 0.70:
				k = seriesSteady
			case p < 0.85:
				k = seriesBursty
			default:
				k = seriesNoisy
			}
		}
		out[i] = benchSeries{kind: k, v: rng.Int64N(1 << 40), rate: 10 + rng.Float64()*990, phase: rng.IntN(30)}
	}
	return out
}

// noise is a fixed table of standard normal samples.
var noise = func() []float64 {
	rng := rand.New(rand.NewPCG(3, 4))
	t := make([]float64, 1<<16)
	for i := range t {
		t[i] = rng.NormFloat64()
	}
	return t
}()

// next advances series i to sweep n and returns its offset.
func (s *benchSeries) next(i, n int) int64 {
	z := noise[(i*7919+n)&(len(noise)-1)]
	switch s.kind {
	case seriesSteady:
		s.v += max(0, int64(s.rate+z*math.Sqrt(s.rate)))
	case seriesBursty:
		if (n+s.phase)%30 == 0 {
			s.v += 1000 + int64(math.Abs(z)*20000)
		}
	case seriesNoisy:
		s.v += max(0, int64(s.rate*(1+0.5*z)))
	}
	return s.v
}

// storeRun is the outcome of ingesting an hour of sweeps into a fresh store.
type storeRun struct {
	samples  int
	keys     uint64
	liveSize uint64
	elapsed  time.Duration
}

// ingestHour appends 3600 one-second sweeps of series into a fresh in-memory
// store, checkpointing every 60 sweeps as FlushInterval would, closes it, and
// measures the live sstable bytes after a full compaction.
func ingestHour(b *testing.B, series []benchSeries) storeRun {
	b.Helper()
	keys := make([]state.SeriesKey, len(series))
	for i := range keys {
		keys[i] = state.SeriesKey{Metric: state.MetricEnd, Topic: "t", Partition: int32(i)}
	}
	return ingestHourWith(b, len(series), func(s *Store, n int) bool {
		sd := sweepData{At: t0 + int64(n)*1000, Values: s.buffer(len(series))}
		if n == 0 {
			sd.NewKeys = keys
		}
		for i := range series {
			sd.Values[i] = series[i].next(i, n)
		}
		return s.appendSweep(sd)
	})
}

// ingestHourWith is ingestHour for any stream: feed hands sweep n to the
// store and reports whether it was queued (else it is retried).
func ingestHourWith(b *testing.B, series int, feed func(s *Store, n int) bool) storeRun {
	b.Helper()
	fs := vfs.NewMem()
	cfg := DefaultConfig()
	cfg.FS, cfg.FlushInterval, cfg.Queue = fs, time.Hour, 64
	set := metrics.NewSet()
	s, err := Open("db", cfg, slog.New(slog.DiscardHandler), set)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	for n := range 3600 {
		for !feed(s, n) {
			time.Sleep(50 * time.Microsecond) // the benchmark measures the encoder, not drops
		}
		if n%60 == 59 {
			if err := s.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	run := storeRun{samples: 3600 * series, elapsed: time.Since(start),
		keys: set.GetOrCreateCounter("kwitness_store_keys_written_total").Get()}
	opts := (&Store{cfg: cfg, log: slog.New(slog.DiscardHandler)}).pebbleOptions() // as the store compacts
	db, err := pebble.Open("db", opts)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	if err := db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		b.Fatal(err)
	}
	run.liveSize = db.Metrics().Table.Local.LiveSize
	return run
}

// BenchmarkStoreMix: an hour of one-second sweeps of offset series, by kind
// and mixed. Reports disk bytes per sample after flush and compaction (key
// overhead, timestamps and registry included) and encoder time per sample
// (hand-off, encoding and Pebble writes, on the encoder goroutine).
func BenchmarkStoreMix(b *testing.B) {
	const n = 2000
	for kind := -1; kind < len(kindNames); kind++ {
		name := "mix"
		if kind >= 0 {
			name = kindNames[kind]
		}
		b.Run(fmt.Sprintf("kind=%s/series=%d", name, n), func(b *testing.B) {
			b.ReportAllocs()
			var total storeRun
			for range b.N {
				r := ingestHour(b, benchMix(n, kind))
				total.samples += r.samples
				total.elapsed += r.elapsed
				total.liveSize = r.liveSize
			}
			b.ReportMetric(float64(total.liveSize)/float64(3600*n), "B/sample")
			b.ReportMetric(float64(total.elapsed.Nanoseconds())/float64(total.samples), "ns/sample")
		})
	}
}

// benchTelemetry generates broker signals like the demo's scrapes, from a
// fixed seed: 40 % constant gauges (partition and leader counts, 0 under-
// replicated), 30 % byte counters (the offsets mix, as floats), 15 % log
// sizes growing and dropping by whole segments, 15 % request latency
// quantiles (jmx_exporter's full-precision floats, noisy).
type benchTelemetry struct {
	kind int // 0 gauge, 1 counter, 2 log size, 3 latency
	off  benchSeries
	v    float64
}

func benchTelemetryMix(n int) []benchTelemetry {
	rng := rand.New(rand.NewPCG(5, 6))
	offs := benchMix(n, -1)
	out := make([]benchTelemetry, n)
	for i := range out {
		k := 0
		switch p := rng.Float64(); {
		case p < 0.40:
		case p < 0.70:
			k = 1
		case p < 0.85:
			k = 2
		default:
			k = 3
		}
		out[i] = benchTelemetry{kind: k, off: offs[i], v: float64(rng.IntN(200))}
	}
	return out
}

// next returns series i's value at sweep n.
func (t *benchTelemetry) next(i, n int) float64 {
	z := noise[(i*104729+n)&(len(noise)-1)]
	switch t.kind {
	case 1:
		return float64(t.off.next(i, n))
	case 2:
		t.v += float64(max(0, int64(1000*(1+z))))
		if n%600 == i%600 {
			t.v = math.Max(0, t.v-1<<20) // a segment deleted
		}
	case 3:
		return 5 + math.Abs(z)*3
	}
	return t.v
}

// BenchmarkStoreTelemetry: an hour of one-second broker telemetry sweeps
// (benchTelemetry's mix) through the telemetry stream's float chunks.
// Reports disk bytes per sample after flush and compaction and encoder time
// per sample, as BenchmarkStoreMix.
func BenchmarkStoreTelemetry(b *testing.B) {
	const n = 2000
	b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
		b.ReportAllocs()
		var total storeRun
		for range b.N {
			series := benchTelemetryMix(n)
			keys := make([]state.TelemetryKey, n)
			for i := range keys {
				keys[i] = state.TelemetryKey{Signal: "bytes_in", Broker: int32(i % 6), Topic: "t", Partition: int32(i)}
			}
			r := ingestHourWith(b, n, func(s *Store, sweep int) bool {
				h := handoff[state.TelemetryKey]{at: t0 + int64(sweep)*1000, values: s.tel.buffer(n)}
				if sweep == 0 {
					h.keys = keys
					for i := range keys {
						h.ids = append(h.ids, uint32(i))
					}
				}
				for i := range series {
					h.values[i] = int64(math.Float64bits(series[i].next(i, sweep))) // never NaN or -0
				}
				return s.tel.append(h)
			})
			total.samples += r.samples
			total.elapsed += r.elapsed
			total.liveSize = r.liveSize
		}
		b.ReportMetric(float64(total.liveSize)/float64(3600*n), "B/sample")
		b.ReportMetric(float64(total.elapsed.Nanoseconds())/float64(total.samples), "ns/sample")
	})
}

// BenchmarkStoreKeys: Pebble keys written (registry, timestamps, chunks,
// checkpoint pages) per million samples, i.e. keys/s at 1 M samples/s.
func BenchmarkStoreKeys(b *testing.B) {
	const n = 2000
	b.Run(fmt.Sprintf("series=%d", n), func(b *testing.B) {
		var keys uint64
		var samples int
		for range b.N {
			r := ingestHour(b, benchMix(n, -1))
			keys += r.keys
			samples += r.samples
		}
		b.ReportMetric(float64(keys)/float64(samples)*1e6, "keys/s@1Msamples/s")
	})
}

// BenchmarkQuerySeries: the raw samples of one steady series over one hour
// (3600 samples, 15 chunks plus their timestamp chunks).
func BenchmarkQuerySeries(b *testing.B) {
	cfg := DefaultConfig()
	cfg.FS, cfg.FlushInterval, cfg.Queue = vfs.NewMem(), time.Hour, 64
	s, err := Open("db", cfg, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	series := benchMix(1000, seriesSteady)
	keys := make([]state.SeriesKey, len(series))
	for i := range keys {
		keys[i] = state.SeriesKey{Metric: state.MetricEnd, Topic: "t", Partition: int32(i)}
	}
	for n := range 7200 {
		sd := sweepData{At: t0 + int64(n)*1000, Values: s.buffer(len(series))}
		if n == 0 {
			sd.NewKeys = keys
		}
		for i := range series {
			sd.Values[i] = series[i].next(i, n)
		}
		for !s.appendSweep(sd) {
			time.Sleep(50 * time.Microsecond)
		}
	}
	if err := s.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if err := s.update(s.maintainLocked); err != nil { // settle: roll up the first hour now
		b.Fatal(err)
	}
	from, to := time.UnixMilli(t0+1800_000), time.UnixMilli(t0+5399_000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		pts, err := s.Query(keys[500], from, to)
		if err != nil || len(pts) != 3600 {
			b.Fatalf("%d points, %v", len(pts), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*3600), "ns/sample")
}
