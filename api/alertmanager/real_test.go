package alertmanager

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/api/alertmanager/amtest"
	"github.com/kwitness/kwitness/detect"
)

// TestRealFiringThenResolved: a firing finding reaches the webhook through
// a real Alertmanager with identity labels and readable annotations; its
// resolution arrives as a resolved notification.
func TestRealFiringThenResolved(t *testing.T) {
	hook := amtest.NewWebhook(t)
	am := amtest.New(t, hook.URL)
	am.Start()
	cfg := testConfig(am.URL())
	cfg.ExternalURL, cfg.RunbookURL = "http://kwitness:9471", "https://runbooks.example/{kind}"
	p := startPusher(t, cfg, metrics.NewSet())
	f := lagFinding("slow-group", 0, 1, 2)
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: f})

	n := hook.Wait(t, "firing", 10*time.Second)
	if len(n.Alerts) != 1 {
		t.Fatalf("want one alert, got %+v", n.Alerts)
	}
	a := n.Alerts[0]
	want := map[string]string{"alertname": "KafkaConsumerLagGrowing", "severity": "warning", "cluster": "it", "group": "slow-group", "topic": "orders"}
	if len(a.Labels) != len(want) {
		t.Errorf("labels %v, want %v", a.Labels, want)
	}
	for k, v := range want {
		if a.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, a.Labels[k], v)
		}
	}
	if a.Annotations["summary"] != f.Summary || a.Annotations["finding_id"] != f.ID ||
		a.Annotations["runbook_url"] != "https://runbooks.example/LAG_GROWING" ||
		!strings.Contains(a.Annotations["description"], "total lag 2700 messages") {
		t.Errorf("annotations %v", a.Annotations)
	}
	if a.GeneratorURL != "http://kwitness:9471/findings/"+f.ID || !a.StartsAt.Equal(f.OpenedAt) {
		t.Errorf("generatorURL %q startsAt %s", a.GeneratorURL, a.StartsAt)
	}

	f.State, f.ResolvedAt, f.Resolution = detect.StateResolved, time.Now().Truncate(time.Millisecond), detect.ResolvedRecovered
	p.Observe(detect.Event{Type: detect.EventResolved, Finding: f})
	n = hook.Wait(t, "resolved", 10*time.Second)
	if len(n.Alerts) != 1 || n.Alerts[0].Labels["group"] != "slow-group" || !n.Alerts[0].EndsAt.Equal(f.ResolvedAt) {
		t.Fatalf("resolved notification: %+v", n)
	}
}

// TestRealTwoInstancesOneAlert: two kwitness replicas pushing the same
// finding make one alert in Alertmanager.
func TestRealTwoInstancesOneAlert(t *testing.T) {
	am := amtest.New(t, amtest.NewWebhook(t).URL)
	am.Start()
	f := lagFinding("g")
	var sent [2]*metrics.Counter
	for i := range sent {
		set := metrics.NewSet()
		p := startPusher(t, testConfig(am.URL()), set)
		p.Observe(detect.Event{Type: detect.EventOpened, Finding: f})
		sent[i] = set.GetOrCreateCounter(`kwitness_alertmanager_alerts_sent_total{target="` + am.URL() + `"}`)
	}
	eventually(t, 30*time.Second, "several sends accepted from both", func() bool {
		return sent[0].Get() >= 3 && sent[1].Get() >= 3
	})
	got := am.Alerts()
	if len(got) != 1 {
		t.Fatalf("GET /api/v2/alerts: want 1 alert, got %d: %v", len(got), got)
	}
}

// TestRealAlertmanagerDownThenUp: an Alertmanager that is down when the
// finding fires, and restarted later, gets the alert without restarting
// the pusher; a restart of Alertmanager is repaired by the resend.
func TestRealAlertmanagerDownThenUp(t *testing.T) {
	hook := amtest.NewWebhook(t)
	am := amtest.New(t, hook.URL)
	set := metrics.NewSet()
	p := startPusher(t, testConfig(am.URL()), set)
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: lagFinding("g")})
	failed := set.GetOrCreateCounter(`kwitness_alertmanager_requests_failed_total{target="` + am.URL() + `"}`)
	eventually(t, 15*time.Second, "failures while down", func() bool { return failed.Get() >= 2 })
	am.Start()
	hook.Wait(t, "firing", 10*time.Second)

	// A restart loses Alertmanager's alerts (they live in memory); the
	// periodic resend restores them.
	am.Stop()
	am.Start()
	eventually(t, 15*time.Second, "alert back after an Alertmanager restart", func() bool { return len(am.Alerts()) == 1 })
}

