package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

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
	MetadataInterval time.Duration  `yaml:"metadata_interval"` // Metadata (membership, partition health), reassignments, topic configs; default 30s
	AdminTimeout     time.Duration  `yaml:"admin_timeout"`     // bounds each round of admin requests together; default 5s
	Targets          []ScrapeTarget `yaml:"targets"`
}

// ScrapeTarget is one metrics endpoint mapped to a broker.
type ScrapeTarget struct {
	Broker int32  `yaml:"broker"`
	URL    string `yaml:"url"`
	Kind   string `yaml:"kind"` // "jmx" (default) or "node" (node_exporter)
	// Mounts, for a node target, lists the mount points that hold Kafka log
	// dirs; the others (/, /boot, tmpfs, ...) are ignored. Empty: all.
	Mounts []string `yaml:"mounts"`
}

// DefaultTelemetryConfig returns the defaults documented on TelemetryConfig.
func DefaultTelemetryConfig() TelemetryConfig {
	return TelemetryConfig{
		ScrapeInterval: time.Second, ScrapeTimeout: 800 * time.Millisecond, MaxSeries: 200000,
		LogDirsInterval: 10 * time.Second, MetadataInterval: 30 * time.Second, AdminTimeout: 5 * time.Second,
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
	if c.AdminTimeout <= 0 {
		errs = append(errs, fmt.Errorf("telemetry.admin_timeout: must be positive, got %s", c.AdminTimeout))
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
		if len(t.Mounts) > 0 && t.Kind != "node" {
			errs = append(errs, fmt.Errorf("telemetry.targets[%d].mounts: only for kind node", i))
		}
	}
	return errors.Join(errs...)
}

// BrokerPoller scrapes every target and collects admin-API facts into the
// Telemetry window. Run and Sweep are called by one goroutine (the owner);
// Capabilities, TopicConfigs and Status are safe for concurrent use.
//
// Under Run, the admin requests run in a goroutine of their own (owned by
// Run, which cancels and waits for it), so a slow or failing cluster never
// delays a scrape sweep by AdminTimeout: each sweep writes the newest admin
// answers held (adminMu guards them). Sweep called directly (tests, tools)
// collects the admin answers that are due inline, before scraping results
// are written.
//
// It only reads: HTTP GETs, and the admin requests Metadata (membership and
// partition health), DescribeLogDirs, ListPartitionReassignments and
// DescribeConfigs (topics). See brokers_admin.go for the admin collection.
type BrokerPoller struct {
	cfg      TelemetryConfig
	log      *slog.Logger
	tel      *state.Telemetry
	adm      *kadm.Client
	kcl      *kgo.Client // for requests kadm has no helper for (DescribeCluster); may be nil
	http     *http.Client
	onSweep  func(at time.Time)
	set      *metrics.Set
	consumed func() []string
	layout   *state.Layout // nil: Metadata and DescribeConfigs answers are not kept for diffing

	sweeps   uint64
	targets  []targetState     // by index of cfg.Targets; writer only
	scrapers []*scrape.Scraper // by index of cfg.Targets; each keeps its target's series between scrapes
	async    bool              // admin collection runs in Run's admin goroutine

	adminMu  sync.Mutex
	admin    adminState               // guarded by adminMu
	adminDue adminDue                 // admin collector only
	scraped  atomic.Pointer[[]string] // topics of the newest good scrapes, sorted

	caps    atomic.Pointer[map[string]string]
	configs atomic.Pointer[map[string]map[string]string]
	status  atomic.Pointer[TelemetryStatus]
}

// BrokerOption adds an optional dependency to NewBrokerPoller.
type BrokerOption func(*BrokerPoller)

// WithLayout hands every good Metadata answer (the partition layout) and
// every DescribeConfigs snapshot to l, which keeps the newest and the
// changes between them (leader movements, partition counts, configs).
func WithLayout(l *state.Layout) BrokerOption {
	return func(p *BrokerPoller) { p.layout = l }
}

// WithConsumedTopics names a source of the topics consumer groups read
// (e.g. the offset poller's), whose configs TopicConfigs should hold
// besides the topics seen in telemetry. fn is called from the poller's
// goroutine at the metadata cadence and must be safe for that.
func WithConsumedTopics(fn func() []string) BrokerOption {
	return func(p *BrokerPoller) { p.consumed = fn }
}

// WithKafkaClient gives the poller the client behind adm, for the admin
// requests kadm has no helper for: DescribeCluster. Without it, membership
// comes from Metadata.
func WithKafkaClient(cl *kgo.Client) BrokerOption {
	return func(p *BrokerPoller) { p.kcl = cl }
}

// NewBrokerPoller returns a poller; adm may be shared with the offset
// Poller, and may be nil (scrape only).
func NewBrokerPoller(cfg TelemetryConfig, tel *state.Telemetry, adm *kadm.Client, log *slog.Logger, set *metrics.Set, onSweep func(time.Time), opts ...BrokerOption) (*BrokerPoller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	p := &BrokerPoller{cfg: cfg, log: log, tel: tel, adm: adm, http: &http.Client{}, onSweep: onSweep, set: set,
		targets: make([]targetState, len(cfg.Targets)), admin: newAdminState()}
	for _, o := range opts {
		o(p)
	}
	for _, t := range cfg.Targets {
		sc, err := scrape.NewScraper(p.http, scrape.Target{URL: t.URL, BrokerID: t.Broker, Timeout: cfg.ScrapeTimeout}, scrape.Options{MaxSeries: cfg.MaxSeries})
		if err != nil {
			return nil, err
		}
		p.scrapers = append(p.scrapers, sc)
	}
	p.caps.Store(&map[string]string{})
	p.configs.Store(&map[string]map[string]string{})
	p.status.Store(&TelemetryStatus{Capabilities: map[string]string{}})
	return p, nil
}

// Capabilities reports what this cluster lacks: an admin request it does
// not support, or a part of an answer it does not give (name → why; see
// the Cap* and Req* names). Each is logged once when found and removed
// when the cluster answers after all. The map must not be modified.
func (p *BrokerPoller) Capabilities() map[string]string { return *p.caps.Load() }

// Run sweeps every ScrapeInterval until ctx is done; sweeps never overlap.
// With an admin client it also runs the admin collection in a goroutine of
// its own, and returns after that goroutine has.
func (p *BrokerPoller) Run(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	if p.adm != nil {
		p.async = true
		wg.Go(func() { p.runAdmin(ctx) })
	}
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

// Sweep scrapes all targets (concurrently), refreshes admin facts when due
// (unless Run collects them in the background), and publishes one
// telemetry sweep stamped at with the newest admin answers.
func (p *BrokerPoller) Sweep(ctx context.Context, at time.Time) {
	p.sweeps++
	results := p.scrapeAll(ctx, at)
	if p.adm != nil && !p.async {
		p.collectAdmin(ctx, at)
	}
	s := p.tel.Begin(at)
	for i := range p.cfg.Targets {
		p.writeScrape(s, i, results[i])
	}
	p.scraped.Store(p.scrapedTopics())
	p.adminMu.Lock()
	brokers := p.brokerContexts(at)
	p.writeAdmin(s, brokers)
	s.SetBrokers(brokers)
	s.SetReassigning(p.admin.reassign)
	p.adminMu.Unlock()
	p.tel.Commit(s)
	p.publishStatus(at)
	if p.onSweep != nil {
		p.onSweep(at)
	}
}

// scrapedTopics is the union of the topics of every target's newest good
// scrape, sorted, for the admin collector's DescribeConfigs.
func (p *BrokerPoller) scrapedTopics() *[]string {
	set := map[string]bool{}
	for i := range p.targets {
		for _, t := range p.targets[i].topics {
			set[t] = true
		}
	}
	out := slices.Sorted(maps.Keys(set))
	return &out
}

type scrapeResult struct {
	res scrape.Result
	err error
}

func (p *BrokerPoller) scrapeAll(ctx context.Context, at time.Time) []scrapeResult {
	out := make([]scrapeResult, len(p.cfg.Targets))
	var wg sync.WaitGroup
	for i, sc := range p.scrapers {
		wg.Go(func() { out[i].res, out[i].err = sc.Scrape(ctx) })
	}
	wg.Wait()
	for i, t := range p.cfg.Targets {
		p.noteScrape(&p.targets[i], t, at, out[i])
	}
	return out
}

// targetState is what the poller remembers of one target. Writer only.
type targetState struct {
	lastAttempt, lastSuccess time.Time
	lastErr, reason          string // newest attempt's error and its class; "" when it succeeded
	profile                  string
	series, malformed, parts int
	problem                  string // first problem line of the newest good scrape, "" if none
	topics                   []string
}

// noteScrape counts failures and problem lines, and logs once per change
// of a target's failure class or of whether its body has problems.
func (p *BrokerPoller) noteScrape(ts *targetState, t ScrapeTarget, at time.Time, r scrapeResult) {
	ts.lastAttempt = at
	if r.err != nil {
		reason := "read"
		var se *scrape.ScrapeError
		if errors.As(r.err, &se) {
			reason = se.Reason()
		}
		p.set.GetOrCreateCounter(fmt.Sprintf(`kwitness_scrape_errors_total{broker="%d",kind=%q,reason=%q}`, t.Broker, kindOf(t), reason)).Inc()
		if ts.reason != reason {
			p.log.Warn("telemetry: scrape failing; its series are gaps", "broker", t.Broker, "url", t.URL, "reason", reason, "err", r.err)
		}
		ts.lastErr, ts.reason = r.err.Error(), reason
		return
	}
	if ts.reason != "" || ts.lastSuccess.IsZero() {
		p.log.Info("telemetry: scraping", "broker", t.Broker, "url", t.URL, "profile", r.res.Profile.String())
	}
	res := &r.res
	ts.lastErr, ts.reason, ts.lastSuccess = "", "", at
	ts.profile, ts.series, ts.parts = res.Profile.String(), res.Series, len(res.Parts)
	bad := res.Malformed + res.Duplicates
	if bad > 0 {
		p.set.GetOrCreateCounter(fmt.Sprintf(`kwitness_scrape_malformed_lines_total{broker="%d",kind=%q}`, t.Broker, kindOf(t))).Add(bad)
	}
	problem := ""
	if len(res.Problems) > 0 {
		problem = res.Problems[0].Error()
	}
	if (bad > 0) != (ts.malformed > 0) {
		if bad > 0 {
			p.log.Warn("telemetry: scrape has malformed lines, skipped; the rest is used", "broker", t.Broker, "url", t.URL, "lines", bad, "first", problem)
		} else {
			p.log.Info("telemetry: scrape well-formed again", "broker", t.Broker, "url", t.URL)
		}
	}
	ts.malformed, ts.problem = bad, problem
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
// Only the first exposition of a body is used: a body holding several
// (concatenated scrapes) would otherwise mix them.
func (p *BrokerPoller) writeScrape(s *state.TelemetrySweep, i int, r scrapeResult) {
	t, ts := p.cfg.Targets[i], &p.targets[i]
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
	for _, smp := range r.res.Part(0) {
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
			if len(t.Mounts) > 0 && !slices.Contains(t.Mounts, smp.Mount) {
				continue
			}
			v, ok := fs[smp.Mount]
			if !ok {
				v = [2]float64{math.NaN(), math.NaN()}
			}
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
	ts.topics = ts.topics[:0]
	for topic, v := range topicSize {
		s.Set(state.TelemetryKey{Signal: detect.SigTopicSize, Broker: t.Broker, Topic: topic, Partition: -1}, v)
		ts.topics = append(ts.topics, topic)
	}
	for mount, v := range fs { // both must be present: a missing avail is not 0
		if !(v[1] > 0) || math.IsNaN(v[0]) {
			continue
		}
		s.Set(state.TelemetryKey{Signal: detect.SigLogDirUsed, Broker: t.Broker, Partition: -1, Dir: mount, Origin: "node"}, v[1]-v[0])
		s.Set(state.TelemetryKey{Signal: detect.SigLogDirTotal, Broker: t.Broker, Partition: -1, Dir: mount, Origin: "node"}, v[1])
	}
}
