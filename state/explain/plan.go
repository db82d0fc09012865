package explain

import (
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/kwitness/kwitness/detect"
)

// Plan drafts the change plan of finding id (see detect.DraftPlan) from
// what kwitness holds now: the group's newest offsets and rates, the
// topics' partition counts, configs, sizes and assignment, and the
// brokers' load. bootstrap is the --bootstrap-server value the artifacts
// carry. visible reports whether the caller may see a topic (nil: every
// topic): a topic it may not see is left out of the plan's input, so no
// proposal names it, and the plan's notes say how many were left out.
// ok is false when the finding is unknown.
func (e *Explainer) Plan(id, bootstrap string, visible func(topic string) bool) (detect.Plan, detect.Finding, bool) {
	f, ok := e.src.Findings.Get(id)
	if !ok {
		return detect.Plan{}, f, false
	}
	in := detect.PlanInput{Finding: f, Owner: e.src.Owners.Of(f.Subject), Bootstrap: bootstrap, Topics: map[string]detect.TopicPlanFacts{}}
	topics := []string{}
	if f.Subject.Topic != "" {
		topics = append(topics, f.Subject.Topic)
	}
	if f.Subject.Group != "" {
		in.Group = e.groupPlanFacts(f.Subject.Group, &topics)
	}
	var cluster *detect.ClusterInput
	if e.src.Telemetry != nil {
		ci := e.src.Telemetry.ClusterInput()
		cluster = &ci
	}
	parts, configs := e.layout()
	if f.Subject.Group == "" && f.Subject.Topic == "" {
		topics = slices.Sorted(maps.Keys(parts)) // broker and cluster kinds may move any partition
	}
	withheld := withholdTopics(visible, &topics, &in.Group.Partitions, &parts)
	for _, t := range topics {
		in.Topics[t] = topicPlanFacts(t, parts[t], configs[t], cluster, e.consumedPartitions(t))
	}
	in.Brokers = brokerPlanFacts(cluster, parts)
	plan := detect.DraftPlan(in)
	if withheld > 0 {
		plan.Notes = append(plan.Notes, fmt.Sprintf("%d topic(s) outside the caller's scope are left out of this plan; an unscoped reader sees the whole change", withheld))
	}
	return plan, f, true
}

// withholdTopics removes the topics visible rejects from topics, the
// group's partitions and the layout (copied, never changed in place), and
// returns how many distinct topics it removed.
func withholdTopics(visible func(string) bool, topics *[]string, group *[]detect.PlanPartition, parts *map[string][]detect.PartitionAssignment) int {
	if visible == nil {
		return 0
	}
	gone := map[string]bool{}
	hide := func(t string) bool {
		if visible(t) {
			return false
		}
		gone[t] = true
		return true
	}
	*topics = slices.DeleteFunc(slices.Clone(*topics), hide)
	*group = slices.DeleteFunc(slices.Clone(*group), func(p detect.PlanPartition) bool { return hide(p.Topic) })
	kept := make(map[string][]detect.PartitionAssignment, len(*parts))
	for t, a := range *parts {
		if !hide(t) {
			kept[t] = a
		}
	}
	*parts = kept
	return len(gone)
}

// layout returns the newest partition layout and topic configs, empty
// without a Layout.
func (e *Explainer) layout() (map[string][]detect.PartitionAssignment, map[string]map[string]string) {
	if e.src.Layout == nil {
		return nil, nil
	}
	parts, _ := e.src.Layout.Partitions()
	configs, _ := e.src.Layout.Configs()
	return parts, configs
}

// groupPlanFacts reads the group's newest offsets and its rates over the
// lag window, adding its topics to topics.
func (e *Explainer) groupPlanFacts(group string, topics *[]string) detect.GroupPlanFacts {
	v := e.src.Window.View()
	g := detect.GroupPlanFacts{ConsumeRate: math.NaN(), ProduceRate: math.NaN()}
	var consumed, produced float64
	known := false
	d, err := detect.NewLagDetector(e.src.Lag)
	if err != nil {
		return g
	}
	v.GroupTopics(group, func(gt *detect.GroupTopic) {
		g.Known = gt.Context.Known
		g.State, g.Members = gt.Context.State, gt.Context.Members
		if !slices.Contains(*topics, gt.Topic) {
			*topics = append(*topics, gt.Topic)
		}
		lags := d.GroupLagOf(v, gt) // loads every partition's whole window
		for j := range gt.Partitions {
			w := gt.Partitions[j].Window
			pp := detect.PlanPartition{Topic: gt.Topic, Partition: gt.Partitions[j].Partition, Committed: detect.Gap, End: detect.Gap, Start: detect.Gap}
			if n := len(w.Times); n > 0 {
				pp.Committed, pp.End, pp.Start = w.Committed[n-1], w.End[n-1], w.Start[n-1]
			}
			g.Partitions = append(g.Partitions, pp)
			// A lagging partition's rates are the detector's robust slopes
			// (recent behaviour weighs as it does in the finding); an OK
			// partition's, its growth over the lag window.
			if r := lags[j]; lagging(r.Status) {
				consumed, produced, known = consumed+r.ConsumeRate, produced+r.ProduceRate, true
				continue
			}
			from := v.At().Add(-e.src.Lag.Window).UnixMilli()
			c, cs, ok1 := growth(w.Times, w.Committed, from)
			p, ps, ok2 := growth(w.Times, w.End, from)
			if ok1 && ok2 && cs > 0 && ps > 0 {
				consumed, produced, known = consumed+c/cs, produced+p/ps, true
			}
		}
	})
	if known {
		g.ConsumeRate, g.ProduceRate = consumed, produced
	}
	return g
}

