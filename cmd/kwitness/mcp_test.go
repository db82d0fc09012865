package main

import (
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// mcpGroupFindings are demo findings about a group whose evidence cites
// offset series.
var mcpGroupFindings = []string{"LAG_GROWING fraud-check", "CONSUMER_STALLED audit", "CONSUMER_STALLED fraud-check",
	"LAG_GROWING indexer", "CONSUMER_STALLED etl"}

// mcpTools are the tools kwitness serves over MCP, every one read-only.
var mcpTools = []string{"draft_plan", "explain", "get_finding", "group_lag", "list_findings", "query_series"}

// TestMCPDemo runs the demo until a group finding opens, then
// drives the MCP tools with the mcp-go client over both transports —
// streamable HTTP at /mcp and `kwitness mcp --server` over stdio — checks
// every tool is annotated read-only, calls each, and follows the citations
// of the finding's evidence and of the explain timeline of its group
// through query_series to their raw samples.
func TestMCPDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	opened := newOpenedLog()
	wl, s := runDemo(ctx, t, nil, opened.notify)
	// Any group finding will do; which opens first depends on the load.
	for deadline := wl.start.Add(200 * time.Second); ; time.Sleep(500 * time.Millisecond) {
		got := opened.snapshot()
		if slices.ContainsFunc(mcpGroupFindings, func(k string) bool { _, ok := got[k]; return ok }) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no group finding after %s; opened: %v", time.Since(wl.start).Round(time.Second), slices.Sorted(maps.Keys(got)))
		}
	}

	t.Run("http", func(t *testing.T) {
		c, err := client.NewStreamableHttpClient("http://" + s.HTTPAddr + "/mcp")
		if err != nil {
			t.Fatal(err)
		}
		checkMCPClient(ctx, t, c)
	})
	t.Run("stdio", func(t *testing.T) {
		checkMCPClient(ctx, t, stdioClient(ctx, t, s.GRPCAddr))
	})
}

// stdioClient runs `kwitness mcp --server addr` on pipes and returns a
// client speaking to it; the command ends with the test.
func stdioClient(ctx context.Context, t *testing.T, addr string) *client.Client {
	t.Helper()
	inR, inW := io.Pipe()   // client → command's stdin
	outR, outW := io.Pipe() // command's stdout → client
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		err := cmdMCP(ctx, []string{"--server", addr}, inR, outW, io.Discard)
		outW.Close()
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		inW.Close()
		if err := <-done; err != nil {
			t.Errorf("kwitness mcp: %v", err)
		}
	})
	return client.NewClient(transport.NewIO(outR, inW, io.NopCloser(strings.NewReader(""))))
}

func checkMCPClient(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "kwitness-test", Version: "1"}
	if _, err := c.Initialize(ctx, init); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	checkToolsReadOnly(ctx, t, c)

	f0 := findGroupFinding(ctx, t, c)
	var got pb.GetFindingResponse
	callTool(ctx, t, c, "get_finding", map[string]any{"id": f0.Id}, &got)
	f := got.Finding
	if f.GetId() != f0.Id || len(f.Evidence) == 0 {
		t.Fatalf("get_finding %s: %v", f0.Id, f)
	}
	var lag pb.GetGroupLagResponse
	group := f.Subject.GetGroup()
	callTool(ctx, t, c, "group_lag", map[string]any{"group": group}, &lag)
	if len(lag.Partitions) == 0 || lag.Group != group {
		t.Errorf("group_lag %s: group %q, %d partitions", group, lag.Group, len(lag.Partitions))
	}
	for _, cit := range f.Evidence {
		var series pb.QuerySeriesResponse
		callTool(ctx, t, c, "query_series", map[string]any{"series": cit.Series.Text,
			"from": cit.From.AsTime().Format(time.RFC3339Nano), "to": cit.To.AsTime().Format(time.RFC3339Nano)}, &series)
		compareCitation(t, f, cit, &series)
	}

	var b pb.ExplainResponse
	callTool(ctx, t, c, "explain", map[string]any{"group": group}, &b)
	resolved := 0
	for _, e := range b.Timeline {
		for _, cit := range e.Citations {
			if cit.Series == nil {
				continue // an API call, e.g. a reported deploy
			}
			var series pb.QuerySeriesResponse
			callTool(ctx, t, c, "query_series", map[string]any{"series": cit.Series.Text,
				"from": cit.From.AsTime().Format(time.RFC3339Nano), "to": cit.To.AsTime().Format(time.RFC3339Nano)}, &series)
			compareCitation(t, f, cit, &series)
			resolved++
		}
	}
	if resolved == 0 {
		t.Errorf("explain %s: no timeline citation of a series to follow: %v", group, b.Timeline)
	}
	// The topic the finding is about, and the broker leading its first partition.
	if topic := f.Subject.GetTopic(); topic != "" {
		var tb pb.ExplainResponse
		callTool(ctx, t, c, "explain", map[string]any{"topic": topic}, &tb)
		if tb.Topic == nil || len(tb.Topic.Partitions) == 0 || len(tb.Narrative) == 0 {
			t.Fatalf("explain topic %s: %v", topic, &tb)
		}
		var bb pb.ExplainResponse
		callTool(ctx, t, c, "explain", map[string]any{"broker": tb.Topic.Partitions[0].Leader}, &bb)
		if bb.Broker == nil || !bb.Broker.Registered || len(bb.Narrative) == 0 {
			t.Fatalf("explain broker %d: %v", tb.Topic.Partitions[0].Leader, &bb)
		}
		t.Logf("explain topic %s: %s", topic, tb.Narrative[0].Text)
	} else {
		t.Errorf("finding %s names no topic to explain", f.Id)
	}
	var plan pb.DraftPlanResponse
	callTool(ctx, t, c, "draft_plan", map[string]any{"id": f.Id}, &plan)
	if !strings.Contains(plan.Header, "never applies") || plan.Finding.GetId() != f.Id {
		t.Errorf("draft_plan %s: header %q, finding %v", f.Id, plan.Header, plan.Finding.GetId())
	}

	res, err := c.CallTool(ctx, toolCall("get_finding", map[string]any{"id": "no-such-finding"}))
	if err != nil || !res.IsError || !strings.Contains(toolText(res), "NotFound") {
		t.Errorf("get_finding of an unknown id: err %v, result %+v", err, res)
	}
}

