package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// runDemo starts the demo workload and, on it, the whole sidecar with the
// demo configuration (mut may adjust it), a temporary data dir and
// ephemeral ports; notify gets every finding event. Both stop when the test
// ends.
func runDemo(ctx context.Context, t *testing.T, mut func(*Config), notify func(detect.Event)) (*workload, *sidecar) {
	t.Helper()
	wl, err := startWorkload(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(wl.Stop)
	cfg := demoConfig(wl.cluster.ListenAddrs())
	cfg.Telemetry.Targets = wl.sim.targets()
	cfg.DataDir = t.TempDir()
	cfg.API = APIConfig{GRPCListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"}
	if mut != nil {
		mut(&cfg)
	}
	s, err := startSidecar(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), notify)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return wl, s
}

// TestDemoRun runs the demo (embedded kfake, scripted workload, simulated
// broker endpoints, the whole sidecar with its store) until each scripted
// scenario has opened its finding — the first within a minute — checks the
// healthy groups stay quiet, then walks every finding over gRPC and
// resolves each citation through QuerySeries.
func TestDemoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	opened := map[string]time.Time{}
	notify := func(ev detect.Event) {
		if ev.Type != detect.EventOpened {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		key := string(ev.Finding.Kind) + " " + ev.Finding.Subject.Group
		if _, seen := opened[key]; !seen {
			opened[key] = time.Now()
		}
	}
	wl, s := runDemo(ctx, t, nil, notify)

	want := []string{"LAG_GROWING fraud-check", "CONSUMER_STALLED audit", "DISK_FILL_FORECAST ", "UNDER_REPLICATED ",
		"HOT_PARTITION ", "DATA_SKIPPED reports", "RETENTION_RISK indexer", "REBALANCE_STORM flaky",
		"CONSUMER_ASSIGNMENT_SKEW etl", "TRAFFIC_SKEW ", "REPLICA_SKEW ", "DISK_SKEW ", "LEADER_SKEW "}
	deadline := time.Now().Add(100 * time.Second)
	for {
		mu.Lock()
		n := 0
		for _, k := range want {
			if _, ok := opened[k]; ok {
				n++
			}
		}
		mu.Unlock()
		if n == len(want) {
			break
		}
		if time.Now().After(deadline) {
			mu.Lock()
			t.Fatalf("scenarios still missing after %s; opened: %v", time.Since(wl.start).Round(time.Second), opened)
		}
		time.Sleep(500 * time.Millisecond)
	}
	mu.Lock()
	first := time.Duration(1 << 62)
	for k, at := range opened {
		since := at.Sub(wl.start)
		first = min(first, since)
		t.Logf("%-28s opened at +%.1fs", k, since.Seconds())
	}
	mu.Unlock()
	if first > time.Minute {
		t.Errorf("first finding after %s, want within a minute", first)
	}

	checkStatus(t, s.HTTPAddr)

	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	client := pb.NewFindingsServiceClient(conn)
	list, err := client.ListFindings(ctx, &pb.ListFindingsRequest{PageSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range list.Findings {
		if g := f.Subject.Group; g == "billing" || g == "archiver" || g == "clickstream" {
			t.Errorf("healthy group %s has a finding: %s", g, f.Summary)
		}
		for _, c := range f.Evidence {
			checkCitationResolves(ctx, t, client, f, c)
		}
	}
}

// checkCitationResolves queries a citation's series over its window and
// compares the ends with the cited first and last values.
func checkCitationResolves(ctx context.Context, t *testing.T, client pb.FindingsServiceClient, f *pb.Finding, c *pb.Citation) {
	t.Helper()
	resp, err := client.QuerySeries(ctx, &pb.QuerySeriesRequest{Series: c.Series.Text, From: c.From, To: c.To})
	if err != nil {
		t.Errorf("%s: citation %s does not resolve: %v", f.Kind, c.Series.Text, err)
		return
	}
	var present []*pb.Sample
	for _, s := range resp.Samples {
		if !s.Gap {
			present = append(present, s)
		}
	}
	val := func(s *pb.Sample) float64 {
		if s.FloatValue != 0 {
			return s.FloatValue
		}
		return float64(s.Value)
	}
	if strings.HasPrefix(c.Series.Metric, "kafka_broker_") {
		// A broker citation summarises the detectors' window, whose history
		// is decimated; the store holds every sweep. So the raw samples hold
		// at least the cited count, the cited first and last values, and
		// reach at least the cited range.
		lo, hi := math.Inf(1), math.Inf(-1)
		first, last := false, false
		for _, s := range present {
			v := val(s)
			lo, hi = math.Min(lo, v), math.Max(hi, v)
			first, last = first || v == c.First, last || v == c.Last
		}
		if len(present) < int(c.Count) || c.Count > 0 && (!first || !last || lo > c.Min || hi < c.Max) {
			t.Errorf("%s: %s: %d raw samples in [%g, %g] (first %v, last %v found); cited %d in [%g, %g], first %g, last %g",
				f.Kind, c.Series.Text, len(present), lo, hi, first, last, c.Count, c.Min, c.Max, c.First, c.Last)
		}
		return
	}
	if len(present) == 0 || int(c.Count) > len(present) {
		t.Errorf("%s: %s: %d raw samples, citation counted %d", f.Kind, c.Series.Text, len(present), c.Count)
		return
	}
	a, b := present[0], present[len(present)-1]
	if !a.Time.AsTime().Equal(c.From.AsTime()) || val(a) != c.First || !b.Time.AsTime().Equal(c.To.AsTime()) || val(b) != c.Last {
		t.Errorf("%s: %s: raw ends %v=%g, %v=%g differ from cited %v=%g, %v=%g", f.Kind, c.Series.Text,
			a.Time.AsTime(), val(a), b.Time.AsTime(), val(b), c.From.AsTime(), c.First, c.To.AsTime(), c.Last)
	}
}

// checkStatus reads GET /v1/status: ingest ready, telemetry targets scraped,
// store healthy.
func checkStatus(t *testing.T, addr string) {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Ingest    struct{ Ready bool }
		Telemetry map[string]any
		Store     struct{ Healthy bool }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatalf("/v1/status: %v", err)
	}
	if !st.Ingest.Ready || st.Telemetry == nil || !st.Store.Healthy {
		t.Fatalf("/v1/status: %+v", st)
	}
}
