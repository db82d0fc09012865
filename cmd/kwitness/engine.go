package main

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/ingest"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// engine runs the detectors after each published sweep. It owns the lag
// detector and the book; one goroutine (run) uses them.
type engine struct {
	window *state.Window
	lag    *detect.LagDetector
	tel    *state.Telemetry // broker telemetry: admin collection, and scrapes when targets are configured
	broker *detect.BrokerDetector
	skew   *detect.SkewDetector
	book   *detect.Book

	retention     *detect.RetentionDetector
	lastRetention time.Time
	slowEvery     time.Duration // cadence of the retention and hot-partition detectors
	hot           *detect.HotDetector
	rebalance     *detect.RebalanceDetector
	events        *state.Events                       // reported deploy events
	topicConfigs  func() map[string]map[string]string // nil without the broker poller
	findings      *state.Findings
	store         *store.Store            // nil without a data dir
	unsaved       map[string]detect.Event // newest event per finding the store has not taken yet
	saveFailing   bool
	log           *slog.Logger
	notify        func(detect.Event) // optional, called for every event
	kick          chan struct{}
	kickTel       chan struct{}
}

func newEngine(cfg Config, w *state.Window, f *state.Findings, log *slog.Logger, set *metrics.Set) (*engine, error) {
	lag, err := detect.NewLagDetector(cfg.Lag)
	if err != nil {
		return nil, err
	}
	book, err := detect.NewBook(cfg.Findings.BookConfig)
	if err != nil {
		return nil, err
	}
	broker, err := detect.NewBrokerDetector(cfg.Broker)
	if err != nil {
		return nil, err
	}
	retention, err := detect.NewRetentionDetector(cfg.Retention)
	if err != nil {
		return nil, err
	}
	hot, err := detect.NewHotDetector(cfg.HotPartition)
	if err != nil {
		return nil, err
	}
	rebalance, err := detect.NewRebalanceDetector(cfg.Rebalance)
	if err != nil {
		return nil, err
	}
	skew, err := detect.NewSkewDetector(cfg.Skew)
	if err != nil {
		return nil, err
	}
	e := &engine{window: w, lag: lag, events: state.NewEvents(1000), slowEvery: cfg.Findings.SlowEvery, broker: broker, book: book, findings: f, log: log, retention: retention, hot: hot, rebalance: rebalance, skew: skew,
		kick: make(chan struct{}, 1), kickTel: make(chan struct{}, 1)}
	for _, k := range detect.KindNames() {
		for _, st := range []detect.State{detect.StateFiring, detect.StateResolved} {
			q := state.FindingFilter{Kinds: []detect.Kind{detect.Kind(k)}, States: []detect.State{st}, Broker: -1}
			set.NewGauge(fmt.Sprintf(`kwitness_findings{kind=%q,state=%q}`, k, st), func() float64 {
				_, n := f.Page(q, nil, 0) // counts without copying findings
				return float64(n)
			})
		}
	}
	return e, nil
}

// onSweep is the poller's callback: it wakes the engine without blocking.
func (e *engine) onSweep(ingest.SweepReport) {
	select {
	case e.kick <- struct{}{}:
	default:
	}
}

// onTelemetry is the broker poller's callback: it wakes the engine without
// blocking.
func (e *engine) onTelemetry(time.Time) {
	select {
	case e.kickTel <- struct{}{}:
	default:
	}
}

// run judges after every sweep until ctx is done. The book has one owner:
// this goroutine.
func (e *engine) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.kick:
			e.judge()
		case <-e.kickTel:
			e.judgeBrokers()
		}
	}
}

// judgeBrokers runs the broker detectors on the newest telemetry.
func (e *engine) judgeBrokers() {
	if e.tel == nil || e.tel.Snapshot().Sweeps == 0 {
		return
	}
	in := e.tel.ClusterInput()
	at := time.UnixMilli(in.At)
	e.apply(at, e.book.Observe("broker", at, e.broker.Sweep(in)))
	e.apply(at, e.book.Observe("skew", at, e.skew.Sweep(in)))
}

