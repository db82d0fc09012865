package state

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// TelemetryKey identifies one broker series: a signal of one broker,
// optionally narrowed to a topic, partition, request type, quantile or log
// directory. Unused fields are empty (Partition -1). Broker -1 marks a
// cluster-wide series (the admin API's availability, Metadata's offline
// partition count).
type TelemetryKey struct {
	Signal    detect.Signal
	Broker    int32
	Topic     string
	Partition int32
	Request   string
	Quantile  string // "0.99", "0.999"
	Dir       string // log directory or mount point
	Origin    string // "admin", "node" (node_exporter) or "" (the broker's JMX scrape)
}

// Telemetry is the broker detectors' window: float series (scraped metrics
// and admin-API answers) in the same two-ring layout as Window, with the
// same concurrency contract — one writer (the broker poller), lock-free
// readers, one atomic store per published sweep. Values are float64 bits;
// NaN is stored as a gap and -0 as +0 (the gap's bit pattern).
type Telemetry struct {
	cfg     WindowConfig
	cluster string
	recent  *Ring
	history *Ring
	snap    atomic.Pointer[TelemetrySnapshot]
	catalog *catalog[TelemetryKey]
	sources atomic.Pointer[map[int32]string] // broker → scrape source, for citations

	vals     []int64 // writer only
	lastHist int64   // writer only
	reclaim  telemetryReclaim
}

// TelemetrySnapshot is one published sweep of broker telemetry.
type TelemetrySnapshot struct {
	At      int64
	Sweeps  uint64
	Recent  uint64
	History uint64
	Series  int
	// Brokers lists the brokers known at this sweep with their context.
	Brokers map[int32]BrokerContext
	// Reassigning and AdminUp come from the admin-API collection.
	Reassigning bool
}

// BrokerContext is what the admin API and the scrape configuration say about
// a broker.
type BrokerContext struct {
	Registered     bool
	Restarting     bool
	HandlerThreads int
	Source         string // scrape URL
}

// NewTelemetry returns an empty telemetry window.
func NewTelemetry(cfg WindowConfig, cluster string) (*Telemetry, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	t := &Telemetry{cfg: cfg, cluster: cluster, recent: NewRing(cfg.Recent + 1), history: NewRing(cfg.Points), catalog: newCatalog[TelemetryKey]()}
	t.snap.Store(&TelemetrySnapshot{Brokers: map[int32]BrokerContext{}})
	return t, nil
}

// register returns the id of k, adding it if new. Writer only.
func (t *Telemetry) register(k TelemetryKey) uint32 {
	id, added := t.catalog.add(k)
	if added {
		n := t.catalog.len()
		t.recent.Grow(n)
		t.history.Grow(n)
		for len(t.vals) < n {
			t.vals = append(t.vals, detect.Gap)
		}
	}
	return id
}

// TelemetrySweep is a sweep being filled by the writer.
type TelemetrySweep struct {
	t    *Telemetry
	at   int64
	snap TelemetrySnapshot
}

// Begin starts a sweep stamped at. Writer only.
func (t *Telemetry) Begin(at time.Time) *TelemetrySweep {
	for i := range t.vals {
		t.vals[i] = detect.Gap
	}
	return &TelemetrySweep{t: t, at: at.UnixMilli(), snap: *t.snap.Load()}
}

// Set records k's value; NaN records a gap.
func (s *TelemetrySweep) Set(k TelemetryKey, v float64) {
	id := s.t.register(k)
	s.t.vals[id] = floatBits(v)
	s.t.reclaim.set(id, s.at, [2]uint64{s.t.recent.Head(), s.t.history.Head()})
}

// SetBrokers replaces the broker contexts; m must not be modified afterwards.
func (s *TelemetrySweep) SetBrokers(m map[int32]BrokerContext) { s.snap.Brokers = m }

// SetReassigning records whether partition reassignments are in progress.
func (s *TelemetrySweep) SetReassigning(v bool) { s.snap.Reassigning = v }

