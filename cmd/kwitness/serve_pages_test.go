package main

import (
	"testing"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// TestPageOwnerAndPlan: the findings pages show the owners rule's team,
// "unowned" when no rule matched, and link each finding's plan by its
// escaped id.
func TestPageOwnerAndPlan(t *testing.T) {
	for _, c := range []struct {
		f    *pb.Finding
		want string
	}{
		{&pb.Finding{Id: "a"}, ""},
		{&pb.Finding{Id: "a", Owner: &pb.Owner{Note: "no rule matches group x"}}, "unowned"},
		{&pb.Finding{Id: "a", Owner: &pb.Owner{Owned: true, Team: "payments"}}, "payments"},
	} {
		if got := pageOwner(c.f); got != c.want {
			t.Errorf("pageOwner(%v) = %q, want %q", c.f.Owner, got, c.want)
		}
	}
	if got, want := pagePlanURL(&pb.Finding{Id: "lag/fraud check"}), "/v1/findings/lag%2Ffraud%20check/plan"; got != want {
		t.Errorf("pagePlanURL = %q, want %q", got, want)
	}
}
