package explain

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// Narratives are built only from the bundle's own entries: each statement
// names the entries (timeline ids, finding ids, RefState, RefOwner) its
// facts come from.

// maxNarrativeFindings caps the findings each narrative names.
const maxNarrativeFindings = 3

func groupNarrative(b *Bundle, gs *GroupState, timeline []Entry, related []Related, cfg detect.LagConfig) []Statement {
	var out []Statement
	state := fmt.Sprintf("Group %s is %s with %d members (generation %d), consuming %s; total lag %d messages",
		b.Subject.Group, orUnknown(gs.State), gs.MemberCount, gs.Generation, strings.Join(gs.Topics, ", "), gs.TotalLag)
	if gs.MaxTimeLag > 0 {
		state += fmt.Sprintf(", the oldest unread record about %s old", secs(gs.MaxTimeLag))
	}
	out = append(out, Statement{Text: state + ".", Refs: []string{RefState}})
	for _, on := range timeline {
		if on.Kind == EntryLagOnset {
			out = append(out, onsetStatement(on, timeline, cfg))
		}
	}
	out = append(out, findingStatements(b.Subject, related)...)
	return append(out, ownerStatement(b.Owner))
}

// onsetStatement says when lag began and which deploy or membership change
// preceded it within the deploy window (or followed within the slack).
func onsetStatement(on Entry, timeline []Entry, cfg detect.LagConfig) Statement {
	st := Statement{Refs: []string{on.ID}}
	var causes []string
	for _, kind := range []string{EntryDeploy, EntryMembershipChange} {
		var hit *Entry
		for i := range timeline {
			en := &timeline[i]
			d := on.At.Sub(en.At)
			if en.Kind == kind && d >= -cfg.DeploySlack && d <= cfg.DeployWindow {
				hit = en
			}
		}
		if hit == nil {
			continue
		}
		d := on.At.Sub(hit.At)
		rel := secs(d.Seconds()) + " after"
		if d < 0 {
			rel = "around"
		}
		causes = append(causes, fmt.Sprintf("%s the %s", rel, hit.Text))
		st.Refs = append(st.Refs, hit.ID)
	}
	text := strings.ToUpper(on.Text[:1]) + on.Text[1:]
	at := on.At.UTC().Format(time.RFC3339)
	if len(causes) == 0 {
		st.Text = fmt.Sprintf("%s; it began at %s with no deploy or membership change seen in the %s before it.", text, at, cfg.DeployWindow)
		return st
	}
	st.Text = fmt.Sprintf("%s; it began at %s, %s.", text, at, strings.Join(causes, " and "))
	return st
}

// findingStatements name the firing findings on the subject, then on what
// it depends on, or say there are none.
func findingStatements(s detect.Subject, related []Related) []Statement {
	var out []Statement
	n, own := 0, 0
	for _, r := range related {
		if r.Finding.State != detect.StateFiring {
			continue
		}
		mine := r.Relation == RelationSubject
		if mine && own == maxNarrativeFindings || !mine && n-own == maxNarrativeFindings {
			continue
		}
		n++
		if mine {
			own++
		}
		text := fmt.Sprintf("Firing %s: %s", r.Finding.Kind, r.Finding.Summary)
		switch {
		case r.Dependent:
			text = fmt.Sprintf("On %s, %s is firing: %s", r.Relation, r.Finding.Kind, r.Finding.Summary)
		case !mine:
			text = fmt.Sprintf("It depends on %s, where %s is firing: %s", r.Relation, r.Finding.Kind, r.Finding.Summary)
		}
		out = append(out, Statement{Text: text, Refs: []string{r.Finding.ID}})
	}
	if n == 0 {
		out = append(out, Statement{Text: fmt.Sprintf("No finding is firing on %s or on what it depends on.", subjectText(s)), Refs: []string{RefState}})
	}
	return out
}

func ownerStatement(o detect.Owner) Statement {
	if !o.Owned {
		return Statement{Text: strings.ToUpper(o.Note[:1]) + o.Note[1:] + ".", Refs: []string{RefOwner}}
	}
	text := "Owned by " + o.String()
	if o.Escalation != "" {
		text += "; escalation " + o.Escalation
	}
	return Statement{Text: text + ".", Refs: []string{RefOwner}}
}

func subjectText(s detect.Subject) string {
	switch {
	case s.Group != "":
		return "group " + s.Group
	case s.Topic != "":
		return "topic " + s.Topic
	}
	return fmt.Sprintf("broker %d", s.Broker)
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// secs renders seconds compactly: "42s", "3m5s", "2h0m".
func secs(s float64) string {
	if math.IsNaN(s) || math.IsInf(s, 0) {
		return "unknown"
	}
	return time.Duration(math.Round(s) * float64(time.Second)).String()
}
