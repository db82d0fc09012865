package state

import (
	"sync/atomic"

	"github.com/kwitness/kwitness/detect"
)

// Series reclamation of the offsets window: release by reference. The
// rules, and the invariants that keep reuse safe, are stated once in the
// package doc ("Reclamation invariants"); this file keeps invariants 1–3
// for the Window, catalog.go keeps 4.

// reclaimDelay is how many window spans a series stays retired, at least,
// before its id is released: a margin for any reader still holding an old
// view (the rings' own wrap is checked separately).
const reclaimDelay = 2

// reclaimer is the window's writer-owned liveness bookkeeping: 1 + 8 bytes
// per id, plus the retired queue.
type reclaimer struct {
	live      []bool  // by id: referenced by the newest topology or groups
	retiredAt []int64 // by id: sweep at which it was retired; 0 while live or released
	queue     []retired
	fresh     bool // ids registered since the last commit
	scratch   []bool
	topo      *Topology       // the topology live was computed from
	gens      map[uint32]bool // the generation series live was computed from
	released  atomic.Uint64   // ids released so far; read by metrics
}

type retired struct {
	id    uint32
	at    int64
	heads [2]uint64 // recent and history ring heads when retired
}

// registered notes a new (or reused) id; it is judged at the next commit.
func (r *reclaimer) registered(id uint32) {
	for len(r.live) <= int(id) {
		r.live, r.retiredAt = append(r.live, false), append(r.retiredAt, 0)
	}
	r.live[id], r.retiredAt[id] = false, 0
	r.fresh = true
}

// commit updates liveness for sweep s, then releases the ids retired long
// enough. Called by Commit before the sweep is published.
func (r *reclaimer) commit(w *Window, s *Sweep) {
	changed := s.changed && r.referencesChanged(s)
	if changed {
		r.markLive(w, s)
	}
	if changed || r.fresh {
		for id, live := range r.live {
			if !live && r.retiredAt[id] == 0 && w.catalogHolds(uint32(id)) {
				r.retire(w, uint32(id), s.at)
			}
		}
		r.fresh = false
	}
	cutoff := s.at - reclaimDelay*w.cfg.Span.Milliseconds()
	for len(r.queue) > 0 {
		e := r.queue[0]
		if e.at > cutoff || !w.recent.wrappedSince(e.heads[0]) || !w.history.wrappedSince(e.heads[1]) {
			break // times and heads grow along the queue: nothing later is due either
		}
		r.queue = r.queue[1:]
		switch {
		case r.live[e.id] || r.retiredAt[e.id] != e.at:
			continue // back in use, or retired again later
		case w.vals[e.id] != detect.Gap: // written this sweep: start over
			r.retire(w, e.id, s.at)
			continue
		}
		w.catalog.release(e.id)
		r.retiredAt[e.id] = 0
		r.released.Add(1)
	}
}

// referencesChanged reports whether s references other series than the
// sweep live was computed from: another topology, or another set of group
// generation series (the poller republishes group contexts every sweep).
func (r *reclaimer) referencesChanged(s *Sweep) bool {
	if s.topology != r.topo {
		return true
	}
	n := 0
	for _, g := range s.groups {
		if g.Change.HasSeries {
			if !r.gens[g.Change.GenerationID] {
				return true
			}
			n++
		}
	}
	return n != len(r.gens)
}

// markLive recomputes which ids s's topology and groups reference, and
// retires those that stopped being referenced.
func (r *reclaimer) markLive(w *Window, s *Sweep) {
	r.topo = s.topology
	r.gens = map[uint32]bool{}
	for _, g := range s.groups {
		if g.Change.HasSeries {
			r.gens[g.Change.GenerationID] = true
		}
	}
	now := r.scratch[:0]
	for range r.live {
		now = append(now, false)
	}
	if s.topology != nil {
		for i := range s.topology.GroupTopics {
			for _, p := range s.topology.GroupTopics[i].Parts {
				for _, id := range p.Series {
					now[id] = true
				}
			}
		}
	}
	for id := range r.gens {
		if int(id) < len(now) {
			now[id] = true
		}
	}
	for id, live := range now {
		switch {
		case live:
			r.retiredAt[id] = 0
		case r.live[id]:
			r.retire(w, uint32(id), s.at)
		}
		r.live[id] = live
	}
	r.scratch = now
}

// retire queues id for release, noting the ring heads it must wait out.
func (r *reclaimer) retire(w *Window, id uint32, at int64) {
	r.retiredAt[id] = at
	r.queue = append(r.queue, retired{id: id, at: at, heads: [2]uint64{w.recent.Head(), w.history.Head()}})
}

// catalogHolds reports whether id currently has a key. Writer only.
func (w *Window) catalogHolds(id uint32) bool {
	got, ok := w.catalog.lookup(w.catalog.key(id))
	return ok && got == id
}

// Reclaimed is how many series ids have been released for reuse. Safe for
// concurrent use.
func (w *Window) Reclaimed() uint64 { return w.reclaim.released.Load() }

// LiveSeries is the number of series registered and not released. Writer
// only.
func (w *Window) LiveSeries() int { return w.catalog.live() }
