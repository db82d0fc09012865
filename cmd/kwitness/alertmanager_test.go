package main

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/api/alertmanager"
	"github.com/kwitness/kwitness/api/alertmanager/amtest"
	"github.com/kwitness/kwitness/detect"
)

// TestAlertmanagerEndToEnd: kwitness against kfake with a lagging group
// pushes to a real Alertmanager; the webhook receives a firing
// KafkaConsumerLagGrowing notification for the group, then, after the group
// catches up, a resolved one.
func TestAlertmanagerEndToEnd(t *testing.T) {
	hook := amtest.NewWebhook(t)
	am := amtest.New(t, hook.URL) // skips when the binary is missing
	am.Start()

	r := newRig(t, "slow")
	// Sweep times end in the recent past, so Alertmanager (on the wall
	// clock) sees the resolution time as passed.
	r.at = time.Now().Add(-200 * time.Second).Truncate(time.Second)
	cfg := alertmanager.DefaultConfig()
	cfg.URLs = []string{am.URL()}
	cfg.ResendInterval = 200 * time.Millisecond
	cfg.ExternalURL = "http://kwitness.test:9471"
	p, err := alertmanager.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { p.Run(t.Context()); close(done) }()
	t.Cleanup(func() { <-done })
	r.observe = p.Observe

	for range 90 {
		r.produce("slow", 90)
		r.commit("slow-group", "slow", func(end, prev int64) int64 { return min(end, prev+10) })
		r.sweep()
	}
	lagging, ok := r.firing(detect.KindLagGrowing, "slow-group")
	if !ok {
		t.Fatalf("no LAG_GROWING finding; events: %v", eventSummaries(r.events))
	}
	n := hook.Wait(t, "firing", 10*time.Second)
	a := n.Alerts[0]
	if a.Labels["alertname"] != "KafkaConsumerLagGrowing" || a.Labels["group"] != "slow-group" ||
		a.Labels["topic"] != "slow" || a.Labels["cluster"] != "it" || a.Labels["severity"] != "warning" {
		t.Fatalf("firing labels: %v", a.Labels)
	}
	if a.Annotations["finding_id"] != lagging.ID || !strings.Contains(a.Annotations["summary"], `"slow-group" is falling behind`) ||
		!strings.Contains(a.Annotations["description"], "total lag") ||
		a.GeneratorURL != "http://kwitness.test:9471/findings/"+lagging.ID {
		t.Fatalf("firing annotations: %v generatorURL %s", a.Annotations, a.GeneratorURL)
	}
	t.Logf("description:\n%s", a.Annotations["description"])

	for range 40 {
		r.produce("slow", 90)
		r.commit("slow-group", "slow", func(end, _ int64) int64 { return end })
		r.sweep()
	}
	if got, _ := r.findings.Get(lagging.ID); got.State != detect.StateResolved {
		t.Fatalf("slow-group caught up but finding is %s", got.State)
	}
	n = hook.Wait(t, "resolved", 10*time.Second)
	if n.Alerts[0].Labels["group"] != "slow-group" || n.Alerts[0].Annotations["finding_id"] != lagging.ID {
		t.Fatalf("resolved notification: %+v", n.Alerts)
	}
}

// TestAlertmanagerConfigSection: the alertmanager section decodes strictly
// and validation names its keys.
func TestAlertmanagerConfigSection(t *testing.T) {
	cfg, err := ParseConfig([]byte("alertmanager:\n  urls: [http://am-0:9093, http://am-1:9093]\n  resend_interval: 30s\n  min_severity: critical\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Alertmanager.URLs) != 2 || cfg.Alertmanager.ResendInterval != 30*time.Second || cfg.Alertmanager.QueueSize == 0 {
		t.Fatalf("decoded %+v", cfg.Alertmanager)
	}
	if _, err := ParseConfig([]byte("alertmanager:\n  url: http://am:9093\n")); err == nil {
		t.Error("unknown key alertmanager.url accepted")
	}
	cfg.Alertmanager.URLs = []string{"am:9093"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "alertmanager.urls[0]") {
		t.Errorf("want an error naming alertmanager.urls[0], got %v", err)
	}
}
