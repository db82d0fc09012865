package state

import (
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

func TestLayoutChanges(t *testing.T) {
	l := NewLayout(3)
	at := func(s int) time.Time { return time.Unix(1000+int64(s), 0) }
	parts := func(leaders ...int32) map[string][]detect.PartitionAssignment {
		var ps []detect.PartitionAssignment
		for i, ld := range leaders {
			ps = append(ps, detect.PartitionAssignment{Partition: int32(i), Leader: ld})
		}
		return map[string][]detect.PartitionAssignment{"t": ps}
	}
	l.ObserveMetadata(at(0), parts(1, 2))
	l.ObserveMetadata(at(10), parts(1, 2))
	l.ObserveMetadata(at(20), parts(1, 0, 2)) // leader of 1 moved, a partition added
	l.ObserveMetadata(at(30), map[string][]detect.PartitionAssignment{})
	l.ObserveConfigs(at(5), map[string]map[string]string{"t": {"retention.ms": "1000"}})
	l.ObserveConfigs(at(25), map[string]map[string]string{"t": {"retention.ms": "2000", "cleanup.policy": "compact"}})
	got := l.Changes(time.Time{}, func(*Change) bool { return true })
	want := []Change{
		{Kind: ChangeLeaderMoved, At: at(20), PrevAt: at(10), Source: "Metadata", Topic: "t", Partition: 1, From: 2, To: 0},
		{Kind: ChangeConfigChanged, At: at(25), PrevAt: at(5), Source: "DescribeConfigs", Topic: "t", Partition: -1, Name: "cleanup.policy", After: "compact"},
		{Kind: ChangeConfigChanged, At: at(25), PrevAt: at(5), Source: "DescribeConfigs", Topic: "t", Partition: -1, Name: "retention.ms", Before: "1000", After: "2000"},
	}
	// The partition-count change (the oldest of four) fell out of the bound of 3.
	if len(got) != len(want) {
		t.Fatalf("changes = %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("change %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if n := len(l.Changes(at(21), func(c *Change) bool { return c.Name == "retention.ms" })); n != 1 {
		t.Errorf("filtered changes = %d, want 1", n)
	}
	if p, when := l.Partitions(); len(p) != 0 || !when.Equal(at(30)) {
		t.Errorf("newest layout = %v at %v", p, when)
	}
}
