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
// Series ids are reclaimed, so memory follows the series alive, not every
// group or topic ever seen; see "Reclamation invariants" below.
//
// Views are lazy (detect.LazyView): a partition's window is read only when
// its summary — newest offsets, where the committed offset last moved within
// the recent sweeps, the lag's trough over the newest sweeps, the lag at the
// window's first sample, the decrease mark — cannot prove it healthy.
//
// # Reclamation invariants
//
// Groups and topics come and go (a console consumer makes a new group each
// run). Each window gives its series dense ids from a catalog, and releases
// the ids of series gone so the next new series reuses them. These
// invariants keep that safe; each has a test named after it
// (reclaim_test.go).
//
//  1. Two reclaimers, one rule each (TestInvariantTwoReclaimers). The offsets
//     Window releases by reference (reclaim.go): a series is live while the
//     published topology or group contexts reference it, and is retired at
//     the first sweep that does not, whatever values it still has (one
//     written in the sweep that would release it starts its delay over). The
//     Telemetry window, which has no topology, releases by idleness
//     (telemetry_reclaim.go): a series not set since a sweep is idle from
//     then. Each reclaimer is owned by its window's writer and runs inside
//     Commit, before the sweep is published.
//  2. Two-span delay (TestInvariantTwoSpanDelay). An id is released only
//     once its series has been retired (or idle) for reclaimDelay = 2 window
//     spans of sweep time, so no View a reader could still hold refers to it.
//     A series referenced (or set) again before then keeps its id.
//  3. Ring-wrap check (TestInvariantRingWrap). An id is released only once
//     both of its window's rings (recent and history) have wrapped since it
//     was retired (Ring.wrappedSince), so the rings hold nothing but gaps for
//     it and a reused id never shows its previous series' samples — the
//     history ring can outlast two spans when sweeps are further apart than
//     its step (an outage's backoff).
//  4. Catalog journal (TestInvariantCatalogJournal). Once a mirror turns it
//     on (Journal.Track), every id given or stripped of a key is journaled
//     in order; after each Commit the mirror reads Journal.Assigned from its
//     position, so the store never files a reused id's samples under the
//     series that had it before. A released id's key is the zero key:
//     Window.Key reports it unregistered.
//
// # Store
//
// The store (package state/store) mirrors a Window and a Telemetry on disk:
// after each Commit the writer hands it the dense values (Window.Values) and
// the ids reassigned since (Window.Journal), so it never reads a window's
// private fields.
package state
