package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// cmdFindings prints the findings of a running kwitness as a table.
func cmdFindings(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("findings", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:9470", "gRPC address of a running kwitness")
	st := fs.String("state", "", "firing or resolved (default both)")
	kind := fs.String("kind", "", "only this kind, e.g. LAG_GROWING")
	if err := fs.Parse(args); err != nil {
		return err
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("findings: connect %s: %w", *addr, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
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
