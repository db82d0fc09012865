package detect

import (
	"reflect"
	"testing"
)

// startView is retView that also reads newest offsets directly
// (StartReader), counting how often it does and how often a window is
// needed.
type startView struct {
	retView
	newest int
}

func (v *startView) NewestStart(gt *GroupTopic, j int) (committed, start int64) {
	v.newest++
	w := gt.Partitions[j].Window
	n := len(w.Times) - 1
	return w.Committed[n], w.Start[n]
}

// TestSweepSkipped: the per-sweep DATA_SKIPPED check gives the full Sweep's
// DATA_SKIPPED candidate (and nothing else), at most one newest-offset
// comparison per partition, marks subjects present but never observed (so the Book
// holds what only the full Sweep judges), and asks for topic limits only
// when something was skipped.
func TestSweepSkipped(t *testing.T) {
	skipped := GroupTopic{Cluster: "c", Group: "g", Topic: "orders", Context: stable, Partitions: []PartitionInput{
		// committed 500 below the log start 1000: skipped.
		{Partition: 0, Window: retWindow(600, fixed(500), lin(1e6, 100), fixed(1000)), Series: [3]uint32{1, 2, 3}},
		// at risk, not skipped: committed 1.1e6+59900 above start 1e6+59900.
		{Partition: 1, Window: retWindow(600, lin(1.1e6, 100), lin(2e6, 100), lin(1e6, 100)), Series: [3]uint32{4, 5, 6}},
	}}
	healthy := GroupTopic{Cluster: "c", Group: "h", Topic: "orders", Context: stable, Partitions: []PartitionInput{
		{Partition: 0, Window: retWindow(600, lin(1e6, 100), lin(1e6, 100), fixed(0)), Series: [3]uint32{7, 8, 9}},
	}}
	limits := map[string]TopicRetention{"orders": retain7d}
	asked := 0
	topics := func() map[string]TopicRetention { asked++; return limits }

	v := &startView{retView: retView{gts: []GroupTopic{skipped, healthy}}}
	d, _ := NewRetentionDetector(DefaultRetentionConfig())
	res := d.SweepSkipped(v, topics)
	// At most one read per partition: g stops at its skipped partition 0,
	// h reads its only partition.
	if v.newest != 2 || asked != 1 {
		t.Errorf("%d newest-offset reads and %d limit lookups, want 2 and 1", v.newest, asked)
	}
	if len(res.Candidates) != 1 {
		t.Fatalf("want one DATA_SKIPPED candidate, got %+v", res.Candidates)
	}
	full, _ := NewRetentionDetector(DefaultRetentionConfig())
	var want Candidate
	for _, c := range full.Sweep(&retView{gts: []GroupTopic{skipped}}, limits).Candidates {
		if c.Kind == KindDataSkipped {
			want = c
		}
	}
	if !reflect.DeepEqual(res.Candidates[0], want) {
		t.Errorf("SweepSkipped candidate\n%+v\nwant the full Sweep's\n%+v", res.Candidates[0], want)
	}
	for _, gt := range []*GroupTopic{&skipped, &healthy} {
		if k := subjectOf(gt, nil).Key(); !res.Present[k] || res.Observed[k] {
			t.Errorf("%s: present %v observed %v, want present and not observed", k, res.Present[k], res.Observed[k])
		}
	}

	// Nothing skipped: no candidate, and the limits are not built.
	asked = 0
	if res = d.SweepSkipped(&startView{retView: retView{gts: []GroupTopic{healthy}}}, topics); len(res.Candidates) != 0 || asked != 0 {
		t.Errorf("healthy: %d candidates, %d limit lookups; want none", len(res.Candidates), asked)
	}
	// A view without StartReader reads the windows instead, to the same end.
	if res = d.SweepSkipped(&retView{gts: []GroupTopic{skipped, healthy}}, topics); len(res.Candidates) != 1 || !reflect.DeepEqual(res.Candidates[0], want) {
		t.Errorf("plain view: %+v", res.Candidates)
	}
}
