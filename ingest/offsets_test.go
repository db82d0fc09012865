package ingest

import (
	"slices"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/state"
)

func answer(parts ...int32) []kmsg.OffsetFetchResponseGroupTopicPartition {
	out := make([]kmsg.OffsetFetchResponseGroupTopicPartition, len(parts))
	for i, p := range parts {
		out[i] = kmsg.NewOffsetFetchResponseGroupTopicPartition()
		out[i].Partition, out[i].Offset = p, int64(100+p)
	}
	return out
}

// TestPartIndex finds partitions of unordered answers, dense or not, and
// leaves nothing behind between topics.
func TestPartIndex(t *testing.T) {
	var x partIndex
	for _, c := range []struct {
		name    string
		parts   []int32
		present []int32
		absent  []int32
	}{
		{"unordered", []int32{7, 2, 0, 5}, []int32{0, 2, 5, 7}, []int32{1, 3, 8, -1, 1 << 20}},
		{"after a larger topic", []int32{1}, []int32{1}, []int32{0, 2, 5, 7}},
		{"partition beyond the dense index", []int32{3, maxIndexed + 4, 1}, []int32{1, 3, maxIndexed + 4}, []int32{0, 2, maxIndexed}},
		{"negative partition", []int32{-3, 2}, []int32{-3, 2}, []int32{0, 3}},
		{"empty", nil, nil, []int32{0, 1}},
	} {
		x.load(answer(c.parts...))
		for _, p := range c.present {
			if o := x.find(p); o == nil || o.Partition != p || o.Offset != int64(100+p) {
				t.Errorf("%s: find(%d) = %+v, want partition %d at offset %d", c.name, p, o, p, 100+p)
			}
		}
		for _, p := range c.absent {
			if o := x.find(p); o != nil {
				t.Errorf("%s: find(%d) = %+v, want nil", c.name, p, o)
			}
		}
		x.clear()
		for i, v := range x.pos {
			if v != -1 {
				t.Fatalf("%s: pos[%d] = %d after clear, want -1", c.name, i, v)
			}
		}
	}
}

// TestSpecsOf keeps only filtered topics with committed partitions, sorted.
func TestSpecsOf(t *testing.T) {
	r := groupOffsets{Topics: []kmsg.OffsetFetchResponseGroupTopic{
		{Topic: "a", Partitions: answer(3, 1, 2)},
		{Topic: "b", Partitions: answer(0)},
		{Topic: "skip", Partitions: answer(0)},
	}}
	r.Topics[0].Partitions[2].Offset = -1   // partition 2: nothing committed
	r.Topics[1].Partitions[0].ErrorCode = 3 // UNKNOWN_TOPIC_OR_PARTITION
	f, err := Filter{Exclude: []string{"skip"}}.compile("topics")
	if err != nil {
		t.Fatal(err)
	}
	got := specsOf("g", r, f)
	if len(got) != 1 || got[0].Group != "g" || got[0].Topic != "a" || len(got[0].Partitions) != 2 || got[0].Partitions[0] != 1 || got[0].Partitions[1] != 3 {
		t.Fatalf("specsOf = %+v, want one spec g/a [1 3]", got)
	}
}

// TestCollectGroupSteady rebuilds specs only when a group's committed
// partitions change, whatever order the broker answers in.
func TestCollectGroupSteady(t *testing.T) {
	p := &Poller{specs: map[string][]state.GroupTopicSpec{}}
	topics := func(a, b []int32) groupOffsets {
		return groupOffsets{Topics: []kmsg.OffsetFetchResponseGroupTopic{{Topic: "a", Partitions: answer(a...)}, {Topic: "b", Partitions: answer(b...)}}}
	}
	for i, c := range []struct {
		r     groupOffsets
		dirty bool
		parts int
	}{
		{topics([]int32{0, 1, 2}, []int32{4}), true, 4},
		{topics([]int32{2, 0, 1}, []int32{4}), false, 4},
		{topics([]int32{2, 0}, []int32{4}), true, 3},
		{topics([]int32{2, 0}, []int32{4, 5}), true, 4},
		{topics([]int32{0, 2}, nil), true, 2},
		{topics([]int32{0, 2}, nil), false, 2},
		{topics([]int32{0, 3}, nil), true, 2},
	} {
		p.topoDirty = false
		var rep SweepReport
		if !p.collectGroup(t.Context(), "g", c.r, &rep) {
			t.Fatalf("answer %d: collectGroup failed", i)
		}
		if p.topoDirty != c.dirty || rep.Partitions != c.parts {
			t.Errorf("answer %d: dirty %v with %d partitions, want %v with %d", i, p.topoDirty, rep.Partitions, c.dirty, c.parts)
		}
		if got := specsOf("g", c.r, matcher{}); !slices.EqualFunc(p.specs["g"], got, func(a, b state.GroupTopicSpec) bool {
			return a.Topic == b.Topic && slices.Equal(a.Partitions, b.Partitions)
		}) {
			t.Errorf("answer %d: specs %+v, want %+v", i, p.specs["g"], got)
		}
	}
}
