package bench

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// BenchmarkAPILoad is the API under load beside ingest, wired as kwitness
// serves it with authentication on (guard interceptors and middleware, the
// REST gateway on its in-process gRPC server): 1,000 WatchFindings streams
// (10 gRPC connections × 100) reading as fast as they can, and restClients
// REST clients calling GET /v1/findings (page_size 100, walking the pages)
// back to back against a book of 10,000 open findings, while a sweep of
// 100,000 group-partitions (publish + lag detection, as BenchmarkSweep) runs
// every second and applies 10 finding updates. One iteration is one
// one-second sweep period.
//
// Metrics: overruns (sweeps that took longer than their second; target 0),
// sweep-p99-ms, rest-p50-ms and rest-p99-ms per call, rest-calls/s, and
// watch-events/s delivered summed over the streams.
func BenchmarkAPILoad(b *testing.B) {
	const gps, nFindings, conns, perConn, restClients = 100_000, 10_000, 10, 100, 4
	f := newSweepFixture(b, gps)
	book := state.NewFindings(time.Hour, 1000)
	all := benchFindings(nFindings)
	book.Apply(time.UnixMilli(t0), openEvents(all))
	l := newLoadAPI(b, book, f.w)

	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var events atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		client := l.grpcClient(b)
		for range perConn {
			stream, err := client.WatchFindings(l.admin(ctx), &pb.WatchFindingsRequest{})
			if err == nil {
				_, err = stream.Header()
			}
			if err != nil {
				b.Fatalf("watch: %v", err)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					if _, err := stream.Recv(); err != nil {
						return
					}
					events.Add(1)
				}
			}()
		}
	}
	var mu sync.Mutex
	var rest []time.Duration
	var restErr error
	for range restClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			durs, err := l.restLoop(ctx)
			mu.Lock()
			rest = append(rest, durs...)
			if err != nil && restErr == nil {
				restErr = err
			}
			mu.Unlock()
		}()
	}

	var sweeps []time.Duration
	overruns, i := 0, 0
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	b.ResetTimer()
	start := time.Now()
	for b.Loop() {
		<-tick.C
		t := time.Now()
		f.e.advance(f.e.now + 1000)
		f.publish(nil)
		f.det.Sweep(f.w.View())
		i++
		upd := make([]detect.Event, 10)
		for j := range upd {
			fd := all[(i*10+j)%len(all)]
			fd.UpdatedAt = time.UnixMilli(f.e.now)
			upd[j] = detect.Event{Type: detect.EventUpdated, Finding: fd}
		}
		book.Apply(time.UnixMilli(f.e.now), upd)
		d := time.Since(t)
		sweeps = append(sweeps, d)
		if d > time.Second {
			overruns++
		}
	}
	elapsed := time.Since(start)
	cancel()
	wg.Wait()
	if restErr != nil {
		b.Fatal(restErr)
	}
	slices.Sort(sweeps)
	slices.Sort(rest)
	b.ReportMetric(float64(overruns), "overruns")
	b.ReportMetric(quantileMs(sweeps, 0.99), "sweep-p99-ms")
	b.ReportMetric(quantileMs(rest, 0.50), "rest-p50-ms")
	b.ReportMetric(quantileMs(rest, 0.99), "rest-p99-ms")
	b.ReportMetric(float64(len(rest))/elapsed.Seconds(), "rest-calls/s")
	b.ReportMetric(float64(events.Load())/elapsed.Seconds(), "watch-events/s")
}

// loadAPI is the guarded API: a public gRPC server, the gateway's
// in-process one and the HTTP handler.
type loadAPI struct {
	addr, url string
	token     string
}

func newLoadAPI(b *testing.B, book *state.Findings, w *state.Window) *loadAPI {
	b.Helper()
	l := &loadAPI{token: "bench-admin-token"}
	sum := sha256.Sum256([]byte(l.token))
	cfg := auth.DefaultConfig()
	cfg.TokensFile = filepath.Join(b.TempDir(), "tokens.yaml")
	cfg.Limits.WatchesPerCaller = 2000
	os.WriteFile(cfg.TokensFile, []byte("tokens:\n  - name: bench\n    sha256: "+hex.EncodeToString(sum[:])+"\n    scopes: [admin]\n"), 0o600)
	guard, err := auth.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { guard.Close() })
	srv := api.NewServer(book, w, detect.DefaultLagConfig()).WithLimits(cfg.Limits)
	public, internal := grpc.NewServer(guard.ServerOptions()...), grpc.NewServer(guard.GatewayServerOptions()...)
	srv.Register(public)
	srv.Register(internal)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	inproc := bufconn.Listen(1 << 20)
	go public.Serve(lis)
	go internal.Serve(inproc)
	b.Cleanup(public.Stop)
	b.Cleanup(internal.Stop)
	l.addr = lis.Addr().String()
	h, closeGW, err := api.NewHTTPHandler(b.Context(), api.HTTPConfig{
		GRPCAddr: "passthrough:///gw", Guard: guard, Ready: func() (bool, string) { return true, "" },
		Dial: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return inproc.DialContext(ctx) })},
	})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(guard.Middleware(h))
	b.Cleanup(func() { hs.Close(); closeGW() })
	l.url = hs.URL
	return l
}

func (l *loadAPI) admin(ctx context.Context) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+l.token)
}

func (l *loadAPI) grpcClient(b *testing.B) pb.FindingsServiceClient { return dial(b, l.addr) }

// restLoop calls GET /v1/findings back to back, walking the pages, until ctx
// ends; it returns each call's duration and the first failure.
func (l *loadAPI) restLoop(ctx context.Context) ([]time.Duration, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var durs []time.Duration
	page := ""
	for ctx.Err() == nil {
		req, _ := http.NewRequestWithContext(ctx, "GET", l.url+"/v1/findings?pageSize=100&pageToken="+page, nil)
		req.Header.Set("Authorization", "Bearer "+l.token)
		t := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return durs, nil
			}
			return durs, err
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return durs, fmt.Errorf("GET /v1/findings: %d %s", resp.StatusCode, body)
		}
		durs = append(durs, time.Since(t))
		page = nextPage(body)
	}
	return durs, nil
}

// nextPage extracts nextPageToken from a ListFindings JSON body ("" at the
// end: start over).
func nextPage(body []byte) string {
	var resp pb.ListFindingsResponse
	if err := protojson.Unmarshal(body, &resp); err != nil {
		return ""
	}
	return resp.NextPageToken
}
