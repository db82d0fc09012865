package api_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/proto"

	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// withEvidence is f with one citation and one fact.
func withEvidence(f detect.Finding, last float64) detect.Finding {
	f.Evidence = []detect.Citation{{Series: detect.SeriesRef{Metric: "kafka_consumergroup_committed_offset",
		Labels: []detect.Label{{Name: "group", Value: f.Subject.Group}}}, From: f.OpenedAt.Add(-time.Minute), To: f.OpenedAt,
		First: 1, Last: last, Count: 60, Source: detect.Source{API: "OffsetFetch", SweepAt: f.OpenedAt}}}
	f.Facts = []detect.Fact{{Name: "total_lag", Value: last, Unit: "messages"}}
	return f
}

// TestFindingView: BASIC is FULL without evidence and facts, in lists and
// in GetFinding; unset is FULL; an unknown view is refused.
func TestFindingView(t *testing.T) {
	fx := newFixture(t)
	a := withEvidence(finding("a", detect.KindConsumerStalled, detect.SeverityWarning, "g1", "orders", -1, 2), 10)
	b := withEvidence(finding("b", detect.KindLagGrowing, detect.SeverityWarning, "g2", "audit", -1, 1), 20)
	fx.findings.Apply(t0.Add(3*time.Minute), opened(a, b))
	list := func(view pb.FindingView) []*pb.Finding {
		t.Helper()
		resp, err := fx.client.ListFindings(t.Context(), &pb.ListFindingsRequest{View: view})
		if err != nil {
			t.Fatal(err)
		}
		if resp.TotalSize != 2 || len(resp.Findings) != 2 {
			t.Fatalf("view %v: %d of %d findings", view, len(resp.Findings), resp.TotalSize)
		}
		return resp.Findings
	}
	full, unset, basic := list(pb.FindingView_FINDING_VIEW_FULL), list(pb.FindingView_FINDING_VIEW_UNSPECIFIED), list(pb.FindingView_FINDING_VIEW_BASIC)
	for i := range full {
		if len(full[i].Evidence) != 1 || len(full[i].Facts) != 1 || full[i].Owner == nil {
			t.Fatalf("FULL %s: %d citations, %d facts, owner %v", full[i].Id, len(full[i].Evidence), len(full[i].Facts), full[i].Owner)
		}
		if !proto.Equal(full[i], unset[i]) {
			t.Errorf("unset view differs from FULL:\n%v\n%v", unset[i], full[i])
		}
		want := proto.Clone(full[i]).(*pb.Finding)
		want.Evidence, want.Facts = nil, nil
		if !proto.Equal(basic[i], want) {
			t.Errorf("BASIC is not FULL without evidence and facts:\n%v\n%v", basic[i], want)
		}
	}
	got, err := fx.client.GetFinding(t.Context(), &pb.GetFindingRequest{Id: "a", View: pb.FindingView_FINDING_VIEW_BASIC})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Finding, basic[0]) {
		t.Errorf("GetFinding BASIC = %v, want %v", got.Finding, basic[0])
	}
	if got, err = fx.client.GetFinding(t.Context(), &pb.GetFindingRequest{Id: "a"}); err != nil || !proto.Equal(got.Finding, full[0]) {
		t.Errorf("GetFinding = %v, %v; want %v", got.GetFinding(), err, full[0])
	}
	_, err = fx.client.ListFindings(t.Context(), &pb.ListFindingsRequest{View: 7})
	wantCode(t, err, codes.InvalidArgument, "view")
	_, err = fx.client.GetFinding(t.Context(), &pb.GetFindingRequest{Id: "a", View: 7})
	wantCode(t, err, codes.InvalidArgument, "view")
}

// TestListFindingsUpdated: a listed finding that changes is listed as it is
// now in both views, never as it was when first converted.
func TestListFindingsUpdated(t *testing.T) {
	fx := newFixture(t)
	a := withEvidence(finding("a", detect.KindConsumerStalled, detect.SeverityWarning, "g1", "orders", -1, 2), 10)
	fx.findings.Apply(t0.Add(3*time.Minute), opened(a))
	for _, view := range []pb.FindingView{pb.FindingView_FINDING_VIEW_BASIC, pb.FindingView_FINDING_VIEW_FULL} {
		if _, err := fx.client.ListFindings(t.Context(), &pb.ListFindingsRequest{View: view}); err != nil {
			t.Fatal(err)
		}
	}
	u := withEvidence(a, 30)
	u.Severity, u.Summary, u.UpdatedAt = detect.SeverityCritical, "worse", t0.Add(4*time.Minute)
	fx.findings.Apply(t0.Add(4*time.Minute), []detect.Event{{Type: detect.EventUpdated, Finding: u}})
	for _, view := range []pb.FindingView{pb.FindingView_FINDING_VIEW_BASIC, pb.FindingView_FINDING_VIEW_FULL} {
		resp, err := fx.client.ListFindings(t.Context(), &pb.ListFindingsRequest{View: view})
		if err != nil {
			t.Fatal(err)
		}
		f := resp.Findings[0]
		if f.Summary != "worse" || f.Severity != pb.Severity_SEVERITY_CRITICAL || !f.UpdatedAt.AsTime().Equal(u.UpdatedAt) {
			t.Errorf("view %v lists the finding as it was: %v", view, f)
		}
		if view == pb.FindingView_FINDING_VIEW_FULL && (f.Evidence[0].Last != 30 || f.Facts[0].Value != 30) {
			t.Errorf("FULL lists old evidence or facts: %v", f)
		}
	}
}
