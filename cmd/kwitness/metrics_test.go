package main

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwitness/kwitness/api/exporter"
)

// scrapeMetrics GETs /metrics and parses it with Prometheus's own parser.
func scrapeMetrics(t *testing.T, addr string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET /metrics does not parse as the Prometheus text format: %v", err)
	}
	return fams
}

// waitScrape scrapes until ok holds, for at most 30 s.
func waitScrape(t *testing.T, addr string, ok func(map[string]*dto.MetricFamily) bool) map[string]*dto.MetricFamily {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		fams := scrapeMetrics(t, addr)
		if ok(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics did not show the expected sweep within 30s: lag %v", sampleMap(fams, "kwitness_consumergroup_lag"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sampleMap renders a gauge family as labels → value, labels sorted
// name=value joined by commas.
func sampleMap(fams map[string]*dto.MetricFamily, name string) map[string]float64 {
	out := map[string]float64{}
	if f := fams[name]; f != nil {
		for _, m := range f.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			sort.Strings(ls)
			out[strings.Join(ls, ",")] = m.GetGauge().GetValue()
		}
	}
	return out
}

// TestLagMetricsMatchKafka runs the sidecar against kfake, commits known
// offsets, and checks what /metrics says against what Kafka says.
func TestLagMetricsMatchKafka(t *testing.T) {
	ctx := t.Context()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
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
	produce := func(n int) {
		recs := make([]*kgo.Record, n)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: "orders", Value: []byte("v")}
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	commitAtEnd := func(groups ...string) {
		ends, err := adm.ListEndOffsets(ctx, "orders")
		if err != nil {
			t.Fatal(err)
		}
		os := kadm.Offsets{}
		ends.Each(func(e kadm.ListedOffset) { os.AddOffset(e.Topic, e.Partition, e.Offset, -1) })
		for _, g := range groups {
			if err := adm.CommitAllOffsets(ctx, g, os); err != nil {
				t.Fatal(err)
			}
		}
	}
	produce(40)
	commitAtEnd("reader", "idle")
	cfg := DefaultConfig()
	cfg.Kafka.Cluster, cfg.Kafka.Brokers = "it", c.ListenAddrs()
	cfg.Kafka.PollInterval = 200 * time.Millisecond
	cfg.DataDir = ""
	cfg.API = APIConfig{GRPCListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"}
	cfg.Metrics = exporter.Config{Granularity: exporter.Partition, MaxSeries: 1000}
	s, err := startSidecar(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	waitScrape(t, s.HTTPAddr, func(fams map[string]*dto.MetricFamily) bool {
		return len(sampleMap(fams, "kwitness_consumergroup_lag")) == 4
	})
	// Records produced while kwitness watches: "reader" has not read them,
	// so its oldest unread record is from now.
	bStart := time.Now()
	produce(30)
	bEnd := time.Now()
	commitAtEnd("idle")

	// Kafka's truth.
	ends, err := adm.ListEndOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]float64{
		"kwitness_consumergroup_lag": {}, "kwitness_consumergroup_committed_offset": {},
		"kwitness_partition_end_offset": {}, "kwitness_partition_start_offset": {},
	}
	for _, g := range []string{"reader", "idle"} {
		committed, err := adm.FetchOffsets(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		ends.Each(func(e kadm.ListedOffset) {
			o, ok := committed.Lookup("orders", e.Partition)
			if !ok {
				t.Fatalf("group %s has no committed offset on orders/%d", g, e.Partition)
			}
			k := fmt.Sprintf("cluster=it,group=%s,partition=%d,topic=orders", g, e.Partition)
			want["kwitness_consumergroup_lag"][k] = float64(e.Offset - o.At)
			want["kwitness_consumergroup_committed_offset"][k] = float64(o.At)
		})
	}
	ends.Each(func(e kadm.ListedOffset) {
		want["kwitness_partition_end_offset"][fmt.Sprintf("cluster=it,partition=%d,topic=orders", e.Partition)] = float64(e.Offset)
	})
	starts.Each(func(e kadm.ListedOffset) {
		want["kwitness_partition_start_offset"][fmt.Sprintf("cluster=it,partition=%d,topic=orders", e.Partition)] = float64(e.Offset)
	})
	if got := want["kwitness_consumergroup_lag"]["cluster=it,group=reader,partition=0,topic=orders"]; got != 15 {
		t.Fatalf("setup: reader's lag on partition 0 is %v, want 15", got)
	}

	// Wait until a sweep has seen everything, then compare.
	fams := waitScrape(t, s.HTTPAddr, func(fams map[string]*dto.MetricFamily) bool {
		return fmt.Sprint(sampleMap(fams, "kwitness_partition_end_offset")) == fmt.Sprint(want["kwitness_partition_end_offset"]) &&
			fmt.Sprint(sampleMap(fams, "kwitness_consumergroup_committed_offset")) == fmt.Sprint(want["kwitness_consumergroup_committed_offset"])
	})
	for fam, w := range want {
		got := sampleMap(fams, fam)
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("%s:\n got %v\nwant %v (Kafka)", fam, got, w)
		}
	}
	// Time lag: "idle" is caught up; "reader"'s oldest unread records were
	// produced in [bStart, bEnd]. Measure a few seconds later, so a time lag
	// of 0 cannot pass.
	time.Sleep(3 * time.Second)
	before := time.Now()
	fams = scrapeMetrics(t, s.HTTPAddr)
	sec := sampleMap(fams, "kwitness_consumergroup_lag_seconds")
	for p := range 2 {
		if v := sec[fmt.Sprintf("cluster=it,group=idle,partition=%d,topic=orders", p)]; v != 0 {
			t.Errorf("idle/orders/%d: lag_seconds %v, want 0 (caught up)", p, v)
		}
		v, ok := sec[fmt.Sprintf("cluster=it,group=reader,partition=%d,topic=orders", p)]
		// The newest sweep is at most a poll interval and a sweep old, and the
		// estimate is good to the spacing of the sweeps that bracket the
		// record: 200 ms unloaded, more on a busy machine.
		lo, hi := before.Sub(bEnd).Seconds()-2, before.Sub(bStart).Seconds()+2
		if !ok || v < lo || v > hi {
			t.Errorf("reader/orders/%d: lag_seconds %v (present %v), want in [%.2f, %.2f] from the produce times", p, v, ok, lo, hi)
		}
	}
	if got := sampleMap(fams, "kwitness_info"); got["cluster=it"] != 1 {
		t.Errorf("kwitness_info: %v", got)
	}
}
