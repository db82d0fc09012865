package api

import (
	"context"
	"fmt"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
)

// WithheldFact names the fact a scoped finding carries when citations of
// series outside the caller's scope were cut from its evidence.
const WithheldFact = "withheld_citations"

// ScopeFinding returns f as the caller of ctx may see it: ok is false when
// its subject is outside the caller's scope; otherwise citations of series
// outside the scope are cut and a WithheldFact says how many. f is not
// modified. Every surface that returns findings (list, get, watch, explain,
// MCP) goes through it.
func ScopeFinding(ctx context.Context, f detect.Finding) (detect.Finding, bool) {
	id := auth.FromContext(ctx)
	if id.Admin() {
		return f, true
	}
	if !visibleFinding(id, &f) {
		return f, false
	}
	kept, cut := ScopeCitations(ctx, f.Evidence)
	if cut == 0 {
		return f, true
	}
	f.Evidence = kept
	f.Facts = append(append([]detect.Fact(nil), f.Facts...), detect.Fact{Name: WithheldFact, Value: float64(cut), Unit: "citations",
		Text: fmt.Sprintf("%d citation(s) of series outside this caller's scope were withheld", cut)})
	return f, true
}

// ScopeCitations returns the citations the caller of ctx may see and how
// many were cut; the cut count is added to the call's audit line.
func ScopeCitations(ctx context.Context, cs []detect.Citation) (kept []detect.Citation, cut int) {
	id := auth.FromContext(ctx)
	if id.Admin() {
		return cs, 0
	}
	for _, c := range cs {
		if id.VisibleSeries(c.Series.Labels) {
			kept = append(kept, c)
		} else {
			cut++
		}
	}
	auth.Withheld(ctx, cut)
	return kept, cut
}

func visibleFinding(id *auth.Identity, f *detect.Finding) bool {
	return id.VisibleSubject(f.Subject.Group, f.Subject.Topic, f.Subject.Broker)
}

// scopeAllow returns the filter predicate of the caller's scope; nil for an
// admin (or with auth off).
func scopeAllow(ctx context.Context) func(*detect.Finding) bool {
	id := auth.FromContext(ctx)
	if id.Admin() {
		return nil
	}
	return func(f *detect.Finding) bool { return visibleFinding(id, f) }
}

// errOutOfScope is the error of a named subject the caller may not see.
func errOutOfScope(ctx context.Context, what string) error {
	return status.Errorf(codes.PermissionDenied, "%s: outside the scopes of %q", what, auth.FromContext(ctx).Name)
}
