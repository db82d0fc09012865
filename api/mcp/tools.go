package mcp

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// tools holds what every tool handler needs.
type tools struct {
	b      Backend
	budget int // byte budget of one answer
}

// readOnly is the annotation every kwitness tool carries: it reads
// kwitness's own findings and history, changes nothing, and may be repeated.
func readOnly(title string) mcp.ToolOption {
	f, t := false, true
	return mcp.WithToolAnnotation(mcp.ToolAnnotation{
		Title:           title,
		ReadOnlyHint:    &t,
		DestructiveHint: &f,
		IdempotentHint:  &t,
		OpenWorldHint:   &f,
	})
}

func (t *tools) all() []server.ServerTool {
	return []server.ServerTool{
		{Tool: mcp.NewTool("list_findings",
			mcp.WithDescription("List kwitness findings (problems seen in the Kafka cluster, each with cited evidence), newest opened first, without their evidence and facts unless view is full (get_finding has them). "+
				"Filters are optional and combine. Pages: pass next_page_token back as page_token."),
			mcp.WithInputSchema[listFindingsArgs](), readOnly("List findings")),
			Handler: mcp.NewTypedToolHandler(t.listFindings)},
		{Tool: mcp.NewTool("get_finding",
			mcp.WithDescription("Get one finding by id with all its evidence: each citation names a stored series (series.text), "+
				"a window (from, to), its numbers and the Kafka API or scrape the samples came from."),
			mcp.WithInputSchema[getFindingArgs](), readOnly("Get a finding")),
			Handler: mcp.NewTypedToolHandler(t.getFinding)},
		{Tool: mcp.NewTool("group_lag",
			mcp.WithDescription("Current per-partition lag table of one consumer group: committed and end offsets, lag, "+
				"time lag, rates, status and the citations behind each status."),
			mcp.WithInputSchema[groupLagArgs](), readOnly("Consumer group lag")),
			Handler: mcp.NewTypedToolHandler(t.groupLag)},
		{Tool: mcp.NewTool("query_series",
			mcp.WithDescription("Raw samples (or per-minute rollups) of one stored series over a window. "+
				"Pass a citation's series.text, from and to to see exactly the samples it summarises; gaps are marked gap=true."),
			mcp.WithInputSchema[querySeriesArgs](), readOnly("Query a series")),
			Handler: mcp.NewTypedToolHandler(t.querySeries)},
		{Tool: mcp.NewTool("explain",
			mcp.WithDescription("Explain one consumer group, topic or broker: its state now, a timeline of what changed around it "+
				"(deploys, rebalances, lag onset, leader, partition and config changes, findings opened and resolved), the findings on it "+
				"and on what it depends on, its owner, and a short narrative whose every statement refers to cited entries. "+
				"Lists are paged (ListPage.next_page_token → page_token); budget.notes say what was cut."),
			mcp.WithInputSchema[explainArgs](), readOnly("Explain a subject")),
			Handler: mcp.NewTypedToolHandler(t.explain)},
		{Tool: mcp.NewTool("draft_plan",
			mcp.WithDescription("Draft change proposals for a finding — the exact commands or JSON a person runs through their own "+
				"tooling, filled with the cluster's values, with rollback, preconditions, risks and who must approve. "+
				"kwitness never applies a plan; this tool changes nothing."),
			mcp.WithInputSchema[draftPlanArgs](), readOnly("Draft a change plan")),
			Handler: mcp.NewTypedToolHandler(t.draftPlan)},
	}
}

type listFindingsArgs struct {
	State     string `json:"state,omitempty" jsonschema:"firing or resolved; empty matches both,enum=firing,enum=resolved"`
	Kind      string `json:"kind,omitempty" jsonschema:"finding kind, e.g. LAG_GROWING, CONSUMER_STALLED, DISK_FILL_FORECAST"`
	Severity  string `json:"severity,omitempty" jsonschema:"minimum severity,enum=info,enum=warning,enum=critical"`
	Group     string `json:"group,omitempty" jsonschema:"consumer group the finding is about"`
	Topic     string `json:"topic,omitempty" jsonschema:"topic the finding is about"`
	Broker    *int32 `json:"broker,omitempty" jsonschema:"broker id the finding is about"`
	PageSize  int32  `json:"page_size,omitempty" jsonschema:"findings per page, 1 to 1000; default 100"`
	PageToken string `json:"page_token,omitempty" jsonschema:"next_page_token of the previous page"`
	View      string `json:"view,omitempty" jsonschema:"basic (default): without evidence and facts, so more findings fit — get_finding has them; or full,enum=basic,enum=full"`
}

