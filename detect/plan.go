package detect

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Change plans: DraftPlan turns a finding and the cluster facts around it
// into proposals a person reviews and, if they choose, runs through their
// own tooling. kwitness never applies a plan: nothing in kwitness writes to
// Kafka, and PlanHeader says so at the top of every plan.
//
// Artifacts are the Apache Kafka command-line tools' own inputs, filled
// with the values kwitness observed:
//   - kafka-consumer-groups.sh --reset-offsets --from-file (CSV lines
//     "topic,partition,offset"; the group must have no active members);
//   - kafka-configs.sh --alter --entity-type topics --add-config;
//   - kafka-topics.sh --alter --partitions;
//   - kafka-reassign-partitions.sh --reassignment-json-file (version 1 JSON,
//     {"version":1,"partitions":[{"topic","partition","replicas"}]});
//   - kafka-leader-election.sh --election-type PREFERRED.
//
// See https://kafka.apache.org/documentation/#basic_ops.

// PlanHeader opens every plan.
const PlanHeader = "DRAFT — kwitness drafted this plan from what it observed and never applies it: it has no code path that writes to Kafka. " +
	"A person reviews each proposal, obtains the approver's consent, and runs the artifacts through their own tooling."

// PlanInput is a finding and what kwitness knows around it.
type PlanInput struct {
	Finding   Finding
	Owner     Owner  // approver of every proposal
	Bootstrap string // --bootstrap-server value; a placeholder when unknown
	Group     GroupPlanFacts
	Topics    map[string]TopicPlanFacts // by name: the finding's topic, the group's topics
	Brokers   []BrokerPlanFacts         // every broker known, ascending id
}

// GroupPlanFacts describe the finding's group, when it has one.
type GroupPlanFacts struct {
	Known       bool // the group was described
	State       string
	Members     int
	Partitions  []PlanPartition // the group's partitions (the finding's topic first)
	ConsumeRate float64         // messages/s over the lag window, whole group; NaN unknown
	ProduceRate float64         // messages/s into the group's partitions; NaN unknown
}

// PlanPartition is one group-partition's newest offsets (Gap when unknown).
type PlanPartition struct {
	Topic     string
	Partition int32
	Committed int64
	End       int64
	Start     int64
}

// TopicPlanFacts describe one topic.
type TopicPlanFacts struct {
	Name        string
	Partitions  int               // partition count; 0 unknown
	Configs     map[string]string // DescribeConfigs: retention.ms, cleanup.policy, …
	SizeBytes   float64           // on disk, all replicas; NaN unknown
	ProduceRate float64           // messages/s; NaN unknown
	Assignment  []PartitionAssignment
}

// PartitionAssignment is one partition's replicas (preferred leader first)
// and current leader, from Metadata.
type PartitionAssignment struct {
	Partition int32
	Replicas  []int32
	ISR       []int32
	Leader    int32   // -1: offline
	SizeBytes float64 // one replica's log size; NaN unknown
}

// BrokerPlanFacts describe one broker.
type BrokerPlanFacts struct {
	Broker       int32
	Leaders      int
	Replicas     int
	UsedBytes    float64 // NaN unknown
	TotalBytes   float64 // NaN unknown
	BytesInRate  float64 // bytes/s; NaN unknown
	BytesOutRate float64
}

// Plan is a drafted plan.
type Plan struct {
	Header    string
	Proposals []Proposal
	Notes     []string // why a proposal could not be drafted
}

// Proposal is one change a person may choose to make.
type Proposal struct {
	Action        string // one line
	Changes       string // what state it changes
	Approver      Owner
	Preconditions []string
	Artifacts     []Artifact
	Rollback      []Artifact
	RollbackNote  string // why there is no rollback artifact, or what it restores
	Risks         []string
	DataNotes     []string
	Facts         []Fact
}

