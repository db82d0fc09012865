package alertmanager

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cenkalti/backoff/v5"
)

// retryMin is the first retry wait of a target; see retryBackOff.
const retryMin = 50 * time.Millisecond

// maxBatch bounds the alerts of one POST.
const maxBatch = 1000

// target delivers alerts to one Alertmanager. Enqueue never blocks; one
// goroutine (run) owns pending, where a newer version of an alert replaces
// an older one, so a retry always sends the latest state.
type target struct {
	cfg      Config
	endpoint string // …/api/v2/alerts
	client   *http.Client
	log      *slog.Logger
	queue    chan Alert
	pending  map[string]Alert // by Alert.key; only run touches it

	sent, failed, dropped *metrics.Counter
}

func newTarget(cfg Config, base string, client *http.Client, log *slog.Logger, set *metrics.Set) *target {
	name := base
	if u, err := url.Parse(base); err == nil {
		name = u.Redacted()
	}
	return &target{
		cfg:      cfg,
		endpoint: strings.TrimSuffix(base, "/") + "/api/v2/alerts",
		client:   client,
		log:      log.With("alertmanager", name),
		queue:    make(chan Alert, cfg.QueueSize),
		pending:  map[string]Alert{},
		sent:     set.GetOrCreateCounter(fmt.Sprintf(`kwitness_alertmanager_alerts_sent_total{target=%q}`, name)),
		failed:   set.GetOrCreateCounter(fmt.Sprintf(`kwitness_alertmanager_requests_failed_total{target=%q}`, name)),
		dropped:  set.GetOrCreateCounter(fmt.Sprintf(`kwitness_alertmanager_alerts_dropped_total{target=%q}`, name)),
	}
}

// enqueue offers a to the queue, dropping and counting it when full.
func (t *target) enqueue(a Alert) {
	select {
	case t.queue <- a:
	default:
		t.dropped.Inc()
	}
}

// run sends until ctx is done: it waits for alerts, drains the queue into
// pending, posts, and on failure retries after retryBackOff's waits while
// still draining.
func (t *target) run(ctx context.Context) {
	retries := t.retryBackOff()
	failing := false
	var retry <-chan time.Time
	for {
		if len(t.pending) == 0 || retry != nil {
			select {
			case <-ctx.Done():
				return
			case a := <-t.queue:
				t.pending[a.key()] = a
			case <-retry:
				retry = nil
			}
		}
		t.drain()
		if retry != nil {
			continue
		}
		if err := t.flush(ctx); err != nil {
			t.failed.Inc()
			level := slog.LevelDebug
			if !failing {
				level = slog.LevelWarn // once per outage
			}
			failing = true
			wait := retries.NextBackOff()
			t.log.Log(ctx, level, "alertmanager: push failed, will retry", "err", err, "backoff", wait)
			retry = time.After(wait)
			continue
		}
		if failing {
			t.log.Info("alertmanager: push recovered")
		}
		failing = false
		retries.Reset()
	}
}

// retryBackOff returns the waits between failed pushes: from retryMin,
// doubling, each drawn within ±50 % so that many senders do not retry in
// step, the doubling capped at the resend interval (a later resend carries
// the same alerts anyway).
func (t *target) retryBackOff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval: retryMin, RandomizationFactor: 0.5,
		Multiplier: 2, MaxInterval: t.cfg.ResendInterval,
	}
	b.Reset()
	return b
}

// drain moves every queued alert into pending without blocking.
func (t *target) drain() {
	for {
		select {
		case a := <-t.queue:
			t.pending[a.key()] = a
		default:
			return
		}
	}
}

// flush posts pending in batches, removing what was accepted.
func (t *target) flush(ctx context.Context) error {
	for len(t.pending) > 0 {
		batch := make([]Alert, 0, min(len(t.pending), maxBatch))
		keys := make([]string, 0, cap(batch))
		for k, a := range t.pending {
			if len(batch) == maxBatch {
				break
			}
			batch, keys = append(batch, a), append(keys, k)
		}
		if err := t.post(ctx, batch); err != nil {
			var se *StatusError
			if errors.As(err, &se) && se.Code/100 == 4 {
				for _, k := range keys { // a bad alert never gets better: do not retry it
					delete(t.pending, k)
				}
				t.failed.Inc()
				t.log.Error("alertmanager: alerts rejected", "err", err, "alerts", len(batch))
				continue
			}
			return err
		}
		for _, k := range keys {
			delete(t.pending, k)
		}
		t.sent.Add(len(batch))
	}
	return nil
}

// post sends one batch; any status but 2xx is an error.
func (t *target) post(ctx context.Context, batch []Alert) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return fmt.Errorf("encode %d alerts: %w", len(batch), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := t.client.Do(req)
	if err != nil {
		return fmt.Errorf("post %d alerts: %w", len(batch), err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("post %d alerts: %w", len(batch), &StatusError{Code: resp.StatusCode, Body: string(bytes.TrimSpace(msg))})
	}
	return nil
}

// StatusError is a non-2xx answer of an Alertmanager. 4xx answers are not
// retried.
type StatusError struct {
	Code int
	Body string
}

func (e *StatusError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.Code, e.Body) }
