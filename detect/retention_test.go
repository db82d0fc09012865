package detect

import (
	"math"
	"strings"
	"testing"
	"time"
)

// retWindow builds n sweeps one second apart from the offsets at sweep i
// (return Gap for a missing sample).
func retWindow(n int, com, end, start func(i int) int64) PartitionWindow {
	w := PartitionWindow{}
	for i := range n {
		w.Times = append(w.Times, tlT0+int64(i)*1000)
		w.Committed = append(w.Committed, com(i))
		w.End = append(w.End, end(i))
		w.Start = append(w.Start, start(i))
	}
	return w
}

// lin is base + perSec·i: an offset advancing steadily.
func lin(base, perSec int64) func(int) int64 {
	return func(i int) int64 { return base + perSec*int64(i) }
}

// fixed is an offset that never moves.
func fixed(v int64) func(int) int64 { return func(int) int64 { return v } }

// segments is a log start that deletes a segment of size records every everyS seconds.
func segments(base, size int64, everyS int) func(int) int64 {
	return func(i int) int64 { return base + size*int64(i/everyS) }
}

const day = 24 * 3600 * 1000 // ms

var (
	retain7d    = TopicRetention{RetentionMs: 7 * day, RetentionBytes: -1, SizeBytes: math.NaN()}
	retain1h    = TopicRetention{RetentionMs: 3600_000, RetentionBytes: -1, SizeBytes: math.NaN()}
	retainAll   = TopicRetention{RetentionMs: -1, RetentionBytes: -1, SizeBytes: math.NaN()}
	compacted1h = TopicRetention{RetentionMs: 3600_000, RetentionBytes: -1, Compacted: true, SizeBytes: math.NaN()}
	// 1.05 GB per partition of 1000-byte records, holding 1 GB now.
	retainBytes = TopicRetention{RetentionMs: -1, RetentionBytes: 1_050_000_000, SizeBytes: 1e9}
)