// Artifact is a command or file a person runs through their own tooling.
type Artifact struct {
	Name    string
	Format  string // "shell", "json" or "csv"
	Content string
}

// DraftPlan drafts the proposals for in.Finding. It is a pure function of
// its input.
func DraftPlan(in PlanInput) Plan {
	p := &planner{in: in, plan: Plan{Header: PlanHeader}}
	if p.in.Bootstrap == "" {
		p.in.Bootstrap = "BOOTSTRAP_SERVERS"
	}
	f := in.Finding
	switch f.Kind {
	case KindLagGrowing:
		p.deployRollback()
		p.scaleConsumers()
	case KindConsumerStalled:
		p.deployRollback()
		p.resetOffsets(resetSkipOne)
	case KindConsumerStopped:
		p.resetOffsets(resetToEnd)
	case KindDataSkipped:
		p.resetOffsets(resetToStart)
	case KindRetentionRisk:
		p.retention()
	case KindHotPartition:
		p.partitionIncrease(f.Subject.Topic, "spread a hot partition's load", 2)
	case KindLeaderSkew:
		p.leaderElection()
	case KindReplicaSkew, KindDiskSkew, KindTrafficSkew, KindDiskNearlyFull, KindDiskFillForecast:
		p.reassign()
	default:
		p.note(fmt.Sprintf("no change is drafted for %s: it calls for investigation (see the runbook and the evidence), not a cluster change kwitness can fill in", f.Kind))
	}
	return p.plan
}

type planner struct {
	in   PlanInput
	plan Plan
}

func (p *planner) note(s string) { p.plan.Notes = append(p.plan.Notes, s) }

func (p *planner) add(pr Proposal) {
	pr.Approver = p.in.Owner
	p.plan.Proposals = append(p.plan.Proposals, pr)
}

// factText returns the text of a finding fact by name.
func (p *planner) factText(name string) (string, bool) {
	for _, f := range p.in.Finding.Facts {
		if f.Name == name {
			return f.Text, true
		}
	}
	return "", false
}

func (p *planner) describeCmd(group string) string {
	return fmt.Sprintf("kafka-consumer-groups.sh --bootstrap-server %s --describe --group %s", shq(p.in.Bootstrap), shq(group))
}

// deployRollback proposes rolling back the deploy the lag began after,
// when the finding correlated one.
func (p *planner) deployRollback() {
	f := p.in.Finding
	ev, hasEvent := p.factText("deploy_event.service")
	gen, hasGen := p.factText("deploy.generation")
	if !hasEvent && !hasGen {
		return
	}
	what := "the membership change (generation " + gen + ")"
	var facts []Fact
	if hasEvent {
		id, _ := p.factText("deploy_event.id")
		at, _ := p.factText("deploy_event.at")
		what = fmt.Sprintf("the deploy of %s (event %s at %s)", ev, id, at)
		facts = append(facts, Fact{Name: "deploy_event.id", Text: id}, Fact{Name: "deploy_event.service", Text: ev})
	}
	if hasGen {
		facts = append(facts, Fact{Name: "deploy.generation", Text: gen})
	}
	p.add(Proposal{
		Action:  fmt.Sprintf("Roll back %s of group %s through your deploy pipeline", what, f.Subject.Group),
		Changes: "the consumer's code or configuration; no Kafka state",
		Preconditions: []string{
			"the previous version is known to keep up (its consume rate before the change covered the produce rate)",
			"the change was not a required fix (check the deploy's notes)",
		},
		Artifacts:    []Artifact{{Name: "verify", Format: "shell", Content: p.describeCmd(f.Subject.Group)}},
		RollbackNote: "re-deploy the version rolled back from through the same pipeline",
		Risks:        []string{"a rollback is itself a rebalance: consumption pauses while the group re-forms"},
		DataNotes:    []string{"no offsets change: the rolled-back consumer resumes from the committed offsets, so nothing is skipped or replayed beyond the records processed but not yet committed"},
		Facts:        facts,
	})
}

