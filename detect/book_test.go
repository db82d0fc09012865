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