// judge runs the detectors on the newest snapshot and applies the events.
func (e *engine) judge() {
	v := e.window.View()
	if v.Snapshot().Sweeps == 0 {
		return
	}
	if e.events != nil {
		cfg := e.lag.Config()
		e.lag.SetDeploys(e.events.ByGroup(v.At().Add(-cfg.Window - cfg.DeployWindow).UnixMilli()))
	}
	e.apply(v.At(), e.book.Observe("lag", v.At(), e.lag.Sweep(v)))
	e.apply(v.At(), e.book.Observe("rebalance", v.At(), e.rebalance.Sweep(v, v.At().UnixMilli())))
	e.judgeRetention(v, v.At())
	e.persist(nil) // retry what a failing store could not take
}

// apply records and persists events and tells the notifier.
func (e *engine) apply(at time.Time, events []detect.Event) {
	e.findings.Apply(at, events)
	e.persist(events)
	for _, ev := range events {
		e.log.Info("finding "+ev.Type.String(), "kind", ev.Finding.Kind, "id", ev.Finding.ID, "summary", ev.Finding.Summary)
	}
	e.tell(events)
}

// persist saves events, with any an earlier save could not, to the store.
// While the store fails (a full disk), the newest event of each finding
// waits — bounded by the number of findings — and is saved on a later call,
// so after a restart the store still holds exactly the firing findings. The
// failure and the recovery are each logged once.
func (e *engine) persist(events []detect.Event) {
	if e.store == nil {
		return
	}
	if e.unsaved == nil {
		e.unsaved = map[string]detect.Event{}
	}
	for _, ev := range events {
		e.unsaved[ev.Finding.ID] = ev
	}
	if len(e.unsaved) == 0 {
		return
	}
	batch := slices.SortedFunc(maps.Values(e.unsaved), func(a, b detect.Event) int { return strings.Compare(a.Finding.ID, b.Finding.ID) })
	if err := e.store.SaveFindings(batch); err != nil {
		if !e.saveFailing {
			e.log.Error("store: cannot save findings; they wait and are saved when it can", "err", err)
		}
		e.saveFailing = true
		return
	}
	if e.saveFailing {
		e.log.Info("store: findings saved again", "findings", len(batch))
	}
	e.saveFailing = false
	clear(e.unsaved)
}

// tell hands events to the notifier, if any.
func (e *engine) tell(events []detect.Event) {
	if e.notify == nil {
		return
	}
	for _, ev := range events {
		e.notify(ev)
	}
}

// restore puts findings that were firing before a restart back into the book
// and the findings list, so a restart neither resolves nor re-opens them.
// It runs before run starts. The notifier sees them as updates (Alertmanager
// re-sends what is firing).
func (e *engine) restore(fs []detect.Finding, now time.Time) {
	byDomain := map[string][]detect.Finding{}
	events := make([]detect.Event, 0, len(fs))
	for _, f := range fs {
		d := "broker"
		switch {
		case slices.Contains(lagKinds, f.Kind):
			d = "lag"
		case f.Kind == detect.KindRetentionRisk || f.Kind == detect.KindDataSkipped:
			d = "retention"
		case f.Kind == detect.KindHotPartition:
			d = "hot"
		case f.Kind == detect.KindRebalanceStorm:
			d = "rebalance"
		case slices.Contains(skewKinds, f.Kind):
			d = "skew"
		}
		byDomain[d] = append(byDomain[d], f)
		events = append(events, detect.Event{Type: detect.EventUpdated, Finding: f})
	}
	for d, list := range byDomain {
		e.book.Restore(d, list, now)
	}
	e.findings.Apply(now, events)
	e.tell(events)
}

var skewKinds = []detect.Kind{detect.KindLeaderSkew, detect.KindReplicaSkew, detect.KindDiskSkew, detect.KindTrafficSkew}

var lagKinds = []detect.Kind{detect.KindLagGrowing, detect.KindConsumerStalled, detect.KindConsumerStopped, detect.KindOffsetRewind}
