package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
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
	return runDemoOn(ctx, t, nil, mut, notify)
}

// runDemoOn is runDemo with extra options for the embedded cluster.
func runDemoOn(ctx context.Context, t *testing.T, kopts []kfake.Opt, mut func(*Config), notify func(detect.Event)) (*workload, *sidecar) {
	t.Helper()
	wl, err := startWorkload(ctx, kopts...)
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
	wl.reportDeploy(s.HTTPAddr)
	return wl, s
}

// openedLog records when each finding first opened, keyed by kind and
// group ("LAG_GROWING fraud-check"; "DISK_SKEW " for broker findings).
type openedLog struct {
	mu sync.Mutex
	at map[string]time.Time
}

func newOpenedLog() *openedLog { return &openedLog{at: map[string]time.Time{}} }

// notify is the sidecar's event callback.
func (o *openedLog) notify(ev detect.Event) {
	if ev.Type != detect.EventOpened {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	key := string(ev.Finding.Kind) + " " + ev.Finding.Subject.Group
	if _, seen := o.at[key]; !seen {
		o.at[key] = time.Now()
	}
}

func (o *openedLog) snapshot() map[string]time.Time {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.at)
}

// waitAll waits until every key in want has opened, failing the test if
// one has not within the given time of start.
func (o *openedLog) waitAll(t *testing.T, start time.Time, within time.Duration, want ...string) {
	t.Helper()
	for deadline := start.Add(within); ; time.Sleep(500 * time.Millisecond) {
		got := o.snapshot()
		if !slices.ContainsFunc(want, func(k string) bool { _, ok := got[k]; return !ok }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("scenarios still missing after %s; opened: %v", time.Since(start).Round(time.Second), slices.Sorted(maps.Keys(got)))
		}
	}
}

// fraudCheckLag are the findings fraud-check's deploy opens: LAG_GROWING,
// or CONSUMER_STALLED when the redeployed member leaves a partition
// unserviced past its learned commit cadence first (the stall then
// supersedes the lag growth it explains).
var fraudCheckLag = []string{"LAG_GROWING fraud-check", "CONSUMER_STALLED fraud-check"}

// waitAny waits until at least one key in want has opened, failing the test
// if none has within the given time of start.
func (o *openedLog) waitAny(t *testing.T, start time.Time, within time.Duration, want ...string) {
	t.Helper()
	for deadline := start.Add(within); ; time.Sleep(500 * time.Millisecond) {
		got := o.snapshot()
		if slices.ContainsFunc(want, func(k string) bool { _, ok := got[k]; return ok }) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("none of %v opened after %s; opened: %v", want, time.Since(start).Round(time.Second), slices.Sorted(maps.Keys(got)))
		}
	}
}

// TestDemoRun runs the demo (embedded kfake, scripted workload, simulated
// broker endpoints, the whole sidecar with its store) until each scripted
// scenario has opened its finding (the deadline is generous for a loaded
// machine; the demo's timings are logged, and README quotes them), checks the
// healthy groups stay quiet, then walks every finding over gRPC and
// resolves each citation through QuerySeries.
func TestDemoRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	opened := newOpenedLog()
	wl, s := runDemo(ctx, t, nil, opened.notify)
	opened.waitAny(t, wl.start, 100*time.Second, fraudCheckLag...)
	opened.waitAll(t, wl.start, 100*time.Second, "CONSUMER_STALLED audit", "DISK_FILL_FORECAST ",
		"UNDER_REPLICATED ", "HOT_PARTITION ", "DATA_SKIPPED reports", "RETENTION_RISK indexer", "REBALANCE_STORM flaky",
		"CONSUMER_STALLED etl", "TRAFFIC_SKEW ", "REPLICA_SKEW ", "DISK_SKEW ", "LEADER_SKEW ")
	for k, at := range opened.snapshot() {
		t.Logf("%-28s opened at +%.1fs", k, at.Sub(wl.start).Seconds())
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
	compareCitation(t, f, c, resp)
}

// compareCitation checks the raw samples of a citation's series over its
// window against the cited numbers.
func compareCitation(t *testing.T, f *pb.Finding, c *pb.Citation, resp *pb.QuerySeriesResponse) {
	t.Helper()
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
