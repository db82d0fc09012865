package state

import (
	"cmp"
	"slices"
	"sync"
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
	// Allow, if set, must also accept the finding (the caller's scope).
	Allow func(*detect.Finding) bool
}

// matchesAll reports whether q passes every finding.
func (q *FindingFilter) matchesAll() bool {
	return len(q.States) == 0 && len(q.Kinds) == 0 && q.MinSeverity == 0 &&
		q.Group == "" && q.Topic == "" && q.Broker < 0 && q.Allow == nil
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
	case q.Allow != nil && !q.Allow(f):
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
		byID  map[string]*stored
		order []orderEntry // every finding in byID, in CompareFindings order
		subs  map[*Subscription]struct{}
		rev   uint64 // revisions handed out so far
	}
}

// stored is a finding and its revision: a number, unique within this
// Findings, that changes whenever the finding is replaced, so a copy
// converted for a response can be reused while the revision stays. A
// stored value is never modified: an update stores a new one.
type stored struct {
	detect.Finding
	rev uint64
	key orderKey // its place in order, fixed when first stored
}

// orderKey is what CompareFindings orders by; a finding's open time never
// changes, so its place in the order is fixed.
type orderKey struct {
	opened time.Time
	id     string
}

func compareKeys(a, b orderKey) int {
	if c := b.opened.Compare(a.opened); c != 0 {
		return c
	}
	return cmp.Compare(a.id, b.id)
}

func keyOf(f *detect.Finding) orderKey { return orderKey{f.OpenedAt, f.ID} }

type orderEntry struct {
	key orderKey
	f   *stored
}

func compareEntry(e orderEntry, k orderKey) int { return compareKeys(e.key, k) }

// NewFindings keeps resolved findings for keep (bounded to max of them).
func NewFindings(keep time.Duration, max int) *Findings {
	s := &Findings{keepResolved: keep, maxResolved: max}
	s.mu.byID = map[string]*stored{}
	s.mu.subs = map[*Subscription]struct{}{}
	return s
}

// Apply records events and delivers them to subscribers.
func (s *Findings) Apply(now time.Time, events []detect.Event) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range events {
		s.mu.rev++
		if old, ok := s.mu.byID[ev.Finding.ID]; ok {
			p := &stored{ev.Finding, s.mu.rev, old.key}
			s.mu.byID[p.ID] = p
			if i, found := slices.BinarySearchFunc(s.mu.order, p.key, compareEntry); found {
				s.mu.order[i].f = p
			}
		} else {
			k := keyOf(&ev.Finding)
			p := &stored{ev.Finding, s.mu.rev, k}
			i, _ := slices.BinarySearchFunc(s.mu.order, k, compareEntry)
			s.mu.order = slices.Insert(s.mu.order, i, orderEntry{k, p})
			s.mu.byID[p.ID] = p
		}
		for sub := range s.mu.subs {
			sub.offerLocked(ev)
		}
	}
	s.pruneLocked(now)
}

// pruneLocked drops resolved findings older than keepResolved, and the
// oldest resolved ones beyond maxResolved.
func (s *Findings) pruneLocked(now time.Time) {
	var resolved []*stored
	for id, f := range s.mu.byID {
		if f.State != detect.StateResolved {
			continue
		}
		if now.Sub(f.ResolvedAt) > s.keepResolved {
			s.deleteLocked(id)
			continue
		}
		resolved = append(resolved, f)
	}
	if len(resolved) <= s.maxResolved {
		return
	}
	slices.SortFunc(resolved, func(a, b *stored) int { return a.ResolvedAt.Compare(b.ResolvedAt) })
	for _, f := range resolved[:len(resolved)-s.maxResolved] {
		s.deleteLocked(f.ID)
	}
}

func (s *Findings) deleteLocked(id string) {
	f, ok := s.mu.byID[id]
	if !ok {
		return
	}
	delete(s.mu.byID, id)
	if i, found := slices.BinarySearchFunc(s.mu.order, f.key, compareEntry); found {
		s.mu.order = slices.Delete(s.mu.order, i, i+1)
	}
}

// Get returns one finding by id.
func (s *Findings) Get(id string) (detect.Finding, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.mu.byID[id]
	if !ok {
		return detect.Finding{}, false
	}
	return f.Clone(), true
}

