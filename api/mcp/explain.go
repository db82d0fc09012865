package mcp

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

type explainArgs struct {
	Group     string `json:"group,omitempty" jsonschema:"consumer group to explain; give exactly one of group, topic, broker"`
	Topic     string `json:"topic,omitempty" jsonschema:"topic to explain"`
	Broker    *int32 `json:"broker,omitempty" jsonschema:"broker id to explain"`
	PageSize  int32  `json:"page_size,omitempty" jsonschema:"entries per list, 1 to 500; default 20"`
	PageToken string `json:"page_token,omitempty" jsonschema:"a next_page_token of one list of an earlier answer: continues that list only"`
}

type draftPlanArgs struct {
	ID string `json:"id" jsonschema:"finding id"`
}

// explainAttempts bounds how often explain asks the server for a smaller
// answer when its JSON comes out over the budget.
const explainAttempts = 6

// minExplainBytes is the smallest max_bytes the server accepts.
const minExplainBytes = 1 << 10

func (t *tools) explain(ctx context.Context, _ mcp.CallToolRequest, a explainArgs) (*mcp.CallToolResult, error) {
	req := &pb.ExplainRequest{PageSize: a.PageSize, PageToken: a.PageToken}
	n := 0
	if a.Group != "" {
		req.Subject, n = &pb.ExplainRequest_Group{Group: a.Group}, n+1
	}
	if a.Topic != "" {
		req.Subject, n = &pb.ExplainRequest_Topic{Topic: a.Topic}, n+1
	}
	if a.Broker != nil {
		req.Subject, n = &pb.ExplainRequest_Broker{Broker: *a.Broker}, n+1
	}
	if n != 1 && a.PageToken == "" {
		return mcp.NewToolResultError("give exactly one of group, topic or broker"), nil
	}
	// The server keeps its answer within max_bytes and says what it cut
	// (budget.notes); its estimate is close to this rendering, not exact,
	// so ask again for less until the rendering fits.
	ask := t.budget
	for range explainAttempts {
		req.MaxBytes = int32(ask)
		resp, err := t.b.Explain(ctx, req)
		if err != nil {
			return toolError(err), nil
		}
		text, err := marshal(resp)
		if err != nil {
			return nil, err
		}
		if len(text) <= t.budget {
			return mcp.NewToolResultText(text), nil
		}
		if ask == minExplainBytes {
			break
		}
		ask = nextAsk(ask, int(resp.GetBudget().GetBytes()), len(text), t.budget)
	}
	return nil, errTooBig
}

// nextAsk is the max_bytes to ask for after an answer the server measured
// at served bytes (budget.bytes; 0: not said) came out at rendered bytes,
// over budget: the answer the server fits to it renders within the budget,
// a sixteenth to spare, while the server's measure and this rendering keep
// their ratio — whether the server had cut its answer or not. At last it
// is the least the server accepts.
func nextAsk(ask, served, rendered, budget int) int {
	if served <= 0 {
		served = ask
	}
	next := min(ask, served) * budget / rendered * 15 / 16
	return max(minExplainBytes, min(next, ask-1))
}

func (t *tools) draftPlan(ctx context.Context, _ mcp.CallToolRequest, a draftPlanArgs) (*mcp.CallToolResult, error) {
	resp, err := t.b.DraftPlan(ctx, &pb.DraftPlanRequest{Id: a.ID})
	if err != nil {
		return toolError(err), nil
	}
	all := resp.Proposals
	n := len(all)
	render := func(k int) (string, error) {
		resp.Proposals = all[:k]
		defer func() { resp.Proposals = all }()
		return marshal(resp)
	}
	dropped := ""
	note := func(k int) string {
		var says []string
		if k < n {
			says = append(says, fmt.Sprintf("%d of the plan's %d proposals shown to stay within %d bytes; "+
				"GET /v1/findings/%s/plan has them all", k, n, t.budget, a.ID))
		}
		return cutNote(append(says, dropped)...)
	}
	r, k, err := fit(t.budget, n, render, note)
	// Not even one proposal fits beside the finding: without the finding's
	// evidence (get_finding has it), it may.
	if err == nil && (k > 0 || n == 0) || resp.Finding == nil || len(resp.Finding.Evidence) == 0 {
		return r, err
	}
	resp.Finding.Evidence, dropped = nil, "the finding's evidence is left out (get_finding has it)"
	r, _, err = fit(t.budget, n, render, note)
	return r, err
}
