package detect

import (
	"testing"
	"time"
)

// TestBookLifecycle walks one subject through the lifecycle, one sweep per
// second. Each row: what the detector saw at that second, and the event the
// book must emit ("" for none).
func TestBookLifecycle(t *testing.T) {
	b, err := NewBook(BookConfig{OpenAfter: 2 * time.Second, ResolveAfter: 3 * time.Second, UpdateEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	subj := Subject{Cluster: "c", Group: "g", Topic: "t", Partitions: []int32{0}, Broker: -1}
	key := subj.Key()
	cand := Candidate{Fingerprint: Fingerprint(KindLagGrowing, subj), Kind: KindLagGrowing, Severity: SeverityWarning, Subject: subj, Summary: "s"}
	const (
		bad     = "bad"     // candidate present
		ok      = "ok"      // subject judged OK
		gap     = "gap"     // subject present, no data
		gone    = "gone"    // subject absent
		partsUp = "partsUp" // candidate with a new partition set
	)
	base := time.Unix(1_800_000_000, 0)
	var id string
	f := func(n int, sec int, seen string, want string) {
		t.Helper()
		res := SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}
		switch seen {
		case bad, partsUp:
			c := cand
			if seen == partsUp {
				c.Subject.Partitions = []int32{0, 1}
			}
			res.Candidates = []Candidate{c}
			res.Observed[key], res.Present[key] = true, true
		case ok:
			res.Observed[key], res.Present[key] = true, true
		case gap:
			res.Present[key] = true
		}
		evs := b.Observe("lag", base.Add(time.Duration(sec)*time.Second), res)
		got := ""
		if len(evs) > 1 {
			t.Fatalf("%d: %d events, want at most one", n, len(evs))
		}
		if len(evs) == 1 {
			got = evs[0].Type.String()
			if id == "" {
				id = evs[0].Finding.ID
			} else if evs[0].Finding.ID != id {
				t.Errorf("%d: id changed from %s to %s", n, id, evs[0].Finding.ID)
			}
			if got == "resolved" {
				got += ":" + evs[0].Finding.Resolution
			}
		}
		if got != want {
			t.Errorf("%d (t=%ds, %s): event %q, want %q", n, sec, seen, got, want)
		}
	}
	f(1, 0, bad, "") // pending
	f(2, 1, bad, "") // still pending: 1s < OpenAfter
	f(3, 2, bad, "opened")
	f(4, 3, ok, "")                   // OK starts the resolve clock
	f(5, 4, bad, "")                  // bad again: clock reset, no flap, no update (UpdateEvery 1h)
	f(6, 5, ok, "")                   // OK at 5
	f(7, 6, gap, "")                  // a gap neither counts nor resolves
	f(8, 7, gap, "")                  //
	f(9, 8, ok, "resolved:recovered") // OK since 5: 3s ≥ ResolveAfter
	id = ""
	f(10, 9, bad, "")
	f(11, 10, ok, "") // a pending condition that clears never opens
	f(12, 11, bad, "")
	f(13, 13, bad, "opened")
	f(14, 14, partsUp, "updated") // partitions changed: update at once
	f(15, 15, gap, "")
	f(16, 16, gone, "resolved:subject gone") // the group disappeared: never a recovery
}

// TestBookRestore: findings restored after a restart stay firing without a
// new Opened event and keep their id.
func TestBookRestore(t *testing.T) {
	b, _ := NewBook(DefaultBookConfig())
	subj := Subject{Group: "g", Topic: "t", Broker: -1}
	fp := Fingerprint(KindConsumerStalled, subj)
	b.Restore("lag", []Finding{{ID: "x-1", Fingerprint: fp, Kind: KindConsumerStalled, Severity: SeverityCritical, State: StateFiring, Subject: subj}}, time.Unix(100, 0))
	evs := b.Observe("lag", time.Unix(101, 0), SweepResult{
		Candidates: []Candidate{{Fingerprint: fp, Kind: KindConsumerStalled, Subject: subj, Severity: SeverityCritical}},
		Observed:   map[string]bool{subj.Key(): true}, Present: map[string]bool{subj.Key(): true},
	})
	if len(evs) != 0 || len(b.Firing()) != 1 || b.Firing()[0].ID != "x-1" {
		t.Fatalf("restored finding must continue silently: events %v firing %v", evs, b.Firing())
	}
}

// TestBookOneCauseOneFinding: a stall supersedes the lag growth it causes
// (the finding changes kind, one stays open), and lag concentrated on one
// member attaches to the stall as related evidence instead of opening.
func TestBookOneCauseOneFinding(t *testing.T) {
	b, _ := NewBook(BookConfig{OpenAfter: 5 * time.Second, ResolveAfter: 30 * time.Second, UpdateEvery: time.Hour})
	subj := Subject{Cluster: "c", Group: "g", Topic: "t", Partitions: []int32{0, 1}, Broker: -1}
	key := subj.Key()
	cand := func(k Kind, parts ...int32) Candidate {
		s := subj
		s.Partitions = parts
		return Candidate{Fingerprint: Fingerprint(k, s), Kind: k, Subject: s, Summary: string(k), Confirmed: k != KindAssignmentSkew}
	}
	res := func(cs ...Candidate) SweepResult {
		return SweepResult{Candidates: cs, Observed: map[string]bool{key: true}, Present: map[string]bool{key: true}}
	}
	base := time.Unix(1_800_000_000, 0)
	evs := b.Observe("lag", base, res(cand(KindLagGrowing, 0, 1)))
	if len(evs) != 1 || evs[0].Type != EventOpened {
		t.Fatalf("confirmed LAG_GROWING: %v, want opened at once", evs)
	}
	evs = b.Observe("lag", base.Add(time.Second), res(cand(KindConsumerStalled, 0, 1), cand(KindAssignmentSkew, 0, 1)))
	if len(evs) != 2 || evs[0].Type != EventOpened || evs[0].Finding.Kind != KindConsumerStalled ||
		evs[1].Type != EventResolved || evs[1].Finding.Resolution != "superseded by CONSUMER_STALLED" {
		t.Fatalf("events %+v, want STALLED opened and LAG_GROWING superseded", evs)
	}
	related := false
	for _, f := range evs[0].Finding.Facts {
		related = related || f.Name == "related."+string(KindAssignmentSkew)
	}
	if !related {
		t.Fatalf("the explained skew is not attached: %+v", evs[0].Finding.Facts)
	}
	for i := 2; i < 10; i++ {
		if evs := b.Observe("lag", base.Add(time.Duration(i)*time.Second), res(cand(KindAssignmentSkew, 0, 1))); len(evs) != 0 {
			t.Fatalf("sweep %d: %+v; the skew is explained by the firing stall", i, evs)
		}
	}
	if n := len(b.Firing()); n != 1 {
		t.Fatalf("%d firing, want 1", n)
	}
	// A stall on partition 0 alone does not supersede growth on 0 and 1.
	b2, _ := NewBook(DefaultBookConfig())
	b2.Observe("lag", base, res(cand(KindLagGrowing, 0, 1)))
	evs = b2.Observe("lag", base.Add(time.Second), res(cand(KindConsumerStalled, 0), cand(KindLagGrowing, 1)))
	if len(evs) != 2 || evs[0].Type != EventOpened || evs[1].Type != EventUpdated || evs[1].Finding.Kind != KindLagGrowing {
		t.Fatalf("partial stall: %+v, want STALLED opened and LAG_GROWING updated to partition 1", evs)
	}
}

// TestKindDomains: every kind a detector opens has its detector's domain,
// and a kind none opens has none (a restored finding of it is an error, not
// filed under some detector).
func TestKindDomains(t *testing.T) {
	for _, c := range []struct {
		kind Kind
		want Domain
	}{
		{KindLagGrowing, DomainLag}, {KindOffsetRewind, DomainLag}, {KindAssignmentSkew, DomainLag},
		{KindRebalanceStorm, DomainRebalance}, {KindRetentionRisk, DomainRetention}, {KindDataSkipped, DomainRetention},
		{KindHotPartition, DomainHot}, {KindUnderMinISR, DomainBroker}, {KindTelemetryGap, DomainBroker},
		{KindLeaderSkew, DomainSkew}, {KindTrafficSkew, DomainSkew},
	} {
		if d, ok := c.kind.Domain(); !ok || d != c.want {
			t.Errorf("%s: domain %q %v, want %q", c.kind, d, ok, c.want)
		}
	}
	if d, ok := Kind("NOT_A_KIND").Domain(); ok {
		t.Errorf("unknown kind has domain %q", d)
	}
	if n := len(KindNames()); n != 26 {
		t.Errorf("%d kinds, want 26", n)
	}
	for _, k := range KindNames() {
		if _, ok := Kind(k).Domain(); !ok {
			t.Errorf("%s listed without a domain", k)
		}
	}
}