type getFindingArgs struct {
	ID string `json:"id" jsonschema:"finding id, as list_findings returns it"`
}

type groupLagArgs struct {
	Group string `json:"group" jsonschema:"consumer group name"`
}

type querySeriesArgs struct {
	Series     string `json:"series" jsonschema:"series in Prometheus notation exactly as a citation's series.text"`
	From       string `json:"from,omitempty" jsonschema:"window start, RFC 3339 (a citation's from); default: the server's default window"`
	To         string `json:"to,omitempty" jsonschema:"window end, RFC 3339 (a citation's to); default now"`
	Resolution string `json:"resolution,omitempty" jsonschema:"raw (every stored sample, default) or minute (per-minute rollups),enum=raw,enum=minute"`
}

func (t *tools) listFindings(ctx context.Context, _ mcp.CallToolRequest, a listFindingsArgs) (*mcp.CallToolResult, error) {
	req := &pb.ListFindingsRequest{State: a.State, Kind: a.Kind, Severity: a.Severity, Group: a.Group,
		Topic: a.Topic, Broker: a.Broker, PageSize: a.PageSize, PageToken: a.PageToken}
	switch {
	case a.View == "" || strings.EqualFold(a.View, "basic"):
		req.View = pb.FindingView_FINDING_VIEW_BASIC
	case strings.EqualFold(a.View, "full"):
		req.View = pb.FindingView_FINDING_VIEW_FULL
	default:
		return mcp.NewToolResultError(fmt.Sprintf("view %q: want basic or full", a.View)), nil
	}
	resp, err := t.b.ListFindings(ctx, req)
	if err != nil {
		return toolError(err), nil
	}
	r, k, err := fitFindings(t.budget, resp, "")
	if err != nil || k == len(resp.Findings) || k == 0 {
		return r, err
	}
	// Ask again for exactly the findings that fit, so the page token the
	// server issues continues right after them.
	req.PageSize = int32(k)
	if resp, err = t.b.ListFindings(ctx, req); err != nil {
		return toolError(err), nil
	}
	r, _, err = fitFindings(t.budget, resp, fmt.Sprintf("page_size lowered to %d to stay within %d bytes; "+
		"next_page_token continues after these findings", k, t.budget))
	return r, err
}

// fitFindings renders the most findings of resp that fit budget bytes and
// returns how many it kept; said, if set, is always said. When not even
// one fits, the first is shown with its evidence cut and k is 0.
func fitFindings(budget int, resp *pb.ListFindingsResponse, said string) (*mcp.CallToolResult, int, error) {
	all := resp.Findings
	n := len(all)
	render := func(k int) (string, error) {
		resp.Findings = all[:k]
		defer func() { resp.Findings = all }()
		return marshal(resp)
	}
	note := func(k int) string {
		var says []string
		if k < n {
			says = append(says, fmt.Sprintf("%d of the %d findings of this page shown to stay within %d bytes; "+
				"narrow the filters, lower page_size, or use get_finding for one finding's full evidence", k, n, budget))
		}
		return cutNote(append(says, said)...)
	}
	r, k, err := fit(budget, n, render, note)
	if err != nil || k > 0 || n == 0 {
		return r, k, err
	}
	first := &pb.ListFindingsResponse{TotalSize: resp.TotalSize}
	r, err = fitFinding(budget, all[0], func(f *pb.Finding) proto.Message {
		first.Findings = []*pb.Finding{f}
		return first
	}, fmt.Sprintf("only the first of the %d findings of this page is shown; ask again with page_size=1 to page through them", n))
	return r, 0, err
}

