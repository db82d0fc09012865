package state

import (
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
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
	flush  chan chan struct{}
	newest atomic.Int64 // at of the newest sweep written (checkpointed or flushed)
	w      *writer[K]
	handed int // window series handed over by appendDense; caller-owned
}

// handoff is one sweep on its way to a stream's encoder: SweepData for any
// key type.
type handoff[K comparable] struct {
	at       int64
	values   []int64
	firstNew uint32
	newKeys  []K
}

func newStream[K comparable](s *Store, name string, ks keyspace, float bool, reg *registry[K], m streamMetrics) *stream[K] {
	return &stream[K]{s: s, name: name, ks: ks, float: float, reg: reg, m: m,
		in: make(chan handoff[K], s.cfg.Queue), free: make(chan []int64, s.cfg.Queue+2), flush: make(chan chan struct{})}
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
// logged) if the queue is full or the store is closed.
func (st *stream[K]) append(h handoff[K]) bool {
	if st.s.closed.Load() {
		return false
	}
	select {
	case st.in <- h:
		return true
	default:
		st.m.dropped.Inc()
		if st.s.logLimit.allow(time.Now()) {
			st.s.log.Warn("store falling behind: sweep dropped", "stream", st.name, "at", time.UnixMilli(h.at), "dropped_total", st.m.dropped.Get())
		}
		return false
	}
}

// appendDense hands over the sweep at of a window with series registered
// series whose dense values are vals: it copies vals and the keys
// registered since the last successful call (key gives them by window id).
// One caller goroutine, on the window's writer right after its Commit.
func (st *stream[K]) appendDense(at int64, vals []int64, series int, key func(id uint32) K) bool {
	h := handoff[K]{at: at, firstNew: uint32(st.handed)}
	for id := st.handed; id < series; id++ {
		h.newKeys = append(h.newKeys, key(uint32(id)))
	}
	n := min(len(vals), series)
	h.values = append(st.buffer(n)[:0], vals[:n]...)
	if !st.append(h) {
		st.recycle(h.values)
		return false
	}
	st.handed = series
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
	select {
	case st.free <- b:
	default:
	}
}

// run is the encoder goroutine: the only owner of st.w.
func (st *stream[K]) run() {
	defer st.s.wg.Done()
	tick := time.NewTicker(st.s.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case h := <-st.in:
			st.add(h)
		case <-tick.C:
			st.w.checkpoint()
		case done := <-st.flush:
			st.drain()
			st.w.checkpoint()
			close(done)
		case <-st.s.stop:
			st.drain()
			st.w.flushBlock()
			return
		}
	}
}

func (st *stream[K]) add(h handoff[K]) {
	st.w.add(h)
	st.recycle(h.values)
}

// drain encodes the sweeps already queued.
func (st *stream[K]) drain() {
	for {
		select {
		case h := <-st.in:
			st.add(h)
		default:
			return
		}
	}
}
