package api

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/VictoriaMetrics/metrics"
	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/api/mcp"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

//go:embed openapi/kwitness.swagger.json
var openAPI []byte

// Readiness reports whether kwitness is ready and, if not, why.
type Readiness func() (ready bool, reason string)

// HTTPConfig wires the HTTP handler.
type HTTPConfig struct {
	GRPCAddr string // the gRPC target the gateway forwards to
	// Dial replaces the gateway's dial options (default: plaintext), e.g.
	// with a dialer of an in-process listener.
	Dial []grpc.DialOption
	// Guard, if set, makes the gateway forward the caller its middleware
	// authenticated; the gRPC server the gateway reaches must use
	// Guard.GatewayServerOptions, and the whole HTTP handler (with every
	// surface added to it) must be wrapped in Guard.Middleware.
	Guard   *auth.Guard
	Metrics []*metrics.Set // written on /metrics after the process metrics
	Ready   Readiness
	// Status, if set, is served as JSON on GET /v1/status: ingest health,
	// capabilities found unavailable, telemetry targets, store health.
	Status func() any
	// MCP, if set, serves the MCP tools (package api/mcp) on /mcp; they call
	// the gateway's gRPC connection as REST does, with the caller the
	// guard authenticated.
	MCP *mcp.Config
	// Version is the server version MCP clients are told.
	Version string
	// Pages, if set, serves the findings pages for people: GET /,
	// GET /findings/{id} and GET /static/ (api/web).
	Pages http.Handler
}

// NewHTTPHandler returns the HTTP API: REST (grpc-gateway, forwarding to the
// gRPC listener), /openapi.json, /metrics, /healthz, /readyz and, with
// cfg.MCP, the MCP endpoint /mcp, with cfg.Pages, the findings pages,
// guarded by cfg.Guard when set. The returned close function releases the
// gateway's connection.
func NewHTTPHandler(ctx context.Context, cfg HTTPConfig) (http.Handler, func() error, error) {
	dial := cfg.Dial
	if dial == nil {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	conn, err := grpc.NewClient(cfg.GRPCAddr, dial...)
	if err != nil {
		return nil, nil, fmt.Errorf("api: gateway connection to %s: %w", cfg.GRPCAddr, err)
	}
	var gwOpts []runtime.ServeMuxOption
	if cfg.Guard != nil {
		gwOpts = append(gwOpts, runtime.WithMetadata(cfg.Guard.GatewayMetadata))
	}
	gw := runtime.NewServeMux(gwOpts...)
	if err := pb.RegisterFindingsServiceHandler(ctx, gw, conn); err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("api: register gateway: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", gw)
	if cfg.MCP != nil {
		h, err := mcpHandler(conn, cfg)
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		mux.Handle("/mcp", h)
	}
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(openAPI)
	})
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		metrics.WriteProcessMetrics(w)
		for _, s := range cfg.Metrics {
			s.WritePrometheus(w)
		}
	})
	mux.HandleFunc("GET /v1/status", func(w http.ResponseWriter, _ *http.Request) {
		if cfg.Status == nil {
			http.Error(w, "no status", http.StatusNotFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.Encode(cfg.Status())
	})
	if cfg.Pages != nil {
		for _, p := range []string{"GET /{$}", "GET /findings/", "GET /static/"} {
			mux.Handle(p, cfg.Pages)
		}
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		ready, reason := cfg.Ready()
		w.Header().Set("Content-Type", "application/json")
		if !ready {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(map[string]any{"ready": ready, "reason": reason})
	})
	return mux, conn.Close, nil
}

// mcpHandler serves the MCP tools over conn, forwarding the caller as the
// gateway does.
func mcpHandler(conn *grpc.ClientConn, cfg HTTPConfig) (http.Handler, error) {
	var md func(context.Context) metadata.MD
	if cfg.Guard != nil {
		md = func(ctx context.Context) metadata.MD { return cfg.Guard.GatewayMetadata(ctx, nil) }
	}
	s, err := mcp.NewServer(mcp.FromClient(pb.NewFindingsServiceClient(conn), md), *cfg.MCP, cfg.Version)
	if err != nil {
		return nil, fmt.Errorf("api: %w", err)
	}
	return mcp.Handler(s), nil
}