// Commit publishes the sweep. Writer only.
func (t *Telemetry) Commit(s *TelemetrySweep) {
	t.reclaim.scan(t, s.at)
	t.recent.Publish(s.at, t.vals)
	if t.history.Head() == 0 || s.at-t.lastHist >= t.cfg.step() {
		t.history.Publish(s.at, t.vals)
		t.lastHist = s.at
	}
	next := s.snap
	next.At, next.Sweeps = s.at, next.Sweeps+1
	next.Recent, next.History, next.Series = t.recent.Head(), t.history.Head(), t.catalog.len()
	t.snap.Store(&next)
}

// Snapshot returns the newest published snapshot.
func (t *Telemetry) Snapshot() *TelemetrySnapshot { return t.snap.Load() }

// Values returns the dense values of the sweep last committed, indexed by
// series id (float64 bits, detect.Gap when absent), like Window.Values.
// Writer only.
func (t *Telemetry) Values() []int64 { return t.vals }

// Journal returns the handle on the telemetry's series catalog for a mirror
// of its ids (the store). Writer only.
func (t *Telemetry) Journal() Journal[TelemetryKey] { return Journal[TelemetryKey]{t.catalog} }

// floatBits encodes v for a ring slot: NaN becomes a gap, -0 becomes +0.
func floatBits(v float64) int64 {
	if math.IsNaN(v) {
		return detect.Gap
	}
	if v == 0 {
		return 0
	}
	return int64(math.Float64bits(v))
}

func bitsFloat(b int64) float64 {
	if b == detect.Gap {
		return math.NaN()
	}
	return math.Float64frombits(uint64(b))
}

// Ref renders a telemetry key as a series reference with sorted labels.
// Every field but Signal (the metric name, after "kafka_broker_") is a
// label when set: broker, dir, origin, partition (with a topic only),
// quantile, request, topic; cluster is the window's. The origin label tells
// apart one signal of one broker from several origins (e.g. the scraped and
// the Metadata-derived under_replicated_partitions), so a citation names
// exactly the series it summarises. TelemetryKeyOf is the inverse.
func (t *Telemetry) Ref(k TelemetryKey) detect.SeriesRef {
	labels := []detect.Label{{Name: "broker", Value: strconv.Itoa(int(k.Broker))}, {Name: "cluster", Value: t.cluster}}
	add := func(name, v string) {
		if v != "" {
			labels = append(labels, detect.Label{Name: name, Value: v})
		}
	}
	add("dir", k.Dir)
	add("origin", k.Origin)
	if k.Partition >= 0 && k.Topic != "" {
		add("partition", strconv.Itoa(int(k.Partition)))
	}
	add("quantile", k.Quantile)
	add("request", k.Request)
	add("topic", k.Topic)
	return detect.SeriesRef{Metric: "kafka_broker_" + string(k.Signal), Labels: labels}
}

