package store

import (
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/state"
)

// stream is one sequence of sweeps with its own sweep times, stored as
// blocks under its own key kinds: the offsets (int chunks) or the broker
// telemetry (float chunks). Each has a series registry, a bounded hand-off
// queue and an encoder goroutine owning its open block; the Store owns both
// streams and shares its Pebble database, health and maintenance.
type stream[K comparable] struct {
	s      *Store
	name   string // "offsets" or "telemetry", for logs
	ks     keyspace
	float  bool // values are float64 bits (detect.Gap when absent)
	reg    *registry[K]
	m      streamMetrics
	in     chan handoff[K]
	free   chan []int64
	flush  chan chan error
	newest atomic.Int64 // at of the newest sweep written (checkpointed or flushed)
	w      *writer[K]
	// held are sweeps taken from in but not yet encoded, oldest first: the
	// open block had to be written first and could not be. Encoder-owned.
	held []handoff[K]
	// Caller-owned (the goroutine calling append):
	handed int     // window series handed over by appendDense
	jpos   uint64  // the catalog journal position handed over up to
	jtrack bool    // the catalog journal is on
	lost   lostRun // sweeps dropped since the last one handed over
}

// handoff is one sweep on its way to a stream's encoder: sweepData for any
// key type.
type handoff[K comparable] struct {
	at     int64
	values []int64
	// ids were given keys (a new id, or a released one reused) since the
	// previous handoff; the zero key means released and not reused.
	ids  []uint32
	keys []K
	lost lostRun // dropped just before this sweep: stored as gaps first
	gap  bool    // an all-absent sweep marking lost ones (values nil)
}

// lostRun is a stretch of consecutive sweeps dropped before reaching the
// encoder: n sweeps, the first and last at those times (Unix ms).
type lostRun struct {
	first, last int64
	n           int
}

func (r *lostRun) add(at int64) {
	if r.n == 0 {
		r.first = at
	}
	r.last = at
	r.n++
}

// gapSweeps are the sweeps that mark r in the stored stream: all-absent
// sweeps at its first and last times (one if they are the same).
func gapSweeps[K comparable](r lostRun, dst []handoff[K]) []handoff[K] {
	if r.n == 0 {
		return dst
	}
	dst = append(dst, handoff[K]{at: r.first, gap: true})
	if r.last != r.first {
		dst = append(dst, handoff[K]{at: r.last, gap: true})
	}
	return dst
}

func newStream[K comparable](s *Store, name string, ks keyspace, float bool, reg *registry[K], m streamMetrics) *stream[K] {
	return &stream[K]{s: s, name: name, ks: ks, float: float, reg: reg, m: m,
		in: make(chan handoff[K], s.cfg.Queue), free: make(chan []int64, s.cfg.Queue+2), flush: make(chan chan error)}
}

// streamMetrics are one stream's series: the offsets' are named
// kwitness_store_*, the telemetry's kwitness_store_telemetry_*.
type streamMetrics struct {
	sweeps, samples, dropped, outOfOrder *metrics.Counter
	series                               *metrics.Gauge
}

func newStreamMetrics(set *metrics.Set, prefix string) streamMetrics {
	return streamMetrics{
		sweeps:     set.GetOrCreateCounter(prefix + "sweeps_total"),
		samples:    set.GetOrCreateCounter(prefix + "samples_total"),
		dropped:    set.GetOrCreateCounter(prefix + "dropped_sweeps_total"),
		outOfOrder: set.GetOrCreateCounter(prefix + "out_of_order_sweeps_total"),
		series:     set.GetOrCreateGauge(prefix+"series", nil),
	}
}

// append hands a sweep to the encoder without blocking; false (counted and
// logged) if the queue is full or the store is closed. The sweeps dropped
// since the last hand-off travel with the next one, which the encoder
// stores after gaps marking them.
func (st *stream[K]) append(h handoff[K]) bool {
	if st.s.closed.Load() {
		return false
	}
	h.lost = st.lost
	select {
	case st.in <- h:
		st.lost = lostRun{}
		return true
	default:
		st.lost.add(h.at)
		st.m.dropped.Inc()
		if st.s.logLimit.allow(time.Now()) {
			st.s.log.Warn("store falling behind: sweep dropped", "stream", st.name, "at", time.UnixMilli(h.at), "dropped_total", st.m.dropped.Get())
		}
		return false
	}
}

