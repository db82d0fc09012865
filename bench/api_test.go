package bench

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// BenchmarkListFindings calls ListFindings (page_size 100, no filter) over
// gRPC on loopback against 10,000 open findings, one call after another,
// walking the pages with next_page_token and starting over at the end. One
// iteration is callsPerIter calls, each timed on its own; client and server
// share the process and its 2 cores. view=BASIC is what lists ask for
// (no evidence or facts); view=FULL returns whole findings.
//
// Metrics: p50-ms and p99-ms per call (target p99 < 1 ms), calls/s from one
// client (target ≥ 5,000 on one core), cpu-us/call (process CPU time per
// call, client and server, GC included).
func BenchmarkListFindings(b *testing.B) {
	for _, view := range []pb.FindingView{pb.FindingView_FINDING_VIEW_BASIC, pb.FindingView_FINDING_VIEW_FULL} {
		b.Run(fmt.Sprintf("findings=10000/page_size=100/view=%s", strings.TrimPrefix(view.String(), "FINDING_VIEW_")), func(b *testing.B) {
			benchListFindings(b, view)
		})
	}
}

func benchListFindings(b *testing.B, view pb.FindingView) {
	const n, pageSize, callsPerIter = 10_000, 100, 1000
	f := state.NewFindings(time.Hour, 1000)
	f.Apply(time.UnixMilli(t0), openEvents(benchFindings(n)))
	client := dial(b, serveFindings(b, f))
	ctx := b.Context()
	req := &pb.ListFindingsRequest{PageSize: pageSize, View: view}
	call := func() {
		resp, err := client.ListFindings(ctx, req)
		if err != nil || len(resp.Findings) == 0 || resp.TotalSize != n {
			b.Fatalf("ListFindings: %v (%d findings, total %d)", err, len(resp.GetFindings()), resp.GetTotalSize())
		}
		req.PageToken = resp.NextPageToken // "" after the last page: start over
	}
	for range n/pageSize + 20 { // warm up the connection; every page once
		call()
	}
	var durs []time.Duration
	b.ReportAllocs()
	cpu0 := cpuTime()
	for b.Loop() {
		for range callsPerIter {
			start := time.Now()
			call()
			durs = append(durs, time.Since(start))
		}
	}
	slices.Sort(durs)
	b.ReportMetric(quantileMs(durs, 0.50), "p50-ms")
	b.ReportMetric(quantileMs(durs, 0.99), "p99-ms")
	b.ReportMetric(float64(len(durs))/b.Elapsed().Seconds(), "calls/s")
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(len(durs)), "cpu-us/call")
}

// BenchmarkWatchFanout: 100 WatchFindings subscribers, each on its own gRPC
// connection over loopback and reading as fast as it can, while the
// publisher applies update events in batches of 10 (as one sweep's judgement
// would) with Findings.Apply. rate=max publishes 2,000 events as fast as
// Apply returns; rate=500 paces 500 events over one second, a heavy
// incident. An iteration ends when every subscriber has accounted for every
// event, received or counted by a MISSED event.
//
// Metrics: events/s delivered, summed over subscribers (received events
// only); missed/op, events dropped per iteration summed over subscribers
// (each subscriber may fall behind by api.WatchBuffer events, then drops).
func BenchmarkWatchFanout(b *testing.B) {
	const subs, batch = 100, 10
	for _, c := range []struct{ rate, events int }{{0, 2000}, {500, 500}} {
		name := "max"
		if c.rate > 0 {
			name = fmt.Sprint(c.rate)
		}
		b.Run(fmt.Sprintf("subscribers=%d/rate=%s", subs, name), func(b *testing.B) {
			benchWatchFanout(b, subs, c.events, batch, c.rate)
		})
	}
}

