package detect

import (
	"strings"
	"testing"
)

func TestAssignmentSkewTable(t *testing.T) {
	d, _ := NewLagDetector(DefaultLagConfig())
	caught := win(60, rate(0, 100), rate(0, 100))   // keeps up: lag 0
	behind := win(60, constant(0), rate(1000, 100)) // 7,000 behind, not committing
	f := func(n int, parts []PartitionWindow, owners map[int32]string, want string) {
		t.Helper()
		gt := GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: GroupContext{Known: true, Members: 2, Owners: map[string]map[int32]string{"t": owners}}}
		for i, w := range parts {
			gt.Partitions = append(gt.Partitions, PartitionInput{Partition: int32(i), Window: w, Series: [3]uint32{1, 2, 3}})
		}
		var got string
		for _, c := range d.Sweep(&oneTopic{gt: gt}).Candidates {
			if c.Kind == KindAssignmentSkew {
				got = c.Summary
			}
		}
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("%d: summary %q, want %q", n, got, want)
		}
	}
	// 1: one of two members holds all the lag: named.
	f(1, []PartitionWindow{caught, caught, behind, behind}, map[int32]string{0: "a", 1: "a", 2: "b", 3: "b"}, "b owns partitions 2,3 and 100 %")
	// 2: the lag is spread like the partitions: no skew.
	f(2, []PartitionWindow{behind, caught, behind, caught}, map[int32]string{0: "a", 1: "a", 2: "b", 3: "b"}, "")
	// 3: balanced and healthy.
	f(3, []PartitionWindow{caught, caught, caught, caught}, map[int32]string{0: "a", 1: "b", 2: "a", 3: "b"}, "")
	// 4: one member owns five partitions, the other one: uneven.
	f(4, []PartitionWindow{caught, caught, caught, caught, caught, caught}, map[int32]string{0: "a", 1: "a", 2: "a", 3: "a", 4: "a", 5: "b"}, "a owns 5 partitions, b only 1")
	// 5: no assignment known (never described, or not a consumer group): nothing.
	f(5, []PartitionWindow{caught, behind}, nil, "")
	// 6: a single member owning everything is not skew.
	f(6, []PartitionWindow{behind, behind}, map[int32]string{0: "a", 1: "a"}, "")
}
