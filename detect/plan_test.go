package detect

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func planFinding(k Kind, group, topic string, broker int32) Finding {
	return Finding{ID: "f1", Kind: k, State: StateFiring, Subject: Subject{Cluster: "c", Group: group, Topic: topic, Broker: broker}}
}

var planOwner = Owner{Owned: true, Team: "risk", Contact: "#risk"}

func groupFacts(members int, consume, produce float64) GroupPlanFacts {
	return GroupPlanFacts{Known: true, State: "Stable", Members: members, ConsumeRate: consume, ProduceRate: produce,
		Partitions: []PlanPartition{
			{Topic: "payments", Partition: 0, Committed: 100, End: 900, Start: 150},
			{Topic: "payments", Partition: 1, Committed: 200, End: 200, Start: 0},
			{Topic: "payments", Partition: 2, Committed: Gap, End: 50, Start: 0},
		}}
}

func topics(parts int, configs map[string]string) map[string]TopicPlanFacts {
	return map[string]TopicPlanFacts{"payments": {Name: "payments", Partitions: parts, Configs: configs, SizeBytes: 10 << 30, ProduceRate: 100}}
}

func TestPlanHeaderAndApprover(t *testing.T) {
	p := DraftPlan(PlanInput{Finding: planFinding(KindOffsetRewind, "g", "payments", -1), Owner: planOwner})
	if p.Header != PlanHeader || !strings.Contains(p.Header, "never applies it") {
		t.Errorf("header = %q", p.Header)
	}
	if len(p.Proposals) != 0 || len(p.Notes) != 1 {
		t.Errorf("OFFSET_REWIND: %+v", p)
	}
	p = DraftPlan(PlanInput{Finding: planFinding(KindLagGrowing, "g", "payments", -1), Owner: planOwner, Group: groupFacts(1, 50, 100), Topics: topics(6, nil)})
	for _, pr := range p.Proposals {
		if pr.Approver != planOwner {
			t.Errorf("%q: approver %+v", pr.Action, pr.Approver)
		}
		if pr.RollbackNote == "" && len(pr.Rollback) == 0 {
			t.Errorf("%q: no rollback", pr.Action)
		}
	}
}

func TestPlanScaleConsumers(t *testing.T) {
	// 1 member consuming 50/s, 100/s produced: 3 members needed (20 % headroom), 6 partitions.
	p := DraftPlan(PlanInput{Finding: planFinding(KindLagGrowing, "g", "payments", -1), Owner: planOwner, Bootstrap: "b:9092",
		Group: groupFacts(1, 50, 100), Topics: topics(6, nil)})
	if len(p.Proposals) != 1 || p.Proposals[0].Action != "Scale group g from 1 to 3 members" || p.Proposals[0].RollbackNote != "scale back to 1 members" {
		t.Fatalf("plan = %+v", p)
	}
	// Members already equal partitions: adding members cannot help; a
	// partition increase is proposed, with no rollback: 6 members at 50/s
	// in all need 100 × 1.2 ÷ (50/6) = 15 partitions.
	p = DraftPlan(PlanInput{Finding: planFinding(KindLagGrowing, "g", "payments", -1), Owner: planOwner, Bootstrap: "b:9092",
		Group: groupFacts(6, 50, 100), Topics: topics(6, map[string]string{"cleanup.policy": "delete"})})
	if len(p.Notes) != 1 || !strings.Contains(p.Notes[0], "cannot help") {
		t.Errorf("notes = %q", p.Notes)
	}
	if len(p.Proposals) != 1 {
		t.Fatalf("proposals = %+v", p.Proposals)
	}
	inc := p.Proposals[0]
	if !strings.Contains(inc.Artifacts[0].Content, "kafka-topics.sh --bootstrap-server b:9092 --alter --topic payments --partitions 15") ||
		len(inc.Rollback) != 0 || !strings.HasPrefix(inc.RollbackNote, "no rollback exists") || !strings.Contains(strings.Join(inc.DataNotes, " "), "keyed data") {
		t.Errorf("partition increase = %+v", inc)
	}
	// More members needed than partitions: scale to the partition count and
	// say a partition increase would be needed.
	p = DraftPlan(PlanInput{Finding: planFinding(KindLagGrowing, "g", "payments", -1), Owner: planOwner, Group: groupFacts(1, 10, 100), Topics: topics(6, nil)})
	if len(p.Proposals) != 2 || p.Proposals[0].Action != "Scale group g from 1 to 6 members" || !strings.Contains(strings.Join(p.Proposals[0].Risks, " "), "a partition increase would be needed") {
		t.Errorf("plan = %+v", p.Proposals)
	}
}

