package api

import (
	"context"
	"fmt"
	"slices"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state/explain"
)

// Scoping of Explain and DraftPlan: the subject must be visible to the
// caller (else PermissionDenied, like GetGroupLag); inside a bundle, what
// the caller may not see is withheld and counted on the call's audit line:
// partition rows and assignments of topics outside the scope, findings
// outside it (ScopeFinding), timeline entries about them, citations of
// series outside it, and the narrative statements that rest on anything
// withheld. Page totals count what the caller sees on this page only when
// something was withheld from it.

// subjectVisible reports whether the caller of ctx may explain r's subject.
func subjectVisible(ctx context.Context, r explain.Request) bool {
	id := auth.FromContext(ctx)
	return id.VisibleSubject(r.Group, r.Topic, r.Broker)
}

// topicFilter is the Request.TopicVisible of the caller of ctx; nil for an
// admin.
func topicFilter(ctx context.Context) func(string) bool {
	id := auth.FromContext(ctx)
	if id.Admin() {
		return nil
	}
	return func(t string) bool { return id.Allows(auth.Topic, t) }
}

// scopeBundle withholds from b what the caller of ctx may not see.
func scopeBundle(ctx context.Context, b *explain.Bundle) {
	id := auth.FromContext(ctx)
	if id.Admin() {
		return
	}
	withheld := b.Withheld // the group's topics outside the scope (Request.TopicVisible)
	gone := map[string]bool{}
	if t := b.Broker; t != nil {
		t.TopicsLed = slices.DeleteFunc(slices.Clone(t.TopicsLed), func(s string) bool { return !id.Allows(auth.Topic, s) })
	}
	if t := b.Topic; t != nil {
		t.Groups = slices.DeleteFunc(slices.Clone(t.Groups), func(s string) bool { return !id.Allows(auth.Group, s) })
	}
	var kept []explain.Related
	for _, r := range b.Findings {
		f, ok := ScopeFinding(ctx, r.Finding)
		if !ok {
			gone[r.Finding.ID] = true
			withheld++
			continue
		}
		r.Finding = f
		kept = append(kept, r)
	}
	b.FindingsPage.Total -= len(b.Findings) - len(kept)
	b.Findings = kept
	var tl []explain.Entry
	for _, e := range b.Timeline {
		if e.FindingID != "" && gone[e.FindingID] {
			gone[e.ID] = true
			withheld++
			continue
		}
		cs, cut := scopeEntryCitations(id, e.Citations)
		if cut > 0 && len(cs) == 0 {
			gone[e.ID] = true // an entry whose every cited series is hidden is about a hidden subject
			withheld++
			continue
		}
		e.Citations = cs
		withheld += cut
		tl = append(tl, e)
	}
	b.TimelinePage.Total -= len(b.Timeline) - len(tl)
	b.Timeline = tl
	b.Narrative = slices.DeleteFunc(b.Narrative, func(st explain.Statement) bool {
		return slices.ContainsFunc(st.Refs, func(r string) bool { return gone[r] })
	})
	if withheld > 0 {
		auth.Withheld(ctx, withheld)
		b.Narrative = append(b.Narrative, explain.Statement{Text: fmt.Sprintf("%d entries outside this caller's scope were withheld.", withheld), Refs: []string{explain.RefState}})
	}
}

// scopeEntryCitations keeps the citations id may see; an API-answer
// citation (no series) is kept.
func scopeEntryCitations(id *auth.Identity, cs []detect.Citation) ([]detect.Citation, int) {
	var kept []detect.Citation
	cut := 0
	for _, c := range cs {
		if c.Series.Metric == "" || id.VisibleSeries(c.Series.Labels) {
			kept = append(kept, c)
		} else {
			cut++
		}
	}
	return kept, cut
}
