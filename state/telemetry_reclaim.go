package state

// Series reclamation of the telemetry window: release by idleness (a
// telemetry series has no topology to say it is gone). The invariants are
// stated once in the package doc ("Reclamation invariants").

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
