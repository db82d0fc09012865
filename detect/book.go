package detect

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// BookConfig sets the hysteresis of the finding lifecycle.
type BookConfig struct {
	// OpenAfter: a condition must be seen continuously this long before its
	// finding opens. Default 5s.
	OpenAfter time.Duration `yaml:"open_after"`
	// ResolveAfter: a firing finding resolves only after its subject was
	// judged OK continuously this long. Gaps neither count nor reset. Default 30s.
	ResolveAfter time.Duration `yaml:"resolve_after"`
	// UpdateEvery: a firing finding emits an Updated event at most this often
	// unless its severity or partitions change. Default 30s.
	UpdateEvery time.Duration `yaml:"update_every"`
}

// DefaultBookConfig returns the defaults documented on BookConfig.
func DefaultBookConfig() BookConfig {
	return BookConfig{OpenAfter: 5 * time.Second, ResolveAfter: 30 * time.Second, UpdateEvery: 30 * time.Second}
}

// Validate reports invalid fields by YAML key.
func (c BookConfig) Validate() error {
	var errs []error
	if c.OpenAfter < 0 {
		errs = append(errs, fmt.Errorf("findings.open_after: must be ≥ 0, got %s", c.OpenAfter))
	}
	if c.ResolveAfter < 0 {
		errs = append(errs, fmt.Errorf("findings.resolve_after: must be ≥ 0, got %s", c.ResolveAfter))
	}
	if c.UpdateEvery <= 0 {
		errs = append(errs, fmt.Errorf("findings.update_every: must be > 0, got %s", c.UpdateEvery))
	}
	return errors.Join(errs...)
}

// Book turns each sweep's candidates into finding lifecycle events. It holds
// pending and firing findings; resolved ones leave the book with their
// Resolved event. Not safe for concurrent use: one goroutine owns it.
type Book struct {
	cfg     BookConfig
	entries map[string]*entry // by fingerprint
}

type entry struct {
	domain       Domain
	pendingSince time.Time
	okSince      time.Time // zero while the condition holds
	lastEmit     time.Time
	seen         bool // candidate present in the current sweep
	firing       bool
	f            Finding
}

// NewBook returns an empty book.
func NewBook(cfg BookConfig) (*Book, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Book{cfg: cfg, entries: map[string]*entry{}}, nil
}

// Firing returns copies of the firing findings, by fingerprint order.
func (b *Book) Firing() []Finding {
	var out []Finding
	for _, e := range b.entries {
		if e.firing {
			out = append(out, e.f.Clone())
		}
	}
	slices.SortFunc(out, func(x, y Finding) int { return strings.Compare(x.Fingerprint, y.Fingerprint) })
	return out
}

// Restore puts previously firing findings back in the book (warm restart),
// so a restart neither resolves nor re-opens them.
func (b *Book) Restore(domain Domain, fs []Finding, now time.Time) {
	for _, f := range fs {
		if f.State != StateFiring {
			continue
		}
		b.entries[f.Fingerprint] = &entry{domain: domain, pendingSince: f.OpenedAt, lastEmit: now, firing: true, f: f.Clone()}
	}
}

// Observe applies one sweep of a detector (its domain, e.g. "lag") and
// returns the events it causes, in a deterministic order. Only entries of the
// same domain are affected.
//
// One cause, one finding: a candidate whose kind another candidate of the
// same sweep (or a firing finding) on the same subject explains (see
// explainedBy) is attached to it as related evidence instead of opening its
// own finding; a finding that opens resolves the firing ones of a kind it
// supersedes (see supersedes) on the same subject whose partitions it
// covers, with the resolution "superseded by KIND" — the finding changes
// kind rather than two staying open.
func (b *Book) Observe(domain Domain, now time.Time, res SweepResult) []Event {
	var events []Event
	for _, c := range b.attachRelated(res.Candidates) {
		if ev, ok := b.observeCandidate(domain, now, c); ok {
			events = append(events, ev)
			if ev.Type == EventOpened {
				events = append(events, b.supersede(ev.Finding, now)...)
			}
		}
	}
	for fp, e := range b.entries {
		if e.domain != domain {
			continue
		}
		if e.seen {
			e.seen = false
			continue
		}
		if ev, ok := b.observeAbsent(fp, e, now, res); ok {
			events = append(events, ev)
		}
	}
	slices.SortStableFunc(events, func(x, y Event) int { return strings.Compare(x.Finding.Fingerprint, y.Finding.Fingerprint) })
	return events
}

func (b *Book) observeCandidate(domain Domain, now time.Time, c Candidate) (Event, bool) {
	e := b.entries[c.Fingerprint]
	if e == nil {
		e = &entry{domain: domain, pendingSince: now}
		b.entries[c.Fingerprint] = e
	}
	e.seen, e.okSince = true, time.Time{}
	prev := e.f
	e.f.Fingerprint, e.f.Kind, e.f.Subject = c.Fingerprint, c.Kind, c.Subject
	e.f.Severity, e.f.Summary, e.f.Evidence, e.f.Facts = c.Severity, c.Summary, c.Evidence, c.Facts
	e.f.UpdatedAt = now
	if !e.firing {
		if !c.Confirmed && now.Sub(e.pendingSince) < b.cfg.OpenAfter {
			return Event{}, false
		}
		e.firing, e.lastEmit = true, now
		e.f.State, e.f.OpenedAt = StateFiring, now
		e.f.ID = findingID(c.Fingerprint, now)
		return Event{Type: EventOpened, Finding: e.f.Clone()}, true
	}
	changed := prev.Severity != e.f.Severity || !slices.Equal(prev.Subject.Partitions, e.f.Subject.Partitions)
	if !changed && now.Sub(e.lastEmit) < b.cfg.UpdateEvery {
		return Event{}, false
	}
	e.lastEmit = now
	return Event{Type: EventUpdated, Finding: e.f.Clone()}, true
}

