package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	"github.com/kwitness/kwitness/api"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

func TestExplainGroup(t *testing.T) {
	fx := newFixture(t)
	fx.seed()
	fillWindow(t, fx.window)
	resp, err := fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "g1"}})
	if err != nil {
		t.Fatal(err)
	}
	if o := resp.Owner; !o.Owned || o.Team != "orders-team" || o.Rule != "group g1" {
		t.Errorf("owner = %v", o)
	}
	if g := resp.Group; g == nil || g.State != "Stable" || g.Generation != 7 || len(g.Partitions) != 3 || g.Partitions[0].Partition != 0 || g.TotalLag != 390 {
		t.Fatalf("group = %v", g)
	}
	var rel []string
	for _, f := range resp.Findings {
		rel = append(rel, f.Id+" "+f.Relation)
		if f.Id == "b" && f.RunbookUrl != "https://runbooks.example/stalled" {
			t.Errorf("finding b runbook = %q", f.RunbookUrl)
		}
	}
	// Firing on the group newest first; a (orders) and g are the group's, b is the group's too (payments).
	if want := []string{"a subject", "b subject", "g subject"}; !slices.Equal(rel, want) {
		t.Errorf("findings = %q, want %q", rel, want)
	}
	if b := resp.Budget; b == nil || b.MaxBytes != api.DefaultExplainBytes || b.Cut || b.Bytes <= 0 || b.Bytes > b.MaxBytes {
		t.Errorf("budget = %v", b)
	}
	if len(resp.Narrative) == 0 || !strings.HasPrefix(resp.Narrative[0].Text, "Group g1 is Stable with 2 members (generation 7)") {
		t.Errorf("narrative = %v", resp.Narrative)
	}
}

func TestExplainBudgetCutsAndContinues(t *testing.T) {
	fx := newFixture(t)
	fx.seed()
	fillWindow(t, fx.window)
	full, err := fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "g1"}})
	if err != nil {
		t.Fatal(err)
	}
	// A budget 300 bytes short of the whole answer: the partitions' tail goes.
	req := &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "g1"}, MaxBytes: full.Budget.Bytes - 300}
	resp, err := fx.client.Explain(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	b := resp.Budget
	if !b.Cut || len(b.Notes) == 0 || b.Bytes > b.MaxBytes {
		t.Fatalf("budget = %v", b)
	}
	page := resp.Group.PartitionsPage
	if n := len(resp.Group.Partitions); n == 0 || n == 3 || page.NextPageToken == "" || !strings.HasPrefix(b.Notes[0], "partitions: ") {
		t.Fatalf("partitions not cut: %d kept, page %v, notes %q", len(resp.Group.Partitions), page, b.Notes)
	}
	got := []int32{}
	for _, p := range resp.Group.Partitions {
		got = append(got, p.Partition)
	}
	for tok := page.NextPageToken; tok != ""; {
		next, err := fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: req.Subject, PageToken: tok, MaxBytes: req.MaxBytes})
		if err != nil {
			t.Fatal(err)
		}
		if len(next.Narrative) != 0 || len(next.Timeline) != 0 {
			t.Error("a continuation repeats other lists")
		}
		for _, p := range next.Group.Partitions {
			got = append(got, p.Partition)
		}
		tok = next.Group.PartitionsPage.NextPageToken
	}
	if want := []int32{0, 1, 2}; !slices.Equal(got, want) {
		t.Errorf("partitions over the pages = %v, want %v", got, want)
	}

	tiny, err := fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: req.Subject, MaxBytes: api.MinExplainBytes})
	if err != nil {
		t.Fatal(err)
	}
	if n := tiny.Budget.Notes; !tiny.Budget.Cut || len(tiny.Narrative) == 0 || !strings.Contains(n[len(n)-1], "raise max_bytes") {
		t.Errorf("an impossible budget: %v", tiny.Budget)
	}
	_, err = fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "g2"}, PageToken: page.NextPageToken})
	wantCode(t, err, codes.InvalidArgument, "page_token: issued for another subject")
	_, err = fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: req.Subject, PageToken: "!!"})
	wantCode(t, err, codes.InvalidArgument, "page_token: not a token this server issued")
	_, err = fx.client.Explain(t.Context(), &pb.ExplainRequest{})
	wantCode(t, err, codes.InvalidArgument, "subject: one of group, topic, broker is required")
	_, err = fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: req.Subject, MaxBytes: 10})
	wantCode(t, err, codes.InvalidArgument, "max_bytes 10: want 1024..1048576")
	_, err = fx.client.Explain(t.Context(), &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "nope"}})
	wantCode(t, err, codes.NotFound, `group "nope": kwitness knows nothing of it`)
}