func TestRetentionRiskTable(t *testing.T) {
	f := func(n int, name string, w PartitionWindow, tr TopicRetention, st RetentionStatus, method string, secs, tol float64) {
		t.Helper()
		got := RetentionRisk(w, tr)
		off := math.Abs(got.SecondsToDeletion - secs)
		if math.IsInf(secs, 1) {
			off = 0
			if !math.IsInf(got.SecondsToDeletion, 1) {
				off = math.Inf(1)
			}
		}
		if got.Status != st || got.Method != method || off > tol || math.IsNaN(got.SecondsToDeletion) {
			t.Errorf("%d %s: %v by %s in %.1f s, want %v by %s in %.1f ± %.1f s (%+v)",
				n, name, got.Status, got.Method, got.SecondsToDeletion, st, method, secs, tol, got)
		}
	}
	inf := math.Inf(1)
	const s7d = 7 * day / 1000
	// 1: consumer caught up: nothing unread, nothing to lose.
	f(1, "caught up", retWindow(600, lin(1e6, 100), lin(1e6, 100), fixed(0)), retain1h, RetentionOK, RetentionByCaughtUp, inf, 0)
	// 2: committed 500 below the log start: data already deleted unread.
	f(2, "skipped", retWindow(600, fixed(500), lin(1e6, 100), fixed(1000)), retain7d, RetentionDataSkipped, RetentionBySkip, 0, 0)
	// 3: start advances 100/s and is 100 000 records below the committed offset: 1000 s.
	f(3, "start closing in", retWindow(600, lin(1.1e6, 100), lin(2e6, 100), lin(1e6, 100)), retain7d, RetentionAtRisk, RetentionByStart, 1000, 1)
	// 4: start advances 10/s with a margin of 994 010 records: 99 401 s, beyond the 1 h horizon.
	f(4, "start far behind", retWindow(600, fixed(2e6), lin(3e6, 100), lin(1e6, 10)), retain7d, RetentionOK, RetentionByStart, 99_401, 1)
	// 5: whole segments of 30 000 deleted every 120 s (250/s), margin 60 000: about 240 s despite the steps.
	f(5, "segment steps", retWindow(600, fixed(1_180_000), lin(1.2e6, 100), segments(1e6, 30_000, 120)), retain7d, RetentionAtRisk, RetentionByStart, 240, 120)
	// 6: static start, 7 d retention, consumer 30 s behind: deletion in 7 d − 30 s.
	f(6, "retention.ms far", retWindow(600, lin(1e6-3000, 100), lin(1e6, 100), fixed(0)), retain7d, RetentionOK, RetentionByMs, s7d-30, 1)
	// 7: static start, 1 h retention, consumer 50 min behind (age extrapolated at 100/s): about 10 min left.
	f(7, "retention.ms near", retWindow(600, lin(1e6-300_000, 100), lin(1e6, 100), fixed(0)), retain1h, RetentionAtRisk, RetentionByMs, 600, 1)
	// 8: static start, no limit: never deleted.
	f(8, "unlimited", retWindow(600, lin(1e6-300_000, 100), lin(1e6, 100), fixed(0)), retainAll, RetentionOK, RetentionByNoLimit, inf, 0)
	// 9: compact-only topic, 2 h behind a 1 h retention.ms: compaction alone never flags.
	f(9, "compacted", retWindow(600, lin(1e6-720_000, 100), lin(1e6, 100), fixed(0)), compacted1h, RetentionOK, RetentionByCompacted, inf, 0)
	// 10: compact-only topic whose start was moved past the committed offset (DeleteRecords): skipped.
	f(10, "compacted skipped", retWindow(600, fixed(10), lin(1e6, 100), fixed(500)), compacted1h, RetentionDataSkipped, RetentionBySkip, 0, 0)
	// 11: 1000 B/record, 1.05 GB allowed, committed 10 past the start of a 1 GB log at 100/s: 50 010 records = 500.1 s.
	f(11, "retention.bytes", retWindow(600, fixed(1e6+10), lin(2e6-59_900, 100), fixed(1e6)), retainBytes, RetentionAtRisk, RetentionByBytes, 500.1, 0.5)
	// 12: retention.bytes set but the partition size unknown: no forecast.
	f(12, "bytes size unknown", retWindow(600, fixed(1e6+10), lin(2e6-59_900, 100), fixed(1e6)), withSize(retainBytes, math.NaN()), RetentionOK, RetentionByNoLimit, inf, 0)
	// 13: newest log start missing: unknown, never OK.
	f(13, "start gap", retWindow(600, fixed(10), lin(1e6, 100), gapAt(599, fixed(0))), retain1h, RetentionUnknown, RetentionByUnknown, inf, 0)
	// 14: idle topic, 50 unread, 1 h retention: the record is at least the window (599 s) old: at most 3001 s left.
	f(14, "idle with lag", retWindow(600, fixed(950), fixed(1000), fixed(0)), retain1h, RetentionAtRisk, RetentionByMs, 3001, 0)
	// 15: the start jumped within a 2-minute window (< min_span 5m): not trusted; retention.ms decides.
	f(15, "start jump too short", retWindow(120, lin(1e6-3000, 100), lin(1e6, 100), segments(0, 1000, 60)), retain7d, RetentionOK, RetentionByMs, s7d-30, 1)
	// 16: cleanup.policy compact,delete (not Compacted) 2 h behind a 1 h retention: deletion overdue, 0 s.
	f(16, "compact,delete overdue", retWindow(600, lin(1e6-720_000, 100), lin(1e6, 100), fixed(0)), retain1h, RetentionAtRisk, RetentionByMs, 0, 0)
	// 17: both limits known: the sooner one (bytes, 500 s) wins over retention.ms (7 d − 2.8 h, the record's age).
	f(17, "bytes before ms", retWindow(600, fixed(1e6+10), lin(2e6-59_900, 100), fixed(1e6)), withMs(retainBytes, 7*day), RetentionAtRisk, RetentionByBytes, 500.1, 0.5)
	// 19: one segment of 50 000 deleted near the end (robust slope 0): the mean rate 50 000/599 s dates it; margin 50 000: 599 s.
	f(19, "one deletion", retWindow(600, fixed(1.1e6), lin(1.2e6, 100), segments(1e6, 50_000, 550)), retain7d, RetentionAtRisk, RetentionByStart, 599, 0.001)
	// 20: 2000 B/record: the log past the committed offset already exceeds retention.bytes: deletion due now.
	f(20, "bytes overdue", retWindow(600, fixed(1e6+10), lin(2e6-59_900, 100), fixed(1e6)), withSize(retainBytes, 2e9), RetentionAtRisk, RetentionByBytes, 0, 0)
	// 21: a single sweep with lag: the record's age is unknown, so retention.ms forecasts nothing.
	f(21, "single sweep", retWindow(1, fixed(10), fixed(1000), fixed(0)), withMs(retainAll, 1800_000), RetentionOK, RetentionByNoLimit, inf, 0)
	// 18: start gaps in the middle do not hide its advance.
	f(18, "start gaps", retWindow(600, lin(1.1e6, 100), lin(2e6, 100), gapEvery(4, lin(1e6, 100))), retain7d, RetentionAtRisk, RetentionByStart, 1000, 1)
}

