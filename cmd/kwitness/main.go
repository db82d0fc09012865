// Command kwitness watches Apache Kafka through its own telemetry and
// testifies with evidence. It never changes the cluster.
//
//	kwitness run --config kwitness.yaml   watch a cluster
//	kwitness demo [--for 2m]              watch an embedded 3-broker cluster with a scripted workload
//	kwitness findings [--addr host:port]  print current findings from a running kwitness
//	kwitness mcp [--server host:port]     serve MCP tools over stdio, calling a running kwitness
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `kwitness watches Kafka and explains what it sees, with evidence. It never writes to Kafka.

Usage:
  kwitness run --config kwitness.yaml [--brokers host:port,...] [--cluster name] [--grpc-listen addr] [--http-listen addr]
  kwitness demo [--for 2m] [--grpc-listen addr] [--http-listen addr]
  kwitness findings [--addr 127.0.0.1:9470] [--state firing|resolved] [--kind KIND] [--ca-file ca.pem] [--token-file f]
  kwitness mcp [--server 127.0.0.1:9470] [--max-bytes 32768] [--ca-file ca.pem] [--token-file f]   MCP over stdio (read-only tools)
`

func main() {
	if err := runMain(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "kwitness:", err)
		os.Exit(1)
	}
}

func runMain(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("a command is required")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "run":
		return cmdRun(ctx, args[1:], stderr)
	case "demo":
		return cmdDemo(ctx, args[1:], stdout, stderr)
	case "findings":
		return cmdFindings(ctx, args[1:], stdout)
	case "mcp":
		return cmdMCP(ctx, args[1:], os.Stdin, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", args[0])
}

// listenArgs are the API listener flags shared by run and demo.
type listenArgs struct {
	grpc, http *string
	insecure   *bool
}

// listenFlags adds the API listener flags to fs.
func listenFlags(fs *flag.FlagSet, cfg *APIConfig) *listenArgs {
	return &listenArgs{
		grpc:     fs.String("grpc-listen", "", "gRPC listen address (default "+cfg.GRPCListen+")"),
		http:     fs.String("http-listen", "", "HTTP listen address (default "+cfg.HTTPListen+")"),
		insecure: fs.Bool("insecure", false, "allow listening on a non-loopback address without TLS and authentication"),
	}
}

// apply sets the flags given on a and enforces the listener rule: a
// non-loopback address needs TLS and authentication, or --insecure.
func (l *listenArgs) apply(a *APIConfig) error {
	if *l.grpc != "" {
		a.GRPCListen = *l.grpc
	}
	if *l.http != "" {
		a.HTTPListen = *l.http
	}
	if *l.insecure {
		a.Insecure = true
	}
	return a.CheckListen("--insecure", a.GRPCListen, a.HTTPListen)
}

func cmdRun(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "path to kwitness.yaml (required)")
	brokers := fs.String("brokers", "", "comma-separated seed brokers; overrides kafka.brokers")
	cluster := fs.String("cluster", "", "cluster name; overrides kafka.cluster")
	dataDir := fs.String("data-dir", "", "store directory; overrides data_dir")
	def := DefaultConfig()
	listen := listenFlags(fs, &def.API)
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := def
	if *path != "" {
		var err error
		if cfg, err = LoadConfig(*path); err != nil {
			return err
		}
	} else if *brokers == "" {
		return errors.New("run: --config or --brokers is required")
	}
	if *brokers != "" {
		cfg.Kafka.Brokers = strings.Split(*brokers, ",")
	}
	if *cluster != "" {
		cfg.Kafka.Cluster = *cluster
	}
	if *dataDir != "" {
		cfg.DataDir = *dataDir
	}
	if err := listen.apply(&cfg.API); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("config %s: %w", *path, err)
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	setMemoryLimit(cfg.MemoryLimit, log)
	s, err := startSidecar(ctx, cfg, log, nil)
	if err != nil {
		return err
	}
	log.Info("kwitness running", "cluster", cfg.Kafka.Cluster, "brokers", cfg.Kafka.Brokers, "grpc", s.GRPCAddr, "http", s.HTTPAddr)
	<-ctx.Done()
	log.Info("kwitness stopping")
	s.Stop()
	return nil
}

// setMemoryLimit applies memory_limit as the Go runtime's soft memory limit,
// unless it is 0 or GOMEMLIMIT is set in the environment.
func setMemoryLimit(limit ByteSize, log *slog.Logger) {
	if env := os.Getenv("GOMEMLIMIT"); env != "" {
		if limit > 0 {
			log.Info("memory_limit ignored: GOMEMLIMIT is set", "GOMEMLIMIT", env)
		}
		return
	}
	if limit > 0 {
		debug.SetMemoryLimit(int64(limit))
	}
}
