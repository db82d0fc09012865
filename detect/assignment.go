package detect

import (
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"time"
)

// KindAssignmentSkew: a consumer group's lag, or its partitions, sit unevenly
// on its members.
const KindAssignmentSkew Kind = "CONSUMER_ASSIGNMENT_SKEW"

// CONSUMER_ASSIGNMENT_SKEW, judged per group-topic from the assignment
// DescribeGroups reports (GroupContext.Owners) and the partitions' lag:
//
//   - lag concentrated: one member owns at least AssignLagShare (default
//     80 %) of the topic's total lag, the total is at least AssignMinLag
//     (default 1,000 messages), the group has at least two members, and the
//     member's share of the lag exceeds its share of the partitions by at
//     least 0.2 — so the lag follows the member, not the topic;
//   - uneven: with at least two members, the busiest member owns at least
//     twice as many partitions as the least busy and at least two more
//     (assignors such as range can do this when the partition count is not
//     a multiple of the member count, or with many topics).
//
// kwitness's own thresholds; the concentration rule follows the reference's
// "lag concentrated in the partitions of one member".

// assignmentCandidate judges gt's assignment; results are d.results.
func (d *LagDetector) assignmentCandidate(v ConsumerView, gt *GroupTopic) (Candidate, bool) {
	owners := gt.Context.Owners[gt.Topic]
	if len(owners) == 0 {
		return Candidate{}, false
	}
	lagBy, partsBy := map[string]int64{}, map[string][]int32{}
	var total int64
	for j, p := range gt.Partitions {
		m, ok := owners[p.Partition]
		if !ok {
			continue
		}
		partsBy[m] = append(partsBy[m], p.Partition)
		if l := d.results[j].Lag; l != Gap {
			lagBy[m] += l
			total += l
		}
	}
	members := slices.Sorted(maps.Keys(partsBy))
	if len(members) == 0 {
		return Candidate{}, false
	}
	top := slices.MaxFunc(members, func(a, b string) int { return cmp.Compare(lagBy[a], lagBy[b]) })
	subj := subjectOf(gt, partsBy[top])
	c := Candidate{Fingerprint: Fingerprint(KindAssignmentSkew, Subject{Cluster: gt.Cluster, Group: gt.Group, Topic: gt.Topic, Broker: -1}),
		Kind: KindAssignmentSkew, Severity: SeverityWarning, Subject: subj, At: time.UnixMilli(d.newest())}
	share := 0.0
	if total > 0 {
		share = float64(lagBy[top]) / float64(total)
	}
	switch {
	case len(members) >= 2 && total >= d.cfg.AssignMinLag && share >= d.cfg.AssignLagShare &&
		share >= float64(len(partsBy[top]))/float64(len(gt.Partitions))+0.2:
		c.Summary = fmt.Sprintf("Consumer group %q's lag on topic %q sits with one member: %s owns %s and %.0f %% of the lag (%d of %d messages).",
			gt.Group, gt.Topic, top, partitionList(partsBy[top]), 100*share, lagBy[top], total)
	default:
		lo := slices.MinFunc(members, func(a, b string) int { return cmp.Compare(len(partsBy[a]), len(partsBy[b])) })
		hi := slices.MaxFunc(members, func(a, b string) int { return cmp.Compare(len(partsBy[a]), len(partsBy[b])) })
		nHi, nLo := len(partsBy[hi]), len(partsBy[lo])
		if len(members) < 2 || nHi < 2*nLo || nHi-nLo < 2 {
			return Candidate{}, false
		}
		c.Subject.Partitions = partsBy[hi]
		c.Summary = fmt.Sprintf("Consumer group %q assigns topic %q unevenly: %s owns %d partitions, %s only %d.",
			gt.Group, gt.Topic, hi, nHi, lo, nLo)
		top = hi
	}
	for _, m := range members {
		c.Facts = append(c.Facts,
			Fact{Name: "member." + m + ".partitions", Value: float64(len(partsBy[m])), Unit: "partitions", Text: partitionList(partsBy[m])},
			Fact{Name: "member." + m + ".lag", Value: float64(lagBy[m]), Unit: "messages"})
	}
	c.Facts = append(c.Facts,
		Fact{Name: "config.lag.assign_lag_share", Value: d.cfg.AssignLagShare},
		Fact{Name: "config.lag.assign_min_lag", Value: float64(d.cfg.AssignMinLag), Unit: "messages"})
	// Cite the worst partition of the member: its committed and end offsets.
	worst := -1
	for j, p := range gt.Partitions {
		if owners[p.Partition] == top && d.results[j].Lag != Gap && (worst < 0 || d.results[j].Lag > d.results[worst].Lag) {
			worst = j
		}
	}
	if worst >= 0 {
		ensureLoaded(v, gt, worst)
		rh := d.rhythmOf(worst)
		d.results[worst] = evaluatePartition(d.cfg, gt.Partitions[worst].Window, gt.Context, &d.scratch, &rh, true)
		c.Evidence = d.Citations(v, gt, worst, d.results[worst].Status)
		for i := range c.Evidence {
			c.Evidence[i].Note += "; partition " + strconv.Itoa(int(gt.Partitions[worst].Partition)) + " is owned by " + top
		}
	}
	return c, true
}

// newest is the newest sweep time (Unix ms) among the partitions of the group
// topic judged last (d.results).
func (d *LagDetector) newest() int64 {
	var t int64
	for _, r := range d.results {
		t = max(t, r.ToMs)
	}
	return t
}