func benchWatchFanout(b *testing.B, subs, perIter, batch, rate int) {
	f := state.NewFindings(time.Hour, 1000)
	fs := benchFindings(100)
	f.Apply(time.UnixMilli(t0), openEvents(fs))
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var received, missed, seen atomic.Int64
	goal := atomic.Int64{}
	reached := make(chan struct{}, 1)
	account := func(n int64) {
		if seen.Add(n) == goal.Load() {
			reached <- struct{}{}
		}
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	addr := serveFindings(b, f)
	for range subs {
		stream, err := dial(b, addr).WatchFindings(ctx, &pb.WatchFindingsRequest{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := stream.Header(); err != nil { // subscribed from here on
			b.Fatal(err)
		}
		wg.Go(func() {
			for {
				ev, err := stream.Recv()
				if err != nil {
					return
				}
				if ev.Type == pb.EventType_EVENT_TYPE_MISSED {
					missed.Add(int64(ev.Missed))
					account(int64(ev.Missed))
					continue
				}
				received.Add(1)
				account(1)
			}
		})
	}
	events := make([]detect.Event, perIter)
	for i := range events {
		fi := fs[i%len(fs)]
		fi.UpdatedAt = fi.UpdatedAt.Add(time.Duration(i) * time.Second)
		events[i] = detect.Event{Type: detect.EventUpdated, Finding: fi}
	}
	var pause time.Duration
	if rate > 0 {
		pause = time.Duration(batch) * time.Second / time.Duration(rate)
	}
	b.ReportAllocs()
	for b.Loop() {
		goal.Add(int64(subs * perIter))
		next := time.Now()
		for i := 0; i < perIter; i += batch {
			f.Apply(time.UnixMilli(t0), events[i:min(i+batch, perIter)])
			if pause > 0 {
				next = next.Add(pause)
				time.Sleep(time.Until(next))
			}
		}
		select {
		case <-reached:
		case <-time.After(time.Minute):
			b.Fatalf("subscribers accounted for %d of %d events", seen.Load(), goal.Load())
		}
	}
	b.ReportMetric(float64(received.Load())/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(missed.Load())/float64(b.N), "missed/op")
}

// serveFindings serves f over gRPC on a loopback port for the benchmark's
// lifetime and returns its address.
func serveFindings(b *testing.B, f *state.Findings) string {
	b.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "bench")
	if err != nil {
		b.Fatal(err)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	g := grpc.NewServer()
	api.NewServer(f, w, detect.DefaultLagConfig()).Register(g)
	served := make(chan struct{})
	go func() { defer close(served); _ = g.Serve(lis) }()
	b.Cleanup(func() { g.Stop(); <-served })
	return lis.Addr().String()
}

// dial returns a client of addr on its own connection, closed at cleanup.
func dial(b *testing.B, addr string) pb.FindingsServiceClient {
	b.Helper()
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { conn.Close() })
	return pb.NewFindingsServiceClient(conn)
}

// benchFindings returns n firing consumer-lag findings (fixed seed) shaped
// like the lag detector's: a group-topic subject, two citations and three
// facts, opened over the last day.
func benchFindings(n int) []detect.Finding {
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	kinds := []detect.Kind{detect.KindLagGrowing, detect.KindConsumerStalled, detect.KindConsumerStopped, detect.KindOffsetRewind}
	out := make([]detect.Finding, n)
	for i := range out {
		opened := time.UnixMilli(t0 - rng.Int64N(86_400_000))
		subj := detect.Subject{Cluster: "bench", Group: fmt.Sprintf("g-%05d", i/4), Topic: fmt.Sprintf("t-%06d", i), Partitions: []int32{0, 1, 2, 3}, Broker: -1}
		k := kinds[i%len(kinds)]
		cite := func(metric, api string) detect.Citation {
			return detect.Citation{
				Series: detect.SeriesRef{Metric: metric, Labels: []detect.Label{
					{Name: "cluster", Value: "bench"}, {Name: "group", Value: subj.Group},
					{Name: "partition", Value: "0"}, {Name: "topic", Value: subj.Topic}}},
				From: opened.Add(-10 * time.Minute), To: opened, First: 1e6, Last: 1.2e6, Min: 1e6, Max: 1.2e6,
				Slope: 333, SlopeUnit: "messages/s", Count: 56, Source: detect.Source{API: api, SweepAt: opened},
				Note: "committed offset advancing slower than the log end",
			}
		}
		out[i] = detect.Finding{
			ID: fmt.Sprintf("%016x-%d", rng.Uint64(), i), Fingerprint: detect.Fingerprint(k, subj), Kind: k,
			Severity: detect.SeverityWarning, State: detect.StateFiring, Subject: subj,
			Summary:  fmt.Sprintf("group %s falls behind on topic %s: lag grows by 333 messages/s", subj.Group, subj.Topic),
			OpenedAt: opened, UpdatedAt: opened,
			Evidence: []detect.Citation{cite(state.MetricCommitted.String(), "OffsetFetch"), cite(state.MetricEnd.String(), "ListOffsets(latest)")},
			Facts: []detect.Fact{{Name: "total_lag", Value: 2e5, Unit: "messages"},
				{Name: "lag_growth_rate", Value: 333, Unit: "messages/s"}, {Name: "time_to_catch_up", Text: "never at current rates"}},
		}
	}
	return out
}

func openEvents(fs []detect.Finding) []detect.Event {
	evs := make([]detect.Event, len(fs))
	for i, f := range fs {
		evs[i] = detect.Event{Type: detect.EventOpened, Finding: f}
	}
	return evs
}

// quantileMs is the q-quantile of sorted durations, in milliseconds.
func quantileMs(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Nanoseconds()) / 1e6
}
