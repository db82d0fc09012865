// Package alertmanager pushes findings to Prometheus Alertmanager as alerts.
//
// One firing finding is one alert whose labels are identity only (alertname,
// severity, cluster, subject); numbers and evidence go in annotations. The
// Pusher follows Prometheus' conventions: every active alert is re-sent every
// resend interval, firing with endsAt = now + 4 × resend interval, resolved
// with endsAt = resolved_at for 15 minutes after resolution. Every alert goes
// to every configured Alertmanager (HA); each has a bounded queue and retries
// with backoff, so detection never waits for the network.
package alertmanager

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
)

// Pusher turns finding events into alerts for every configured Alertmanager.
// Observe is safe for concurrent use and never blocks; Run owns every
// goroutine.
type Pusher struct {
	cfg     Config
	min     detect.Severity
	mapper  Mapper
	now     func() time.Time
	targets []*target

	mu struct {
		sync.Mutex
		byFinding map[string]string // finding fingerprint → alert key
		alerts    map[string]*entry // by Alert.key
	}
}

// entry is one alert the pusher keeps re-sending.
type entry struct {
	finding    detect.Finding
	resolvedAt time.Time // zero while firing
}

// Option changes a Pusher built by New.
type Option func(*Pusher)

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(p *Pusher) { p.now = now } }

// WithValues gives the mapper raw values of cited series, for real sparklines.
func WithValues(f func(detect.Citation) []float64) Option {
	return func(p *Pusher) { p.mapper.Values = f }
}

// WithOwners adds each finding's team label, owner and runbook (see
// Mapper.Owners).
func WithOwners(o *detect.Owners) Option {
	return func(p *Pusher) { p.mapper.Owners = o }
}

// New validates cfg and builds a pusher; counters are registered in set.
func New(cfg Config, log *slog.Logger, set *metrics.Set, opts ...Option) (*Pusher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("alertmanager.urls: no Alertmanager configured")
	}
	client, err := cfg.httpClient()
	if err != nil {
		return nil, err
	}
	sev, _ := detect.ParseSeverity(cfg.MinSeverity)
	p := &Pusher{cfg: cfg, min: sev, now: time.Now, mapper: Mapper{ExternalURL: cfg.ExternalURL, RunbookURL: cfg.RunbookURL}}
	p.mu.byFinding = map[string]string{}
	p.mu.alerts = map[string]*entry{}
	for _, u := range cfg.URLs {
		p.targets = append(p.targets, newTarget(cfg, u, client, log, set))
	}
	for _, o := range opts {
		o(p)
	}
	return p, nil
}

// Observe records a finding event and sends the changed alerts at once.
// It never blocks: a full target queue drops (and counts) the alert, and the
// next resend repairs it.
func (p *Pusher) Observe(ev detect.Event) {
	now := p.now()
	p.mu.Lock()
	out := p.observeLocked(ev.Finding.Clone(), now)
	p.mu.Unlock()
	p.send(out)
}

// observeLocked updates the alert set and returns the alerts to send now.
func (p *Pusher) observeLocked(f detect.Finding, now time.Time) []Alert {
	var out []Alert
	key := ""
	if f.Severity >= p.min {
		key = labelKey(Labels(&f))
	}
	// The finding's labels changed (severity, partition) or it fell below
	// the minimum severity: the old alert resolves now.
	if old, ok := p.mu.byFinding[f.Fingerprint]; ok && old != key {
		if e := p.mu.alerts[old]; e != nil && e.resolvedAt.IsZero() {
			e.resolvedAt = now
			out = append(out, p.alertLocked(e, now))
		}
		delete(p.mu.byFinding, f.Fingerprint)
	}
	if key == "" {
		return out
	}
	e := &entry{finding: f}
	if f.State == detect.StateResolved {
		e.resolvedAt = f.ResolvedAt
	}
	p.mu.alerts[key] = e
	p.mu.byFinding[f.Fingerprint] = key
	if !e.resolvedAt.IsZero() {
		delete(p.mu.byFinding, f.Fingerprint)
	}
	return append(out, p.alertLocked(e, now))
}

// alertLocked renders e as it must be sent at now.
func (p *Pusher) alertLocked(e *entry, now time.Time) Alert {
	ends := e.resolvedAt
	if ends.IsZero() {
		ends = now.Add(4 * p.cfg.ResendInterval)
	}
	return p.mapper.Alert(&e.finding, ends)
}

// resend returns every active alert, forgetting resolved ones older than
// ResolvedResendFor.
func (p *Pusher) resend() []Alert {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Alert, 0, len(p.mu.alerts))
	for k, e := range p.mu.alerts {
		if !e.resolvedAt.IsZero() && now.Sub(e.resolvedAt) > p.cfg.ResolvedResendFor {
			delete(p.mu.alerts, k)
			continue
		}
		out = append(out, p.alertLocked(e, now))
	}
	return out
}

func (p *Pusher) send(alerts []Alert) {
	for _, t := range p.targets {
		for _, a := range alerts {
			t.enqueue(a)
		}
	}
}

// Active returns the number of alerts being re-sent, firing and resolved.
func (p *Pusher) Active() (firing, resolved int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.mu.alerts {
		if e.resolvedAt.IsZero() {
			firing++
		} else {
			resolved++
		}
	}
	return firing, resolved
}

// Run re-sends every resend interval and delivers to every target until ctx
// is done, then waits for its goroutines. Alerts still queued are not sent.
func (p *Pusher) Run(ctx context.Context) {
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Go(func() { t.run(ctx) })
	}
	tick := time.NewTicker(p.cfg.ResendInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			wg.Wait()
			return
		case <-tick.C:
			p.send(p.resend())
		}
	}
}
