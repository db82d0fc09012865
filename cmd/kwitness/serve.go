package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/api/alertmanager"
	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/api/exporter"
	"github.com/kwitness/kwitness/api/web"
	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/ingest"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/engine"
	"github.com/kwitness/kwitness/state/explain"
	"github.com/kwitness/kwitness/state/store"
)

// maxDeploys is how many reported deploy events are kept for correlation.
const maxDeploys = 1000

// engineConfig is the engine's part of the configuration.
func engineConfig(cfg Config) engine.Config {
	return engine.Config{Lag: cfg.Lag, Book: cfg.Findings.BookConfig, Broker: cfg.Broker, Retention: cfg.Retention,
		Hot: cfg.HotPartition, Rebalance: cfg.Rebalance, Skew: cfg.Skew, SlowEvery: cfg.Findings.SlowEvery}
}

// alsoTell returns a notifier that calls notify (if any), then also.
func alsoTell(notify, also func(detect.Event)) func(detect.Event) {
	return func(ev detect.Event) {
		if notify != nil {
			notify(ev)
		}
		also(ev)
	}
}

// sidecar is one running kwitness: window, findings, engine, API, poller.
// Start order is state → detect → api → ingest; Stop unwinds in reverse.
type sidecar struct {
	cfg      Config
	log      *slog.Logger
	window   *state.Window
	tel      *state.Telemetry // broker telemetry: admin collection, and scrapes when targets are configured
	findings *state.Findings
	deploys  *state.Deploys
	engine   *engine.Engine
	poller   *ingest.Poller
	brokers  *ingest.BrokerPoller // admin collection always; scrapes the telemetry targets, if any
	store    *store.Store         // nil without a data dir
	guard    *auth.Guard
	grpc     *grpc.Server  // the public listener
	gwGRPC   *grpc.Server  // in-process, reached only by the REST gateway
	layout   *state.Layout // newest Metadata and DescribeConfigs answers and their changes
	owners   *detect.Owners
	http     *http.Server
	closeGW  func() error
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	stopOnce sync.Once

	GRPCAddr, HTTPAddr string // actual listen addresses
}

// maxLayoutChanges bounds the leader, partition-count and config changes
// kept for Explain timelines.
const maxLayoutChanges = 10000

// startSidecar starts every component; on failure it unwinds what started.
func startSidecar(ctx context.Context, cfg Config, log *slog.Logger, notify func(detect.Event)) (*sidecar, error) {
	s := &sidecar{cfg: cfg, log: log}
	ctx, s.cancel = context.WithCancel(ctx)
	ok := false
	defer func() {
		if !ok {
			s.Stop()
		}
	}()
	var err error
	if s.window, err = state.NewWindow(cfg.Window, cfg.Kafka.Cluster); err != nil {
		return nil, err
	}
	s.findings = state.NewFindings(cfg.Findings.KeepResolved, cfg.Findings.MaxResolved)
	s.deploys = state.NewDeploys(maxDeploys)
	s.layout = state.NewLayout(maxLayoutChanges)
	if s.owners, err = detect.NewOwners(cfg.Owners); err != nil {
		return nil, err
	}
	set := metrics.NewSet()
	if _, err = exporter.New(cfg.Metrics, s.window, s.findings, log, set); err != nil {
		return nil, err
	}
	// Broker telemetry is collected whenever Kafka is reachable: the admin
	// API (Metadata, DescribeLogDirs, DescribeConfigs for retention.ms and
	// retention.bytes) needs no scrape target.
	if s.tel, err = state.NewTelemetry(cfg.Window, cfg.Kafka.Cluster); err != nil {
		return nil, err
	}
	if err := s.openStore(set); err != nil {
		return nil, err
	}
	if cfg.Alertmanager.Enabled() {
		pusher, err := alertmanager.New(cfg.Alertmanager, log, set, alertmanager.WithOwners(s.owners))
		if err != nil {
			return nil, err
		}
		s.goRun(pusher.Run, ctx)
		notify = alsoTell(notify, pusher.Observe)
	}
	sweeps, telSweeps, err := s.refillWindows()
	if err != nil {
		return nil, err
	}
	// Build the pollers and the engine before anything runs, so readers
	// never see them change.
	if s.poller, err = ingest.New(cfg.Kafka, s.window, log, set, s.onSweep); err != nil {
		return nil, err
	}
	if err := s.poller.CheckAuth(ctx); err != nil {
		return nil, err
	}
	if s.brokers, err = ingest.NewBrokerPoller(cfg.Telemetry, s.tel, s.poller.Admin(), log, set, s.onTelemetry,
		ingest.WithConsumedTopics(s.consumedTopics), ingest.WithKafkaClient(s.poller.Client()), ingest.WithLayout(s.layout)); err != nil {
		return nil, err
	}
	if s.engine, err = engine.New(engineConfig(cfg), engine.Deps{Window: s.window, Telemetry: s.tel, Findings: s.findings,
		Deploys: s.deploys, Store: s.store, TopicConfigs: s.brokers.TopicConfigs, Notify: notify, Log: log, Metrics: set}); err != nil {
		return nil, err
	}
	if err := s.restoreFindings(sweeps, telSweeps); err != nil {
		return nil, err
	}
	s.goRun(s.engine.Run, ctx)
	if err := s.startAPI(ctx, set); err != nil {
		return nil, err
	}
	s.goRun(s.poller.Run, ctx)
	s.goRun(s.brokers.Run, ctx)
	ok = true
	return s, nil
}

