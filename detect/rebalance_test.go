package detect

import (
	"strings"
	"testing"
)

func TestRebalanceStormTable(t *testing.T) {
	d, err := NewRebalanceDetector(DefaultRebalanceConfig())
	if err != nil {
		t.Fatal(err)
	}
	now := int64(1_800_000_000_000)
	change := func(agoS int64, from int32) MembershipChange {
		at := now - agoS*1000
		return MembershipChange{AtMs: at, BeforeMs: at - 10_000, From: from, To: from + 1, GenerationID: 7, HasSeries: true,
			Joined: []string{"app@h"}}
	}
	f := func(n int, hist []MembershipChange, known bool, want bool) {
		t.Helper()
		ctx := GroupContext{Known: known, Members: 2, History: hist}
		if len(hist) > 0 {
			ctx.Change = hist[len(hist)-1]
		}
		v := &oneTopic{gt: GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: ctx}}
		res := d.Sweep(v, now)
		got := len(res.Candidates) == 1 && res.Candidates[0].Kind == KindRebalanceStorm
		if got != want {
			t.Errorf("%d: storm %v, want %v (%+v)", n, got, want, res.Candidates)
		}
		if got {
			c := res.Candidates[0]
			if len(c.Evidence) != 1 || c.Evidence[0].Source.API != "DescribeGroups" || !strings.Contains(c.Summary, "3 times") && !strings.Contains(c.Summary, "4 times") {
				t.Errorf("%d: evidence or summary: %s %+v", n, c.Summary, c.Evidence)
			}
		}
		if key := (Subject{Cluster: "c", Group: "g", Broker: -1}).Key(); res.Observed[key] != known || !res.Present[key] {
			t.Errorf("%d: observed %v present %v", n, res.Observed[key], res.Present[key])
		}
	}
	f(1, nil, true, false)                                                                           // a quiet group
	f(2, []MembershipChange{change(300, 1), change(200, 2)}, true, false)                            // two changes: a deploy, not a storm
	f(3, []MembershipChange{change(500, 1), change(300, 2), change(100, 3)}, true, true)             // three in ten minutes
	f(4, []MembershipChange{change(1500, 1), change(1300, 2), change(100, 3)}, true, false)          // two of them long ago
	f(5, []MembershipChange{change(50, 1), change(40, 2), change(30, 3), change(20, 4)}, true, true) // a burst
	f(6, []MembershipChange{change(500, 1), change(300, 2), change(100, 3)}, false, false)           // never described: not judged
}