// scaleConsumers proposes adding members, bounded by the partition count,
// and a partition increase when members alone cannot catch up.
func (p *planner) scaleConsumers() {
	g := p.in.Group
	f := p.in.Finding
	parts := 0
	for _, t := range p.topicsOfGroup() {
		parts = max(parts, p.in.Topics[t].Partitions)
	}
	if parts == 0 {
		parts = len(g.Partitions)
	}
	facts := []Fact{{Name: "members", Value: float64(g.Members)}, {Name: "partitions", Value: float64(parts)}}
	need := 0
	if g.Members > 0 && g.ConsumeRate > 0 && !math.IsNaN(g.ProduceRate) {
		perMember := g.ConsumeRate / float64(g.Members)
		need = int(math.Ceil(g.ProduceRate * 1.2 / perMember)) // 20 % headroom to drain the backlog
		facts = append(facts, Fact{Name: "consume_rate", Value: g.ConsumeRate, Unit: "messages/s"},
			Fact{Name: "produce_rate", Value: g.ProduceRate, Unit: "messages/s"},
			Fact{Name: "members_needed", Value: float64(need), Unit: "members", Text: "produce rate × 1.2 ÷ consume rate per member"})
	}
	switch {
	case g.Members >= parts && parts > 0:
		p.note(fmt.Sprintf("adding members to %s cannot help: it has %d members for %d partitions, and a partition is consumed by one member at a time; a partition increase (below) or a faster consumer is needed", f.Subject.Group, g.Members, parts))
		p.partitionIncrease(f.Subject.Topic, "let more consumers share the load", max(parts*2, need))
		return
	case need == 0:
		need = min(parts, max(g.Members*2, 1))
	}
	target := min(need, parts)
	pr := Proposal{
		Action:  fmt.Sprintf("Scale group %s from %d to %d members", f.Subject.Group, g.Members, target),
		Changes: "the number of consumer instances (your deployment); no Kafka state",
		Preconditions: []string{
			fmt.Sprintf("the group's topics have at least %d partitions (they have %d)", target, parts),
			"the consumers' downstream (databases, APIs) can take the higher throughput",
		},
		Artifacts:    []Artifact{{Name: "verify", Format: "shell", Content: p.describeCmd(f.Subject.Group) + " --members"}},
		RollbackNote: fmt.Sprintf("scale back to %d members", g.Members),
		Risks:        []string{"each member added or removed is a rebalance; with the eager protocol every partition pauses while it runs"},
		DataNotes:    []string{"records processed but not yet committed when partitions move are processed again by their new owner: the consumer must be idempotent or deduplicate"},
		Facts:        facts,
	}
	if need > parts {
		pr.Risks = append(pr.Risks, fmt.Sprintf("%d members would be needed at current rates but only %d can consume (one per partition): scaling alone will not catch up, a partition increase would be needed", need, parts))
	}
	p.add(pr)
	if need > parts {
		p.partitionIncrease(f.Subject.Topic, "let more consumers share the load", need)
	}
}

// topicsOfGroup lists the topics of the group's partitions, the finding's
// first.
func (p *planner) topicsOfGroup() []string {
	var out []string
	if t := p.in.Finding.Subject.Topic; t != "" {
		out = append(out, t)
	}
	for _, pp := range p.in.Group.Partitions {
		if !slices.Contains(out, pp.Topic) {
			out = append(out, pp.Topic)
		}
	}
	return out
}