// appendDense hands over the sweep at of a window with series ids in use
// (released ones included) whose dense values are vals: it copies vals and
// the keys of the ids new since the last successful call or reassigned
// since (j, which the first call turns on). One caller goroutine, on the
// window's writer right after its Commit.
func (st *stream[K]) appendDense(at int64, vals []int64, series int, j state.Journal[K]) bool {
	if !st.jtrack {
		j.Track()
		st.jtrack, st.jpos = true, 0
	}
	h := handoff[K]{at: at}
	for id := st.handed; id < series; id++ {
		h.ids, h.keys = append(h.ids, uint32(id)), append(h.keys, j.Key(uint32(id)))
	}
	changed, next, ok := j.Assigned(st.jpos)
	if !ok { // cannot happen with one stream per catalog; resend every key
		changed = nil
		for id := range st.handed {
			changed = append(changed, uint32(id))
		}
	}
	for _, id := range changed {
		if int(id) < st.handed {
			h.ids, h.keys = append(h.ids, id), append(h.keys, j.Key(id))
		}
	}
	n := min(len(vals), series)
	h.values = append(st.buffer(n)[:0], vals[:n]...)
	if !st.append(h) {
		st.recycle(h.values)
		return false
	}
	st.handed, st.jpos = series, next
	j.Trim(next)
	return true
}

// buffer returns a value slice of length n, reusing one the encoder is done
// with when it can.
func (st *stream[K]) buffer(n int) []int64 {
	select {
	case b := <-st.free:
		if cap(b) >= n {
			return b[:n]
		}
	default:
	}
	return make([]int64, n)
}

func (st *stream[K]) recycle(b []int64) {
	if b == nil {
		return
	}
	select {
	case st.free <- b:
	default:
	}
}

// run is the encoder goroutine: the only owner of st.w and st.held. While
// sweeps are held (the store is failing and the open block is full) it
// takes no more from st.in, so the hand-off fills and further sweeps are
// dropped; when the store is writable again it encodes them.
func (st *stream[K]) run() {
	defer st.s.wg.Done()
	tick := time.NewTicker(st.s.cfg.FlushInterval)
	defer tick.Stop()
	for {
		up := st.s.upSignal() // before the check, so no recovery is missed
		if len(st.held) > 0 && !st.s.failing.Load() {
			st.addHeld()
		}
		in := st.in
		if len(st.held) > 0 {
			in = nil
		}
		select {
		case h := <-in:
			st.take(h)
		case <-up:
		case <-tick.C:
			_ = st.w.checkpoint()
		case reply := <-st.flush:
			reply <- st.flushNow()
		case <-st.s.stop:
			st.finish()
			return
		}
	}
}

// take encodes h, after gaps for the sweeps lost before it, or holds them.
func (st *stream[K]) take(h handoff[K]) {
	st.held = gapSweeps(h.lost, st.held)
	h.lost = lostRun{}
	st.held = append(st.held, h)
	st.addHeld()
}

// addHeld encodes the held sweeps in order, up to the first that needs the
// open block written while it cannot be.
func (st *stream[K]) addHeld() {
	for len(st.held) > 0 {
		h := st.held[0]
		if !st.w.add(h) {
			return
		}
		st.recycle(h.values)
		st.held[0] = handoff[K]{}
		st.held = st.held[1:]
	}
}

// drain encodes the sweeps already queued, unless some are held.
func (st *stream[K]) drain() {
	for len(st.held) == 0 {
		select {
		case h := <-st.in:
			st.take(h)
		default:
			return
		}
	}
}

// flushNow drains the queue and checkpoints the open block: Flush's work.
func (st *stream[K]) flushNow() error {
	st.drain()
	if len(st.held) > 0 {
		return st.s.unavailable()
	}
	return st.w.checkpoint()
}

// finish writes what the stream has when the store closes. If the store is
// failing, that is lost: counted as dropped and logged.
func (st *stream[K]) finish() {
	if !st.s.failing.Load() {
		st.addHeld()
	}
	st.drain()
	lost := len(st.in)
	for _, h := range st.held {
		if !h.gap {
			lost++
		}
	}
	if err := st.w.flushBlock(); err != nil {
		lost += st.w.n
	}
	if lost > 0 {
		st.m.dropped.Add(lost)
		st.s.log.Error("store closed while not writable: sweeps lost", "stream", st.name, "sweeps", lost, "err", st.s.unavailable())
	}
}
