package alertmanager

import (
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
	if a.GeneratorURL != "http://kwitness:9471/v1/findings/"+f.ID || !a.StartsAt.Equal(f.OpenedAt) {
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
	for range 2 {
		p := startPusher(t, testConfig(am.URL()), metrics.NewSet())
		p.Observe(detect.Event{Type: detect.EventOpened, Finding: f})
	}
	time.Sleep(time.Second) // several resends from both
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
