// Package engine is the detection runtime: after each sweep the ingesters
// commit, it runs the detectors on the newest window, passes their
// candidates through the finding book, and applies the resulting events —
// to the findings list (state.Findings), to the store (saved so a restart
// restores what is firing) and to the notifier (the Alertmanager pusher).
//
// # Contract
//
//   - Construction. New takes every dependency (Deps); nothing is set
//     afterwards. Window, Findings, Deploys, Log and Metrics are required;
//     Telemetry, Store, TopicConfigs and Notify are optional (nil: no broker
//     telemetry, no saved findings, unknown topic retention, nobody told).
//   - One owner. The detectors and the book belong to one goroutine: Run,
//     or — in tests that drive sweeps synchronously — the caller of
//     JudgeOffsets and JudgeBrokers (never both). Wake and WakeBrokers are
//     safe from any goroutine and never block: the ingesters call them right
//     after each Commit, and a wake-up that finds one pending is merged.
//   - Domains. Each detector's sweep is observed by the book under its
//     domain (detect.Domain); a finding is updated or resolved only by its
//     own detector. Restore files each restored finding under its kind's
//     domain (detect.Kind.Domain); a finding of a kind no detector opens is
//     an error, never filed under another detector.
//   - Cadence. The lag and rebalance detectors run on every offsets sweep,
//     the broker and skew detectors on every telemetry sweep, and the
//     retention and hot-partition detectors — which read every partition's
//     whole window — at most once per Config.SlowEvery of sweep time.
//   - Saving. Every event is saved to the store in the order applied. While
//     the store cannot save (a full disk), the newest event of each finding
//     waits — bounded by the number of findings — and is saved by a later
//     sweep once it can; the failure and the recovery are each logged once.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// Config is every detector's configuration and the book's; each detector
// validates its own (the sidecar's config file holds the defaults).
type Config struct {
	Lag       detect.LagConfig
	Book      detect.BookConfig
	Broker    detect.BrokerConfig
	Retention detect.RetentionConfig
	Hot       detect.HotConfig
	Rebalance detect.RebalanceConfig
	Skew      detect.SkewConfig
	// SlowEvery is how often, in sweep time, the retention and
	// hot-partition detectors run; default 30s.
	SlowEvery time.Duration
}

// Deps are what the engine reads, writes and tells; see the package
// contract for which may be nil.
type Deps struct {
	Window    *state.Window
	Telemetry *state.Telemetry // broker telemetry (admin collection and scrapes); nil: no broker detectors
	Findings  *state.Findings
	Deploys   *state.Deploys // deploy events reported through the API
	Store     *store.Store   // saves findings; nil without a data dir
	// TopicConfigs returns each topic's configs (DescribeConfigs) for the
	// retention forecast; nil without the broker poller.
	TopicConfigs func() map[string]map[string]string
	// Notify is called for every event, on the engine's goroutine.
	Notify  func(detect.Event)
	Log     *slog.Logger
	Metrics *metrics.Set // gains kwitness_findings{kind,state}
}

// Engine runs the detectors after each published sweep. See the package
// contract.
type Engine struct {
	d         Deps
	slowEvery time.Duration
	book      *detect.Book
	lag       *detect.LagDetector
	rebalance *detect.RebalanceDetector
	retention *detect.RetentionDetector
	hot       *detect.HotDetector
	broker    *detect.BrokerDetector
	skew      *detect.SkewDetector
	kick      chan struct{}
	kickTel   chan struct{}

	// Owned by the judging goroutine:
	lastSlow    time.Time
	unsaved     map[string]detect.Event // newest event per finding the store has not taken yet
	saveFailing bool
}

// New builds the detectors from cfg. It fails on an invalid configuration
// or a missing required dependency.
func New(cfg Config, d Deps) (*Engine, error) {
	if d.Window == nil || d.Findings == nil || d.Deploys == nil || d.Log == nil || d.Metrics == nil {
		return nil, errors.New("engine: Window, Findings, Deploys, Log and Metrics are required")
	}
	if cfg.SlowEvery <= 0 {
		return nil, fmt.Errorf("engine: slow_every must be > 0, got %s", cfg.SlowEvery)
	}
	e := &Engine{d: d, slowEvery: cfg.SlowEvery, unsaved: map[string]detect.Event{},
		kick: make(chan struct{}, 1), kickTel: make(chan struct{}, 1)}
	var errs [7]error
	e.book, errs[0] = detect.NewBook(cfg.Book)
	e.lag, errs[1] = detect.NewLagDetector(cfg.Lag)
	e.rebalance, errs[2] = detect.NewRebalanceDetector(cfg.Rebalance)
	e.retention, errs[3] = detect.NewRetentionDetector(cfg.Retention)
	e.hot, errs[4] = detect.NewHotDetector(cfg.Hot)
	e.broker, errs[5] = detect.NewBrokerDetector(cfg.Broker)
	e.skew, errs[6] = detect.NewSkewDetector(cfg.Skew)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	e.registerMetrics()
	return e, nil
}

