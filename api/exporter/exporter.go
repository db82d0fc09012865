// Package exporter writes consumer-group lag, partition offsets, group state
// and firing findings as Prometheus metrics, so dashboards built on
// kafka_exporter or kminion can be ported by renaming (docs/metrics.md).
//
// Contract:
//   - Every value is computed at scrape time from the newest published window
//     snapshot (state.View); nothing runs between scrapes, so the sweep's
//     cost does not depend on whether anyone scrapes.
//   - Granularity (partition, topic, group; default topic) chooses the label
//     sets of the lag families, as kminion's granularity does.
//   - At most Config.MaxSeries consumer-group series are written per scrape.
//     Group-topics are admitted in topology order while they fit; the series
//     of the rest are not written, are counted in
//     kwitness_exporter_series_dropped_total and the first overrun (then at
//     most one every LogEvery) is logged. Memory per scrape is bounded by the
//     topology size, never by the output: lines stream to the writer.
//   - A gap (a sample a sweep could not read) is no sample, never zero: a
//     partition without a committed or end offset at the newest sweep has no
//     lag line, and an aggregate over a gap is not written.
//   - Scrapes are serialized.
package exporter

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Granularity is the finest label set of the lag families.
type Granularity string

// Granularities, finest first.
const (
	Partition Granularity = "partition" // per group, topic and partition; offsets too
	Topic     Granularity = "topic"     // per group and topic: lag summed, time lag maxed
	Group     Granularity = "group"     // per group: lag summed, time lag maxed
)

// LogEvery bounds how often a continuing cardinality overrun is logged.
const LogEvery = 10 * time.Minute

// Config is the metrics section of kwitness.yaml.
type Config struct {
	// Granularity of the lag families; default topic.
	Granularity Granularity `yaml:"granularity"`
	// MaxSeries bounds the consumer-group series written per scrape (lag,
	// time lag, offsets, group state and members); default 200000, about
	// 30 MB of exposition text.
	MaxSeries int `yaml:"max_series"`
}

// DefaultConfig returns topic granularity and a limit of 200,000 series.
func DefaultConfig() Config { return Config{Granularity: Topic, MaxSeries: 200_000} }

// Validate reports invalid fields by YAML key.
func (c Config) Validate() error {
	var errs []error
	switch c.Granularity {
	case Partition, Topic, Group:
	default:
		errs = append(errs, fmt.Errorf("metrics.granularity: want partition, topic or group, got %q", c.Granularity))
	}
	if c.MaxSeries < 1 {
		errs = append(errs, fmt.Errorf("metrics.max_series: must be ≥ 1, got %d", c.MaxSeries))
	}
	return errors.Join(errs...)
}

// Exporter writes the lag metrics of one window and one findings list.
type Exporter struct {
	cfg      Config
	window   *state.Window
	findings *state.Findings
	log      *slog.Logger

	dropped atomic.Uint64 // series not written because of MaxSeries, all scrapes
	written atomic.Uint64 // consumer-group series written by the newest scrape

	mu      sync.Mutex // one scrape at a time; guards everything below
	cache   labelCache
	lastLog time.Time
	over    bool // the previous scrape exceeded MaxSeries
	seen    []uint64
	buf     []byte
}

// New returns an exporter and registers it on set, so set.WritePrometheus
// (GET /metrics) writes its metrics after set's own.
func New(cfg Config, w *state.Window, f *state.Findings, log *slog.Logger, set *metrics.Set) (*Exporter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	e := &Exporter{cfg: cfg, window: w, findings: f, log: log}
	set.RegisterMetricsWriter(e.WritePrometheus)
	return e, nil
}

// Dropped is the number of series not written because of MaxSeries, over
// every scrape so far.
func (e *Exporter) Dropped() uint64 { return e.dropped.Load() }

// WritePrometheus writes every family in the Prometheus text format 0.0.4.
func (e *Exporter) WritePrometheus(w io.Writer) {
	e.mu.Lock()
	defer e.mu.Unlock()
	bw := bufio.NewWriterSize(w, 64<<10)
	defer bw.Flush()
	v := e.window.View()
	snap := v.Snapshot()
	e.cache.refresh(snap.Topology, e.window.Cluster())
	p := e.plan(snap)
	s := scrape{e: e, w: bw, v: v, snap: snap, plan: p}
	s.info()
	switch e.cfg.Granularity {
	case Partition:
		s.partitions()
	default:
		s.aggregates()
	}
	s.groups()
	s.findingsFiring()
	e.account(p, time.Now())
	s.self()
}

