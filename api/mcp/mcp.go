// Package mcp serves kwitness's findings to assistants over the Model Context
// Protocol (github.com/mark3labs/mcp-go).
//
// Every tool is read-only and annotated so (readOnlyHint true,
// destructiveHint false); there are no write tools. Each tool calls one
// method of the kwitness.v1.FindingsService through Backend — on /mcp the
// REST gateway's gRPC connection (so the guard's scopes and audit apply as
// for REST), for `kwitness mcp --server` over stdio a gRPC client of a
// running kwitness; the same tools either way.
//
// Every answer is JSON of the gRPC response (protojson, proto field names)
// within a byte budget (Config.MaxBytes, default 32 KiB). When a list had to
// be cut to fit, the answer says what was left out and how to ask for the
// rest; a cut answer is still valid JSON.
package mcp

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// Backend is the part of FindingsService the tools call. *api.Server
// satisfies it; FromClient adapts a gRPC client.
type Backend interface {
	ListFindings(context.Context, *pb.ListFindingsRequest) (*pb.ListFindingsResponse, error)
	GetFinding(context.Context, *pb.GetFindingRequest) (*pb.GetFindingResponse, error)
	GetGroupLag(context.Context, *pb.GetGroupLagRequest) (*pb.GetGroupLagResponse, error)
	QuerySeries(context.Context, *pb.QuerySeriesRequest) (*pb.QuerySeriesResponse, error)
	Explain(context.Context, *pb.ExplainRequest) (*pb.ExplainResponse, error)
	DraftPlan(context.Context, *pb.DraftPlanRequest) (*pb.DraftPlanResponse, error)
}

// FromClient returns a Backend that calls kwitness over gRPC. md, if set,
// gives the metadata sent with each call (e.g. the caller an HTTP
// middleware authenticated, for the server's scopes); it reads the tool
// call's context.
func FromClient(c pb.FindingsServiceClient, md func(context.Context) metadata.MD) Backend {
	return clientBackend{c, md}
}

type clientBackend struct {
	c  pb.FindingsServiceClient
	md func(context.Context) metadata.MD
}

func (b clientBackend) out(ctx context.Context) context.Context {
	if b.md == nil {
		return ctx
	}
	return metadata.NewOutgoingContext(ctx, b.md(ctx))
}

func (b clientBackend) ListFindings(ctx context.Context, r *pb.ListFindingsRequest) (*pb.ListFindingsResponse, error) {
	return b.c.ListFindings(b.out(ctx), r)
}

func (b clientBackend) GetFinding(ctx context.Context, r *pb.GetFindingRequest) (*pb.GetFindingResponse, error) {
	return b.c.GetFinding(b.out(ctx), r)
}

func (b clientBackend) GetGroupLag(ctx context.Context, r *pb.GetGroupLagRequest) (*pb.GetGroupLagResponse, error) {
	return b.c.GetGroupLag(b.out(ctx), r)
}

func (b clientBackend) QuerySeries(ctx context.Context, r *pb.QuerySeriesRequest) (*pb.QuerySeriesResponse, error) {
	return b.c.QuerySeries(b.out(ctx), r)
}

func (b clientBackend) Explain(ctx context.Context, r *pb.ExplainRequest) (*pb.ExplainResponse, error) {
	return b.c.Explain(b.out(ctx), r)
}

func (b clientBackend) DraftPlan(ctx context.Context, r *pb.DraftPlanRequest) (*pb.DraftPlanResponse, error) {
	return b.c.DraftPlan(b.out(ctx), r)
}

var _ Backend = clientBackend{}

// DefaultMaxBytes is the default byte budget of one tool answer: 32 KiB,
// a modest share of an assistant's context.
const DefaultMaxBytes = 32 << 10

// MinMaxBytes is the smallest budget accepted: room for one finding with a
// few citations and the note saying what was cut.
const MinMaxBytes = 4 << 10

// MaxRequestBytes bounds one HTTP request body on /mcp.
const MaxRequestBytes = 1 << 20

// Config configures the MCP server. Start from DefaultConfig.
type Config struct {
	// MaxBytes is the budget of one tool answer's text, in bytes.
	MaxBytes int `yaml:"max_bytes"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config { return Config{MaxBytes: DefaultMaxBytes} }

// Validate reports an invalid field by its YAML key.
func (c Config) Validate() error {
	if c.MaxBytes < MinMaxBytes {
		return fmt.Errorf("mcp.max_bytes: must be ≥ %d, got %d", MinMaxBytes, c.MaxBytes)
	}
	return nil
}

// NewServer returns an MCP server whose tools call b. version is reported
// to clients as the server version.
func NewServer(b Backend, cfg Config, version string) (*server.MCPServer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	s := server.NewMCPServer("kwitness", version,
		server.WithToolCapabilities(false),
		server.WithRecovery(),
		server.WithInstructions(instructions),
	)
	t := &tools{b: b, budget: cfg.MaxBytes}
	for _, tool := range t.all() {
		s.AddTool(tool.Tool, tool.Handler)
	}
	return s, nil
}

const instructions = `kwitness watches a Kafka cluster through its own telemetry and reports findings with evidence.
It never changes the cluster and none of these tools writes anything.
Start with list_findings, or explain for "why is group X behind?"; get_finding shows one finding's evidence;
every citation's series.text, from and to can be passed to query_series to see the raw samples behind it;
group_lag shows one consumer group's lag table; draft_plan drafts change proposals with rollback for a person
to review and run through their own tooling — kwitness never applies them.`

// Handler returns the streamable HTTP transport of s. It serves any path it
// is mounted on (the HTTP listener mounts it at /mcp); it keeps no sessions,
// so every request stands alone and nothing needs closing. The request's
// context reaches each tool call, so a middleware wrapped around the handler
// can authenticate and scope requests.
func Handler(s *server.MCPServer) http.Handler {
	h := server.NewStreamableHTTPServer(s, server.WithStateLess(true))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, MaxRequestBytes)
		}
		h.ServeHTTP(w, r)
	})
}

// ServeStdio serves s over in and out (newline-delimited JSON-RPC) until
// ctx is cancelled or in ends.
func ServeStdio(ctx context.Context, s *server.MCPServer, in io.Reader, out io.Writer) error {
	err := server.NewStdioServer(s).Listen(ctx, in, out)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return fmt.Errorf("mcp: stdio: %w", err)
}

// toolError turns a gRPC error into a tool result the assistant can read;
// the call itself succeeds.
func toolError(err error) *mcp.CallToolResult {
	if st, ok := status.FromError(err); ok {
		return mcp.NewToolResultError(fmt.Sprintf("%s: %s", st.Code(), st.Message()))
	}
	return mcp.NewToolResultError(err.Error())
}