func TestPlanOffsetReset(t *testing.T) {
	for _, tc := range []struct {
		kind            Kind
		target, current string
		skipped         float64
	}{
		{KindConsumerStalled, "payments,0,101\n", "payments,0,100\n", 1},
		{KindConsumerStopped, "payments,0,900\n", "payments,0,100\n", 800},
		{KindDataSkipped, "payments,0,150\n", "payments,0,100\n", 50},
	} {
		p := DraftPlan(PlanInput{Finding: planFinding(tc.kind, "g", "payments", -1), Owner: planOwner, Bootstrap: "b1:9092,b2:9092", Group: groupFacts(1, 0, 0)})
		var pr *Proposal
		for i := range p.Proposals {
			if strings.HasPrefix(p.Proposals[i].Action, "Reset group g's offsets") {
				pr = &p.Proposals[i]
			}
		}
		if pr == nil {
			t.Fatalf("%s: no reset: %+v", tc.kind, p)
		}
		if pr.Artifacts[0].Content != tc.target || pr.Rollback[0].Content != tc.current {
			t.Errorf("%s: target %q rollback %q", tc.kind, pr.Artifacts[0].Content, pr.Rollback[0].Content)
		}
		if !strings.Contains(pr.Artifacts[1].Content, "kafka-consumer-groups.sh --bootstrap-server b1:9092,b2:9092 --group g --reset-offsets --from-file reset.csv --execute") ||
			!strings.Contains(pr.Rollback[1].Content, "--from-file rollback.csv --execute") {
			t.Errorf("%s: commands %q / %q", tc.kind, pr.Artifacts[1].Content, pr.Rollback[1].Content)
		}
		if !strings.Contains(pr.Preconditions[0], "every member of group g is stopped") {
			t.Errorf("%s: preconditions %q", tc.kind, pr.Preconditions)
		}
		if pr.Facts[1].Name != "skipped_offsets" || pr.Facts[1].Value != tc.skipped {
			t.Errorf("%s: facts %+v", tc.kind, pr.Facts)
		}
		if !strings.Contains(strings.Join(pr.DataNotes, " "), "idempotent") {
			t.Errorf("%s: no idempotency note", tc.kind)
		}
		if !strings.Contains(strings.Join(p.Notes, " "), "payments-2 is left out") {
			t.Errorf("%s: the partition with an unknown offset is not reported: %q", tc.kind, p.Notes)
		}
	}
}

func TestPlanRetention(t *testing.T) {
	f := planFinding(KindRetentionRisk, "g", "payments", -1)
	f.Facts = []Fact{{Name: "time_lag", Value: 7200, Unit: "s"}}
	p := DraftPlan(PlanInput{Finding: f, Owner: planOwner, Bootstrap: "b:9092", Topics: topics(6, map[string]string{"retention.ms": "3600000"})})
	if len(p.Proposals) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	pr := p.Proposals[0]
	// Twice the 2h time lag: 4h = 14400000 ms; storage 10 GiB × (4h−1h)/1h.
	if !strings.HasSuffix(pr.Artifacts[0].Content, "--alter --entity-type topics --entity-name payments --add-config retention.ms=14400000") ||
		!strings.HasSuffix(pr.Rollback[0].Content, "--add-config retention.ms=3600000") {
		t.Errorf("artifacts %q rollback %q", pr.Artifacts[0].Content, pr.Rollback[0].Content)
	}
	if !strings.Contains(strings.Join(pr.Risks, " "), "about 30.0 GiB more") || !strings.Contains(strings.Join(pr.Preconditions, " "), "compliance") {
		t.Errorf("risks %q preconditions %q", pr.Risks, pr.Preconditions)
	}
	p = DraftPlan(PlanInput{Finding: f, Owner: planOwner, Topics: topics(6, map[string]string{"retention.ms": "-1"})})
	if len(p.Proposals) != 0 || len(p.Notes) != 1 {
		t.Errorf("unlimited retention: %+v", p)
	}
}

