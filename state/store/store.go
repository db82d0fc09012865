// Package store is the on-disk history of the offset series and of the
// broker telemetry, in Pebble: it mirrors a state.Window and a
// state.Telemetry (following their series ids through the catalog journal,
// state.Journal), answers queries of raw samples and minute rollups, keeps
// the firing findings, refills the windows on a warm restart, and survives
// write failures such as a full disk. Values are encoded by state/chunkenc.
//
// # Contract
//
//   - Streams. The offsets and the broker telemetry are two independent
//     streams of sweeps (stream.go) with their own sweep times, series
//     ids and key kinds (docs/format.md); everything below holds for each.
//     The offsets' metrics are named kwitness_store_*, the telemetry's
//     kwitness_store_telemetry_*.
//   - Feeding. The ingester hands each committed sweep to AppendWindow
//     (which copies the window's dense values) right after Window.Commit; the broker poller hands each telemetry sweep to
//     AppendTelemetry right after Telemetry.Commit. The hand-off is a
//     non-blocking send on a bounded channel
//     (Config.Queue sweeps): when the store falls behind, the sweep is
//     dropped, kwitness_store_dropped_sweeps_total counts it, a rate-limited
//     log line says so, and AppendWindow returns false; the stretch of dropped
//     sweeps is stored as an explicit gap ahead of the next sweep handed
//     over. The poller never waits on disk. AppendWindow is
//     meant for one caller goroutine (the window's writer), AppendTelemetry
//     for another (the telemetry's writer);
//     sweeps must arrive with increasing At, older ones are
//     counted in kwitness_store_out_of_order_sweeps_total and dropped.
//   - Encoding. One goroutine per stream, started by Open and stopped (and
//     waited for) by Close, owns the open block: a timestamp chunk shared by
//     all series plus one int (offsets) or float (telemetry) chunk per series
//     (package chunkenc). A block ends after ChunkSamples
//     sweeps or at a bucket boundary and is then written as one key per
//     series. Every FlushInterval the open block is checkpointed (synced) as a
//     few pages of partial chunks, so a crash (kill -9) loses at most
//     FlushInterval of sweeps plus those still queued; Open turns the pages of
//     a crashed block into ordinary chunks.
//   - Maintenance. A third goroutine, also owned by the Store, rolls closed
//     buckets of offsets up into per-minute (first, last, min, max, sum,
//     count) values and deletes expired buckets of both streams with one
//     DeleteRange per key kind. Retention is measured against the newest
//     stored sweep of the stream, not the wall clock. Broker telemetry has no
//     rollups: it is kept raw for RawRetention.
//   - Reading. Query, QueryMinutes and QueryTelemetry read one series; Replay
//     streams stored sweeps in time order (LoadWindow uses it to refill a
//     Window, LoadTelemetry to refill a Telemetry). They see
//     what is in Pebble: closed blocks and the last checkpoint of the open
//     one (call Flush first to include everything appended). A corrupt chunk
//     is skipped (its samples read as gaps), counted in
//     kwitness_store_corrupt_chunks_total and logged; it never fails a read.
//   - Health and recovery (recover.go). A failed write (a full disk,
//     an I/O error, Pebble giving up on its WAL or an sstable) is counted
//     in kwitness_store_write_errors_total; the first of an outage is
//     logged and becomes Healthy's reason (naming the data dir and the OS
//     error; mapped to /readyz), and kwitness_store_healthy drops to 0.
//     The store then closes Pebble (a failed Pebble must not be written
//     again) and reopens it with backoff (Config.RetryBackoff, 1 s,
//     doubling up to a minute, each wait jittered by ±50 %) until a synced
//     probe write succeeds; then
//     Healthy is true again, kwitness_store_recoveries_total counts it, one
//     log line says so, and the encoders write what they held. Meanwhile
//     ingest and the in-memory window keep going: each encoder keeps its
//     open block in memory until it is full, then stops taking sweeps, so
//     its hand-off fills and further sweeps are dropped (counted, as when
//     the store falls behind). Reads, Flush and SaveFindings fail with
//     ErrUnavailable while Pebble is closed. A stretch of dropped sweeps is
//     stored as an explicit gap: all-absent sweeps at the times of the
//     first and the last of them (docs/format.md, "Lost sweeps").
//
// The key layout and value formats are specified in docs/format.md.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/chunkenc"
)