func (s *sidecar) goRun(fn func(context.Context), ctx context.Context) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		fn(ctx)
	}()
}

// startAPI starts the gRPC listener, the in-process gRPC server the REST
// gateway forwards to (so the gateway never crosses the network, whatever
// TLS the public listener speaks) and the HTTP listener, every surface
// behind the guard.
func (s *sidecar) startAPI(ctx context.Context, set *metrics.Set) error {
	if err := s.cfg.API.CheckListen("--insecure", s.cfg.API.GRPCListen, s.cfg.API.HTTPListen); err != nil {
		return err
	}
	var err error
	if s.guard, err = auth.New(s.cfg.API.Config, s.log); err != nil {
		return err
	}
	gl, err := net.Listen("tcp", s.cfg.API.GRPCListen)
	if err != nil {
		return fmt.Errorf("api: grpc listen %s: %w", s.cfg.API.GRPCListen, err)
	}
	s.GRPCAddr = gl.Addr().String()
	s.grpc = grpc.NewServer(s.guard.ServerOptions()...)
	s.gwGRPC = grpc.NewServer(s.guard.GatewayServerOptions()...)
	ex, err := explain.New(explain.Sources{Window: s.window, Findings: s.findings, Events: s.deploys, Telemetry: s.tel,
		Layout: s.layout, Owners: s.owners, Lag: s.cfg.Lag})
	if err != nil {
		gl.Close()
		return err
	}
	srv := api.NewServer(s.findings, s.window, s.cfg.Lag).WithEvents(s.deploys).WithLimits(s.cfg.API.Limits).
		WithExplainer(ex, strings.Join(s.cfg.Kafka.Brokers, ","))
	srv.WithHistory(s.store, s.tel)
	srv.Register(s.grpc)
	srv.Register(s.gwGRPC)
	s.serveGRPC(s.grpc, gl)
	inproc := bufconn.Listen(1 << 20)
	s.serveGRPC(s.gwGRPC, inproc)
	hl, err := net.Listen("tcp", s.cfg.API.HTTPListen)
	if err != nil {
		return fmt.Errorf("api: http listen %s: %w", s.cfg.API.HTTPListen, err)
	}
	s.HTTPAddr = hl.Addr().String()
	pages, err := web.New(srv, web.Options{Cluster: s.cfg.Kafka.Cluster, Log: s.log, Owner: pageOwner, PlanURL: pagePlanURL})
	if err != nil {
		hl.Close()
		return err
	}
	h, closeGW, err := api.NewHTTPHandler(ctx, api.HTTPConfig{
		GRPCAddr: "passthrough:///kwitness-gateway",
		Dial: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return inproc.DialContext(ctx) })},
		Guard:   s.guard,
		Metrics: []*metrics.Set{set}, Ready: s.ready, Status: s.status,
		MCP: &s.cfg.MCP, Version: version, Pages: pages,
	})
	if err != nil {
		hl.Close()
		return err
	}
	s.closeGW = closeGW
	s.http = &http.Server{Handler: s.guard.Middleware(h), ReadHeaderTimeout: 10 * time.Second, TLSConfig: s.guard.TLSConfig()}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		var err error
		if s.http.TLSConfig != nil {
			err = s.http.ServeTLS(hl, "", "") // the certificate comes from TLSConfig.GetCertificate
		} else {
			err = s.http.Serve(hl)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api: http server", "err", err)
		}
	}()
	return nil
}

func (s *sidecar) serveGRPC(g *grpc.Server, l net.Listener) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		g.Serve(l)
	}()
}

func (s *sidecar) ready() (bool, string) {
	if s.poller == nil {
		return false, "starting"
	}
	if s.store != nil {
		if ok, why := s.store.Healthy(); !ok {
			return false, "store: " + why
		}
	}
	st := s.poller.Status()
	return st.Ready, st.Reason
}

// sidecarStatus is what GET /v1/status shows.
type sidecarStatus struct {
	Cluster   string                  `json:"cluster"`
	Ingest    *ingest.Status          `json:"ingest,omitempty"`
	Telemetry *ingest.TelemetryStatus `json:"telemetry,omitempty"`
	Store     *storeStatus            `json:"store,omitempty"`
}

