package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwitness/kwitness/detect"
)

// TestDataSkippedWithinTenSeconds: with the production slow cadence
// (findings.slow_every 30 s), records deleted past a group's committed
// offset are DATA_SKIPPED within 10 sweeps of 1 s: the check runs every
// sweep, not with the slow detectors. Sweeps are simulated (the rig's clock
// advances 1 s per sweep), so the bound does not depend on the machine.
func TestDataSkippedWithinTenSeconds(t *testing.T) {
	r := newRig(t, "short")
	if r.cfg.Findings.SlowEvery != 30*time.Second {
		t.Fatalf("slow cadence %s, want the 30 s default", r.cfg.Findings.SlowEvery)
	}
	r.produce("short", 300)
	r.commit("slow-reader", "short", func(_, _ int64) int64 { return 10 })
	for range 40 { // two slow passes (sweeps 0 and 30); the next is due at sweep 60
		r.sweep()
	}
	if _, ok := r.firing(detect.KindDataSkipped, "slow-reader"); ok {
		t.Fatal("DATA_SKIPPED before any record was deleted")
	}
	os := kadm.Offsets{}
	r.ends("short").Each(func(o kadm.ListedOffset) { os.AddOffset("short", o.Partition, 50, -1) })
	if _, err := r.admin.DeleteRecords(r.ctx, os); err != nil { // the test deletes, as retention would
		t.Fatal(err)
	}
	for n := 1; n <= 10; n++ {
		r.sweep()
		if f, ok := r.firing(detect.KindDataSkipped, "slow-reader"); ok {
			t.Logf("DATA_SKIPPED at sweep %d after the deletion: %s", n, f.Summary)
			return
		}
	}
	t.Fatalf("no DATA_SKIPPED within 10 sweeps of the deletion; events %v", eventSummaries(r.events))
}

// TestRetentionRiskWithoutScrapeTargets runs the whole sidecar with no
// telemetry targets against kfake: the admin collection still reads the
// topic's retention.ms (DescribeConfigs), so a lagging consumer on a topic
// with a 60 s retention gets RETENTION_RISK forecast from retention.ms. The
// slow detectors run every 5 s to keep the test short; the deadline is
// generous for a loaded machine.
func TestRetentionRiskWithoutScrapeTargets(t *testing.T) {
	ctx := t.Context()
	c, err := kfake.NewCluster(kfake.NumBrokers(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": kadm.StringPtr("60000")}, "short"); err != nil {
		t.Fatal(err)
	}

	opened := make(chan detect.Finding, 100)
	cfg := DefaultConfig()
	cfg.Kafka.Cluster, cfg.Kafka.Brokers = "it", c.ListenAddrs()
	cfg.API = APIConfig{GRPCListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"}
	cfg.Findings.SlowEvery = 5 * time.Second
	if len(cfg.Telemetry.Targets) != 0 {
		t.Fatal("the default configuration has scrape targets")
	}
	s, err := startSidecar(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), func(ev detect.Event) {
		if ev.Type == detect.EventOpened && ev.Finding.Kind == detect.KindRetentionRisk {
			select {
			case opened <- ev.Finding:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)

	// Every 200 ms the test produces 4 records; every second it commits for
	// slow-reader half of each partition's end offset, so unread records
	// age toward the 60 s retention.
	deadline := time.Now().Add(3 * time.Minute)
	for n := 1; time.Now().Before(deadline); n++ {
		produceTo(ctx, t, cl, "short", 4)
		if n%5 == 0 {
			commitHalf(ctx, t, adm, "slow-reader", "short")
		}
		select {
		case f := <-opened:
			if f.Subject.Group != "slow-reader" || f.Subject.Topic != "short" {
				continue
			}
			if m := factText(f, "forecast_method"); m != detect.RetentionByMs {
				t.Fatalf("RETENTION_RISK forecast by %q, want %q (from DescribeConfigs): %s", m, detect.RetentionByMs, f.Summary)
			}
			t.Log(f.Summary)
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
	t.Fatalf("no RETENTION_RISK for slow-reader within 3 minutes; telemetry status %+v", s.brokers.Status())
}

// produceTo writes n records to topic.
func produceTo(ctx context.Context, t *testing.T, cl *kgo.Client, topic string, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte("v")}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// commitHalf commits for group half of each partition's end offset of topic.
func commitHalf(ctx context.Context, t *testing.T, adm *kadm.Client, group, topic string) {
	t.Helper()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	os := kadm.Offsets{}
	ends.Each(func(o kadm.ListedOffset) { os.AddOffset(topic, o.Partition, o.Offset/2, -1) })
	if err := adm.CommitAllOffsets(ctx, group, os); err != nil {
		t.Fatalf("commit: %v", err)
	}
}

// factText returns the text of f's fact name, or "".
func factText(f detect.Finding, name string) string {
	for _, x := range f.Facts {
		if x.Name == name {
			return x.Text
		}
	}
	return ""
}