func withSize(t TopicRetention, b float64) TopicRetention { t.SizeBytes = b; return t }
func withMs(t TopicRetention, ms int64) TopicRetention    { t.RetentionMs = ms; return t }

// gapAt makes sweep k of a column a Gap.
func gapAt(k int, fn func(int) int64) func(int) int64 {
	return func(i int) int64 {
		if i == k {
			return Gap
		}
		return fn(i)
	}
}

// gapEvery makes every k-th sweep (never the newest) of a column a Gap.
func gapEvery(k int, fn func(int) int64) func(int) int64 {
	return func(i int) int64 {
		if i%k == 1 && i < 599 {
			return Gap
		}
		return fn(i)
	}
}

// retView is a ConsumerView over fixed group-topics; series ids render as
// id="<n>".
type retView struct{ gts []GroupTopic }

func (v *retView) EachGroupTopic(fn func(*GroupTopic)) {
	for i := range v.gts {
		fn(&v.gts[i])
	}
}

func (v *retView) SeriesRef(id uint32) SeriesRef {
	return SeriesRef{Metric: "offsets", Labels: []Label{{Name: "id", Value: strings.Repeat("#", int(id))}}}
}

// TestRetentionDetectorCandidates: one group-topic with a skipped, an
// at-risk and a healthy partition yields one critical DATA_SKIPPED and one
// RETENTION_RISK candidate, each citing its partition's log start and
// committed series; a shorter horizon drops the risk, not the skip.
func TestRetentionDetectorCandidates(t *testing.T) {
	gt := GroupTopic{Cluster: "c", Group: "g", Topic: "orders", Context: stable, Partitions: []PartitionInput{
		{Partition: 0, Window: retWindow(600, fixed(500), lin(1e6, 100), fixed(1000)), Series: [3]uint32{1, 2, 3}},
		{Partition: 1, Window: retWindow(600, lin(1.1e6, 100), lin(2e6, 100), lin(1e6, 100)), Series: [3]uint32{4, 5, 6}},
		{Partition: 2, Window: retWindow(600, lin(1e6, 100), lin(1e6, 100), fixed(0)), Series: [3]uint32{7, 8, 9}},
	}}
	other := GroupTopic{Cluster: "c", Group: "g", Topic: "gaps", Partitions: []PartitionInput{
		{Partition: 0, Window: retWindow(600, fixed(10), lin(1e6, 100), gapAt(599, fixed(0)))},
	}}
	v := &retView{gts: []GroupTopic{gt, other}}
	d, err := NewRetentionDetector(DefaultRetentionConfig())
	if err != nil {
		t.Fatal(err)
	}
	res := d.Sweep(v, map[string]TopicRetention{"orders": retain7d})
	if len(res.Candidates) != 2 {
		t.Fatalf("want 2 candidates, got %d: %+v", len(res.Candidates), res.Candidates)
	}
	f := func(c Candidate, k Kind, sev Severity, part int32, start, committed string, summary string) {
		t.Helper()
		if c.Kind != k || c.Severity != sev || len(c.Subject.Partitions) != 1 || c.Subject.Partitions[0] != part {
			t.Errorf("%s: got %s %v partitions %v", k, c.Kind, c.Severity, c.Subject.Partitions)
		}
		if len(c.Evidence) != 2 || c.Evidence[0].Source.API != "ListOffsets(earliest)" || c.Evidence[1].Source.API != "OffsetFetch" ||
			c.Evidence[0].Series.Labels[0].Value != start || c.Evidence[1].Series.Labels[0].Value != committed {
			t.Errorf("%s: evidence %+v", k, c.Evidence)
		}
		if !strings.Contains(c.Summary, summary) {
			t.Errorf("%s: summary %q lacks %q", k, c.Summary, summary)
		}
		if c.Fingerprint != Fingerprint(k, c.Subject) || !res.Present[c.Subject.Key()] || !res.Observed[c.Subject.Key()] {
			t.Errorf("%s: fingerprint %q or subject not present/observed", k, c.Fingerprint)
		}
	}
	f(res.Candidates[0], KindRetentionRisk, SeverityWarning, 1, "######", "####", "will be deleted in about 16m40s")
	f(res.Candidates[1], KindDataSkipped, SeverityCritical, 0, "###", "#", "500 records below the log start offset 1000")
	gapKey := subjectOf(&other, nil).Key()
	if !res.Present[gapKey] || res.Observed[gapKey] {
		t.Errorf("a group-topic in a gap must be present but not observed")
	}

	cfg := DefaultRetentionConfig()
	cfg.Horizon = 10 * time.Minute
	d, _ = NewRetentionDetector(cfg)
	res = d.Sweep(v, nil) // no configs known: the advancing start still forecasts
	if len(res.Candidates) != 1 || res.Candidates[0].Kind != KindDataSkipped {
		t.Fatalf("horizon 10m: want only DATA_SKIPPED, got %+v", res.Candidates)
	}
}