// plan decides which group-topics fit in MaxSeries.
type plan struct {
	admitted int      // group-topics [0, admitted) are written
	groups   []string // groups of the admitted group-topics, sorted
	series   int      // consumer-group series admitted
	dropped  int      // consumer-group series not admitted
}

// plan admits group-topics in topology order while their series fit.
func (e *Exporter) plan(snap *state.Snapshot) plan {
	gts := snap.Topology.GroupTopics
	var p plan
	seenGroup := map[string]bool{}
	seenTopic := map[string]bool{}
	full := false
	for i := range gts {
		gt := &gts[i]
		cost := 0
		newGroup := !seenGroup[gt.Group]
		if newGroup {
			cost += 2 // state and members
		}
		switch e.cfg.Granularity {
		case Partition:
			cost += 3 * len(gt.Parts) // lag, time lag, committed offset
			if !seenTopic[gt.Topic] {
				cost += 2 * len(gt.Parts) // end and start offsets, once per topic
			}
		case Topic:
			cost += 2
		case Group:
			if newGroup {
				cost += 2
			}
		}
		if full || p.series+cost > e.cfg.MaxSeries {
			full = true
			p.dropped += cost
			continue
		}
		p.series += cost
		p.admitted = i + 1
		seenTopic[gt.Topic] = true
		if newGroup {
			seenGroup[gt.Group] = true
			p.groups = append(p.groups, gt.Group)
		}
	}
	slices.Sort(p.groups)
	return p
}

// account counts and logs an overrun.
func (e *Exporter) account(p plan, now time.Time) {
	e.written.Store(uint64(p.series))
	if p.dropped == 0 {
		e.over = false
		return
	}
	e.dropped.Add(uint64(p.dropped))
	if !e.over || now.Sub(e.lastLog) >= LogEvery {
		e.log.Warn("metrics: consumer-group series exceed metrics.max_series; the rest are not exported (raise the limit or coarsen metrics.granularity)",
			"limit", e.cfg.MaxSeries, "granularity", e.cfg.Granularity, "written", p.series, "dropped", p.dropped)
		e.lastLog = now
	}
	e.over = true
}

// labelCache holds the escaped label prefixes of one topology, rebuilt only
// when the topology is replaced.
type labelCache struct {
	topo      *state.Topology
	cluster   string
	groupTop  []string // per group-topic: cluster="c",group="g",topic="t"
	topicOnly []string // per group-topic: cluster="c",topic="t"
}

func (c *labelCache) refresh(t *state.Topology, cluster string) {
	if c.topo == t && c.cluster == cluster {
		return
	}
	c.topo, c.cluster = t, cluster
	c.groupTop = make([]string, len(t.GroupTopics))
	c.topicOnly = make([]string, len(t.GroupTopics))
	var b []byte
	for i, gt := range t.GroupTopics {
		b = appendLabel(b[:0], "cluster", cluster)
		b = append(b, ',')
		b = appendLabel(b, "group", gt.Group)
		b = append(b, ',')
		b = appendLabel(b, "topic", gt.Topic)
		c.groupTop[i] = string(b)
		b = appendLabel(b[:0], "cluster", cluster)
		b = append(b, ',')
		b = appendLabel(b, "topic", gt.Topic)
		c.topicOnly[i] = string(b)
	}
}

// appendLabel appends name="value" with the text format's escapes
// (backslash, double quote, line feed).
func appendLabel(b []byte, name, value string) []byte {
	b = append(b, name...)
	b = append(b, '=', '"')
	for i := 0; i < len(value); i++ {
		switch c := value[i]; c {
		case '\\':
			b = append(b, '\\', '\\')
		case '"':
			b = append(b, '\\', '"')
		case '\n':
			b = append(b, '\\', 'n')
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// appendFloat formats v as the text format wants it.
func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsInf(v, 1):
		return append(b, "+Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	case math.IsNaN(v):
		return append(b, "NaN"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// lagOf is max(0, end − committed), or Gap when either is missing.
func lagOf(committed, end int64) int64 {
	if committed == detect.Gap || end == detect.Gap {
		return detect.Gap
	}
	return max(0, end-committed)
}