// ClusterInput builds the broker detectors' input from the newest snapshot.
// Readers only; allocates per call (brokers × signals is small).
//
// One signal of one broker can come from several origins; the detectors
// get one series per signal, chosen per call:
//
//   - Broker-wide signals: the JMX scrape (Origin "") if that series has a
//     present sample in the window, else the admin-derived one (Origin
//     "admin", e.g. under_replicated_partitions counted from Metadata),
//     else node_exporter's (Origin "node", e.g. scrape_up of a broker with
//     only a node_exporter target). So a broker's jmx scrape_up, not its
//     node_exporter's, decides whether it is reachable, and a cluster
//     without JMX scraping still gets replication inputs from Metadata.
//   - Cluster-wide admin series (Broker -1) other than AdminUp: the
//     Metadata offline-partition count is attached to the lowest broker id
//     as its offline_partitions signal, unless some broker has a scraped
//     offline_partitions series with a present sample (the active
//     controller reports it; the others report 0). Its citation keeps
//     broker="-1" and names Metadata as the source.
//   - Log dirs, per path: DescribeLogDirs (Origin "admin") when it has a
//     present total (KIP-827), else node_exporter's mount, else the admin
//     used bytes alone. Used and Total always come from the same origin.
//
// Admin-derived series are held between admin polls (the poller re-writes
// the last answer at every sweep), so a detector counting samples (e.g.
// OFFLINE_PARTITIONS' consecutive samples) counts sweeps, not polls.
func (t *Telemetry) ClusterInput() detect.ClusterInput {
	snap := t.snap.Load()
	histT, _ := t.history.ReadTimes(snap.History, nil)
	recT, _ := t.recent.ReadTimes(snap.Recent, nil)
	in := detect.ClusterInput{Cluster: t.cluster, At: snap.At, Reassigning: snap.Reassigning}
	byBroker := map[int32]*detect.BrokerInput{}
	broker := func(id int32) *detect.BrokerInput {
		b := byBroker[id]
		if b == nil {
			ctx := snap.Brokers[id]
			b = &detect.BrokerInput{Broker: id, Signals: map[detect.Signal]detect.SignalWindow{}, TopicSize: map[string]detect.SignalWindow{},
				HandlerThreads: ctx.HandlerThreads, Restarting: ctx.Restarting, Registered: ctx.Registered}
			byBroker[id] = b
		}
		return b
	}
	for id := range snap.Brokers {
		broker(id)
	}
	sigs := map[int32]map[detect.Signal]*byOrigin[detect.SignalWindow]{}
	dirs := map[int32]map[string]*byOrigin[detect.LogDir]{}
	lat := map[int32]map[string]*detect.RequestLatency{}
	cluster := map[detect.Signal]detect.SignalWindow{}
	for id := 0; id < snap.Series; id++ {
		k := t.catalog.key(uint32(id))
		if k == (TelemetryKey{}) {
			continue // released
		}
		w := t.window(snap, uint32(id), histT, recT)
		w.Ref, w.Source = t.Ref(k), sourceOf(k, snap)
		switch {
		case k.Signal == detect.SigAdminUp:
			in.AdminUp = w
			continue
		case k.Broker < 0:
			cluster[k.Signal] = w
			continue
		}
		b := broker(k.Broker)
		switch {
		case k.Signal == detect.SigLogDirUsed || k.Signal == detect.SigLogDirTotal:
			d := slot(dirs, k.Broker, k.Dir).at(k.Origin)
			d.Path = k.Dir
			if k.Signal == detect.SigLogDirUsed {
				d.Used = w
			} else {
				d.Total = w
			}
		case k.Request != "":
			l := latency(lat, k)
			if k.Quantile == "0.999" {
				l.P999 = w
			} else {
				l.P99 = w
			}
		case k.Signal == detect.SigTopicSize:
			b.TopicSize[k.Topic] = w
		case k.Topic == "" && k.Dir == "":
			*slot(sigs, k.Broker, k.Signal).at(k.Origin) = w
		}
	}
	for id, b := range byBroker {
		for sig, c := range sigs[id] {
			b.Signals[sig] = c.pick(func(w *detect.SignalWindow) bool { return hasData(*w) })
		}
		for _, path := range slices.Sorted(maps.Keys(dirs[id])) {
			b.LogDirs = append(b.LogDirs, pickDir(dirs[id][path]))
		}
		for _, req := range slices.Sorted(maps.Keys(lat[id])) {
			b.Latency = append(b.Latency, *lat[id][req])
		}
		in.Brokers = append(in.Brokers, *b)
	}
	slices.SortFunc(in.Brokers, func(a, b detect.BrokerInput) int { return int(a.Broker - b.Broker) })
	attachOffline(&in, cluster)
	return in
}

// byOrigin holds one value per origin, in order of preference: the JMX
// scrape (""), the admin API, node_exporter.
type byOrigin[V any] struct {
	v   [3]V
	set [3]bool
}

func (o *byOrigin[V]) at(origin string) *V {
	i := 0
	switch origin {
	case "admin":
		i = 1
	case "node":
		i = 2
	}
	o.set[i] = true
	return &o.v[i]
}

// pick returns the first value, in order of preference, for which good
// holds, else the first value set.
func (o *byOrigin[V]) pick(good func(*V) bool) V {
	for i := range o.v {
		if o.set[i] && good(&o.v[i]) {
			return o.v[i]
		}
	}
	for i := range o.v {
		if o.set[i] {
			return o.v[i]
		}
	}
	var zero V
	return zero
}