// partitionIncrease proposes raising topic's partition count to at least
// want. There is no rollback: partitions cannot be removed.
func (p *planner) partitionIncrease(topic, why string, want int) {
	t, ok := p.in.Topics[topic]
	if topic == "" || !ok || t.Partitions == 0 {
		p.note(fmt.Sprintf("no partition increase is drafted for topic %q: its partition count is unknown", topic))
		return
	}
	target := max(want, t.Partitions+1)
	facts := []Fact{{Name: "partitions", Value: float64(t.Partitions)}, {Name: "target_partitions", Value: float64(target)}}
	data := []string{
		"for keyed data, the partition of a key is hash(key) mod the partition count: after the increase most keys map to another partition, so records of one key written before and after are in different partitions and their order across the change is not guaranteed",
		"consumers relying on co-partitioning (joins, Kafka Streams) must be re-partitioned the same way",
	}
	if cp := t.Configs["cleanup.policy"]; strings.Contains(cp, "compact") {
		data = append(data, "the topic is compacted: older values of a key stay in their old partition until compaction removes them, so a reader may see a stale value of a key from the old partition")
	}
	p.add(Proposal{
		Action:  fmt.Sprintf("Increase topic %s from %d to %d partitions to %s", topic, t.Partitions, target, why),
		Changes: "the topic's partition count (topic metadata); new partitions start empty",
		Preconditions: []string{
			"every producer and consumer of the topic tolerates a partition-count change (no hard-coded partition counts)",
			"the brokers have room for the new partitions' replicas",
		},
		Artifacts: []Artifact{{Name: "increase-partitions", Format: "shell",
			Content: fmt.Sprintf("kafka-topics.sh --bootstrap-server %s --alter --topic %s --partitions %d", shq(p.in.Bootstrap), shq(topic), target)}},
		RollbackNote: fmt.Sprintf("no rollback exists: Kafka cannot remove partitions; returning to %d partitions means a new topic and migrating producers and consumers to it", t.Partitions),
		Risks:        []string{"irreversible", "producers and consumers pick the new partitions up only at their next metadata refresh (metadata.max.age.ms, default 5 minutes)"},
		DataNotes:    data,
		Facts:        facts,
	})
}

// Offset reset targets.
type resetMode int

const (
	resetSkipOne resetMode = iota // committed + 1: skip the record the consumer is stuck on
	resetToEnd                    // log end: skip the backlog
	resetToStart                  // log start: resume from the oldest record retained
)

