package engine

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

func testConfig() Config {
	return Config{Lag: detect.DefaultLagConfig(), Book: detect.DefaultBookConfig(), Broker: detect.DefaultBrokerConfig(),
		Retention: detect.DefaultRetentionConfig(), Hot: detect.DefaultHotConfig(), Rebalance: detect.DefaultRebalanceConfig(),
		Skew: detect.DefaultSkewConfig(), SlowEvery: 30 * time.Second}
}

// testEngine is an engine over empty windows whose notifier records events.
func testEngine(t *testing.T) (*Engine, *state.Findings, *[]detect.Event) {
	t.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "c")
	if err != nil {
		t.Fatal(err)
	}
	f := state.NewFindings(time.Hour, 100)
	var told []detect.Event
	e, err := New(testConfig(), Deps{Window: w, Findings: f, Deploys: state.NewDeploys(10),
		Notify: func(ev detect.Event) { told = append(told, ev) }, Log: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()})
	if err != nil {
		t.Fatal(err)
	}
	return e, f, &told
}

// TestNewRequiresDeps: a missing required dependency is an error, not a
// nil dereference on the first sweep.
func TestNewRequiresDeps(t *testing.T) {
	if _, err := New(testConfig(), Deps{}); err == nil {
		t.Fatal("New without dependencies succeeded")
	}
}

// TestRestoreByKindDomain: restored findings of known kinds — including
// CONSUMER_ASSIGNMENT_SKEW, which the lag detector opens — are listed and
// told as updates; a finding of a kind no detector opens is left out and
// named in the error.
func TestRestoreByKindDomain(t *testing.T) {
	e, f, told := testEngine(t)
	now := time.UnixMilli(1_800_000_000_000)
	finding := func(id string, k detect.Kind) detect.Finding {
		subj := detect.Subject{Cluster: "c", Group: "g", Topic: "t", Broker: -1}
		return detect.Finding{ID: id, Fingerprint: detect.Fingerprint(k, subj), Kind: k, Subject: subj,
			State: detect.StateFiring, Severity: detect.SeverityWarning, OpenedAt: now.Add(-time.Minute)}
	}
	err := e.Restore([]detect.Finding{finding("a", detect.KindAssignmentSkew), finding("b", "NOT_A_KIND"), finding("c", detect.KindHotPartition)}, now)
	if err == nil || !strings.Contains(err.Error(), "NOT_A_KIND") || strings.Contains(err.Error(), "HOT_PARTITION") {
		t.Fatalf("Restore error %v, want one naming NOT_A_KIND alone", err)
	}
	for id, want := range map[string]bool{"a": true, "b": false, "c": true} {
		if _, ok := f.Get(id); ok != want {
			t.Errorf("finding %s listed %v, want %v", id, ok, want)
		}
	}
	if len(*told) != 2 || (*told)[0].Type != detect.EventUpdated || (*told)[0].Finding.ID != "a" || (*told)[1].Finding.ID != "c" {
		t.Fatalf("told %+v, want updates of a and c", *told)
	}
}
