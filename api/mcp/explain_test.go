package mcp_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/api/mcp"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/explain"
)

// explainRig is a real api.Server with an Explainer over a window holding
// group g on topic t (parts partitions, every one lagging further each
// sweep) and findings.
func explainRig(t *testing.T, findings *state.Findings, parts int) *api.Server {
	t.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "test")
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	topo := w.BuildTopology([]state.GroupTopicSpec{{Group: "g", Topic: "t", Partitions: ps}})
	owners := map[string]map[int32]string{"t": {}}
	for _, p := range ps {
		owners["t"][p] = "consumer-1@10.0.0.1"
	}
	for i := range 60 {
		s := w.Begin(t0.Add(time.Duration(i) * time.Second))
		if i == 0 {
			s.SetTopology(topo)
			s.SetGroups(map[string]detect.GroupContext{"g": {Known: true, State: "Stable", Members: 1, Generation: 3, Owners: owners}})
		}
		for j, p := range topo.GroupTopics[0].Parts {
			end := int64(1000*i + j)
			s.Set(p.Series[detect.ColCommitted], int64(500*i))
			s.Set(p.Series[detect.ColEnd], end)
			s.Set(p.Series[detect.ColStart], 0)
		}
		w.Commit(s)
	}
	o, err := detect.NewOwners(detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "team-g", Contact: "#g", Groups: []string{"g"}, Topics: []string{"t"}}}})
	if err != nil {
		t.Fatal(err)
	}
	lag := detect.DefaultLagConfig()
	ex, err := explain.New(explain.Sources{Window: w, Findings: findings, Owners: o, Lag: lag})
	if err != nil {
		t.Fatal(err)
	}
	return api.NewServer(findings, w, lag).WithExplainer(ex, "k1:9092")
}

// mcpClient serves srv through the MCP tools with budget bytes per answer.
func mcpClient(t *testing.T, srv mcp.Backend, budget int) *client.Client {
	t.Helper()
	cfg := mcp.DefaultConfig()
	cfg.MaxBytes = budget
	s, err := mcp.NewServer(srv, cfg, "test")
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

// terse is a kwitness measuring its answers at half the tool's rendering:
// it fills twice the max_bytes asked (capped at api.MaxExplainBytes) and
// reports half the bytes.
type terse struct{ *api.Server }

func (g terse) Explain(ctx context.Context, req *pb.ExplainRequest) (*pb.ExplainResponse, error) {
	r := proto.Clone(req).(*pb.ExplainRequest)
	r.MaxBytes = min(2*r.MaxBytes, api.MaxExplainBytes)
	resp, err := g.Server.Explain(ctx, r)
	if err == nil {
		resp.Budget.MaxBytes, resp.Budget.Bytes = resp.Budget.MaxBytes/2, resp.Budget.Bytes/2
	}
	return resp, err
}

// TestExplainAsksAgain: when the server's answer renders over the tool's
// budget, the tool asks for less until its own rendering fits, and the
// answer's cut lists continue through their page tokens.
func TestExplainAsksAgain(t *testing.T) {
	const budget = 6 << 10
	srv := terse{explainRig(t, state.NewFindings(time.Hour, 10), 200)}
	req := &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "g"}, PageSize: 200, MaxBytes: budget}
	first, err := srv.Explain(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(first)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Budget.Cut || len(rendered) <= budget {
		t.Fatalf("the fixture does not force a second ask: the server's answer (cut %v) renders in %d bytes, budget %d", first.Budget.Cut, len(rendered), budget)
	}
	// 200 rows cannot fit 12 KiB even empty: the page ends at the most that
	// could (no row is judged in vain), and says so.
	if n := first.Budget.Notes; len(first.Group.Partitions) >= 200 || !strings.HasPrefix(n[0], "partitions: the page holds at most ") {
		t.Errorf("first answer: %d rows, notes %q", len(first.Group.Partitions), n)
	}

	c := mcpClient(t, srv, budget)
	text, note := call(t, c, "explain", map[string]any{"group": "g", "page_size": 200})
	if len(text)+len(note) > budget {
		t.Fatalf("answer of %d bytes over the %d budget", len(text)+len(note), budget)
	}
	var resp pb.ExplainResponse
	if err := protojson.Unmarshal([]byte(text), &resp); err != nil {
		t.Fatal(err)
	}
	if resp.Budget.MaxBytes >= budget || !resp.Budget.Cut || len(resp.Budget.Notes) == 0 {
		t.Errorf("budget = %v: the tool did not ask for less than %d", resp.Budget, budget)
	}
	n := len(resp.Group.Partitions)
	if n == 0 || n >= len(first.Group.Partitions) || resp.Group.PartitionsPage.NextPageToken == "" || len(resp.Narrative) == 0 {
		t.Fatalf("%d partitions (first ask %d), page %v, %d statements", n, len(first.Group.Partitions), resp.Group.PartitionsPage, len(resp.Narrative))
	}
	// Following the tokens through the tool collects every partition once.
	seen := map[int32]bool{}
	for _, p := range resp.Group.Partitions {
		seen[p.Partition] = true
	}
	for tok, pages := resp.Group.PartitionsPage.NextPageToken, 0; tok != ""; pages++ {
		if pages > 200 {
			t.Fatal("paging does not end")
		}
		text, note := call(t, c, "explain", map[string]any{"group": "g", "page_size": 200, "page_token": tok})
		if len(text)+len(note) > budget {
			t.Fatalf("continuation of %d bytes over the %d budget", len(text)+len(note), budget)
		}
		var next pb.ExplainResponse
		if err := protojson.Unmarshal([]byte(text), &next); err != nil {
			t.Fatal(err)
		}
		for _, p := range next.Group.Partitions {
			if seen[p.Partition] {
				t.Fatalf("partition %d returned twice", p.Partition)
			}
			seen[p.Partition] = true
		}
		tok = next.Group.PartitionsPage.NextPageToken
	}
	if len(seen) != 200 {
		t.Errorf("paged through %d partitions, want 200", len(seen))
	}
}

