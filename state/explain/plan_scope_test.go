package explain

import (
	"slices"
	"strings"
	"testing"

	"github.com/kwitness/kwitness/detect"
)

// TestWithholdTopics: a topic the caller may not see leaves the plan's
// topics, the group's partitions and the layout, and is counted once;
// the caller's inputs are not changed in place; nil visibility keeps all.
func TestWithholdTopics(t *testing.T) {
	mine := func(topic string) bool { return strings.HasPrefix(topic, "team-a-") }
	topics := []string{"team-a-orders", "team-b-orders"}
	group := []detect.PlanPartition{{Topic: "team-a-orders"}, {Topic: "team-b-orders", Partition: 1}, {Topic: "team-b-orders", Partition: 2}}
	parts := map[string][]detect.PartitionAssignment{"team-a-orders": {{}}, "team-b-orders": {{}}, "team-b-logs": {{}}}
	origTopics, origGroup := slices.Clone(topics), slices.Clone(group)

	gotTopics, gotGroup, gotParts := topics, group, parts
	if n := withholdTopics(mine, &gotTopics, &gotGroup, &gotParts); n != 2 {
		t.Errorf("withheld %d topics, want 2 (team-b-orders, team-b-logs)", n)
	}
	if !slices.Equal(gotTopics, []string{"team-a-orders"}) {
		t.Errorf("topics = %v", gotTopics)
	}
	if len(gotGroup) != 1 || gotGroup[0].Topic != "team-a-orders" {
		t.Errorf("group partitions = %v", gotGroup)
	}
	if len(gotParts) != 1 || gotParts["team-a-orders"] == nil {
		t.Errorf("layout = %v", gotParts)
	}
	if !slices.Equal(topics, origTopics) || !slices.Equal(group, origGroup) || len(parts) != 3 {
		t.Error("withholdTopics changed its caller's slices or map")
	}

	allTopics, allGroup, allParts := topics, group, parts
	if n := withholdTopics(nil, &allTopics, &allGroup, &allParts); n != 0 || len(allTopics) != 2 || len(allGroup) != 3 || len(allParts) != 3 {
		t.Errorf("nil visibility withheld %d: %v %v %v", n, allTopics, allGroup, allParts)
	}
}