// pickDir prefers an origin with a present total (DescribeLogDirs KIP-827,
// then node_exporter), else one with used bytes.
func pickDir(o *byOrigin[detect.LogDir]) detect.LogDir {
	for i := range o.v {
		if o.set[i] && hasData(o.v[i].Total) {
			return o.v[i]
		}
	}
	return o.pick(func(d *detect.LogDir) bool { return hasData(d.Used) })
}

// attachOffline gives the cluster-wide admin offline-partition count to the
// lowest broker when no broker has a scraped count with data.
func attachOffline(in *detect.ClusterInput, cluster map[detect.Signal]detect.SignalWindow) {
	w, ok := cluster[detect.SigOfflinePartitions]
	if !ok || len(in.Brokers) == 0 {
		return
	}
	for _, b := range in.Brokers {
		if hasData(b.Signals[detect.SigOfflinePartitions]) {
			return
		}
	}
	in.Brokers[0].Signals[detect.SigOfflinePartitions] = w
}

// hasData reports whether w has a present sample.
func hasData(w detect.SignalWindow) bool {
	return slices.ContainsFunc(w.Values, func(v float64) bool { return !math.IsNaN(v) })
}

func slot[K comparable, V any](m map[int32]map[K]*byOrigin[V], broker int32, k K) *byOrigin[V] {
	if m[broker] == nil {
		m[broker] = map[K]*byOrigin[V]{}
	}
	if m[broker][k] == nil {
		m[broker][k] = &byOrigin[V]{}
	}
	return m[broker][k]
}

func latency(m map[int32]map[string]*detect.RequestLatency, k TelemetryKey) *detect.RequestLatency {
	if m[k.Broker] == nil {
		m[k.Broker] = map[string]*detect.RequestLatency{}
	}
	if m[k.Broker][k.Request] == nil {
		m[k.Broker][k.Request] = &detect.RequestLatency{Request: k.Request}
	}
	return m[k.Broker][k.Request]
}

// sourceOf names where a telemetry series came from, for citations.
func sourceOf(k TelemetryKey, snap *TelemetrySnapshot) string {
	switch {
	case k.Signal == detect.SigRegistered:
		return "DescribeCluster (Metadata where unavailable)"
	case k.Signal == detect.SigAdminUp:
		return "admin API"
	case k.Origin == "admin" && (k.Signal == detect.SigLogDirUsed || k.Signal == detect.SigLogDirTotal):
		return "DescribeLogDirs"
	case k.Origin == "admin":
		return "Metadata"
	case k.Origin == "node":
		return "scrape node_exporter"
	}
	if s := snap.Brokers[k.Broker].Source; s != "" {
		return "scrape " + s
	}
	return "scrape"
}

// window reads one series' merged history+recent window as floats.
func (t *Telemetry) window(snap *TelemetrySnapshot, id uint32, histT, recT []int64) detect.SignalWindow {
	h, hs := t.history.ReadSeries(snap.History, id, nil)
	r, rs := t.recent.ReadSeries(snap.Recent, id, nil)
	hLo, hHi, rLo := mergeBounds(histT, recT, hs, rs)
	w := detect.SignalWindow{}
	for i := hLo; i < hHi; i++ {
		w.Times = append(w.Times, histT[i])
		w.Values = append(w.Values, bitsFloat(h[i]))
	}
	for i := rLo; i < len(recT); i++ {
		w.Times = append(w.Times, recT[i])
		w.Values = append(w.Values, bitsFloat(r[i]))
	}
	return w
}

// mergeBounds returns which history samples [hLo, hHi) and recent samples
// [rLo, end) form a merged window after skipping hs history and rs recent
// leading samples: history samples at or after the oldest recent one are left
// out, so each sweep appears once.
func mergeBounds(histT, recT []int64, hs, rs int) (hLo, hHi, rLo int) {
	hLo, hHi, rLo = min(hs, len(histT)), len(histT), min(rs, len(recT))
	if rLo < len(recT) {
		for hHi > hLo && histT[hHi-1] >= recT[rLo] {
			hHi--
		}
	}
	return hLo, hHi, rLo
}