// TestRealResendAndResolve checks the pusher's resend and resolve semantics
// against a real Alertmanager: each resend moves the firing alert's endsAt
// forward (never more than 4 × the resend interval past its sending); the
// resolution ends the alert at resolved_at; its re-sends, accepted by
// Alertmanager until resolved_resend_for has passed, neither extend it nor
// notify again.
func TestRealResendAndResolve(t *testing.T) {
	hook := amtest.NewWebhook(t)
	am := amtest.New(t, hook.URL)
	am.Start()
	cfg := testConfig(am.URL())
	set := metrics.NewSet()
	sent := set.GetOrCreateCounter(`kwitness_alertmanager_alerts_sent_total{target="` + am.URL() + `"}`)
	p := startPusher(t, cfg, set)
	f := lagFinding("g")
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: f})
	hook.Wait(t, "firing", 30*time.Second)

	before := time.Now()
	e1 := amEndsAt(t, am)
	if e1.After(before.Add(4 * cfg.ResendInterval)) {
		t.Fatalf("endsAt %s is more than 4 × %s after %s", e1, cfg.ResendInterval, before)
	}
	eventually(t, 30*time.Second, "a resend moves endsAt forward", func() bool { return amEndsAt(t, am).After(e1) })

	f.State, f.ResolvedAt, f.Resolution = detect.StateResolved, time.Now().Truncate(time.Millisecond), detect.ResolvedRecovered
	p.Observe(detect.Event{Type: detect.EventResolved, Finding: f})
	n := hook.Wait(t, "resolved", 30*time.Second)
	if len(n.Alerts) != 1 || !n.Alerts[0].EndsAt.Equal(f.ResolvedAt) {
		t.Fatalf("resolved notification %+v, want one alert ending at %s", n, f.ResolvedAt)
	}
	atResolved := sent.Get()
	eventually(t, 30*time.Second, "resolution forgotten after resolved_resend_for", func() bool {
		firing, resolved := p.Active()
		return firing == 0 && resolved == 0
	})
	if sent.Get() <= atResolved {
		t.Errorf("no resolution re-send accepted (%d sends before and after)", atResolved)
	}
	for _, a := range am.Alerts() {
		if e := alertEndsAt(t, a); !e.Equal(f.ResolvedAt) {
			t.Errorf("after the resolution Alertmanager holds an alert ending %s, want %s", e, f.ResolvedAt)
		}
	}
	for {
		select {
		case n := <-hook.C:
			if n.Status != "resolved" {
				t.Errorf("notification after the resolution: %+v", n)
			}
			continue
		default:
		}
		break
	}
}

// TestRealStoppedPusherExpires: when kwitness stops re-sending (a crash),
// Alertmanager resolves the alert by itself once endsAt passes, so a dead
// sidecar leaves no alert firing.
func TestRealStoppedPusherExpires(t *testing.T) {
	hook := amtest.NewWebhook(t)
	am := amtest.New(t, hook.URL)
	am.Start()
	p, err := New(testConfig(am.URL()), testLog, metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { p.Run(ctx); close(done) }()
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: lagFinding("g")})
	hook.Wait(t, "firing", 30*time.Second)
	cancel()
	<-done
	stopped := time.Now()
	n := hook.Wait(t, "resolved", 30*time.Second)
	if len(n.Alerts) != 1 || n.Alerts[0].Labels["group"] != "g" || n.Alerts[0].EndsAt.After(time.Now()) {
		t.Fatalf("expiry notification %+v (pusher stopped at %s)", n, stopped)
	}
}

// amEndsAt returns the endsAt of the only alert Alertmanager holds.
func amEndsAt(t *testing.T, am *amtest.Alertmanager) time.Time {
	t.Helper()
	as := am.Alerts()
	if len(as) != 1 {
		t.Fatalf("GET /api/v2/alerts: want 1 alert, got %d: %v", len(as), as)
	}
	return alertEndsAt(t, as[0])
}

func alertEndsAt(t *testing.T, a map[string]any) time.Time {
	t.Helper()
	s, _ := a["endsAt"].(string)
	e, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatalf("alert endsAt %q: %v", a["endsAt"], err)
	}
	return e
}
