package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/ingest/scrape"
	"github.com/kwitness/kwitness/state"
)

// TelemetryConfig configures broker telemetry: the scrape targets and the
// admin-API collection cadence.
type TelemetryConfig struct {
	ScrapeInterval   time.Duration  `yaml:"scrape_interval"`   // default 1s (≥ 1s)
	ScrapeTimeout    time.Duration  `yaml:"scrape_timeout"`    // per target; default 800ms
	MaxSeries        int            `yaml:"max_series"`        // cardinality guard per target; default 200000
	LogDirsInterval  time.Duration  `yaml:"logdirs_interval"`  // DescribeLogDirs; default 10s
	MetadataInterval time.Duration  `yaml:"metadata_interval"` // broker membership (Metadata), reassignments; default 30s
	Targets          []ScrapeTarget `yaml:"targets"`
}

// ScrapeTarget is one metrics endpoint mapped to a broker.
type ScrapeTarget struct {
	Broker int32  `yaml:"broker"`
	URL    string `yaml:"url"`
	Kind   string `yaml:"kind"` // "jmx" (default) or "node" (node_exporter)
}

// DefaultTelemetryConfig returns the defaults documented on TelemetryConfig.
func DefaultTelemetryConfig() TelemetryConfig {
	return TelemetryConfig{
		ScrapeInterval: time.Second, ScrapeTimeout: 800 * time.Millisecond, MaxSeries: 200000,
		LogDirsInterval: 10 * time.Second, MetadataInterval: 30 * time.Second,
	}
}

// Validate reports invalid fields by YAML key.
func (c TelemetryConfig) Validate() error {
	var errs []error
	if c.ScrapeInterval < time.Second {
		errs = append(errs, fmt.Errorf("telemetry.scrape_interval: must be ≥ 1s, got %s", c.ScrapeInterval))
	}
	if c.ScrapeTimeout <= 0 || c.ScrapeTimeout > c.ScrapeInterval {
		errs = append(errs, fmt.Errorf("telemetry.scrape_timeout: must be in (0, scrape_interval], got %s", c.ScrapeTimeout))
	}
	if c.MaxSeries < 1 {
		errs = append(errs, fmt.Errorf("telemetry.max_series: must be ≥ 1, got %d", c.MaxSeries))
	}
	if c.LogDirsInterval < c.ScrapeInterval || c.MetadataInterval < c.ScrapeInterval {
		errs = append(errs, fmt.Errorf("telemetry.logdirs_interval and metadata_interval: must be ≥ scrape_interval"))
	}
	for i, t := range c.Targets {
		if !strings.HasPrefix(t.URL, "http://") && !strings.HasPrefix(t.URL, "https://") {
			errs = append(errs, fmt.Errorf("telemetry.targets[%d].url: want an http(s) URL, got %q", i, t.URL))
		}
		if t.Broker < 0 {
			errs = append(errs, fmt.Errorf("telemetry.targets[%d].broker: want a broker id ≥ 0, got %d", i, t.Broker))
		}
		if t.Kind != "" && t.Kind != "jmx" && t.Kind != "node" {
			errs = append(errs, fmt.Errorf("telemetry.targets[%d].kind: want jmx or node, got %q", i, t.Kind))
		}
	}
	return errors.Join(errs...)
}

// BrokerPoller scrapes every target and collects admin-API facts into the
// Telemetry window. Run and Sweep are called by one goroutine (the owner).
// It only reads: HTTP GETs and Metadata (broker membership), DescribeLogDirs,
// ListPartitionReassignments.
type BrokerPoller struct {
	cfg     TelemetryConfig
	log     *slog.Logger
	tel     *state.Telemetry
	adm     *kadm.Client
	http    *http.Client
	onSweep func(at time.Time)
	set     *metrics.Set

	sweeps     uint64
	lastLogDir time.Time
	lastMeta   time.Time
	registered map[int32]bool // brokers listed by Metadata
	leftAt     map[int32]time.Time
	logDirs    kadm.DescribedAllLogDirs
	reassign   bool
	adminUp    float64
	caps       atomic.Pointer[map[string]string]
	scrapeErrs map[string]string // url → last error, to log once per change
}

