package state

// Telemetry reclamation. Broker series come and go with topics (per-topic
// bytes and log sizes) and with whatever an exporter exposes. A telemetry
// series has no topology to say it is gone, so idleness decides: a series
// not set for reclaimDelay window spans, and not since both rings wrapped
// (so they hold only gaps for it), is released and its id reused by the
// next new series. The store follows through the catalog journal.

// telemetryScanEvery is how many sweeps pass between idleness scans.
const telemetryScanEvery = 16

// telemetryReclaim is the telemetry window's writer-owned bookkeeping:
// 24 bytes per id.
type telemetryReclaim struct {
	lastSet  []int64     // by id: sweep at which it was last set; 0 when released
	heads    [][2]uint64 // by id: recent and history heads at that sweep
	sweeps   int
	released uint64
}

// set notes that id has a value in the sweep at, published next at heads.
func (r *telemetryReclaim) set(id uint32, at int64, heads [2]uint64) {
	for len(r.lastSet) <= int(id) {
		r.lastSet, r.heads = append(r.lastSet, 0), append(r.heads, [2]uint64{})
	}
	r.lastSet[id], r.heads[id] = at, heads
}

// scan releases the ids idle long enough; called by Commit before the
// sweep at is published.
func (r *telemetryReclaim) scan(t *Telemetry, at int64) {
	if r.sweeps++; r.sweeps%telemetryScanEvery != 0 {
		return
	}
	cutoff := at - reclaimDelay*t.cfg.Span.Milliseconds()
	for id, last := range r.lastSet {
		h := r.heads[id]
		if last == 0 || last > cutoff || !t.recent.wrappedSince(h[0]) || !t.history.wrappedSince(h[1]) {
			continue
		}
		t.catalog.release(uint32(id))
		r.lastSet[id] = 0
		r.released++
	}
}