// resetOffsets proposes an offset reset of the finding's partitions, with
// the current committed offsets as rollback.
func (p *planner) resetOffsets(mode resetMode) {
	f := p.in.Finding
	g := f.Subject.Group
	var target, current strings.Builder
	skipped, replay := int64(0), int64(0)
	n := 0
	for _, pp := range p.in.Group.Partitions {
		if f.Subject.Topic != "" && pp.Topic != f.Subject.Topic || len(f.Subject.Partitions) > 0 && !slices.Contains(f.Subject.Partitions, pp.Partition) {
			continue
		}
		if pp.Committed == Gap || pp.End == Gap {
			p.note(fmt.Sprintf("partition %s-%d is left out: its newest committed or end offset is unknown", pp.Topic, pp.Partition))
			continue
		}
		var to int64
		switch mode {
		case resetSkipOne:
			to = min(pp.Committed+1, pp.End)
		case resetToEnd:
			to = pp.End
		case resetToStart:
			if pp.Start == Gap {
				p.note(fmt.Sprintf("partition %s-%d is left out: its log start offset is unknown", pp.Topic, pp.Partition))
				continue
			}
			if pp.Committed >= pp.Start {
				continue // its next record is still retained
			}
			to = pp.Start
		}
		if to == pp.Committed {
			continue
		}
		if to > pp.Committed {
			skipped += to - pp.Committed
		} else {
			replay += pp.Committed - to
		}
		fmt.Fprintf(&target, "%s,%d,%d\n", pp.Topic, pp.Partition, to)
		fmt.Fprintf(&current, "%s,%d,%d\n", pp.Topic, pp.Partition, pp.Committed)
		n++
	}
	if n == 0 {
		p.note(fmt.Sprintf("no offset reset is drafted for group %s: no partition of the finding has known offsets that would change", g))
		return
	}
	cmd := func(file string) string {
		return fmt.Sprintf("kafka-consumer-groups.sh --bootstrap-server %s --group %s --reset-offsets --from-file %s --dry-run\n"+
			"kafka-consumer-groups.sh --bootstrap-server %s --group %s --reset-offsets --from-file %s --execute",
			shq(p.in.Bootstrap), shq(g), file, shq(p.in.Bootstrap), shq(g), file)
	}
	action := map[resetMode]string{
		resetSkipOne: "skip the one record each stuck partition is blocked on (committed offset + 1)",
		resetToEnd:   "skip the backlog: move to the log end offsets",
		resetToStart: "resume from the oldest retained record (log start offsets)",
	}[mode]
	data := map[resetMode][]string{
		resetSkipOne: {fmt.Sprintf("%d records are skipped and never processed by this group (one per partition); capture them first (e.g. kafka-console-consumer.sh --offset) if they matter", skipped)},
		resetToEnd:   {fmt.Sprintf("%d records are skipped and never processed by this group; downstream systems miss them unless they are replayed from elsewhere", skipped)},
		resetToStart: {fmt.Sprintf("the records between the committed offsets and the log start were already deleted by retention: they are lost to this group and cannot be replayed from Kafka (%d offsets)", skipped)},
	}[mode]
	data = append(data, "rolling back re-reads everything between the rollback offsets and where the group got to: the consumer's downstream writes must be idempotent, or duplicates follow")
	pr := Proposal{
		Action:  fmt.Sprintf("Reset group %s's offsets on %d partitions: %s", g, n, action),
		Changes: fmt.Sprintf("the committed offsets of group %s (__consumer_offsets)", g),
		Preconditions: []string{
			fmt.Sprintf("every member of group %s is stopped: the reset is refused while the group has active members (state now: %s)", g, orUnknown(p.in.Group.State)),
			"save the rollback file before executing",
			"the offsets still match what kwitness saw: compare with " + p.describeCmd(g),
		},
		Artifacts: []Artifact{
			{Name: "reset.csv", Format: "csv", Content: target.String()},
			{Name: "reset-offsets", Format: "shell", Content: cmd("reset.csv")},
		},
		Rollback: []Artifact{
			{Name: "rollback.csv", Format: "csv", Content: current.String()},
			{Name: "rollback-offsets", Format: "shell", Content: cmd("rollback.csv")},
		},
		RollbackNote: "restores the committed offsets kwitness observed before the reset (group stopped again first)",
		Risks:        []string{"the consumers stay stopped from the first step until the reset is executed"},
		DataNotes:    data,
		Facts:        []Fact{{Name: "partitions", Value: float64(n)}, {Name: "skipped_offsets", Value: float64(skipped), Unit: "messages"}},
	}
	if replay > 0 {
		pr.Facts = append(pr.Facts, Fact{Name: "replayed_offsets", Value: float64(replay), Unit: "messages"})
	}
	p.add(pr)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// retention proposes raising retention.ms so the group's unread records
// outlive its lag, estimating the storage it takes.
func (p *planner) retention() {
	f := p.in.Finding
	topic := f.Subject.Topic
	t, ok := p.in.Topics[topic]
	cur, err := strconv.ParseInt(t.Configs["retention.ms"], 10, 64)
	if !ok || err != nil || cur <= 0 {
		p.note(fmt.Sprintf("no retention change is drafted for topic %q: its retention.ms is unknown or unlimited (DescribeConfigs)", topic))
		return
	}
	target := cur * 2
	for _, x := range f.Facts {
		if x.Name == "time_lag" && x.Value > 0 {
			target = max(target, int64(math.Ceil(x.Value*2*1000))) // twice the time lag the group runs behind
		}
	}
	facts := []Fact{{Name: "retention.ms", Value: float64(cur), Unit: "ms"}, {Name: "target_retention.ms", Value: float64(target), Unit: "ms"}}
	storage := "storage: unknown (the topic's size is not scraped)"
	if !math.IsNaN(t.SizeBytes) && t.SizeBytes > 0 {
		// A log at steady state holds about rate × retention; scale by
		// the retention ratio.
		extra := t.SizeBytes * float64(target-cur) / float64(cur)
		storage = fmt.Sprintf("storage: about %s more across all replicas (%s now × %d/%d; a log at steady state holds produce rate × retention)",
			bytesText(extra), bytesText(t.SizeBytes), target, cur)
		facts = append(facts, Fact{Name: "size_bytes", Value: t.SizeBytes, Unit: "bytes"}, Fact{Name: "added_bytes", Value: extra, Unit: "bytes"})
	}
	alter := func(v int64) string {
		return fmt.Sprintf("kafka-configs.sh --bootstrap-server %s --alter --entity-type topics --entity-name %s --add-config retention.ms=%d", shq(p.in.Bootstrap), shq(topic), v)
	}
	p.add(Proposal{
		Action:  fmt.Sprintf("Raise topic %s's retention.ms from %d (%s) to %d (%s)", topic, cur, time.Duration(cur)*time.Millisecond, target, time.Duration(target)*time.Millisecond),
		Changes: "the topic's retention.ms config (how long closed segments are kept)",
		Preconditions: []string{
			"the brokers' disks have room for the added storage (" + storage + ")",
			"compliance: retention may be set by a data-retention policy (e.g. personal data must be deleted after a period); the data owner agrees to keeping it longer",
		},
		Artifacts:    []Artifact{{Name: "raise-retention", Format: "shell", Content: alter(target)}},
		Rollback:     []Artifact{{Name: "restore-retention", Format: "shell", Content: alter(cur)}},
		RollbackNote: fmt.Sprintf("restores retention.ms=%d; if the topic had no override (the value came from the broker default) use --delete-config retention.ms instead; lowering it deletes the extra segments at the next retention check", cur),
		Risks:        []string{storage, "a retention change does not make the group faster: it only keeps unread records longer"},
		DataNotes:    []string{"no record is lost or replayed by raising retention; records already deleted stay deleted"},
		Facts:        facts,
	})
}

// leaderElection proposes a preferred-leader election for the partitions
// led by other than their preferred replica.
func (p *planner) leaderElection() {
	type tp struct {
		Topic     string `json:"topic"`
		Partition int32  `json:"partition"`
	}
	var moved []tp
	var current []reassignEntry
	for _, name := range sortedTopicNames(p.in.Topics) {
		for _, a := range p.in.Topics[name].Assignment {
			if len(a.Replicas) > 0 && a.Leader >= 0 && a.Replicas[0] != a.Leader {
				moved = append(moved, tp{name, a.Partition})
				// Rollback: the current leader first makes it preferred again.
				rs := append([]int32{a.Leader}, slices.DeleteFunc(slices.Clone(a.Replicas), func(r int32) bool { return r == a.Leader })...)
				current = append(current, reassignEntry{name, a.Partition, rs})
			}
		}
	}
	if len(moved) == 0 {
		p.note("no preferred-leader election is drafted: every partition kwitness knows is led by its preferred replica (or the assignment is unknown), so the skew comes from the assignment itself — see a reassignment")
		p.reassign()
		return
	}
	js, _ := json.MarshalIndent(struct {
		Partitions []tp `json:"partitions"`
	}{moved}, "", "  ")
	p.add(Proposal{
		Action:        fmt.Sprintf("Elect the preferred leader of %d partitions led by another replica", len(moved)),
		Changes:       "partition leadership only; no data moves",
		Preconditions: []string{"the preferred replicas are in the ISR (an election of an out-of-sync replica is refused)", "no broker is being restarted"},
		Artifacts: []Artifact{{Name: "election.json", Format: "json", Content: string(js)},
			{Name: "elect-leaders", Format: "shell", Content: fmt.Sprintf("kafka-leader-election.sh --bootstrap-server %s --election-type PREFERRED --path-to-json-file election.json", shq(p.in.Bootstrap))}},
		Rollback: []Artifact{{Name: "rollback-reassignment.json", Format: "json", Content: reassignJSON(current)},
			{Name: "rollback", Format: "shell", Content: fmt.Sprintf("kafka-reassign-partitions.sh --bootstrap-server %s --reassignment-json-file rollback-reassignment.json --execute\nkafka-leader-election.sh --bootstrap-server %s --election-type PREFERRED --path-to-json-file election.json", shq(p.in.Bootstrap), shq(p.in.Bootstrap))}},
		RollbackNote: "leaders cannot be pinned back directly: the rollback reorders each partition's replicas so today's leader is preferred, then elects it (replica sets unchanged, no data moves)",
		Risks:        []string{"producers and consumers of the moved partitions reconnect to the new leaders: a short latency spike"},
		DataNotes:    []string{"no data is moved, skipped or replayed; with acks=all no acknowledged record is lost"},
		Facts:        []Fact{{Name: "partitions_moved", Value: float64(len(moved))}, {Name: "bytes_moved", Value: 0, Unit: "bytes"}},
	})
}

type reassignEntry struct {
	Topic     string  `json:"topic"`
	Partition int32   `json:"partition"`
	Replicas  []int32 `json:"replicas"`
}

func reassignJSON(es []reassignEntry) string {
	js, _ := json.MarshalIndent(struct {
		Version    int             `json:"version"`
		Partitions []reassignEntry `json:"partitions"`
	}{1, es}, "", "  ")
	return string(js)
}

func sortedTopicNames(m map[string]TopicPlanFacts) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// reassign proposes moving replicas from the most loaded broker (by the
// finding's measure) to the least loaded one, with the current assignment
// as rollback.
func (p *planner) reassign() {
	f := p.in.Finding
	if len(p.in.Brokers) < 2 {
		p.note("no reassignment is drafted: fewer than two brokers are known")
		return
	}
	load := func(b BrokerPlanFacts) float64 {
		switch f.Kind {
		case KindDiskSkew, KindDiskNearlyFull, KindDiskFillForecast:
			if !math.IsNaN(b.UsedBytes) {
				return b.UsedBytes
			}
		case KindTrafficSkew:
			if !math.IsNaN(b.BytesInRate) {
				return b.BytesInRate
			}
		}
		return float64(b.Replicas)
	}
	brokers := slices.Clone(p.in.Brokers)
	slices.SortStableFunc(brokers, func(a, b BrokerPlanFacts) int { return cmpFloat(load(b), load(a)) })
	from, to := brokers[0].Broker, brokers[len(brokers)-1].Broker
	if f.Subject.Broker >= 0 {
		from = f.Subject.Broker
		if to == from {
			to = brokers[len(brokers)-2].Broker
		}
	}
	// Move up to a quarter of the difference in replicas, whole partitions,
	// smallest first (least data to copy), skipping any already on to.
	var cands []struct {
		topic string
		a     PartitionAssignment
	}
	for _, name := range sortedTopicNames(p.in.Topics) {
		for _, a := range p.in.Topics[name].Assignment {
			if slices.Contains(a.Replicas, from) && !slices.Contains(a.Replicas, to) {
				cands = append(cands, struct {
					topic string
					a     PartitionAssignment
				}{name, a})
			}
		}
	}
	if len(cands) == 0 {
		p.note(fmt.Sprintf("no reassignment is drafted: kwitness knows no partition assignment with a replica on broker %d that could move to broker %d (Metadata)", from, to))
		return
	}
	slices.SortStableFunc(cands, func(x, y struct {
		topic string
		a     PartitionAssignment
	}) int {
		return cmpFloat(nanAsZero(x.a.SizeBytes), nanAsZero(y.a.SizeBytes))
	})
	diff := brokerReplicas(p.in.Brokers, from) - brokerReplicas(p.in.Brokers, to)
	n := min(len(cands), max(1, diff/4))
	var proposed, current []reassignEntry
	bytes, known := 0.0, true
	for _, c := range cands[:n] {
		rs := slices.Clone(c.a.Replicas)
		rs[slices.Index(rs, from)] = to
		proposed = append(proposed, reassignEntry{c.topic, c.a.Partition, rs})
		current = append(current, reassignEntry{c.topic, c.a.Partition, slices.Clone(c.a.Replicas)})
		if math.IsNaN(c.a.SizeBytes) {
			known = false
		}
		bytes += nanAsZero(c.a.SizeBytes)
	}
	moveText := "unknown (partition sizes are not scraped)"
	throttle := int64(10 << 20)
	facts := []Fact{{Name: "from_broker", Value: float64(from)}, {Name: "to_broker", Value: float64(to)}, {Name: "partitions_moved", Value: float64(n)}}
	if known {
		moveText = bytesText(bytes)
		// Copy in about an hour, between 10 MiB/s and 100 MiB/s per broker.
		throttle = int64(min(max(bytes/3600, 10<<20), 100<<20))
		facts = append(facts, Fact{Name: "bytes_moved", Value: bytes, Unit: "bytes"})
	}
	facts = append(facts, Fact{Name: "throttle", Value: float64(throttle), Unit: "bytes/s"})
	bs := shq(p.in.Bootstrap)
	p.add(Proposal{
		Action:  fmt.Sprintf("Move %d partition replicas from broker %d to broker %d", n, from, to),
		Changes: "partition replica assignment: data is copied to the target broker, then deleted from the source",
		Preconditions: []string{
			fmt.Sprintf("broker %d has room for %s", to, moveText),
			"no other reassignment is in progress (kafka-reassign-partitions.sh --list)",
			"the throttle suits the brokers' spare network and disk bandwidth",
		},
		Artifacts: []Artifact{{Name: "reassignment.json", Format: "json", Content: reassignJSON(proposed)},
			{Name: "reassign", Format: "shell", Content: fmt.Sprintf("kafka-reassign-partitions.sh --bootstrap-server %s --reassignment-json-file reassignment.json --execute --throttle %d\n"+
				"kafka-reassign-partitions.sh --bootstrap-server %s --reassignment-json-file reassignment.json --verify   # repeat until done; removes the throttle", bs, throttle, bs)}},
		Rollback: []Artifact{{Name: "rollback.json", Format: "json", Content: reassignJSON(current)},
			{Name: "rollback", Format: "shell", Content: fmt.Sprintf("kafka-reassign-partitions.sh --bootstrap-server %s --reassignment-json-file rollback.json --execute --throttle %d", bs, throttle)}},
		RollbackNote: "restores the assignment kwitness observed (Metadata); it copies the data back",
		Risks:        []string{"expected data movement: " + moveText + " over the network and disks of both brokers", "replication traffic competes with clients: keep the throttle; --verify removes it when done"},
		DataNotes:    []string{"no record is lost or replayed: replicas are copied before the old ones are removed"},
		Facts:        facts,
	})
}

func brokerReplicas(bs []BrokerPlanFacts, id int32) int {
	for _, b := range bs {
		if b.Broker == id {
			return b.Replicas
		}
	}
	return 0
}

func nanAsZero(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// bytesText renders a byte count with a binary unit, e.g. "1.5 GiB".
func bytesText(b float64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	i := 0
	for b >= 1024 && i < len(units)-1 {
		b /= 1024
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f B", b)
	}
	return fmt.Sprintf("%.1f %s", b, units[i])
}

// shq quotes s for a POSIX shell when it holds anything but safe characters.
func shq(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_.,:/@=+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
