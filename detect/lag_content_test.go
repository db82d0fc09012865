package detect

import (
	"slices"
	"testing"
	"time"
)

// wantCitation is what a test expects of one citation; the numbers are
// worked out by hand from the window the test builds.
type wantCitation struct {
	api, note                  string
	first, last, min, max      float64
	fromSweep, toSweep, series int
}

// checkCandidate compares a candidate's kind, severity, subject, summary and
// evidence with what the test computed from its inputs.
func checkCandidate(t *testing.T, c Candidate, kind Kind, sev Severity, parts []int32, summary string, cites ...wantCitation) {
	t.Helper()
	if c.Kind != kind || c.Severity != sev {
		t.Errorf("kind %s severity %s, want %s %s", c.Kind, c.Severity, kind, sev)
	}
	s := c.Subject
	if s.Cluster != "c" || s.Group != "g" || s.Topic != "t" || s.Broker != -1 || !slices.Equal(s.Partitions, parts) {
		t.Errorf("subject %+v, want c/g/t partitions %v", s, parts)
	}
	if c.Fingerprint != Fingerprint(kind, s) {
		t.Errorf("fingerprint %q, want Fingerprint(kind, subject)", c.Fingerprint)
	}
	if c.Summary != summary {
		t.Errorf("summary\n got %s\nwant %s", c.Summary, summary)
	}
	if len(c.Evidence) != len(cites) {
		t.Fatalf("%d citations, want %d: %+v", len(c.Evidence), len(cites), c.Evidence)
	}
	for i, w := range cites {
		e := c.Evidence[i]
		ref := (&oneTopic{}).SeriesRef(uint32(w.series))
		if e.Source.API != w.api || e.Note != w.note || e.Series.String() != ref.String() {
			t.Errorf("citation %d: %s %q %s, want %s %q %s", i, e.Source.API, e.Note, e.Series, w.api, w.note, ref)
		}
		if e.First != w.first || e.Last != w.last || e.Min != w.min || e.Max != w.max {
			t.Errorf("citation %d: first %v last %v min %v max %v, want %v %v %v %v", i, e.First, e.Last, e.Min, e.Max, w.first, w.last, w.min, w.max)
		}
		from, to := sweepTime(w.fromSweep), sweepTime(w.toSweep)
		if !e.From.Equal(from) || !e.To.Equal(to) || e.Count != w.toSweep-w.fromSweep+1 || e.Gaps != 0 {
			t.Errorf("citation %d: [%s, %s] %d samples %d gaps, want [%s, %s] %d and 0", i, e.From, e.To, e.Count, e.Gaps, from, to, w.toSweep-w.fromSweep+1)
		}
		if !e.Source.SweepAt.Equal(to) {
			t.Errorf("citation %d: sweep at %s, want %s", i, e.Source.SweepAt, to)
		}
	}
}

// sweepTime is the time of sweep i of a window built by win.
func sweepTime(i int) time.Time { return time.UnixMilli(1_700_000_000_000 + int64(i)*1000) }

// TestConsumerStoppedContent: a group without members stops committing at
// sweep 30 while production continues; a second partition is caught up.
//
// By hand, at the newest sweep 119: committed 3000 (100/s up to sweep 30),
// end 200 + 100 × 119 = 12100, lag 9100. Lag has been > 0 at every sample
// and the committed offset has not moved since sweep 30: the group committed
// every sweep (1 s) before, so the commit is overdue after 1 s + 10 s, and
// 89 s is well past it. Partition 1 has lag 0 and is neither named nor
// cited.
func TestConsumerStoppedContent(t *testing.T) {
	d, _ := NewLagDetector(DefaultLagConfig())
	com := func(i int) int64 { return 100 * int64(min(i, 30)) }
	v := &oneTopic{gt: GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: empty,
		Partitions: []PartitionInput{
			{Partition: 0, Window: win(120, com, rate(200, 100)), Series: [3]uint32{1, 2, 3}},
			{Partition: 1, Window: win(120, rate(0, 10), rate(0, 10)), Series: [3]uint32{4, 5, 6}},
		}}}
	res := d.Sweep(v)
	if len(res.Candidates) != 1 {
		t.Fatalf("want one candidate, got %+v", res.Candidates)
	}
	checkCandidate(t, res.Candidates[0], KindConsumerStopped, SeverityWarning, []int32{0},
		`Consumer group "g" has no members and has not committed on topic "t" (partition 0) for 89s while 9100 messages wait (it commits every 1.0 s, p95 1.0 s).`,
		wantCitation{api: "OffsetFetch", note: "committed offset unchanged for 89s while lag > 0",
			first: 0, last: 3000, min: 0, max: 3000, fromSweep: 0, toSweep: 119, series: 1},
		wantCitation{api: "ListOffsets(latest)", note: "log end offset: its slope is the produce rate",
			first: 200, last: 12100, min: 200, max: 12100, fromSweep: 0, toSweep: 119, series: 2})

	// The same partition while the group still has members is a stall, not a stop.
	v.gt.Context = stable
	if res = d.Sweep(v); len(res.Candidates) != 1 || res.Candidates[0].Kind != KindConsumerStalled {
		t.Fatalf("with members: want one CONSUMER_STALLED, got %+v", res.Candidates)
	}
}

// TestOffsetRewindContent: the committed offset advances 100/s to 9900
// (sweep 99), is reset to 1000 at sweep 100 and advances 100/s again.
//
// By hand, at the newest sweep 119: committed 1000 + 100 × 19 = 2900, below
// the window's maximum 9900 by 7000; end 100 × 119 + 50 = 11950.
func TestOffsetRewindContent(t *testing.T) {
	d, _ := NewLagDetector(DefaultLagConfig())
	com := func(i int) int64 {
		if i < 100 {
			return 100 * int64(i)
		}
		return 1000 + 100*int64(i-100)
	}
	v := &oneTopic{gt: GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: stable,
		Partitions: []PartitionInput{{Partition: 0, Window: win(120, com, rate(50, 100)), Series: [3]uint32{1, 2, 3}}}}}
	res := d.Sweep(v)
	if len(res.Candidates) != 1 {
		t.Fatalf("want one candidate, got %+v", res.Candidates)
	}
	checkCandidate(t, res.Candidates[0], KindOffsetRewind, SeverityWarning, []int32{0},
		`Consumer group "g" moved its committed offset on topic "t" (partition 0) back by 7000 messages, to 2900.`,
		wantCitation{api: "OffsetFetch", note: "committed offset went back by 7000 messages",
			first: 0, last: 2900, min: 0, max: 9900, fromSweep: 0, toSweep: 119, series: 1},
		wantCitation{api: "ListOffsets(latest)", note: "log end offset: its slope is the produce rate",
			first: 50, last: 11950, min: 50, max: 11950, fromSweep: 0, toSweep: 119, series: 2})
}
