package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// cmdFindings prints the findings of a running kwitness as a table.
func cmdFindings(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("findings", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9470", "gRPC address of a running kwitness")
	st := fs.String("state", "", "firing or resolved (default both)")
	kind := fs.String("kind", "", "only this kind, e.g. LAG_GROWING")
	caFile := fs.String("ca-file", "", "speak TLS, trusting this PEM CA (\"system\": the system roots)")
	tokenFile := fs.String("token-file", "", "file holding the bearer token (or set KWITNESS_TOKEN)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, err := clientCreds(*caFile)
	if err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		return fmt.Errorf("findings: connect %s: %w", *addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if ctx, err = withToken(ctx, *tokenFile); err != nil {
		return err
	}
	client := pb.NewFindingsServiceClient(conn)
	var all []*pb.Finding
	req := &pb.ListFindingsRequest{State: *st, Kind: *kind, PageSize: 1000}
	for {
		resp, err := client.ListFindings(ctx, req)
		if err != nil {
			return fmt.Errorf("findings: ListFindings at %s: %w", *addr, err)
		}
		all = append(all, resp.Findings...)
		if resp.NextPageToken == "" {
			break
		}
		req.PageToken = resp.NextPageToken
	}
	printFindings(stdout, all)
	return nil
}

// clientCreds is plaintext without a CA file, else TLS trusting it.
func clientCreds(caFile string) (credentials.TransportCredentials, error) {
	switch caFile {
	case "":
		return insecure.NewCredentials(), nil
	case "system":
		return credentials.NewTLS(&tls.Config{MinVersion: tls.VersionTLS12}), nil
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("findings: --ca-file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("findings: --ca-file %s: no PEM certificate in it", caFile)
	}
	return credentials.NewTLS(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}), nil
}

// withToken adds the bearer token from file (or KWITNESS_TOKEN) to ctx's
// outgoing metadata; the token never appears on the command line.
func withToken(ctx context.Context, file string) (context.Context, error) {
	tok := os.Getenv("KWITNESS_TOKEN")
	if file != "" {
		raw, err := os.ReadFile(file)
		if err != nil {
			return ctx, fmt.Errorf("findings: --token-file: %w", err)
		}
		tok = strings.TrimSpace(string(raw))
	}
	if tok == "" {
		return ctx, nil
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok), nil
}

func printFindings(w io.Writer, fs []*pb.Finding) {
	if len(fs) == 0 {
		fmt.Fprintln(w, "no findings")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STATE\tSEVERITY\tKIND\tSUBJECT\tOPENED\tID\tSUMMARY")
	for _, f := range fs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			enumName(f.State.String(), "FINDING_STATE_"), enumName(f.Severity.String(), "SEVERITY_"),
			f.Kind, subjectText(f.Subject), f.OpenedAt.AsTime().Local().Format(time.TimeOnly), f.Id, f.Summary)
	}
	tw.Flush()
}

func enumName(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }

func subjectText(s *pb.Subject) string {
	var parts []string
	if s.Group != "" {
		parts = append(parts, "group="+s.Group)
	}
	if s.Topic != "" {
		parts = append(parts, "topic="+s.Topic)
	}
	if s.Broker >= 0 {
		parts = append(parts, fmt.Sprintf("broker=%d", s.Broker))
	}
	return strings.Join(parts, " ")
}