// growth is how much a column grew from the first present sample at or
// after from to the newest present one, and over how many seconds.
func growth(times, vals []int64, from int64) (float64, float64, bool) {
	first, last := -1, -1
	for i, t := range times {
		if t < from || vals[i] == detect.Gap {
			continue
		}
		if first < 0 {
			first = i
		}
		last = i
	}
	if first < 0 || last == first {
		return 0, 0, false
	}
	return float64(vals[last] - vals[first]), float64(times[last]-times[first]) / 1000, true
}

// consumedPartitions is how many partitions of topic the window watches
// (the partition count when Metadata's is unknown).
func (e *Explainer) consumedPartitions(topic string) int {
	seen := map[int32]bool{}
	for _, gt := range e.src.Window.Snapshot().Topology.GroupTopics {
		if gt.Topic == topic {
			for _, p := range gt.Parts {
				seen[p.Partition] = true
			}
		}
	}
	return len(seen)
}

// topicPlanFacts gathers one topic's facts; sizes come from the brokers'
// scraped topic sizes, split evenly over the replicas each broker holds.
func topicPlanFacts(topic string, parts []detect.PartitionAssignment, configs map[string]string, cluster *detect.ClusterInput, watched int) detect.TopicPlanFacts {
	t := detect.TopicPlanFacts{Name: topic, Partitions: len(parts), Configs: configs, SizeBytes: math.NaN(), ProduceRate: math.NaN()}
	if t.Partitions == 0 {
		t.Partitions = watched
	}
	perReplica := map[int32]float64{} // broker → bytes per replica of this topic
	if cluster != nil {
		held := map[int32]int{}
		for _, p := range parts {
			for _, r := range p.Replicas {
				held[r]++
			}
		}
		for _, b := range cluster.Brokers {
			w, ok := b.TopicSize[topic]
			if !ok {
				continue
			}
			if v, _ := w.Last(); !math.IsNaN(v) {
				if math.IsNaN(t.SizeBytes) {
					t.SizeBytes = 0
				}
				t.SizeBytes += v
				if held[b.Broker] > 0 {
					perReplica[b.Broker] = v / float64(held[b.Broker])
				}
			}
		}
	}
	for _, p := range parts {
		a := p
		a.SizeBytes = math.NaN()
		if len(p.Replicas) > 0 {
			if s, ok := perReplica[p.Replicas[0]]; ok {
				a.SizeBytes = s
			}
		}
		t.Assignment = append(t.Assignment, a)
	}
	return t
}

// brokerPlanFacts gathers every known broker's load: leaders and replicas
// from the layout, disk and traffic from telemetry.
func brokerPlanFacts(cluster *detect.ClusterInput, parts map[string][]detect.PartitionAssignment) []detect.BrokerPlanFacts {
	by := map[int32]*detect.BrokerPlanFacts{}
	get := func(id int32) *detect.BrokerPlanFacts {
		if by[id] == nil {
			by[id] = &detect.BrokerPlanFacts{Broker: id, UsedBytes: math.NaN(), TotalBytes: math.NaN(), BytesInRate: math.NaN(), BytesOutRate: math.NaN()}
		}
		return by[id]
	}
	for _, ps := range parts {
		for _, p := range ps {
			if p.Leader >= 0 {
				get(p.Leader).Leaders++
			}
			for _, r := range p.Replicas {
				get(r).Replicas++
			}
		}
	}
	if cluster != nil {
		for _, b := range cluster.Brokers {
			f := get(b.Broker)
			for _, d := range b.LogDirs {
				if u, _ := d.Used.Last(); !math.IsNaN(u) {
					f.UsedBytes = nanAdd(f.UsedBytes, u)
				}
				if t, _ := d.Total.Last(); !math.IsNaN(t) {
					f.TotalBytes = nanAdd(f.TotalBytes, t)
				}
			}
			if r, ok := detect.Rate(b.Signals[detect.SigBytesIn], 0, cluster.At); ok {
				f.BytesInRate = r
			}
			if r, ok := detect.Rate(b.Signals[detect.SigBytesOut], 0, cluster.At); ok {
				f.BytesOutRate = r
			}
		}
	}
	out := make([]detect.BrokerPlanFacts, 0, len(by))
	for _, f := range by {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(a, b detect.BrokerPlanFacts) int { return int(a.Broker - b.Broker) })
	return out
}

func nanAdd(a, b float64) float64 {
	if math.IsNaN(a) {
		return b
	}
	return a + b
}
