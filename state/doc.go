// Package state holds what kwitness knows between sweeps: the detectors'
// in-memory window of offset series (lock-free rings), the broker telemetry
// window, and the current findings with their event fan-out. The on-disk
// history is package state/store, its chunk codec package state/chunkenc.
//
// # Window
//
// The Window keeps two Rings per series: the newest sweeps at full resolution
// and a decimated history covering WindowConfig.Span. Each Ring is one shared
// timestamp per slot plus flat blocks of atomic int64 values (series-major,
// or in lanes of 8 series for the recent ring); a missing sample is
// detect.Gap. One writer (the ingester) fills a Sweep and
// publishes it with Commit, which ends in a single atomic store of a new
// Snapshot; readers take a View of the newest Snapshot and never block the
// writer. A reader that is overtaken by the writer detects the overwritten
// slots (Ring.ReadSeries) and drops them rather than returning a torn sweep.
//
// Memory: (Recent+1 + Points + 1) × 8 B per series (the last 8 B are the
// recent ring's decrease mark, see Ring.Mark and View.Summary); with the
// defaults (6 recent sweeps, 55 history points) 504 B per registered series.
//
// Series ids are reclaimed (reclaim.go): a series no longer referenced by
// the topology or group contexts is retired, and two spans later its id is
// released and reused, so memory follows the series alive, not every group
// ever seen. The store follows reassigned ids through the catalog's journal.
//
// Views are lazy (detect.LazyView): a partition's window is read only when
// its summary — newest offsets, where the committed offset last moved within
// the recent sweeps, the lag's trough over the newest sweeps, the lag at the
// window's first sample, the decrease mark — cannot prove it healthy.
//
// # Store
//
// The store (package state/store) mirrors a Window and a Telemetry on disk:
// after each Commit the writer hands it the dense values (Window.Values) and
// the ids reassigned since (Window.Journal), so it never reads a window's
// private fields.
package state