// NewBrokerPoller returns a poller; adm may be shared with the offset Poller.
func NewBrokerPoller(cfg TelemetryConfig, tel *state.Telemetry, adm *kadm.Client, log *slog.Logger, set *metrics.Set, onSweep func(time.Time)) (*BrokerPoller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &BrokerPoller{cfg: cfg, log: log, tel: tel, adm: adm, http: &http.Client{}, onSweep: onSweep, set: set,
		registered: map[int32]bool{}, leftAt: map[int32]time.Time{}, adminUp: math.NaN(), scrapeErrs: map[string]string{}}
	p.caps.Store(&map[string]string{})
	return p, nil
}

// Capabilities reports APIs found unavailable on this cluster (name → why).
func (p *BrokerPoller) Capabilities() map[string]string { return *p.caps.Load() }

// Run sweeps every ScrapeInterval until ctx is done; sweeps never overlap.
func (p *BrokerPoller) Run(ctx context.Context) {
	next := time.Now().Truncate(p.cfg.ScrapeInterval)
	for {
		p.Sweep(ctx, next)
		next = next.Add(p.cfg.ScrapeInterval)
		if now := time.Now(); now.After(next) {
			next = now.Truncate(p.cfg.ScrapeInterval).Add(p.cfg.ScrapeInterval)
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Sweep scrapes all targets (concurrently), refreshes admin facts when due,
// and publishes one telemetry sweep stamped at.
func (p *BrokerPoller) Sweep(ctx context.Context, at time.Time) {
	p.sweeps++
	results := p.scrapeAll(ctx)
	if p.adm != nil {
		p.collectAdmin(ctx, at)
	}
	s := p.tel.Begin(at)
	brokers := map[int32]state.BrokerContext{}
	for i, t := range p.cfg.Targets {
		ctx := brokers[t.Broker]
		if t.Kind != "node" {
			ctx.Source = t.URL
		}
		brokers[t.Broker] = ctx
		p.writeScrape(s, t, results[i])
	}
	p.writeAdmin(s, at, brokers)
	s.SetBrokers(brokers)
	s.SetReassigning(p.reassign)
	p.tel.Commit(s)
	if p.onSweep != nil {
		p.onSweep(at)
	}
}

type scrapeResult struct {
	res scrape.Result
	err error
}

func (p *BrokerPoller) scrapeAll(ctx context.Context) []scrapeResult {
	out := make([]scrapeResult, len(p.cfg.Targets))
	var wg sync.WaitGroup
	for i, t := range p.cfg.Targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			opts := scrape.Options{MaxSeries: p.cfg.MaxSeries}
			out[i].res, out[i].err = scrape.Scrape(ctx, p.http, scrape.Target{URL: t.URL, BrokerID: t.Broker, Timeout: p.cfg.ScrapeTimeout}, opts)
		}()
	}
	wg.Wait()
	for i, t := range p.cfg.Targets {
		p.noteScrape(t, out[i].err)
	}
	return out
}

// noteScrape counts failures and logs once per change of a target's error.
func (p *BrokerPoller) noteScrape(t ScrapeTarget, err error) {
	msg := ""
	if err != nil {
		msg = err.Error()
		p.set.GetOrCreateCounter(fmt.Sprintf(`kwitness_scrape_errors_total{broker="%d",kind=%q}`, t.Broker, kindOf(t))).Inc()
	}
	if p.scrapeErrs[t.URL] == msg {
		return
	}
	p.scrapeErrs[t.URL] = msg
	if err != nil {
		p.log.Warn("telemetry: scrape failing", "broker", t.Broker, "err", msg)
	} else {
		p.log.Info("telemetry: scraping", "broker", t.Broker, "url", t.URL)
	}
}

func kindOf(t ScrapeTarget) string {
	if t.Kind == "" {
		return "jmx"
	}
	return t.Kind
}

// brokerSignals maps broker-wide scrape signals onto detector signals.
var brokerSignals = map[scrape.Signal]detect.Signal{
	scrape.UnderReplicated:        detect.SigUnderReplicated,
	scrape.UnderMinISR:            detect.SigUnderMinISR,
	scrape.OfflinePartitions:      detect.SigOfflinePartitions,
	scrape.ActiveControllers:      detect.SigActiveController,
	scrape.UncleanLeaderElections: detect.SigUncleanElections,
	scrape.IsrShrinks:             detect.SigIsrShrinks,
	scrape.IsrExpands:             detect.SigIsrExpands,
	scrape.OfflineLogDirs:         detect.SigOfflineLogDirs,
	scrape.HandlerIdleCount:       detect.SigHandlerIdleCounter,
	scrape.NetworkIdle:            detect.SigNetworkIdle,
	scrape.RequestQueueSize:       detect.SigRequestQueue,
	scrape.BytesIn:                detect.SigBytesIn,
	scrape.BytesOut:               detect.SigBytesOut,
	scrape.PartitionCount:         detect.SigPartitionCount,
	scrape.LeaderCount:            detect.SigLeaderCount,
}

// writeScrape records one target's result: scrape_up, then its signals.
// A failed scrape writes scrape_up 0 and nothing else: gaps, never zeros.
func (p *BrokerPoller) writeScrape(s *state.TelemetrySweep, t ScrapeTarget, r scrapeResult) {
	origin := ""
	if t.Kind == "node" {
		origin = "node"
	}
	up := state.TelemetryKey{Signal: detect.SigScrapeUp, Broker: t.Broker, Partition: -1, Origin: origin}
	if r.err != nil {
		s.Set(up, 0)
		return
	}
	s.Set(up, 1)
	topicSize := map[string]float64{}
	fs := map[string][2]float64{} // mount → avail, size
	for _, smp := range r.res.Samples {
		switch {
		case smp.Signal == scrape.LogSize && smp.Topic != "":
			topicSize[smp.Topic] += smp.Value
		case smp.Signal == scrape.RequestLatencyP99 || smp.Signal == scrape.RequestLatencyP999:
			q := "0.99"
			if smp.Signal == scrape.RequestLatencyP999 {
				q = "0.999"
			}
			s.Set(state.TelemetryKey{Signal: detect.SigRequestLatency, Broker: t.Broker, Partition: -1, Request: smp.Request, Quantile: q}, smp.Value)
		case smp.Signal == scrape.FilesystemAvail || smp.Signal == scrape.FilesystemSize:
			v := fs[smp.Mount]
			if smp.Signal == scrape.FilesystemAvail {
				v[0] = smp.Value
			} else {
				v[1] = smp.Value
			}
			fs[smp.Mount] = v
		case smp.Topic == "" && smp.Partition < 0:
			if sig, ok := brokerSignals[smp.Signal]; ok {
				s.Set(state.TelemetryKey{Signal: sig, Broker: t.Broker, Partition: -1}, smp.Value)
			}
		}
	}
	for topic, v := range topicSize {
		s.Set(state.TelemetryKey{Signal: detect.SigTopicSize, Broker: t.Broker, Topic: topic, Partition: -1}, v)
	}
	for mount, v := range fs {
		if v[1] <= 0 {
			continue
		}
		s.Set(state.TelemetryKey{Signal: detect.SigLogDirUsed, Broker: t.Broker, Partition: -1, Dir: mount, Origin: "node"}, v[1]-v[0])
		s.Set(state.TelemetryKey{Signal: detect.SigLogDirTotal, Broker: t.Broker, Partition: -1, Dir: mount, Origin: "node"}, v[1])
	}
}

// collectAdmin refreshes log dirs and cluster membership when due.
func (p *BrokerPoller) collectAdmin(ctx context.Context, at time.Time) {
	if at.Sub(p.lastLogDir) >= p.cfg.LogDirsInterval {
		p.lastLogDir = at
		dirs, err := p.adm.DescribeAllLogDirs(ctx, nil)
		p.adminResult("DescribeLogDirs", err)
		if err == nil {
			p.logDirs = dirs
		} else {
			p.logDirs = nil
		}
	}
	if at.Sub(p.lastMeta) < p.cfg.MetadataInterval {
		return
	}
	p.lastMeta = at
	brokers, err := p.adm.ListBrokers(ctx)
	p.adminResult("Metadata(brokers)", err)
	if err == nil {
		p.updateMembership(at, brokers)
	}
	ras, err := p.adm.ListPartitionReassignments(ctx, nil)
	p.adminResult("ListPartitionReassignments", err)
	p.reassign = err == nil && len(ras) > 0
}

// adminResult tracks admin-API health and records unsupported APIs once.
func (p *BrokerPoller) adminResult(request string, err error) {
	switch {
	case err == nil:
		p.adminUp = 1
	case isUnsupported(err):
		caps := maps.Clone(*p.caps.Load())
		if _, seen := caps[request]; !seen {
			caps[request] = err.Error()
			p.caps.Store(&caps)
			p.log.Warn("telemetry: capability unavailable", "request", request, "err", err)
		}
	default:
		p.adminUp = 0
		p.set.GetOrCreateCounter(fmt.Sprintf(`kwitness_ingest_errors_total{class=%q,request=%q}`, Classify(err), request)).Inc()
	}
}

func isUnsupported(err error) bool {
	return strings.Contains(err.Error(), "UNSUPPORTED_VERSION") || strings.Contains(err.Error(), "does not support")
}

// updateMembership marks brokers that left, and those that rejoined within
// the last 15 minutes as restarting.
func (p *BrokerPoller) updateMembership(at time.Time, brokers kadm.BrokerDetails) {
	now := map[int32]bool{}
	for _, b := range brokers {
		now[b.NodeID] = true
	}
	for id := range p.registered {
		if !now[id] {
			p.leftAt[id] = at
		}
	}
	p.registered = now
}

// writeAdmin records admin-derived series and broker contexts.
func (p *BrokerPoller) writeAdmin(s *state.TelemetrySweep, at time.Time, brokers map[int32]state.BrokerContext) {
	s.Set(state.TelemetryKey{Signal: detect.SigAdminUp, Broker: -1, Partition: -1}, p.adminUp)
	for id, ctx := range brokers {
		ctx.Registered = len(p.registered) == 0 || p.registered[id]
		left, ok := p.leftAt[id]
		ctx.Restarting = ok && p.registered[id] && at.Sub(left) < 15*time.Minute
		brokers[id] = ctx
		reg := 0.0
		if ctx.Registered {
			reg = 1
		}
		if len(p.registered) > 0 {
			s.Set(state.TelemetryKey{Signal: detect.SigRegistered, Broker: id, Partition: -1}, reg)
		}
	}
	p.logDirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		used := float64(d.Size())
		if d.TotalBytes > 0 && d.UsableBytes >= 0 && d.UsableBytes <= d.TotalBytes {
			used = float64(d.TotalBytes - d.UsableBytes)
			s.Set(state.TelemetryKey{Signal: detect.SigLogDirTotal, Broker: d.Broker, Partition: -1, Dir: d.Dir, Origin: "admin"}, float64(d.TotalBytes))
		}
		s.Set(state.TelemetryKey{Signal: detect.SigLogDirUsed, Broker: d.Broker, Partition: -1, Dir: d.Dir, Origin: "admin"}, used)
	})
}
