package state

import (
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// Metric names the offset series kept in the window.
type Metric uint8

// Valid reports whether m is one of the metrics below.
func (m Metric) Valid() bool { return int(m) < len(metricNames) }

// Offset metrics. Names are what citations and the API show.
const (
	MetricCommitted  Metric = iota // kafka_consumergroup_committed_offset{cluster,group,partition,topic}
	MetricEnd                      // kafka_partition_log_end_offset{cluster,partition,topic}
	MetricStart                    // kafka_partition_log_start_offset{cluster,partition,topic}
	MetricGeneration               // kafka_consumergroup_generation{cluster,group}: membership generation observed
)

var metricNames = [...]string{
	MetricCommitted:  "kafka_consumergroup_committed_offset",
	MetricEnd:        "kafka_partition_log_end_offset",
	MetricStart:      "kafka_partition_log_start_offset",
	MetricGeneration: "kafka_consumergroup_generation",
}

// MetricByName maps a metric name back to its Metric.
func MetricByName(name string) (Metric, bool) {
	for m, n := range metricNames {
		if n == name {
			return Metric(m), true
		}
	}
	return 0, false
}

func (m Metric) String() string { return metricNames[m] }

// SeriesKey identifies one offset series. Group is empty for end and start
// offsets, which belong to the topic-partition.
type SeriesKey struct {
	Metric    Metric
	Group     string
	Topic     string
	Partition int32
}

// WindowConfig sizes the detectors' in-memory window.
type WindowConfig struct {
	// Span is how far back the window reaches; default 10m. Memory does not
	// depend on it (Points does); a longer span coarsens the history step,
	// which costs time-lag precision on bursty topics.
	Span time.Duration `yaml:"span"`
	// Points is how many decimated history samples cover Span; default 55.
	Points int `yaml:"points"`
	// Recent is how many newest sweeps are kept at full resolution; default 6.
	Recent int `yaml:"recent"`
}

// DefaultWindowConfig: 10 minutes in 55 history points (one per ~11.3 s) plus
// the 6 newest sweeps at full resolution and a decrease mark:
// (55 + 7 + 1) × 8 B = 504 B per series.
func DefaultWindowConfig() WindowConfig {
	return WindowConfig{Span: 10 * time.Minute, Points: 55, Recent: 6}
}

// Validate reports invalid fields by YAML key.
func (c WindowConfig) Validate() error {
	var errs []error
	if c.Span < time.Second {
		errs = append(errs, fmt.Errorf("window.span: must be ≥ 1s, got %s", c.Span))
	}
	if c.Points < 4 || c.Points > 4096 {
		errs = append(errs, fmt.Errorf("window.points: must be in [4, 4096], got %d", c.Points))
	}
	if c.Recent < 2 || c.Recent > 4096 {
		errs = append(errs, fmt.Errorf("window.recent: must be in [2, 4096], got %d", c.Recent))
	}
	return errors.Join(errs...)
}

// step is the spacing of history samples so that Points-2 intervals (the
// readable part of the history ring) cover Span.
func (c WindowConfig) step() int64 {
	return (c.Span.Milliseconds() + int64(c.Points-3)) / int64(c.Points-2)
}

// GroupTopicSpec is one watched (group, topic) and its partitions, as the
// ingester last saw it.
type GroupTopicSpec struct {
	Group      string
	Topic      string
	Partitions []int32
}

// Topology is the published, immutable set of watched group-topics with the
// series ids of their partitions.
type Topology struct {
	GroupTopics []TopicEntry
}

// TopicEntry is one group-topic of a Topology.
type TopicEntry struct {
	Group, Topic string
	Parts        []PartRef
}

// PartRef holds the series ids of one group-partition, indexed by detect.Column.
type PartRef struct {
	Partition int32
	Series    [3]uint32
}

// Snapshot is one published state of the window. The writer publishes a
// completed sweep by storing a new Snapshot with one atomic store.
type Snapshot struct {
	At       int64  // Unix ms of the newest sweep
	Sweeps   uint64 // sweeps published so far
	Recent   uint64 // head of the full-resolution ring
	History  uint64 // head of the decimated ring
	Series   int    // series registered
	Topology *Topology
	Groups   map[string]detect.GroupContext // immutable once published
}

// Window is the detectors' working set: a full-resolution ring of the newest
// sweeps and a decimated ring covering the span, plus the series catalog.
// One writer (the ingester) calls Register, Begin and Commit; any number of
// readers call View.
type Window struct {
	cfg     WindowConfig
	cluster string
	recent  *Ring
	history *Ring
	snap    atomic.Pointer[Snapshot]
	catalog *catalog[SeriesKey]

	// Writer-owned state.
	vals     []int64
	lastHist int64
	reclaim  reclaimer
}

// NewWindow returns an empty window for one cluster.
func NewWindow(cfg WindowConfig, cluster string) (*Window, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	w := &Window{
		cfg: cfg, cluster: cluster,
		recent:  NewMarkedRing(cfg.Recent + 1),
		history: NewRing(cfg.Points),
		catalog: newCatalog[SeriesKey](),
	}
	w.snap.Store(&Snapshot{Topology: &Topology{}, Groups: map[string]detect.GroupContext{}})
	return w, nil
}

// Cluster is the cluster name the window's series are labelled with.
func (w *Window) Cluster() string { return w.cluster }

// Register returns the id of a series, adding it to the catalog if new.
// Writer only.
func (w *Window) Register(k SeriesKey) uint32 {
	id, added := w.catalog.add(k)
	if added {
		n := w.catalog.len()
		w.recent.Grow(n)
		w.history.Grow(n)
		for len(w.vals) < n {
			w.vals = append(w.vals, detect.Gap)
		}
		w.reclaim.registered(id)
	}
	return id
}

// Lookup returns the id of a registered series. Writer only.
func (w *Window) Lookup(k SeriesKey) (uint32, bool) {
	return w.catalog.lookup(k)
}

// BuildTopology registers the series of specs and returns their topology.
// Writer only.
func (w *Window) BuildTopology(specs []GroupTopicSpec) *Topology {
	t := &Topology{GroupTopics: make([]TopicEntry, 0, len(specs))}
	for _, s := range specs {
		e := TopicEntry{Group: s.Group, Topic: s.Topic, Parts: make([]PartRef, 0, len(s.Partitions))}
		for _, p := range s.Partitions {
			e.Parts = append(e.Parts, PartRef{Partition: p, Series: [3]uint32{
				detect.ColCommitted: w.Register(SeriesKey{Metric: MetricCommitted, Group: s.Group, Topic: s.Topic, Partition: p}),
				detect.ColEnd:       w.Register(SeriesKey{Metric: MetricEnd, Topic: s.Topic, Partition: p}),
				detect.ColStart:     w.Register(SeriesKey{Metric: MetricStart, Topic: s.Topic, Partition: p}),
			}})
		}
		t.GroupTopics = append(t.GroupTopics, e)
	}
	return t
}

// Sweep is a sweep being filled by the writer. Values not set are gaps.
type Sweep struct {
	w        *Window
	at       int64
	topology *Topology
	groups   map[string]detect.GroupContext
	changed  bool // topology or groups replaced
}

// Begin starts a sweep stamped at (one timestamp shared by all its samples).
// Writer only.
func (w *Window) Begin(at time.Time) *Sweep {
	for i := range w.vals {
		w.vals[i] = detect.Gap
	}
	prev := w.snap.Load()
	return &Sweep{w: w, at: at.UnixMilli(), topology: prev.Topology, groups: prev.Groups}
}

// Set records series id's value in this sweep.
func (s *Sweep) Set(id uint32, v int64) { s.w.vals[id] = v }

// SetTopology replaces the published topology from this sweep on.
func (s *Sweep) SetTopology(t *Topology) { s.topology, s.changed = t, true }

// SetGroups replaces the published group contexts; m must not be modified
// afterwards.
func (s *Sweep) SetGroups(m map[string]detect.GroupContext) { s.groups, s.changed = m, true }

// Commit writes the sweep to the rings and publishes it. Writer only.
func (w *Window) Commit(s *Sweep) {
	w.reclaim.commit(w, s)
	w.recent.Publish(s.at, w.vals)
	if w.history.Head() == 0 || s.at-w.lastHist >= w.cfg.step() {
		w.history.Publish(s.at, w.vals)
		w.lastHist = s.at
	}
	prev := w.snap.Load()
	w.snap.Store(&Snapshot{
		At: s.at, Sweeps: prev.Sweeps + 1,
		Recent: w.recent.Head(), History: w.history.Head(),
		Series: w.catalog.len(), Topology: s.topology, Groups: s.groups,
	})
}

// Snapshot returns the newest published snapshot.
func (w *Window) Snapshot() *Snapshot { return w.snap.Load() }

// Key returns the key of series id, or false if id is not registered in the
// newest snapshot (or was released). Safe for readers.
func (w *Window) Key(id uint32) (SeriesKey, bool) {
	if int(id) >= w.snap.Load().Series {
		return SeriesKey{}, false
	}
	k := w.catalog.key(id)
	return k, k != SeriesKey{}
}

// Ref returns the citation reference of series id.
func (w *Window) Ref(id uint32) detect.SeriesRef {
	k, _ := w.Key(id)
	return w.RefOf(k)
}

// RefOf renders a key as a series reference with sorted labels.
func (w *Window) RefOf(k SeriesKey) detect.SeriesRef {
	labels := []detect.Label{{Name: "cluster", Value: w.cluster}}
	if k.Group != "" {
		labels = append(labels, detect.Label{Name: "group", Value: k.Group})
	}
	if k.Metric == MetricGeneration {
		return detect.SeriesRef{Metric: k.Metric.String(), Labels: labels}
	}
	labels = append(labels,
		detect.Label{Name: "partition", Value: strconv.Itoa(int(k.Partition))},
		detect.Label{Name: "topic", Value: k.Topic})
	return detect.SeriesRef{Metric: k.Metric.String(), Labels: labels}
}

// Values returns the dense values of the sweep last committed, indexed by
// series id (Snapshot().Series of them; released ids included), detect.Gap
// when absent. Writer only: valid until the next Begin, and not to be
// modified.
func (w *Window) Values() []int64 { return w.vals }

// Journal returns the handle on the window's series catalog for a mirror of
// its ids (the store). Writer only.
func (w *Window) Journal() Journal[SeriesKey] { return Journal[SeriesKey]{w.catalog} }

// Bytes is the memory held by both rings.
func (w *Window) Bytes() int { return w.recent.Bytes() + w.history.Bytes() }
