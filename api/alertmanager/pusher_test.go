package alertmanager

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
)

// fakeAM records every alert posted to /api/v2/alerts, and fails while down.
type fakeAM struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []Alert
	at  []time.Time // when each alert of got arrived
	// down makes it answer 503.
	down bool
}

func newFakeAM(t *testing.T) *fakeAM {
	f := &fakeAM{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.down || r.URL.Path != "/api/v2/alerts" {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		var as []Alert
		if err := json.NewDecoder(r.Body).Decode(&as); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.got = append(f.got, as...)
		for range as {
			f.at = append(f.at, time.Now())
		}
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAM) take() []Alert {
	out, _ := f.takeTimed()
	return out
}

// takeTimed is take with each alert's arrival time.
func (f *fakeAM) takeTimed() ([]Alert, []time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, at := f.got, f.at
	f.got, f.at = nil, nil
	return out, at
}

func (f *fakeAM) setDown(d bool) {
	f.mu.Lock()
	f.down = d
	f.mu.Unlock()
}

// startPusher runs a pusher until the test ends.
func startPusher(t *testing.T, cfg Config, set *metrics.Set, opts ...Option) *Pusher {
	t.Helper()
	p, err := New(cfg, testLog, set, opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return p
}

func testConfig(urls ...string) Config {
	cfg := DefaultConfig()
	cfg.URLs = urls
	cfg.ResendInterval = 200 * time.Millisecond
	cfg.ResolvedResendFor = time.Second
	return cfg
}

func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestResendSemantics: firing alerts are re-sent with endsAt = now + 4 ×
// resend to every target; a resolution sends endsAt = resolved_at and is
// re-sent until ResolvedResendFor has passed, then forgotten.
func TestResendSemantics(t *testing.T) {
	am1, am2 := newFakeAM(t), newFakeAM(t)
	cfg := testConfig(am1.srv.URL, am2.srv.URL)
	started := time.Now()
	p := startPusher(t, cfg, metrics.NewSet())
	f := lagFinding("g", 0, 1)
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: f})

	// Each firing send carries endsAt = its sending time + 4 × resend: sent
	// after the pusher started and before the fake received it.
	n := 0
	eventually(t, 30*time.Second, "three firing sends", func() bool {
		as, at := am1.takeTimed()
		for i, a := range as {
			n++
			if sent := a.EndsAt.Add(-4 * cfg.ResendInterval); sent.Before(started) || sent.After(at[i]) {
				t.Errorf("firing endsAt %s: sent at %s, want between the start %s and its arrival %s", a.EndsAt, sent, started, at[i])
			}
		}
		return n >= 3
	})
	if len(am2.take()) == 0 {
		t.Error("second Alertmanager (HA) got nothing")
	}

	f.State, f.ResolvedAt, f.Resolution = detect.StateResolved, time.Now().Add(-100*time.Millisecond).Truncate(time.Millisecond), detect.ResolvedRecovered
	p.Observe(detect.Event{Type: detect.EventResolved, Finding: f})
	var resolved []Alert
	eventually(t, 10*time.Second, "resolved re-sends", func() bool {
		for _, a := range am1.take() {
			if a.EndsAt.Equal(f.ResolvedAt) {
				resolved = append(resolved, a)
			}
		}
		return len(resolved) >= 3
	})
	eventually(t, 10*time.Second, "resolved alert forgotten after resolved_resend_for", func() bool {
		firing, res := p.Active()
		return firing == 0 && res == 0
	})
}

// TestMinSeverityAndLabelChange: info findings are not pushed; a finding
// whose severity (a label) changes resolves its old alert at once.
func TestMinSeverityAndLabelChange(t *testing.T) {
	am := newFakeAM(t)
	p := startPusher(t, testConfig(am.srv.URL), metrics.NewSet())
	info := lagFinding("quiet")
	info.Severity = detect.SeverityInfo
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: info})
	if f, r := p.Active(); f+r != 0 {
		t.Fatalf("info finding pushed: %d firing %d resolved", f, r)
	}
	f := lagFinding("g")
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: f})
	f.Severity = detect.SeverityCritical
	p.Observe(detect.Event{Type: detect.EventUpdated, Finding: f})
	if firing, res := p.Active(); firing != 1 || res != 1 {
		t.Fatalf("after severity change: %d firing %d resolved, want 1 and 1", firing, res)
	}
}

// TestRetryAndDrop: a failing Alertmanager counts failures and gets the
// alert once back; an overflowing queue drops and counts instead of blocking.
func TestRetryAndDrop(t *testing.T) {
	am := newFakeAM(t)
	am.setDown(true)
	set := metrics.NewSet()
	cfg := testConfig(am.srv.URL)
	cfg.ResendInterval = time.Hour // only retries may deliver
	cfg.QueueSize = 1
	p := startPusher(t, cfg, set)
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: lagFinding("g")})
	name := `{target="` + am.srv.URL + `"}`
	eventually(t, 10*time.Second, "failures counted", func() bool {
		return set.GetOrCreateCounter("kwitness_alertmanager_requests_failed_total"+name).Get() >= 2
	})
	am.setDown(false)
	eventually(t, 10*time.Second, "delivered after recovery", func() bool { return len(am.take()) > 0 })

	eventually(t, 10*time.Second, "sent counted", func() bool {
		return set.GetOrCreateCounter("kwitness_alertmanager_alerts_sent_total"+name).Get() > 0
	})

	// Observe never waits for the network: with the only Alertmanager
	// hanging and a queue of 1, 300 findings are dropped and counted. A
	// blocking Observe would never return here.
	hung := hungAM(t)
	cfg = testConfig(hung.URL)
	cfg.ResendInterval, cfg.QueueSize = time.Hour, 1
	set = metrics.NewSet()
	p = startPusher(t, cfg, set)
	done := make(chan struct{})
	go func() {
		defer close(done)
		observeMany(p, 300)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("300 Observe calls did not return within a minute of a hung Alertmanager")
	}
	if set.GetOrCreateCounter(`kwitness_alertmanager_alerts_dropped_total{target="`+hung.URL+`"}`).Get() == 0 {
		t.Error("queue of 1 behind a hung Alertmanager: want drops counted")
	}
}

// hungAM is an Alertmanager that accepts connections and never answers
// until the test ends.
func hungAM(tb testing.TB) *httptest.Server {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	tb.Cleanup(srv.Close)
	tb.Cleanup(func() { close(release) }) // runs first: lets Close finish
	return srv
}

// observeMany opens n distinct findings.
func observeMany(p *Pusher, n int) {
	for _, ev := range openings(n) {
		p.Observe(ev)
	}
}

// openings returns n events opening distinct findings.
func openings(n int) []detect.Event {
	evs := make([]detect.Event, n)
	for i := range evs {
		f := lagFinding("g" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676%26)) + strconv.Itoa(i/17576))
		evs[i] = detect.Event{Type: detect.EventOpened, Finding: f}
	}
	return evs
}

// BenchmarkObserveHungTarget: the cost of Observe when the only
// Alertmanager hangs and its queue is full (every alert dropped), the path
// that must never wait for the network.
func BenchmarkObserveHungTarget(b *testing.B) {
	hung := hungAM(b)
	cfg := testConfig(hung.URL)
	cfg.ResendInterval, cfg.QueueSize = time.Hour, 1
	p, err := New(cfg, testLog, metrics.NewSet())
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	evs := openings(b.N)
	b.ResetTimer()
	for _, ev := range evs {
		p.Observe(ev)
	}
}