// observeAbsent handles an entry whose condition was not seen this sweep.
func (b *Book) observeAbsent(fp string, e *entry, now time.Time, res SweepResult) (Event, bool) {
	key := e.f.Subject.Key()
	switch {
	case !res.Present[key]:
		delete(b.entries, fp)
		if e.firing {
			return b.resolve(e, now, ResolvedSubjectGone), true
		}
	case res.Observed[key]:
		if !e.firing {
			delete(b.entries, fp)
			return Event{}, false
		}
		if e.okSince.IsZero() {
			e.okSince = now
		}
		if now.Sub(e.okSince) >= b.cfg.ResolveAfter {
			delete(b.entries, fp)
			return b.resolve(e, now, ResolvedRecovered), true
		}
	}
	// Present but not observed: a data gap. Nothing changes.
	return Event{}, false
}

// supersedes lists, per kind, the kinds a finding of it replaces on the
// same subject: a stall explains the lag growth it causes and the lag it
// concentrates on the stalled member, and a group that stops or resumes
// membership while stalled changes kind.
var supersedes = map[Kind][]Kind{
	KindConsumerStalled: {KindLagGrowing, KindConsumerStopped, KindAssignmentSkew},
	KindConsumerStopped: {KindLagGrowing, KindConsumerStalled, KindAssignmentSkew},
}

// explainedBy lists, per kind, the kinds whose finding on the same subject
// explains it: lag concentrated on one member follows from that member's
// partitions being stalled or stopped. (Lag growth does not explain it: a
// member slower than the others is the more specific finding.)
var explainedBy = map[Kind][]Kind{
	KindAssignmentSkew: {KindConsumerStalled, KindConsumerStopped},
}

// supersede resolves the firing findings f replaces.
func (b *Book) supersede(f Finding, now time.Time) []Event {
	var events []Event
	key := f.Subject.Key()
	for fp, e := range b.entries {
		if !e.firing || e.f.Subject.Key() != key || !slices.Contains(supersedes[f.Kind], e.f.Kind) ||
			!covers(f.Subject.Partitions, e.f.Subject.Partitions) {
			continue
		}
		delete(b.entries, fp)
		ev := b.resolve(e, now, "superseded by "+string(f.Kind))
		ev.Finding.Facts = append(ev.Finding.Facts, Fact{Name: "superseded_by", Text: f.ID})
		events = append(events, ev)
	}
	slices.SortFunc(events, func(x, y Event) int { return strings.Compare(x.Finding.Fingerprint, y.Finding.Fingerprint) })
	return events
}

// covers reports whether every partition of sub is in all (both sorted).
func covers(all, sub []int32) bool {
	for _, p := range sub {
		if _, ok := slices.BinarySearch(all, p); !ok {
			return false
		}
	}
	return true
}

// attachRelated returns cs without the candidates another candidate of the
// sweep, or a firing finding, explains; an explained candidate's summary and
// first citations are attached to its explaining candidate of the sweep. A
// candidate whose own finding already fires stays, so it is never resolved
// as recovered while its cause persists.
func (b *Book) attachRelated(cs []Candidate) []Candidate {
	var drop []bool
	for i := range cs {
		c := &cs[i]
		kinds := explainedBy[c.Kind]
		if len(kinds) == 0 {
			continue
		}
		if e := b.entries[c.Fingerprint]; e != nil && e.firing {
			continue
		}
		key := c.Subject.Key()
		by := slices.IndexFunc(cs, func(x Candidate) bool { return x.Subject.Key() == key && slices.Contains(kinds, x.Kind) })
		if by < 0 && !b.firingOn(key, kinds) {
			continue
		}
		if drop == nil {
			drop = make([]bool, len(cs))
		}
		drop[i] = true
		if by >= 0 {
			x := &cs[by]
			x.Facts = append(slices.Clip(x.Facts), Fact{Name: "related." + string(c.Kind), Text: c.Summary})
			x.Evidence = append(slices.Clip(x.Evidence), c.Evidence[:min(2, len(c.Evidence))]...)
		}
	}
	if drop == nil {
		return cs
	}
	out := make([]Candidate, 0, len(cs))
	for i, c := range cs {
		if !drop[i] {
			out = append(out, c)
		}
	}
	return out
}

// firingOn reports whether a finding of one of kinds fires on subject key.
func (b *Book) firingOn(key string, kinds []Kind) bool {
	for _, e := range b.entries {
		if e.firing && e.f.Subject.Key() == key && slices.Contains(kinds, e.f.Kind) {
			return true
		}
	}
	return false
}

func (b *Book) resolve(e *entry, now time.Time, why string) Event {
	e.f.State, e.f.ResolvedAt, e.f.UpdatedAt, e.f.Resolution = StateResolved, now, now, why
	return Event{Type: EventResolved, Finding: e.f.Clone()}
}