func (t *tools) getFinding(ctx context.Context, _ mcp.CallToolRequest, a getFindingArgs) (*mcp.CallToolResult, error) {
	resp, err := t.b.GetFinding(ctx, &pb.GetFindingRequest{Id: a.ID})
	if err != nil {
		return toolError(err), nil
	}
	return fitFinding(t.budget, resp.Finding, func(f *pb.Finding) proto.Message { return &pb.GetFindingResponse{Finding: f} }, "")
}

// fitFinding renders wrap(f) with as many of f's citations as fit budget
// bytes; extra, if set, is always said.
func fitFinding(budget int, f *pb.Finding, wrap func(*pb.Finding) proto.Message, extra string) (*mcp.CallToolResult, error) {
	all := f.Evidence
	n := len(all)
	render := func(k int) (string, error) {
		f.Evidence = all[:k]
		defer func() { f.Evidence = all }()
		return marshal(wrap(f))
	}
	note := func(k int) string {
		var says []string
		if k < n {
			says = append(says, fmt.Sprintf("%d of the finding's %d citations shown to stay within %d bytes", k, n, budget))
		}
		return cutNote(append(says, extra)...)
	}
	r, _, err := fit(budget, n, render, note)
	return r, err
}

func (t *tools) groupLag(ctx context.Context, _ mcp.CallToolRequest, a groupLagArgs) (*mcp.CallToolResult, error) {
	resp, err := t.b.GetGroupLag(ctx, &pb.GetGroupLagRequest{Group: a.Group})
	if err != nil {
		return toolError(err), nil
	}
	all := resp.Partitions
	n := len(all)
	render := func(k int) (string, error) {
		resp.Partitions = all[:k]
		defer func() { resp.Partitions = all }()
		return marshal(resp)
	}
	if text, err := render(n); err != nil || len(text) <= t.budget {
		return mcp.NewToolResultText(text), err
	}
	sortByLag(all)
	note := whenCut(n, func(k int) string {
		return fmt.Sprintf("cut: %d of the group's %d partitions shown (largest lag first) to stay within %d bytes; "+
			"total_lag counts all of them", k, n, t.budget)
	})
	r, _, err := fit(t.budget, n, render, note)
	return r, err
}

func (t *tools) querySeries(ctx context.Context, _ mcp.CallToolRequest, a querySeriesArgs) (*mcp.CallToolResult, error) {
	req := &pb.QuerySeriesRequest{Series: a.Series}
	var err error
	if req.From, err = parseTime("from", a.From); err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	if req.To, err = parseTime("to", a.To); err != nil {
		return mcp.NewToolResultError(err.Error()), nil
	}
	switch strings.ToLower(a.Resolution) {
	case "", "raw":
		req.Resolution = pb.Resolution_RESOLUTION_RAW
	case "minute":
		req.Resolution = pb.Resolution_RESOLUTION_MINUTE
	default:
		return mcp.NewToolResultError(fmt.Sprintf("resolution %q: want raw or minute", a.Resolution)), nil
	}
	resp, err := t.b.QuerySeries(ctx, req)
	if err != nil {
		return toolError(err), nil
	}
	return fitSeries(t.budget, resp)
}

// fitSeries renders the first samples (or minutes) of resp that fit budget
// bytes; the note names the time to continue from.
func fitSeries(budget int, resp *pb.QuerySeriesResponse) (*mcp.CallToolResult, error) {
	samples, minutes := resp.Samples, resp.Minutes
	n := max(len(samples), len(minutes))
	render := func(k int) (string, error) {
		resp.Samples, resp.Minutes = samples[:min(k, len(samples))], minutes[:min(k, len(minutes))]
		defer func() { resp.Samples, resp.Minutes = samples, minutes }()
		return marshal(resp)
	}
	note := whenCut(n, func(k int) string {
		var next *timestamppb.Timestamp
		if k < len(samples) {
			next = samples[k].Time
		} else if k < len(minutes) {
			next = minutes[k].Time
		}
		return fmt.Sprintf("cut: the first %d of %d samples shown to stay within %d bytes; ask again with from=%s for the rest",
			k, n, budget, next.AsTime().Format(time.RFC3339Nano))
	})
	r, _, err := fit(budget, n, render, note)
	return r, err
}

func parseTime(name, s string) (*timestamppb.Timestamp, error) {
	if s == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)", name, s)
	}
	return timestamppb.New(t), nil
}