// TestRetentionDetectorPartitionBytes: a per-partition size overrides the
// topic's, so only the partition near its retention.bytes is at risk.
func TestRetentionDetectorPartitionBytes(t *testing.T) {
	w := func() PartitionWindow { return retWindow(600, fixed(1e6+10), lin(2e6-59_900, 100), fixed(1e6)) }
	v := &retView{gts: []GroupTopic{{Group: "g", Topic: "t", Partitions: []PartitionInput{
		{Partition: 0, Window: w()}, {Partition: 1, Window: w()}}}}}
	tr := withSize(retainBytes, 1e8) // 100 B/record: far from 1.05 GB
	tr.PartitionBytes = map[int32]float64{1: 1e9}
	d, _ := NewRetentionDetector(DefaultRetentionConfig())
	res := d.Sweep(v, map[string]TopicRetention{"t": tr})
	if len(res.Candidates) != 1 || len(res.Candidates[0].Subject.Partitions) != 1 || res.Candidates[0].Subject.Partitions[0] != 1 {
		t.Fatalf("want RETENTION_RISK on partition 1 only, got %+v", res.Candidates)
	}
}

func TestRetentionConfigValidate(t *testing.T) {
	if err := DefaultRetentionConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	f := func(mut func(*RetentionConfig), key string) {
		t.Helper()
		c := DefaultRetentionConfig()
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("want an error naming %s, got %v", key, err)
		}
		if _, err := NewRetentionDetector(c); err == nil {
			t.Errorf("NewRetentionDetector accepted an invalid %s", key)
		}
	}
	f(func(c *RetentionConfig) { c.Horizon = 0 }, "retention.horizon")
	f(func(c *RetentionConfig) { c.MinSpan = -time.Second }, "retention.min_span")
}
