package mcp_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/api/mcp"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newClient serves a real api.Server over findings through the MCP tools
// with the given budget, and returns an initialized in-process client.
func newClient(t *testing.T, findings *state.Findings, budget int) *client.Client {
	t.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "test")
	if err != nil {
		t.Fatal(err)
	}
	cfg := mcp.DefaultConfig()
	cfg.MaxBytes = budget
	s, err := mcp.NewServer(api.NewServer(findings, w, detect.DefaultLagConfig()), cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.NewInProcessClient(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	var init mcpgo.InitializeRequest
	init.Params.ProtocolVersion = mcpgo.LATEST_PROTOCOL_VERSION
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return c
}

// bigFinding is a firing finding with n citations of about 300 bytes each.
func bigFinding(i, n int) detect.Finding {
	opened := t0.Add(time.Duration(i) * time.Second)
	f := detect.Finding{ID: fmt.Sprintf("f%03d", i), Fingerprint: fmt.Sprintf("fp%03d", i), Kind: detect.Kind("LAG_GROWING"),
		Severity: detect.SeverityWarning, State: detect.StateFiring, Summary: "lag grows",
		Subject:  detect.Subject{Cluster: "test", Group: "g", Topic: "t", Broker: -1},
		OpenedAt: opened, UpdatedAt: opened}
	for p := range n {
		f.Evidence = append(f.Evidence, detect.Citation{
			Series: detect.SeriesRef{Metric: "kafka_consumergroup_committed_offset", Labels: []detect.Label{
				{Name: "group", Value: "g"}, {Name: "partition", Value: fmt.Sprint(p)}, {Name: "topic", Value: "t"}}},
			From: opened.Add(-time.Minute), To: opened, First: 1, Last: 100, Min: 1, Max: 100, Count: 60,
			Note: "committed offset over the lag window"})
	}
	return f
}

func call(t *testing.T, c *client.Client, name string, args map[string]any) (text, note string) {
	t.Helper()
	var req mcpgo.CallToolRequest
	req.Params.Name, req.Params.Arguments = name, args
	res, err := c.CallTool(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.IsError {
		t.Fatalf("%s %v: %v", name, args, res.Content)
	}
	text = res.Content[0].(mcpgo.TextContent).Text
	if len(res.Content) > 1 {
		note = res.Content[1].(mcpgo.TextContent).Text
	}
	return text, note
}

// TestListFindingsBudget: a page larger than the budget is cut to the
// findings that fit, says so, and its page token continues right after
// them, so paging through collects every finding exactly once.
func TestListFindingsBudget(t *testing.T) {
	findings := state.NewFindings(time.Hour, 1000)
	var evs []detect.Event
	for i := range 40 {
		evs = append(evs, detect.Event{Type: detect.EventOpened, Finding: bigFinding(i, 5)})
	}
	findings.Apply(t0.Add(time.Hour), evs)
	const budget = 8 << 10
	c := newClient(t, findings, budget)
	seen := map[string]bool{}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 40 {
			t.Fatal("paging does not end")
		}
		text, note := call(t, c, "list_findings", map[string]any{"page_token": token, "view": "full"})
		if len(text)+len(note) > budget {
			t.Fatalf("answer of %d bytes over the %d budget", len(text)+len(note), budget)
		}
		var resp pb.ListFindingsResponse
		if err := protojson.Unmarshal([]byte(text), &resp); err != nil {
			t.Fatal(err)
		}
		if resp.NextPageToken != "" && !strings.HasPrefix(note, "cut: ") {
			t.Errorf("page of %d of 40 findings with no cut note", len(resp.Findings))
		}
		for _, f := range resp.Findings {
			if seen[f.Id] {
				t.Errorf("finding %s returned twice", f.Id)
			}
			seen[f.Id] = true
		}
		if token = resp.NextPageToken; token == "" {
			break
		}
	}
	if len(seen) != 40 {
		t.Errorf("paged through %d findings, want 40", len(seen))
	}
}

// TestListFindingsView: list_findings lists the basic view (no evidence,
// no facts) unless asked for the full one, and refuses an unknown view.
func TestListFindingsView(t *testing.T) {
	findings := state.NewFindings(time.Hour, 1000)
	findings.Apply(t0.Add(time.Hour), []detect.Event{{Type: detect.EventOpened, Finding: bigFinding(1, 2)}})
	c := newClient(t, findings, 32<<10)
	for _, tc := range []struct {
		view     string
		evidence bool
	}{{"", false}, {"basic", false}, {"full", true}, {"FULL", true}} {
		text, _ := call(t, c, "list_findings", map[string]any{"view": tc.view})
		var resp pb.ListFindingsResponse
		if err := protojson.Unmarshal([]byte(text), &resp); err != nil {
			t.Fatalf("view %q: %v", tc.view, err)
		}
		if len(resp.Findings) != 1 || (len(resp.Findings[0].Evidence) > 0) != tc.evidence {
			t.Errorf("view %q: %v, want evidence %v", tc.view, resp.Findings, tc.evidence)
		}
	}
	var req mcpgo.CallToolRequest
	req.Params.Name, req.Params.Arguments = "list_findings", map[string]any{"view": "summary"}
	res, err := c.CallTool(t.Context(), req)
	if err != nil || !res.IsError {
		t.Errorf("view summary: error %v, result %v; want a tool error", err, res)
	}
}

// TestGetFindingBudget: a finding whose evidence exceeds the budget keeps
// the citations that fit, in order, and says how many it left out.
func TestGetFindingBudget(t *testing.T) {
	findings := state.NewFindings(time.Hour, 1000)
	findings.Apply(t0.Add(time.Hour), []detect.Event{{Type: detect.EventOpened, Finding: bigFinding(1, 100)}})
	const budget = 6 << 10
	c := newClient(t, findings, budget)
	text, note := call(t, c, "get_finding", map[string]any{"id": "f001"})
	var resp pb.GetFindingResponse
	if err := protojson.Unmarshal([]byte(text), &resp); err != nil {
		t.Fatal(err)
	}
	k := len(resp.Finding.Evidence)
	if k == 0 || k == 100 || len(text)+len(note) > budget {
		t.Fatalf("%d of 100 citations in %d bytes (budget %d)", k, len(text)+len(note), budget)
	}
	if want := fmt.Sprintf("cut: %d of the finding's 100 citations", k); !strings.HasPrefix(note, want) {
		t.Errorf("note %q, want prefix %q", note, want)
	}
	for i, c := range resp.Finding.Evidence {
		if c.Series.Labels[1].Value != fmt.Sprint(i) {
			t.Fatalf("citation %d is %s: not the first ones in order", i, c.Series.Text)
		}
	}
	// Within the budget nothing is cut and nothing is said.
	big := newClient(t, findings, 1<<20)
	if text, note := call(t, big, "get_finding", map[string]any{"id": "f001"}); note != "" || strings.Count(text, "committed_offset{") != 100 {
		t.Errorf("unbudgeted answer cut: note %q", note)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := mcp.DefaultConfig().Validate(); err != nil {
		t.Errorf("defaults: %v", err)
	}
	if err := (mcp.Config{MaxBytes: 100}).Validate(); err == nil || !strings.Contains(err.Error(), "mcp.max_bytes") {
		t.Errorf("tiny budget: %v", err)
	}
}

func TestToolsReadOnly(t *testing.T) {
	c := newClient(t, state.NewFindings(time.Hour, 10), mcp.DefaultMaxBytes)
	tools, err := c.ListTools(context.Background(), mcpgo.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) == 0 {
		t.Fatal("no tools")
	}
	for _, tool := range tools.Tools {
		a := tool.Annotations
		if a.ReadOnlyHint == nil || !*a.ReadOnlyHint || a.DestructiveHint == nil || *a.DestructiveHint {
			t.Errorf("tool %s is not annotated read-only and non-destructive", tool.Name)
		}
	}
}