type storeStatus struct {
	Dir     string `json:"dir"`
	Healthy bool   `json:"healthy"`
	Reason  string `json:"reason,omitempty"`
}

func (s *sidecar) status() any {
	st := sidecarStatus{Cluster: s.cfg.Kafka.Cluster}
	if s.poller != nil {
		in := s.poller.Status()
		st.Ingest = &in
	}
	if s.brokers != nil {
		t := s.brokers.Status()
		st.Telemetry = &t
	}
	if s.store != nil {
		ok, why := s.store.Healthy()
		st.Store = &storeStatus{Dir: s.cfg.DataDir, Healthy: ok, Reason: why}
	}
	return st
}

// consumedTopics lists the topics the newest sweep watched.
func (s *sidecar) consumedTopics() []string {
	seen := map[string]bool{}
	var out []string
	for _, e := range s.window.Snapshot().Topology.GroupTopics {
		if !seen[e.Topic] {
			seen[e.Topic] = true
			out = append(out, e.Topic)
		}
	}
	return out
}

// openStore opens the data dir's store, if configured.
func (s *sidecar) openStore(set *metrics.Set) error {
	if s.cfg.DataDir == "" {
		return nil
	}
	st, err := store.Open(s.cfg.DataDir, s.cfg.Store, s.log, set)
	if err != nil {
		return err
	}
	s.store = st
	return nil
}

// refillWindows refills the rings (offsets and broker telemetry) from the store on a warm restart, returning how many sweeps of
// each it restored.
func (s *sidecar) refillWindows() (sweeps, telSweeps int, err error) {
	if s.store == nil {
		return 0, 0, nil
	}
	since := time.Now().Add(-s.cfg.Window.Span)
	if sweeps, err = s.store.LoadWindow(s.window, since); err != nil {
		return 0, 0, fmt.Errorf("warm restart: refill window from %s: %w", s.cfg.DataDir, err)
	}
	if telSweeps, err = s.store.LoadTelemetry(s.tel, since); err != nil {
		return 0, 0, fmt.Errorf("warm restart: refill broker telemetry from %s: %w", s.cfg.DataDir, err)
	}
	return sweeps, telSweeps, nil
}

// restoreFindings gives the engine back the findings that were firing when
// the store was last written, on a warm restart. A finding it cannot
// restore (a kind this version does not open) is logged and left out.
func (s *sidecar) restoreFindings(sweeps, telSweeps int) error {
	if s.store == nil {
		return nil
	}
	fs, err := s.store.LoadFiring()
	if err != nil {
		return fmt.Errorf("warm restart: load findings from %s: %w", s.cfg.DataDir, err)
	}
	if err := s.engine.Restore(fs, time.Now()); err != nil {
		s.log.Warn("warm restart: findings left out", "err", err)
	}
	if sweeps > 0 || telSweeps > 0 || len(fs) > 0 {
		s.log.Info("warm restart", "sweeps", sweeps, "telemetry_sweeps", telSweeps, "firing", len(fs))
	}
	return nil
}

// onSweep runs on the poller goroutine right after each Commit: it hands the
// sweep to the store (never blocking) and wakes the engine.
func (s *sidecar) onSweep(ingest.SweepReport) {
	if s.store != nil {
		s.store.AppendWindow(s.window)
	}
	s.engine.Wake()
}

// onTelemetry runs on the broker poller goroutine right after each
// telemetry Commit: it hands the sweep to the store (never blocking) and
// wakes the engine.
func (s *sidecar) onTelemetry(time.Time) {
	if s.store != nil {
		s.store.AppendTelemetry(s.tel)
	}
	s.engine.WakeBrokers()
}

// Stop shuts everything down in reverse start order and waits for every
// goroutine. Safe to call twice.
func (s *sidecar) Stop() {
	s.stopOnce.Do(func() {
		s.cancel()
		if s.http != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			s.http.Shutdown(ctx)
			cancel()
		}
		if s.grpc != nil {
			s.grpc.Stop()
		}
		if s.gwGRPC != nil {
			s.gwGRPC.Stop()
		}
		if s.closeGW != nil {
			s.closeGW()
		}
		s.wg.Wait()
		if s.poller != nil {
			s.poller.Close()
		}
		if s.store != nil {
			if err := s.store.Close(); err != nil {
				s.log.Error("store: close", "err", err)
			}
		}
		if s.guard != nil {
			s.guard.Close()
		}
	})
}

// pageOwner is the team a finding's owners rule names, or "unowned".
func pageOwner(f *pb.Finding) string {
	switch o := f.GetOwner(); {
	case o == nil:
		return ""
	case !o.Owned:
		return "unowned"
	default:
		return o.Team
	}
}

// pagePlanURL is the REST address of a finding's drafted plan
// (GET /v1/findings/{id}/plan).
func pagePlanURL(f *pb.Finding) string { return "/v1/findings/" + url.PathEscape(f.Id) + "/plan" }