// registerMetrics adds kwitness_findings{kind,state}: the findings of each
// kind and state listed now.
func (e *Engine) registerMetrics() {
	for _, k := range detect.KindNames() {
		for _, st := range []detect.State{detect.StateFiring, detect.StateResolved} {
			q := state.FindingFilter{Kinds: []detect.Kind{detect.Kind(k)}, States: []detect.State{st}, Broker: -1}
			e.d.Metrics.NewGauge(fmt.Sprintf(`kwitness_findings{kind=%q,state=%q}`, k, st), func() float64 {
				_, n := e.d.Findings.Page(q, nil, 0) // counts without copying findings
				return float64(n)
			})
		}
	}
}

// Wake asks for a judgement of the newest offsets sweep, without blocking.
// The offsets poller calls it right after each Commit.
func (e *Engine) Wake() {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// WakeBrokers asks for a judgement of the newest telemetry sweep, without
// blocking. The broker poller calls it right after each Commit.
func (e *Engine) WakeBrokers() {
	select {
	case e.kickTel <- struct{}{}:
	default:
	}
}

// Run judges after every wake-up until ctx is done. It is the owner of the
// detectors and the book.
func (e *Engine) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
			e.JudgeOffsets()
		case <-e.kickTel:
			e.JudgeBrokers()
		}
	}
}

// JudgeBrokers runs the broker and skew detectors on the newest telemetry
// sweep and applies their events; nothing without telemetry.
func (e *Engine) JudgeBrokers() {
	if e.d.Telemetry == nil || e.d.Telemetry.Snapshot().Sweeps == 0 {
		return
	}
	in := e.d.Telemetry.ClusterInput()
	at := time.UnixMilli(in.At)
	e.apply(at, e.book.Observe(detect.DomainBroker, at, e.broker.Sweep(in)))
	e.apply(at, e.book.Observe(detect.DomainSkew, at, e.skew.Sweep(in)))
}

// JudgeOffsets runs the consumer detectors (lag, rebalance, and when due
// retention and hot partitions) on the newest offsets sweep and applies
// their events; then it retries saving what the store could not take.
func (e *Engine) JudgeOffsets() {
	v := e.d.Window.View()
	if v.Snapshot().Sweeps == 0 {
		return
	}
	at := v.At()
	cfg := e.lag.Config()
	e.lag.SetDeploys(e.d.Deploys.ByGroup(at.Add(-cfg.Window - cfg.DeployWindow).UnixMilli()))
	e.apply(at, e.book.Observe(detect.DomainLag, at, e.lag.Sweep(v)))
	e.apply(at, e.book.Observe(detect.DomainRebalance, at, e.rebalance.Sweep(v, at.UnixMilli())))
	e.judgeRetentionAndHot(v, at)
	e.persist(nil)
}

// apply records, saves and tells events.
func (e *Engine) apply(at time.Time, events []detect.Event) {
	e.d.Findings.Apply(at, events)
	e.persist(events)
	for _, ev := range events {
		e.d.Log.Info("finding "+ev.Type.String(), "kind", ev.Finding.Kind, "id", ev.Finding.ID, "summary", ev.Finding.Summary)
	}
	e.tell(events)
}

// persist saves events, with any an earlier save could not, to the store
// (see Saving in the package contract).
func (e *Engine) persist(events []detect.Event) {
	if e.d.Store == nil {
		return
	}
	for _, ev := range events {
		e.unsaved[ev.Finding.ID] = ev
	}
	if len(e.unsaved) == 0 {
		return
	}
	batch := slices.SortedFunc(maps.Values(e.unsaved), func(a, b detect.Event) int { return strings.Compare(a.Finding.ID, b.Finding.ID) })
	if err := e.d.Store.SaveFindings(batch); err != nil {
		if !e.saveFailing {
			e.d.Log.Error("store: cannot save findings; they wait and are saved when it can", "err", err)
		}
		e.saveFailing = true
		return
	}
	if e.saveFailing {
		e.d.Log.Info("store: findings saved again", "findings", len(batch))
	}
	e.saveFailing = false
	clear(e.unsaved)
}

// tell hands events to the notifier, if any.
func (e *Engine) tell(events []detect.Event) {
	if e.d.Notify == nil {
		return
	}
	for _, ev := range events {
		e.d.Notify(ev)
	}
}

// Restore puts findings that were firing before a restart back into the
// book, under their kind's domain, and into the findings list, so a
// restart neither resolves nor re-opens them. The notifier sees them as
// updates (Alertmanager re-sends what is firing). A finding of a kind no
// detector opens is left out and named in the returned error; the others
// are restored. Call it before Run starts.
func (e *Engine) Restore(fs []detect.Finding, now time.Time) error {
	byDomain := map[detect.Domain][]detect.Finding{}
	events := make([]detect.Event, 0, len(fs))
	var errs []error
	for _, f := range fs {
		d, ok := f.Kind.Domain()
		if !ok {
			errs = append(errs, fmt.Errorf("engine: restore finding %s: no detector opens kind %q", f.ID, f.Kind))
			continue
		}
		byDomain[d] = append(byDomain[d], f)
		events = append(events, detect.Event{Type: detect.EventUpdated, Finding: f})
	}
	for d, list := range byDomain {
		e.book.Restore(d, list, now)
	}
	e.d.Findings.Apply(now, events)
	e.tell(events)
	return errors.Join(errs...)
}