// TestDraftPlanDropsEvidence: when not even one proposal fits beside the
// finding with its evidence, draft_plan leaves the evidence out (get_finding
// has it), keeps the proposals that then fit, and says so.
func TestDraftPlanDropsEvidence(t *testing.T) {
	const budget = 12 << 10
	findings := state.NewFindings(time.Hour, 10)
	f := bigFinding(1, 60) // LAG_GROWING on g/t with 60 citations, ≈ 18 KiB
	findings.Apply(t0.Add(time.Minute), []detect.Event{{Type: detect.EventOpened, Finding: f}})
	srv := explainRig(t, findings, 8)
	full, err := srv.DraftPlan(t.Context(), &pb.DraftPlanRequest{Id: f.ID})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Proposals) == 0 {
		t.Fatalf("no proposal to keep: notes %q", full.Notes)
	}
	c := mcpClient(t, srv, budget)
	text, note := call(t, c, "draft_plan", map[string]any{"id": f.ID})
	if len(text)+len(note) > budget {
		t.Fatalf("answer of %d bytes over the %d budget", len(text)+len(note), budget)
	}
	var resp pb.DraftPlanResponse
	if err := protojson.Unmarshal([]byte(text), &resp); err != nil {
		t.Fatal(err)
	}
	if len(resp.Finding.Evidence) != 0 || len(resp.Proposals) == 0 || resp.Finding.Id != f.ID {
		t.Fatalf("%d citations, %d of %d proposals", len(resp.Finding.Evidence), len(resp.Proposals), len(full.Proposals))
	}
	if !strings.Contains(note, "the finding's evidence is left out (get_finding has it)") {
		t.Errorf("note %q does not say the evidence was left out", note)
	}
	if len(resp.Proposals) < len(full.Proposals) && !strings.Contains(note, "proposals shown") {
		t.Errorf("note %q does not say proposals were cut", note)
	}
	// With room for everything nothing is left out.
	text, note = call(t, mcpClient(t, srv, 1<<20), "draft_plan", map[string]any{"id": f.ID})
	resp.Reset()
	if err := protojson.Unmarshal([]byte(text), &resp); err != nil {
		t.Fatal(err)
	}
	if note != "" || len(resp.Finding.Evidence) != 60 || len(resp.Proposals) != len(full.Proposals) {
		t.Errorf("unbudgeted plan cut: note %q, %d citations", note, len(resp.Finding.Evidence))
	}
}
