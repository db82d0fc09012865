package bench

import (
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// storeEstateGP is the estate of BenchmarkStoreEstate, in group-partitions:
// 40 groups, about 48 k window series.
const storeEstateGP = 20_000

// storeHour is one hour of one-second sweeps: 3600, all in one store bucket
// (t0 is on an hour boundary), so no rollup is written during the run.
const storeHour = 3600

// storeFlushEvery stands in for the default FlushInterval (60 s) at one sweep
// per second: the benchmark checkpoints every 60 sweeps itself.
const storeFlushEvery = 60

// BenchmarkStoreEstate is the on-disk cost of an hour of the estate's offset
// series as kwitness stores them: each sweep is published into a
// state.Window (DefaultWindowConfig) and handed to a store.Store
// (DefaultStoreConfig on b.TempDir()) with AppendWindow, one sweep per
// simulated second, 3600 sweeps. The store is then closed (writing the open
// block), reopened with the store's own Pebble format and compression, and
// fully compacted.
//
// Sub-benchmarks: series=all stores every window series (committed offsets
// plus the shared end and start offsets, BuildTopology's registration);
// series=committed, series=end and series=start register and store only that
// metric's series of the same estate.
//
// Metrics:
//   - B/sample: live sstable bytes after full compaction (chunks, timestamp
//     chunks, keys and registry) per sample. Every series has a value at
//     every sweep, so present samples = series × sweeps.
//   - dirB/sample: all files of the store's directory (sstables, WAL,
//     MANIFEST, OPTIONS) after the compaction, per sample.
//   - closedB/sample: the same before the compaction, as Close leaves it
//     (what the disk holds until Pebble's own compactions catch up:
//     superseded checkpoint pages, WAL).
//   - ns/sample: wall time of the hour (publish, AppendWindow, checkpoints,
//     Close), per sample; the encoder runs on its own goroutine, so on 2
//     cores this is about max(encoder, estate+window) and is bounded by the
//     encoder.
//   - gen-ns/sample: of that, the part spent moving the estate and
//     publishing into the window (not the store's cost).
//   - handoff-ns/sample: of that, the part spent in AppendWindow (the copy on
//     the poller's goroutine).
//   - series: window series stored.
//
// Config deviations from DefaultStoreConfig, both for a deterministic run:
// FlushInterval is 1h and the benchmark calls Flush every 60 sweeps instead;
// Queue is 64, so with that Flush no sweep can be dropped (checked:
// kwitness_store_dropped_sweeps_total stays 0).
func BenchmarkStoreEstate(b *testing.B) {
	for _, col := range []string{"all", "committed", "end", "start"} {
		b.Run(fmt.Sprintf("gp=%d/series=%s", storeEstateGP, col), func(b *testing.B) {
			var r storeEstateRun
			for range b.N {
				r = ingestEstateHour(b, storeEstateGP, col)
			}
			b.ReportMetric(float64(r.live)/float64(r.samples), "B/sample")
			b.ReportMetric(float64(r.dir)/float64(r.samples), "dirB/sample")
			b.ReportMetric(float64(r.closed)/float64(r.samples), "closedB/sample")
			b.ReportMetric(float64(r.wall.Nanoseconds())/float64(r.samples), "ns/sample")
			b.ReportMetric(float64(r.gen.Nanoseconds())/float64(r.samples), "gen-ns/sample")
			b.ReportMetric(float64(r.handoff.Nanoseconds())/float64(r.samples), "handoff-ns/sample")
			b.ReportMetric(float64(r.series), "series")
		})
	}
}

// storeEstateRun is the outcome of one simulated hour.
type storeEstateRun struct {
	series, samples    int
	live, dir          uint64 // live sstable bytes; bytes of all files in the dir
	closed             uint64 // bytes of all files in the dir after Close, before compaction
	wall, gen, handoff time.Duration
}

// ingestEstateHour stores an hour of an n group-partition estate's series of
// column col ("all", "committed", "end" or "start") and measures the store.
func ingestEstateHour(b *testing.B, n int, col string) storeEstateRun {
	b.Helper()
	e := newEstate(n, t0)
	w, err := state.NewWindow(state.DefaultWindowConfig(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	var topo *state.Topology
	if col == "all" {
		topo = w.BuildTopology(e.specs)
		if err := e.resolve(w); err != nil {
			b.Fatal(err)
		}
	} else {
		registerColumn(w, e, col)
	}
	b.Log(e.mix())

	dir := b.TempDir()
	cfg := store.DefaultConfig()
	cfg.FlushInterval, cfg.Queue = time.Hour, storeFlushEvery+4
	set := metrics.NewSet()
	s, err := store.Open(dir, cfg, slog.New(slog.DiscardHandler), set)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var r storeEstateRun
	start := time.Now()
	for i := range storeHour {
		g := time.Now()
		if i > 0 {
			e.advance(t0 + int64(i)*1000)
		}
		publishColumn(w, e, col, topo)
		topo = nil
		h := time.Now()
		r.gen += h.Sub(g)
		if !s.AppendWindow(w) {
			b.Fatalf("sweep %d dropped", i)
		}
		r.handoff += time.Since(h)
		if i%storeFlushEvery == storeFlushEvery-1 {
			if err := s.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	r.wall = time.Since(start)
	if ok, msg := s.Healthy(); !ok {
		b.Fatal(msg)
	}
	r.series = w.Snapshot().Series
	r.samples = r.series * storeHour
	for name, want := range map[string]uint64{
		"kwitness_store_dropped_sweeps_total":      0,
		"kwitness_store_out_of_order_sweeps_total": 0,
		"kwitness_store_write_errors_total":        0,
		"kwitness_store_sweeps_total":              storeHour,
		"kwitness_store_samples_total":             uint64(r.samples),
	} {
		if got := set.GetOrCreateCounter(name).Get(); got != want {
			b.Fatalf("%s = %d, want %d", name, got, want)
		}
	}
	r.closed = dirBytes(b, dir)
	r.live = compactStore(b, dir)
	r.dir = dirBytes(b, dir)
	return r
}

// registerColumn registers only col's series of the estate, in the order
// BuildTopology would, and records their ids in the estate.
func registerColumn(w *state.Window, e *estate, col string) {
	gi := 0
	for _, s := range e.specs {
		for _, p := range s.Partitions {
			gp := &e.gps[gi]
			tp := &e.tps[gp.tp]
			switch col {
			case "committed":
				gp.comID = w.Register(state.SeriesKey{Metric: state.MetricCommitted, Group: s.Group, Topic: s.Topic, Partition: p})
			case "end":
				tp.endID = w.Register(state.SeriesKey{Metric: state.MetricEnd, Topic: s.Topic, Partition: p})
			case "start":
				tp.startID = w.Register(state.SeriesKey{Metric: state.MetricStart, Topic: s.Topic, Partition: p})
			default:
				panic("bench: unknown column " + col)
			}
			gi++
		}
	}
}

// publishColumn writes the estate's current offsets of col as one sweep;
// topo, when not nil, is published with it (the first sweep).
func publishColumn(w *state.Window, e *estate, col string, topo *state.Topology) {
	s := w.Begin(time.UnixMilli(e.now))
	if topo != nil {
		s.SetTopology(topo)
		s.SetGroups(e.contexts)
	}
	all := col == "all"
	if all || col == "end" || col == "start" {
		for i := range e.tps {
			tp := &e.tps[i]
			if all || col == "end" {
				s.Set(tp.endID, tp.end)
			}
			if all || col == "start" {
				s.Set(tp.startID, tp.start)
			}
		}
	}
	if all || col == "committed" {
		for i := range e.gps {
			s.Set(e.gps[i].comID, e.gps[i].committed)
		}
	}
	w.Commit(s)
}

// compactStore reopens the closed store's Pebble directory with the store's
// format and compression (Balanced: zstd in the bottom level), compacts the
// whole key space and returns the live sstable bytes.
func compactStore(b *testing.B, dir string) uint64 {
	b.Helper()
	o := &pebble.Options{FormatMajorVersion: pebble.FormatNewest, Logger: quietPebble{}}
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionBalanced })
	db, err := pebble.Open(dir, o)
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Compact(context.Background(), []byte{0}, []byte{0xff}, false); err != nil {
		b.Fatal(err)
	}
	live := db.Metrics().Table.Local.LiveSize
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return live
}

// dirBytes sums the sizes of the files under dir.
func dirBytes(b *testing.B, dir string) uint64 {
	b.Helper()
	var n uint64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		n += uint64(fi.Size())
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// quietPebble drops Pebble's informational log; errors still fail loudly.
type quietPebble struct{}

func (quietPebble) Infof(string, ...any) {}

func (quietPebble) Errorf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }

func (quietPebble) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
