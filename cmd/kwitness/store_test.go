package main

import (
	"context"
	"io"
	"log/slog"
	"slices"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/cockroachdb/pebble/v2/vfs/errorfs"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// withStore gives the rig a Pebble store on fs.
func (r *rig) withStore(fs vfs.FS) {
	r.t.Helper()
	cfg := store.DefaultConfig()
	cfg.FS = fs
	st, err := store.Open("kw", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewSet())
	if err != nil {
		r.t.Fatal(err)
	}
	r.store = st
	r.buildEngine()
}

// runLagScenario drives a lagging and a stalled group for n sweeps.
func runLagScenario(r *rig, n int) {
	for range n {
		r.produce("slow", 90)
		r.produce("stuck", 30)
		r.commit("slow-group", "slow", func(end, prev int64) int64 { return min(end, prev+10) })
		r.sweep()
	}
}

// TestCitationsResolve walks every finding of a run and resolves each of its
// citations to raw samples through QuerySeries: the samples at the cited
// window's ends carry the cited first and last values, and there are at
// least as many raw samples as the citation counted.
func TestCitationsResolve(t *testing.T) {
	r := newRig(t, "slow", "stuck")
	r.withStore(vfs.NewMem())
	defer r.store.Close()
	r.produce("stuck", 300)
	r.commit("stuck-group", "stuck", func(end, _ int64) int64 { return end / 2 })
	r.client(kgo.ConsumerGroup("stuck-group"), kgo.ConsumeTopics("stuck"), kgo.DisableAutoCommit())
	waitMembers(t, r, "stuck-group", 1)
	runLagScenario(r, 160) // the stalled group never commits: 2 × stall_after + 30 s

	srv := api.NewServer(r.findings, r.window, detect.DefaultLagConfig()).WithHistory(r.store, nil)
	fs := r.findings.List(state.FindingFilter{Broker: -1})
	if len(fs) < 2 {
		t.Fatalf("want the lagging and the stalled findings, got %d", len(fs))
	}
	cited := 0
	for _, f := range fs {
		for _, c := range f.Evidence {
			resp, err := srv.QuerySeries(context.Background(), &pb.QuerySeriesRequest{
				Series: c.Series.String(), From: timestamppb.New(c.From), To: timestamppb.New(c.To),
			})
			if err != nil {
				t.Fatalf("%s: citation %s does not resolve: %v", f.Kind, c.Series, err)
			}
			var present []*pb.Sample
			for _, s := range resp.Samples {
				if !s.Gap {
					present = append(present, s)
				}
			}
			if len(present) < c.Count {
				t.Fatalf("%s: %s: %d raw samples, citation counted %d", f.Kind, c.Series, len(present), c.Count)
			}
			first, last := present[0], present[len(present)-1]
			if !first.Time.AsTime().Equal(c.From) || float64(first.Value) != c.First ||
				!last.Time.AsTime().Equal(c.To) || float64(last.Value) != c.Last {
				t.Fatalf("%s: %s: raw ends (%v=%d, %v=%d) differ from the citation (%v=%g, %v=%g)", f.Kind, c.Series,
					first.Time.AsTime(), first.Value, last.Time.AsTime(), last.Value, c.From, c.First, c.To, c.Last)
			}
			cited++
		}
	}
	if cited == 0 {
		t.Fatal("no citation checked")
	}
}

// TestWarmRestart: after a restart on the same store the rings are refilled
// (the detectors have their window at once) and firing findings continue
// under the same id — not resolved and re-opened.
func TestWarmRestart(t *testing.T) {
	fs := vfs.NewMem()
	r := newRig(t, "slow", "stuck")
	r.withStore(fs)
	runLagScenario(r, 60)
	before, ok := r.firing(detect.KindLagGrowing, "slow-group")
	if !ok {
		t.Fatalf("no LAG_GROWING before restart: %v", eventSummaries(r.events))
	}
	if err := r.store.Close(); err != nil {
		t.Fatal(err)
	}

	// A second kwitness over the same cluster and store.
	r2 := &rig{t: t, ctx: r.ctx, cluster: r.cluster, admin: r.admin, producer: r.producer, at: r.at, keys: r.keys}
	cfg := DefaultConfig()
	cfg.Kafka.Cluster, cfg.Kafka.Brokers = "it", r.cluster.ListenAddrs()
	r2.cfg = cfg
	r2.window, _ = state.NewWindow(cfg.Window, "it")
	r2.findings = state.NewFindings(time.Hour, 1000)
	r2.deploys = state.NewDeploys(maxDeploys)
	r2.withStore(fs)
	defer r2.store.Close()
	n, err := r2.store.LoadWindow(r2.window, r.at.Add(-cfg.Window.Span))
	if err != nil || n == 0 {
		t.Fatalf("refill: %d sweeps, %v", n, err)
	}
	firing, err := r2.store.LoadFiring()
	if err != nil {
		t.Fatal(err)
	}
	if err := r2.engine.Restore(firing, r.at); err != nil {
		t.Fatal(err)
	}
	// The notifier (which feeds the Alertmanager pusher) hears of every
	// restored firing finding, so a restart re-sends what is firing.
	if len(r2.events) != len(firing) || len(firing) == 0 || r2.events[0].Type != detect.EventUpdated || r2.events[0].Finding.State != detect.StateFiring {
		t.Fatalf("restore notified %v for %d firing findings", eventSummaries(r2.events), len(firing))
	}
	r2.events = nil
	if r2.poller, err = newPollerFor(cfg, r2); err != nil {
		t.Fatal(err)
	}
	defer r2.poller.Close()
	runLagScenario(r2, 5)
	after, ok := r2.firing(detect.KindLagGrowing, "slow-group")
	if !ok || after.ID != before.ID {
		t.Fatalf("after restart: firing %v, id %q, want %q", ok, after.ID, before.ID)
	}
	for _, ev := range r2.events {
		if ev.Type != detect.EventUpdated {
			t.Fatalf("restart caused %s %s: %s", ev.Type, ev.Finding.Kind, ev.Finding.Subject.Group)
		}
	}
}

// TestFindingsSavedAfterFullDisk: LAG_GROWING opens while the store's disk
// is full, so saving it fails. Once the disk has room and the store has
// reopened, the next sweep saves it: a restart then would restore it
// rather than forget it.
func TestFindingsSavedAfterFullDisk(t *testing.T) {
	var full atomic.Bool
	fs := errorfs.Wrap(vfs.NewMem(), errorfs.InjectorFunc(func(op errorfs.Op) error {
		if full.Load() && op.Kind.ReadOrWrite() == errorfs.OpIsWrite {
			return syscall.ENOSPC
		}
		return nil
	}))
	r := newRig(t, "slow", "stuck")
	cfg := store.DefaultConfig()
	cfg.FS, cfg.RetryBackoff = fs, time.Millisecond
	st, err := store.Open("kw", cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	r.store = st
	r.buildEngine()
	full.Store(true)
	runLagScenario(r, 60)
	f, ok := r.firing(detect.KindLagGrowing, "slow-group")
	if !ok {
		t.Fatalf("no LAG_GROWING: %v", eventSummaries(r.events))
	}
	if healthy, _ := st.Healthy(); healthy {
		t.Fatal("the store says healthy on a full disk")
	}
	full.Store(false)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(10 * time.Millisecond) {
		if healthy, _ := st.Healthy(); healthy {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the store did not recover once the disk had room")
		}
	}
	runLagScenario(r, 1)
	firing, err := st.LoadFiring()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(firing, func(g detect.Finding) bool { return g.ID == f.ID }) {
		t.Fatalf("the finding opened during the outage is not in the store after it: %d stored", len(firing))
	}
}