// Config configures the on-disk store.
type Config struct {
	// RawRetention is how long raw samples are kept, measured back from the
	// newest stored sweep; default 24h, at least 2 × Bucket.
	RawRetention time.Duration `yaml:"raw_retention"`
	// RollupRetention is how long per-minute rollups are kept; default 720h
	// (30 days), at least RawRetention. Rollups are dropped by whole UTC days.
	RollupRetention time.Duration `yaml:"rollup_retention"`
	// Bucket is the time bucket of the key layout, the unit of raw retention
	// and of rollup; default 1h. It must divide 24h and be a whole number of
	// minutes.
	Bucket time.Duration `yaml:"bucket"`
	// ChunkSamples is how many sweeps a block (and so each series' chunk)
	// holds before it is written as one key per series; default 240, in
	// [120, 65536]. At one sweep per second: 1 M series write ≈ 4.2 k keys/s.
	ChunkSamples int `yaml:"chunk_samples"`
	// FlushInterval is how often the open block is checkpointed and synced:
	// the most a crash loses (plus the Queue). Default 60s.
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Queue is how many sweeps may wait for the encoder; default 4.
	Queue int `yaml:"queue"`
	// RetryBackoff is how long the store waits after a write failure
	// before reopening Pebble, doubling after each failed attempt up to 60
	// times as long (a minute by default), each wait jittered by ±50 %;
	// default 1s, in [1ms, 1m]. Not in
	// YAML: tests shorten it.
	RetryBackoff time.Duration `yaml:"-"`

	// FS is the file system; nil means the OS. Tests use vfs.NewMem().
	FS vfs.FS `yaml:"-"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		RawRetention: 24 * time.Hour, RollupRetention: 30 * 24 * time.Hour, Bucket: time.Hour,
		ChunkSamples: 240, FlushInterval: time.Minute, Queue: 4, RetryBackoff: time.Second,
	}
}

// Validate reports invalid fields by YAML key.
func (c Config) Validate() error {
	var errs []error
	if c.Bucket < time.Minute || c.Bucket > 24*time.Hour || (24*time.Hour)%c.Bucket != 0 || c.Bucket%time.Minute != 0 {
		errs = append(errs, fmt.Errorf("store.bucket: must be whole minutes dividing 24h, got %s", c.Bucket))
	}
	if c.RawRetention < 2*c.Bucket {
		errs = append(errs, fmt.Errorf("store.raw_retention: must be ≥ 2 × bucket (%s), got %s", 2*c.Bucket, c.RawRetention))
	}
	if c.RollupRetention < c.RawRetention {
		errs = append(errs, fmt.Errorf("store.rollup_retention: must be ≥ raw_retention, got %s", c.RollupRetention))
	}
	if c.ChunkSamples < 120 || c.ChunkSamples > chunkenc.MaxSamples {
		errs = append(errs, fmt.Errorf("store.chunk_samples: must be in [120, %d], got %d", chunkenc.MaxSamples, c.ChunkSamples))
	}
	if c.FlushInterval < 10*time.Millisecond {
		errs = append(errs, fmt.Errorf("store.flush_interval: must be ≥ 10ms, got %s", c.FlushInterval))
	}
	if c.Queue < 1 {
		errs = append(errs, fmt.Errorf("store.queue: must be ≥ 1, got %d", c.Queue))
	}
	if c.RetryBackoff < time.Millisecond || c.RetryBackoff > maxRetryBackoff {
		errs = append(errs, fmt.Errorf("store: retry backoff must be in [1ms, %s], got %s", maxRetryBackoff, c.RetryBackoff))
	}
	return errors.Join(errs...)
}

// Store is the Pebble-backed history. See the contract above.
type Store struct {
	cfg  Config
	dir  string
	log  *slog.Logger
	m    storeMetrics
	off  *stream[state.SeriesKey]    // offsets
	tel  *stream[state.TelemetryKey] // broker telemetry
	stop chan struct{}
	wg   sync.WaitGroup

	// mu guards the Pebble handle: read-locked by every use of db (reads,
	// batches, commits; functions named ...Locked and the helpers they
	// call expect it held), write-locked only to close and reopen it.
	mu struct {
		sync.RWMutex
		db *pebble.DB // nil while closed after a write failure, and after Close
	}
	// wmu serializes commits, so that none starts on a Pebble that has
	// failed (its commit pipeline may be wedged) before it is reopened.
	wmu      sync.Mutex
	failing  atomic.Bool   // a write failed; nothing is written until reopened. Set under health.
	failures atomic.Uint64 // write failures reported so far
	wake     chan struct{} // wakes the recovery goroutine; cap 1

	health struct {
		sync.Mutex
		err   error         // first failure of the current outage; nil when healthy
		since time.Time     // when it failed
		up    chan struct{} // closed (and replaced) when the store is writable again
	}

	closeOnce sync.Once
	closeErr  error
	closed    atomic.Bool
	kick      chan struct{}
	logLimit  rateLimit
}

// Open opens (creating if needed) the store in dir and starts its encoder,
// maintenance and recovery goroutines. An unwritable dir fails with an
// error naming it.
func Open(dir string, cfg Config, log *slog.Logger, set *metrics.Set) (*Store, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.FS == nil {
		if err := checkWritable(dir); err != nil {
			return nil, err
		}
	}
	s := newStore(cfg, dir, log, set)
	db, err := pebble.Open(dir, s.pebbleOptions())
	if err != nil {
		return nil, fmt.Errorf("state: open store %s: %w", dir, err)
	}
	s.mu.db = db
	if err := s.init(); err != nil {
		_ = closePebble(db)
		return nil, fmt.Errorf("state: open store %s: %w", dir, err)
	}
	s.off.w, s.tel.w = newWriter(s.off), newWriter(s.tel)
	s.wg.Add(4)
	go s.off.run()
	go s.tel.run()
	go s.runMaintenance()
	go s.runRecovery()
	return s, nil
}

// newStore returns a store with its streams, not yet opened.
func newStore(cfg Config, dir string, log *slog.Logger, set *metrics.Set) *Store {
	s := &Store{cfg: cfg, dir: dir, log: log.With("component", "store"), m: newStoreMetrics(set),
		stop: make(chan struct{}), kick: make(chan struct{}, 1), wake: make(chan struct{}, 1)}
	s.health.up = make(chan struct{})
	s.m.healthy.Set(1)
	s.off = newStream(s, "offsets", offsetKeys, false,
		newRegistry(offsetKeys, appendRegistryValue, decodeRegistryValue), newStreamMetrics(set, "kwitness_store_"))
	s.tel = newStream(s, "telemetry", telemetryKeys, true,
		newRegistry(telemetryKeys, appendTelemetryRegistryValue, decodeTelemetryRegistryValue), newStreamMetrics(set, "kwitness_store_telemetry_"))
	return s
}

// checkWritable creates dir and proves a file can be created in it.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("state: store dir %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".writable-*")
	if err != nil {
		return fmt.Errorf("state: store dir %s is not writable: %w", dir, err)
	}
	name := f.Name()
	_ = f.Close()
	if err := os.Remove(name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state: store dir %s: %w", filepath.Clean(dir), err)
	}
	return nil
}

func (s *Store) pebbleOptions() *pebble.Options {
	o := &pebble.Options{
		FS:                 s.cfg.FS,
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{log: s.log, fatal: s.writeFailed},
		EventListener: &pebble.EventListener{
			BackgroundError: func(err error) { s.writeFailed("pebble background work", err) },
			// Not a write failure (reopening would not help): the read that
			// found it fails, as a corrupt chunk is skipped.
			DataCorruption: func(info pebble.DataCorruptionInfo) {
				s.m.corrupt.Inc()
				if s.logLimit.allow(time.Now()) {
					s.log.Error("store file corrupt", "path", info.Path, "err", info.Details)
				}
			},
		},
	}
	o.ApplyCompressionSettings(func() pebble.DBCompressionSettings { return pebble.DBCompressionBalanced })
	return o
}

// init checks the format version, loads the registry and recovers the
// checkpoint of a block left open by a crash.
func (s *Store) init() error {
	v, closer, err := s.mu.db.Get(metaVersion)
	switch {
	case errors.Is(err, pebble.ErrNotFound):
		if err := s.mu.db.Set(metaVersion, []byte{storeFormatVersion}, pebble.Sync); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		ok := len(v) == 1 && v[0] >= oldestFormatVersion && v[0] <= storeFormatVersion
		got := append([]byte(nil), v...)
		_ = closer.Close()
		if !ok {
			return fmt.Errorf("unsupported store format version %v", got)
		}
		if got[0] < storeFormatVersion { // its chunks stay readable beside the new ones
			if err := s.mu.db.Set(metaVersion, []byte{storeFormatVersion}, pebble.Sync); err != nil {
				return err
			}
			s.log.Info("store format upgraded", "from", got[0], "to", storeFormatVersion)
		}
	}
	if err := s.off.reg.load(s.mu.db); err != nil {
		return err
	}
	if err := s.tel.reg.load(s.mu.db); err != nil {
		return err
	}
	if err := s.off.recoverOpenBlocks(); err != nil {
		return fmt.Errorf("recover open block: %w", err)
	}
	if err := s.tel.recoverOpenBlocks(); err != nil {
		return fmt.Errorf("recover open telemetry block: %w", err)
	}
	s.off.newest.Store(s.off.lastStoredAt())
	s.tel.newest.Store(s.tel.lastStoredAt())
	if s.failing.Load() { // Pebble reported a failure without returning it
		return s.unavailable()
	}
	return nil
}

// Close stops the goroutines, writes the open blocks and closes Pebble.
// Sweeps still queued are written first. If the store is failing at that
// point, what it held is lost (counted as dropped) and Close returns the
// failure. Safe to call twice and concurrently with AppendWindow (which then
// returns false); reads after Close fail with ErrUnavailable.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Store(true)
		close(s.stop)
		s.wg.Wait()
		var err error
		if s.failing.Load() {
			err = s.unavailable()
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.mu.db != nil {
			err = errors.Join(err, closePebble(s.mu.db))
			s.mu.db = nil
		}
		if err != nil {
			s.closeErr = fmt.Errorf("state: close store %s: %w", s.dir, err)
		}
	})
	return s.closeErr
}

// AppendWindow hands the sweep w just committed to the store: it copies w's
// dense values and the keys registered since the last call. Call it on the
// window's writer goroutine right after Commit, and only for one window.
func (s *Store) AppendWindow(w *state.Window) bool {
	snap := w.Snapshot()
	return s.off.appendDense(snap.At, w.Values(), snap.Series, w.Journal())
}

// Flush writes a checkpoint of everything appended so far (and queued before
// the call) to both streams and waits for it, or for ctx. While the store is
// failing it returns ErrUnavailable (wrapped, with the cause) at once.
func (s *Store) Flush(ctx context.Context) error {
	return errors.Join(flushStream(ctx, s.off), flushStream(ctx, s.tel))
}

func flushStream[K comparable](ctx context.Context, st *stream[K]) error {
	s := st.s
	reply := make(chan error, 1)
	select {
	case st.flush <- reply:
	case <-s.stop:
		return errors.New("state: store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Healthy reports whether the store can write, and the failure if not: the
// first write error of the current outage, naming the data dir. It turns
// true again once the store has reopened Pebble and written to it.
func (s *Store) Healthy() (bool, string) {
	s.health.Lock()
	defer s.health.Unlock()
	if s.health.err != nil {
		return false, s.health.err.Error()
	}
	return true, ""
}

// chunkCorrupt counts and logs an undecodable chunk that is being skipped.
func (s *Store) chunkCorrupt(key []byte, err error) {
	s.m.corrupt.Inc()
	if s.logLimit.allow(time.Now()) {
		s.log.Error("corrupt chunk skipped", "key", fmt.Sprintf("%x", key), "err", err)
	}
}

// storeMetrics are the store's series shared by both streams (see
// streamMetrics for the rest) in the caller's metrics set.
type storeMetrics struct {
	keys, writeErrors, corrupt, recoveries *metrics.Counter
	diskBytes, bytesPerSeries, healthy     *metrics.Gauge
}

func newStoreMetrics(set *metrics.Set) storeMetrics {
	return storeMetrics{
		keys:           set.GetOrCreateCounter("kwitness_store_keys_written_total"),
		writeErrors:    set.GetOrCreateCounter("kwitness_store_write_errors_total"),
		corrupt:        set.GetOrCreateCounter("kwitness_store_corrupt_chunks_total"),
		diskBytes:      set.GetOrCreateGauge("kwitness_store_disk_bytes", nil),
		bytesPerSeries: set.GetOrCreateGauge("kwitness_store_bytes_per_series", nil),
		recoveries:     set.GetOrCreateCounter("kwitness_store_recoveries_total"),
		healthy:        set.GetOrCreateGauge("kwitness_store_healthy", nil),
	}
}

// rateLimit allows one event per second.
type rateLimit struct{ last atomic.Int64 }

func (r *rateLimit) allow(now time.Time) bool {
	last := r.last.Load()
	return now.UnixNano()-last >= int64(time.Second) && r.last.CompareAndSwap(last, now.UnixNano())
}

// pebbleLogger sends Pebble's log to slog. Fatalf does not exit or panic:
// Pebble calls it when its WAL or MANIFEST cannot be written (e.g. a full
// disk), on the committing goroutine or on its own background ones, and a
// panic there would end the process. It reports a write failure instead
// (fatal); the store's commits notice it (Store.commit) and the store
// closes and reopens that Pebble (recover.go).
type pebbleLogger struct {
	log   *slog.Logger
	fatal func(what string, err error)
}

func (l pebbleLogger) Infof(format string, args ...any) {
	l.log.Debug(fmt.Sprintf(format, args...), "source", "pebble")
}

func (l pebbleLogger) Errorf(format string, args ...any) {
	l.log.Error(fmt.Sprintf(format, args...), "source", "pebble")
}

func (l pebbleLogger) Fatalf(format string, args ...any) {
	err := &pebbleFatalError{msg: fmt.Sprintf(format, args...)}
	for _, a := range args {
		if e, ok := a.(error); ok {
			err.err = e
			break
		}
	}
	if l.fatal == nil { // a Pebble opened outside a Store (tests, tools)
		panic(err)
	}
	l.fatal("", err)
}

// pebbleFatalError is a Pebble Fatalf message, wrapping the error among its
// arguments (so errors.Is finds e.g. syscall.ENOSPC).
type pebbleFatalError struct {
	msg string
	err error
}

func (e *pebbleFatalError) Error() string { return e.msg }
func (e *pebbleFatalError) Unwrap() error { return e.err }

// gapOr returns v, or detect.Gap when absent.
func gapOr(v int64, present bool) int64 {
	if present {
		return v
	}
	return detect.Gap
}
