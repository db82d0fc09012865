package state

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// FindingFilter selects findings. Zero fields match everything.
type FindingFilter struct {
	States      []detect.State
	Kinds       []detect.Kind
	MinSeverity detect.Severity
	Group       string
	Topic       string
	Broker      int32 // -1 matches any
}

// Match reports whether f passes the filter.
func (q FindingFilter) Match(f *detect.Finding) bool {
	switch {
	case len(q.States) > 0 && !slices.Contains(q.States, f.State):
		return false
	case len(q.Kinds) > 0 && !slices.Contains(q.Kinds, f.Kind):
		return false
	case f.Severity < q.MinSeverity:
		return false
	case q.Group != "" && f.Subject.Group != q.Group:
		return false
	case q.Topic != "" && f.Subject.Topic != q.Topic:
		return false
	case q.Broker >= 0 && f.Subject.Broker != q.Broker:
		return false
	}
	return true
}

// Findings holds current and recently resolved findings and fans events out
// to subscribers. Safe for concurrent use. Apply never blocks on a
// subscriber: a full subscriber buffer drops the event and counts it.
type Findings struct {
	keepResolved time.Duration
	maxResolved  int

	mu struct {
		sync.Mutex
		byID map[string]detect.Finding
		subs map[*Subscription]struct{}
	}
}

// NewFindings keeps resolved findings for keep (bounded to max of them).
func NewFindings(keep time.Duration, max int) *Findings {
	s := &Findings{keepResolved: keep, maxResolved: max}
	s.mu.byID = map[string]detect.Finding{}
	s.mu.subs = map[*Subscription]struct{}{}
	return s
}

// Apply records events and delivers them to subscribers.
func (s *Findings) Apply(now time.Time, events []detect.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range events {
		s.mu.byID[ev.Finding.ID] = ev.Finding
		for sub := range s.mu.subs {
			sub.offer(ev)
		}
	}
	s.pruneLocked(now)
}

// pruneLocked drops resolved findings older than keepResolved, and the
// oldest resolved ones beyond maxResolved.
func (s *Findings) pruneLocked(now time.Time) {
	var resolved []detect.Finding
	for id, f := range s.mu.byID {
		if f.State != detect.StateResolved {
			continue
		}
		if now.Sub(f.ResolvedAt) > s.keepResolved {
			delete(s.mu.byID, id)
			continue
		}
		resolved = append(resolved, f)
	}
	if len(resolved) <= s.maxResolved {
		return
	}
	slices.SortFunc(resolved, func(a, b detect.Finding) int { return a.ResolvedAt.Compare(b.ResolvedAt) })
	for _, f := range resolved[:len(resolved)-s.maxResolved] {
		delete(s.mu.byID, f.ID)
	}
}

// Get returns one finding by id.
func (s *Findings) Get(id string) (detect.Finding, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.mu.byID[id]
	return f.Clone(), ok
}

// List returns the findings matching q, newest opened first (ties by id).
func (s *Findings) List(q FindingFilter) []detect.Finding {
	s.mu.Lock()
	out := make([]detect.Finding, 0, len(s.mu.byID))
	for _, f := range s.mu.byID {
		if q.Match(&f) {
			out = append(out, f)
		}
	}
	s.mu.Unlock()
	slices.SortFunc(out, CompareFindings)
	return out
}

// CompareFindings orders findings newest opened first, then by id.
func CompareFindings(a, b detect.Finding) int {
	if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Subscription receives finding events. Events that did not fit in its
// buffer are counted in Missed instead of blocking the publisher.
type Subscription struct {
	C      <-chan detect.Event
	c      chan detect.Event
	missed atomic.Uint64
	owner  *Findings
}

// Subscribe returns a subscription with a buffer of n events.
func (s *Findings) Subscribe(n int) *Subscription {
	sub := &Subscription{c: make(chan detect.Event, n), owner: s}
	sub.C = sub.c
	s.mu.Lock()
	s.mu.subs[sub] = struct{}{}
	s.mu.Unlock()
	return sub
}

func (sub *Subscription) offer(ev detect.Event) {
	select {
	case sub.c <- ev:
	default:
		sub.missed.Add(1)
	}
}

// TakeMissed returns and clears the number of events dropped so far.
func (sub *Subscription) TakeMissed() uint64 { return sub.missed.Swap(0) }

// Close ends the subscription. Safe to call twice.
func (sub *Subscription) Close() {
	sub.owner.mu.Lock()
	delete(sub.owner.mu.subs, sub)
	sub.owner.mu.Unlock()
}