// findGroupFinding pages through the firing findings with list_findings
// (a page may be cut to the byte budget; its token continues after what
// it holds; findings come in the basic view, without evidence and facts)
// until one of mcpGroupFindings.
func findGroupFinding(ctx context.Context, t *testing.T, c *client.Client) *pb.Finding {
	t.Helper()
	token, seen := "", 0
	for range 100 {
		var list pb.ListFindingsResponse
		note := callToolCut(ctx, t, c, "list_findings", map[string]any{"state": "firing", "page_token": token}, &list)
		if note != "" && !strings.HasPrefix(note, "cut: ") {
			t.Fatalf("list_findings: second text %q is not a cut note", note)
		}
		for _, f := range list.Findings {
			if len(f.Evidence) > 0 || len(f.Facts) > 0 {
				t.Fatalf("list_findings lists %s with evidence or facts: the default view is basic", f.Id)
			}
			if slices.Contains(mcpGroupFindings, f.Kind+" "+f.Subject.GetGroup()) {
				return f
			}
		}
		seen += len(list.Findings)
		if token = list.NextPageToken; token == "" {
			break
		}
	}
	t.Fatalf("list_findings: none of %v among %d firing findings", mcpGroupFindings, seen)
	return nil
}

// checkToolsReadOnly lists the tools and checks each is one of mcpTools,
// annotated read-only and not destructive, with an object input schema.
func checkToolsReadOnly(ctx context.Context, t *testing.T, c *client.Client) {
	t.Helper()
	tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatalf("list tools: %v", err)
	}
	var names []string
	for _, tool := range tools.Tools {
		names = append(names, tool.Name)
		a := tool.Annotations
		if a.ReadOnlyHint == nil || !*a.ReadOnlyHint || a.DestructiveHint == nil || *a.DestructiveHint {
			t.Errorf("tool %s: readOnlyHint %v, destructiveHint %v; want true, false", tool.Name, deref(a.ReadOnlyHint), deref(a.DestructiveHint))
		}
		if tool.InputSchema.Type != "object" || tool.Description == "" {
			t.Errorf("tool %s: input schema type %q, description %q", tool.Name, tool.InputSchema.Type, tool.Description)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, mcpTools) {
		t.Errorf("tools %v, want exactly %v", names, mcpTools)
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}

func toolCall(name string, args map[string]any) mcp.CallToolRequest {
	var req mcp.CallToolRequest
	req.Params.Name, req.Params.Arguments = name, args
	return req
}

// toolText is the answer's first text (the JSON), then the cut note if any.
func toolText(res *mcp.CallToolResult) string {
	var out []string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			out = append(out, tc.Text)
		}
	}
	return strings.Join(out, "\n")
}

// callTool calls a tool and decodes its JSON answer into into; the answer
// must not be an error and must not have been cut.
func callTool(ctx context.Context, t *testing.T, c *client.Client, name string, args map[string]any, into proto.Message) {
	t.Helper()
	if note := callToolCut(ctx, t, c, name, args, into); note != "" {
		t.Fatalf("%s %v: cut: %s", name, args, note)
	}
}

// callToolCut is callTool for an answer that may be cut: it returns the
// note saying what was cut, if any.
func callToolCut(ctx context.Context, t *testing.T, c *client.Client, name string, args map[string]any, into proto.Message) string {
	t.Helper()
	res, err := c.CallTool(ctx, toolCall(name, args))
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	if res.IsError || len(res.Content) == 0 || len(res.Content) > 2 {
		t.Fatalf("%s %v: %s", name, args, toolText(res))
	}
	if err := protojson.Unmarshal([]byte(res.Content[0].(mcp.TextContent).Text), into); err != nil {
		t.Fatalf("%s %v: answer is not a %T: %v", name, args, into, err)
	}
	if len(res.Content) == 2 {
		return res.Content[1].(mcp.TextContent).Text
	}
	return ""
}