func TestDraftPlan(t *testing.T) {
	fx := newFixture(t)
	fx.seed()
	fillWindow(t, fx.window)
	// Finding a: LAG_GROWING on g1/orders, 2 members, 3 partitions.
	resp, err := fx.client.DraftPlan(t.Context(), &pb.DraftPlanRequest{Id: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.Header, "never applies it") || resp.Finding.Id != "a" || resp.Finding.Owner.Team != "orders-team" {
		t.Errorf("header %q finding %v", resp.Header, resp.Finding)
	}
	if len(resp.Proposals) == 0 {
		t.Fatalf("no proposal: notes %q", resp.Notes)
	}
	for _, p := range resp.Proposals {
		if p.Approver.Team != "orders-team" || p.RollbackNote == "" && len(p.Rollback) == 0 {
			t.Errorf("proposal %q: approver %v, no rollback", p.Action, p.Approver)
		}
	}
	_, err = fx.client.DraftPlan(t.Context(), &pb.DraftPlanRequest{Id: "zz"})
	wantCode(t, err, codes.NotFound, `finding "zz": not found`)
}

func TestHTTPExplainAndPlan(t *testing.T) {
	hf := newHTTPFixture(t)
	var resp pb.ExplainResponse
	hf.getProto(t, "/v1/groups/g1:explain?page_size=1", &resp)
	if resp.Subject.Group != "g1" || len(resp.Group.Partitions) != 1 || resp.Group.PartitionsPage.NextPageToken == "" {
		t.Errorf("GET /v1/groups/g1:explain = %v", resp.Group)
	}
	var next pb.ExplainResponse
	hf.getProto(t, "/v1/groups/g1:explain?page_size=1&page_token="+resp.Group.PartitionsPage.NextPageToken, &next)
	if len(next.Group.Partitions) != 1 || next.Group.Partitions[0].Partition == resp.Group.Partitions[0].Partition {
		t.Errorf("continuation = %v", next.Group.Partitions)
	}
	var plan pb.DraftPlanResponse
	hf.getProto(t, "/v1/findings/a/plan", &plan)
	if plan.Finding.Id != "a" || len(plan.Proposals) == 0 {
		t.Errorf("GET /v1/findings/a/plan = %v", &plan)
	}
	var topic pb.ExplainResponse
	hf.getProto(t, "/v1/topics/orders:explain", &topic)
	if ts := topic.Topic; topic.Subject.Topic != "orders" || ts == nil || ts.PartitionCount != 3 || !slices.Equal(ts.ConsumerGroups, []string{"g1", "g2"}) ||
		len(topic.Narrative) == 0 || topic.Budget.Bytes > topic.Budget.MaxBytes {
		t.Errorf("GET /v1/topics/orders:explain = %v", &topic)
	}
	// Without Metadata or telemetry kwitness knows no broker.
	if code, _, body := hf.get(t, "/v1/brokers/1:explain"); code != http.StatusNotFound || !strings.Contains(string(body), "broker 1: kwitness knows nothing of it") {
		t.Errorf("GET /v1/brokers/1:explain = %d %s", code, body)
	}
	if code, _, body := hf.get(t, "/v1/brokers/x:explain"); code != http.StatusBadRequest {
		t.Errorf("GET /v1/brokers/x:explain = %d %s", code, body)
	}
	var list pb.ListFindingsResponse
	hf.getProto(t, "/v1/findings?group=g2", &list)
	for _, f := range list.Findings {
		if f.Owner.Owned || f.Owner.Note != `unowned: no owners rule matches group "g2"` {
			t.Errorf("finding %s owner = %v", f.Id, f.Owner)
		}
	}
}