// List returns the findings matching q, newest opened first (ties by id).
func (s *Findings) List(q FindingFilter) []detect.Finding {
	page, _ := s.Page(q, nil, -1)
	return page
}

// Page returns up to limit findings matching q that come after the finding
// after (nil: from the start) in List order (limit < 0: all), and how many
// findings match q in total. Only the page is copied.
func (s *Findings) Page(q FindingFilter, after *detect.Finding, limit int) ([]detect.Finding, int) {
	page, total := s.RevisedPage(q, after, limit)
	var out []detect.Finding
	if len(page) > 0 {
		out = make([]detect.Finding, len(page))
	}
	for i, r := range page {
		out[i] = *r.Finding
	}
	return out, total
}

// Revised is a finding and its revision, a number that changes whenever
// the finding is replaced (and is never reused by this Findings for
// another version of any finding). Finding is shared: read-only.
type Revised struct {
	*detect.Finding
	Rev uint64
}

// RevisedPage is Page with each finding's revision.
func (s *Findings) RevisedPage(q FindingFilter, after *detect.Finding, limit int) ([]Revised, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := 0
	if after != nil {
		start, _ = slices.BinarySearchFunc(s.mu.order, keyOf(after), compareEntry)
		if start < len(s.mu.order) && s.mu.order[start].key.id == after.ID {
			start++
		}
	}
	var page []Revised
	if limit > 0 {
		page = make([]Revised, 0, min(limit, len(s.mu.order)-min(start, len(s.mu.order))))
	}
	if q.matchesAll() { // the total is known: copy the page alone
		for _, e := range s.mu.order[min(start, len(s.mu.order)):] {
			if limit >= 0 && len(page) >= limit {
				break
			}
			page = append(page, Revised{&e.f.Finding, e.f.rev})
		}
		return page, len(s.mu.order)
	}
	total := 0
	for i, e := range s.mu.order {
		if !q.Match(&e.f.Finding) {
			continue
		}
		total++
		if i >= start && (limit < 0 || len(page) < limit) {
			page = append(page, Revised{&e.f.Finding, e.f.rev})
		}
	}
	return page, total
}

// CompareFindings orders findings newest opened first, then by id.
func CompareFindings(a, b detect.Finding) int {
	if c := b.OpenedAt.Compare(a.OpenedAt); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// Subscription receives finding events in order. Events that did not fit in
// its buffer are dropped and counted, never blocking the publisher; the count
// is delivered in the stream at the point where the events were dropped (see
// Delivery and TakeMissed).
type Subscription struct {
	C     <-chan Delivery
	c     chan Delivery
	owner *Findings

	missed uint64 // dropped and not yet delivered; guarded by owner.mu
}

// Delivery is one item of a subscription: an event or, when Missed > 0, the
// number of events dropped at this point of the stream because the buffer
// was full.
type Delivery struct {
	Event  detect.Event
	Missed uint64
}

// Subscribe returns a subscription with a buffer of n deliveries.
func (s *Findings) Subscribe(n int) *Subscription {
	sub := &Subscription{c: make(chan Delivery, n), owner: s}
	sub.C = sub.c
	s.mu.Lock()
	s.mu.subs[sub] = struct{}{}
	s.mu.Unlock()
	return sub
}

// offerLocked queues ev, first announcing the events dropped before it.
func (sub *Subscription) offerLocked(ev detect.Event) {
	if sub.missed > 0 {
		select {
		case sub.c <- Delivery{Missed: sub.missed}:
			sub.missed = 0
		default:
			sub.missed++
			return
		}
	}
	select {
	case sub.c <- Delivery{Event: ev}:
	default:
		sub.missed++
	}
}

// TakeMissed returns and clears the number of events dropped after
// everything queued so far, once the reader has drained C; otherwise 0, and
// the count arrives in C ahead of the next event. Readers call it when C is
// empty so a drop at the end of a burst is not held back until the next event.
func (sub *Subscription) TakeMissed() uint64 {
	sub.owner.mu.Lock()
	defer sub.owner.mu.Unlock()
	if len(sub.c) > 0 {
		return 0
	}
	n := sub.missed
	sub.missed = 0
	return n
}

// Close ends the subscription. Safe to call twice.
func (sub *Subscription) Close() {
	sub.owner.mu.Lock()
	delete(sub.owner.mu.subs, sub)
	sub.owner.mu.Unlock()
}
