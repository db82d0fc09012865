package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/kwitness/kwitness/api/mcp"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// version is what kwitness reports of itself, e.g. to MCP clients.
const version = "0.1.0"

// cmdMCP serves the MCP tools over stdin and stdout, calling a running
// kwitness over gRPC, for assistants that launch tools as processes. It
// writes nothing but protocol messages to stdout.
func cmdMCP(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcp", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("server", "127.0.0.1:9470", "gRPC address (host:port) of a running kwitness")
	cfg := mcp.DefaultConfig()
	fs.IntVar(&cfg.MaxBytes, "max-bytes", cfg.MaxBytes, "byte budget of one tool answer")
	caFile := fs.String("ca-file", "", "speak TLS, trusting this PEM CA (\"system\": the system roots)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (or set KWITNESS_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, err := clientCreds(*caFile)
	if err != nil {
		return err
	}
	tctx, err := withToken(context.Background(), *tokenFile)
	if err != nil {
		return err
	}
	var md func(context.Context) metadata.MD
	if tok, ok := metadata.FromOutgoingContext(tctx); ok {
		md = func(context.Context) metadata.MD { return tok }
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("mcp: connect %s: %w", *addr, err)
	}
	defer conn.Close()
	s, err := mcp.NewServer(mcp.FromClient(pb.NewFindingsServiceClient(conn), md), cfg, version)
	if err != nil {
		return fmt.Errorf("mcp: %w", err)
	}
	return mcp.ServeStdio(ctx, s, stdin, stdout)
}