func TestPlanLeaderElectionAndReassignment(t *testing.T) {
	ts := map[string]TopicPlanFacts{"payments": {Name: "payments", Partitions: 3, Assignment: []PartitionAssignment{
		{Partition: 0, Replicas: []int32{0, 1}, Leader: 0, SizeBytes: 1 << 30},
		{Partition: 1, Replicas: []int32{2, 0}, Leader: 0, SizeBytes: 2 << 30},
		{Partition: 2, Replicas: []int32{0, 2}, Leader: 0, SizeBytes: math.NaN()},
	}}}
	brokers := []BrokerPlanFacts{{Broker: 0, Replicas: 9, Leaders: 3}, {Broker: 1, Replicas: 1}, {Broker: 2, Replicas: 2}}
	p := DraftPlan(PlanInput{Finding: planFinding(KindLeaderSkew, "", "", 0), Owner: planOwner, Bootstrap: "b:9092", Topics: ts, Brokers: brokers})
	if len(p.Proposals) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	el := p.Proposals[0]
	var js struct {
		Partitions []struct {
			Topic     string
			Partition int32
		}
	}
	if err := json.Unmarshal([]byte(el.Artifacts[0].Content), &js); err != nil || len(js.Partitions) != 1 || js.Partitions[0].Partition != 1 {
		t.Errorf("election.json = %s (%v)", el.Artifacts[0].Content, err)
	}
	if !strings.Contains(el.Rollback[0].Content, `"replicas": [
        0,
        2
      ]`) {
		t.Errorf("rollback puts today's leader first: %s", el.Rollback[0].Content)
	}

	p = DraftPlan(PlanInput{Finding: planFinding(KindReplicaSkew, "", "", 0), Owner: planOwner, Bootstrap: "b:9092", Topics: ts, Brokers: brokers})
	if len(p.Proposals) != 1 {
		t.Fatalf("plan = %+v", p)
	}
	re := p.Proposals[0]
	type entry struct {
		Topic     string
		Partition int32
		Replicas  []int32
	}
	var prop, back struct {
		Version    int
		Partitions []entry
	}
	if err := json.Unmarshal([]byte(re.Artifacts[0].Content), &prop); err != nil || prop.Version != 1 {
		t.Fatal(err, re.Artifacts[0].Content)
	}
	if err := json.Unmarshal([]byte(re.Rollback[0].Content), &back); err != nil {
		t.Fatal(err)
	}
	// Broker 0 → broker 1 (least replicas); (9−1)/4 = 2 partitions, the
	// smallest first, skipping any already on broker 1 (partition 0).
	if len(prop.Partitions) != 2 || prop.Partitions[0].Partition != 2 || prop.Partitions[1].Partition != 1 ||
		prop.Partitions[1].Replicas[1] != 1 || back.Partitions[1].Replicas[1] != 0 {
		t.Errorf("proposed %+v rollback %+v", prop.Partitions, back.Partitions)
	}
	if !strings.Contains(re.Artifacts[1].Content, "--throttle 10485760") || !strings.Contains(strings.Join(re.Risks, " "), "unknown (partition sizes are not scraped)") {
		t.Errorf("throttle/movement: %q %q", re.Artifacts[1].Content, re.Risks)
	}
}

func TestShellQuote(t *testing.T) {
	for in, want := range map[string]string{"b:9092,c:9092": "b:9092,c:9092", "my group": "'my group'", "it's": `'it'\''s'`, "": "''"} {
		if got := shq(in); got != want {
			t.Errorf("shq(%q) = %q, want %q", in, got, want)
		}
	}
}
