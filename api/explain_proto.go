package api

import (
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state/explain"
)

// findingToProto converts a finding with its owner and runbook.
func (s *Server) findingToProto(f detect.Finding) *pb.Finding {
	out := FindingToProto(f)
	if s.explainer != nil {
		o := s.explainer.Owners()
		out.Owner, out.RunbookUrl = OwnerToProto(o.Of(f.Subject)), o.Runbook(f.Kind)
	}
	return out
}

// OwnerToProto converts an owner.
func OwnerToProto(o detect.Owner) *pb.Owner {
	return &pb.Owner{Owned: o.Owned, Team: o.Team, Contact: o.Contact, Escalation: o.Escalation, Rule: o.Rule, Note: o.Note}
}

// BundleToProto converts a bundle; key is the subject key page tokens carry.
func BundleToProto(b explain.Bundle, key string) *pb.ExplainResponse {
	out := &pb.ExplainResponse{
		Cluster: b.Cluster, At: ts(b.At), Owner: OwnerToProto(b.Owner),
		Subject: &pb.Subject{Cluster: b.Subject.Cluster, Group: b.Subject.Group, Topic: b.Subject.Topic, Broker: b.Subject.Broker},
	}
	page := func(sec explain.Section, p explain.Page) *pb.ListPage {
		lp := &pb.ListPage{Total: int32(p.Total), Offset: int32(p.Offset)}
		if p.More {
			lp.NextPageToken = encodeExplainToken(sec, p.Next, key)
		}
		return lp
	}
	if g := b.Group; g != nil {
		gs := &pb.GroupState{State: g.State, Generation: g.Generation, MemberCount: int32(g.MemberCount), Topics: g.Topics,
			TotalLag: g.TotalLag, MaxTimeLagSeconds: finite(g.MaxTimeLag), CommitIntervalSeconds: finite(g.CommitInterval)}
		if want(b.Section, explain.SectionMembers) {
			gs.MembersPage = page(explain.SectionMembers, g.MembersPage)
			for _, m := range g.Members {
				pm := &pb.GroupMember{Member: m.Member, ClientId: m.ClientID, Host: m.Host}
				for _, a := range m.Assignment {
					pm.Assignment = append(pm.Assignment, &pb.TopicPartitions{Topic: a.Topic, Partitions: a.Partitions})
				}
				gs.Members = append(gs.Members, pm)
			}
		}
		if want(b.Section, explain.SectionPartitions) {
			gs.PartitionsPage = page(explain.SectionPartitions, g.PartitionsPage)
			for _, r := range g.Partitions {
				gs.Partitions = append(gs.Partitions, partitionLagToProto(r.Topic, r.Partition, r.Lag, r.TimeLag, nil))
			}
		}
		out.Group = gs
	}
	if t := b.Topic; t != nil {
		ts := &pb.TopicState{PartitionCount: int32(t.PartitionCount), SizeBytes: nanTo(t.SizeBytes, -1), ProduceRate: finite(t.ProduceRate), ConsumerGroups: t.Groups}
		for _, c := range t.Configs {
			ts.Configs = append(ts.Configs, &pb.ConfigEntry{Name: c[0], Value: c[1]})
		}
		if want(b.Section, explain.SectionPartitions) {
			ts.PartitionsPage = page(explain.SectionPartitions, t.PartitionsPage)
			for _, p := range t.Partitions {
				ts.Partitions = append(ts.Partitions, &pb.TopicPartitionState{Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, Isr: p.ISR,
					LogStartOffset: gapToMinus1(p.LogStart), LogEndOffset: gapToMinus1(p.LogEnd)})
			}
		}
		out.Topic = ts
	}
	if br := b.Broker; br != nil {
		bs := &pb.BrokerState{Registered: br.Registered, Reachable: br.Reachable, Leaders: nanTo(br.Leaders, -1), Replicas: nanTo(br.Replicas, -1),
			BytesInPerSecond: nanTo(br.BytesIn, -1), BytesOutPerSecond: nanTo(br.BytesOut, -1), TopicsLed: br.TopicsLed}
		for _, d := range br.LogDirs {
			bs.LogDirs = append(bs.LogDirs, &pb.LogDirState{Path: d.Path, UsedBytes: nanTo(d.Used, -1), TotalBytes: nanTo(d.Total, -1)})
		}
		for _, h := range br.Health {
			bs.Health = append(bs.Health, &pb.Fact{Name: h.Name, Value: finite(h.Value), Unit: h.Unit, Text: h.Text})
		}
		out.Broker = bs
	}
	if want(b.Section, explain.SectionTimeline) {
		out.TimelinePage = page(explain.SectionTimeline, b.TimelinePage)
		for _, e := range b.Timeline {
			out.Timeline = append(out.Timeline, &pb.TimelineEntry{Id: e.ID, Time: ts(e.At), Kind: e.Kind, Text: e.Text,
				Citations: citationsToProto(e.Citations), FindingId: e.FindingID})
		}
	}
	if want(b.Section, explain.SectionFindings) {
		out.FindingsPage = page(explain.SectionFindings, b.FindingsPage)
		for _, r := range b.Findings {
			f := r.Finding
			out.Findings = append(out.Findings, &pb.RelatedFinding{Id: f.ID, Kind: string(f.Kind), Severity: pb.Severity(f.Severity),
				State: pb.FindingState(f.State), Summary: f.Summary, OpenedAt: ts(f.OpenedAt), ResolvedAt: ts(f.ResolvedAt),
				Subject:  &pb.Subject{Cluster: f.Subject.Cluster, Group: f.Subject.Group, Topic: f.Subject.Topic, Partitions: f.Subject.Partitions, Broker: f.Subject.Broker},
				Relation: r.Relation, Owner: OwnerToProto(r.Owner), RunbookUrl: r.Runbook})
		}
	}
	for _, st := range b.Narrative {
		out.Narrative = append(out.Narrative, &pb.Statement{Text: st.Text, Refs: st.Refs})
	}
	return out
}

func want(sec, s explain.Section) bool { return sec == explain.SectionAll || sec == s }

func nanTo(v, alt float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return alt
	}
	return v
}

// jsonSize is the size of m as the REST gateway writes it.
func jsonSize(m proto.Message) int {
	b, _ := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(m)
	return len(b)
}

// FitBudget cuts resp to at most max bytes of JSON, shortening lists from
// their least relevant end — partitions and members from the tail,
// findings from the tail (resolved last), the timeline from its oldest
// end — so each cut list's next_page_token continues where it was cut;
// entries the narrative refers to are kept. It states the size and every
// cut in resp.Budget, after the notes resp.Budget already holds.
func FitBudget(resp *pb.ExplainResponse, max int, key string) {
	resp.Budget = &pb.Budget{MaxBytes: int32(max), Cut: resp.GetBudget().GetCut(), Notes: resp.GetBudget().GetNotes()}
	size := jsonSize(resp)
	refs := map[string]bool{}
	for _, st := range resp.Narrative {
		for _, r := range st.Refs {
			refs[r] = true
		}
	}
	// Cuts estimate the bytes they free — in the first rounds from the
	// entries' binary sizes (see entrySizer), later by encoding each — and
	// the answer is measured again after each round; a round repeats while
	// the estimate fell short.
	for round := 0; round < 4 && size > max; round++ {
		for _, cut := range cutters(resp, refs, key, round >= 2) {
			if size <= max {
				break
			}
			if note, freed := cut(size - max); note != "" {
				resp.Budget.Notes = append(resp.Budget.Notes, note)
				resp.Budget.Cut = true
				size += len(note) + 4 - freed
			}
		}
		size = jsonSize(resp)
	}
	if size > max {
		resp.Budget.Cut = true
		resp.Budget.Notes = append(resp.Budget.Notes, fmt.Sprintf("still %d bytes after every cut: the entries the narrative rests on do not fit; raise max_bytes", size))
	}
	resp.Budget.Bytes = int32(size)
}

// cutters returns the cuts FitBudget tries, in order. Each removes entries
// worth at least excess bytes (or all it may) and returns what it did, or
// "" when it removed nothing.
func cutters(resp *pb.ExplainResponse, refs map[string]bool, key string, exact bool) []func(excess int) (string, int) {
	var out []func(int) (string, int)
	if g := resp.Group; g != nil {
		out = append(out,
			tailCut("partitions", &g.Partitions, g.PartitionsPage, explain.SectionPartitions, key, nil, exact),
			tailCut("members", &g.Members, g.MembersPage, explain.SectionMembers, key, nil, exact))
	}
	if t := resp.Topic; t != nil {
		out = append(out, tailCut("partitions", &t.Partitions, t.PartitionsPage, explain.SectionPartitions, key, nil, exact))
	}
	out = append(out,
		tailCut("findings", &resp.Findings, resp.FindingsPage, explain.SectionFindings, key, func(f *pb.RelatedFinding) bool { return refs[f.Id] }, exact),
		timelineCut(resp, refs, key, exact))
	return out
}

// entrySizer returns the JSON size (plus its separator) of entries of
// list: exact encodes each; otherwise it scales an entry's binary size by
// the JSON-to-binary ratio of the list's last entry, one encoding for the
// whole list (its entries are alike; FitBudget measures the answer after
// the cuts).
func entrySizer[T proto.Message](list []T, exact bool) func(T) int {
	if exact || len(list) == 0 {
		return func(m T) int { return jsonSize(m) + 1 }
	}
	last := list[len(list)-1]
	ratio := float64(jsonSize(last)) / float64(max(1, proto.Size(last)))
	return func(m T) int { return int(ratio*float64(proto.Size(m))) + 1 }
}

// tailCut drops entries from the end of *list (keeping those keep holds),
// and moves the page's next token to the first entry dropped.
func tailCut[T proto.Message](name string, list *[]T, p *pb.ListPage, sec explain.Section, key string, keep func(T) bool, exact bool) func(int) (string, int) {
	return func(excess int) (string, int) {
		if p == nil {
			return "", 0
		}
		n := len(*list)
		size := entrySizer(*list, exact)
		i, freed := n, 0
		for i > 0 && freed < excess {
			if keep != nil && keep((*list)[i-1]) {
				break
			}
			i--
			freed += size((*list)[i])
		}
		if i == n {
			return "", 0
		}
		*list = (*list)[:i]
		p.NextPageToken = encodeExplainToken(sec, int(p.Offset)+i, key)
		return fmt.Sprintf("%s: %d of %d entries cut to fit; next_page_token continues from them", name, n-i, n), freed
	}
}

// timelineCut drops the oldest timeline entries up to a boundary, except
// those the narrative refers to; the page then continues with the entries
// older than the boundary (the kept ones among them come again).
func timelineCut(resp *pb.ExplainResponse, refs map[string]bool, key string, exact bool) func(int) (string, int) {
	return func(excess int) (string, int) {
		p := resp.TimelinePage
		if p == nil {
			return "", 0
		}
		size := entrySizer(resp.Timeline, exact)
		kept := make([]*pb.TimelineEntry, 0, len(resp.Timeline))
		freed, dropped, boundary := 0, 0, 0
		for i, e := range resp.Timeline {
			if freed < excess && boundary == i {
				boundary++
				if !refs[e.Id] {
					freed += size(e)
					dropped++
					continue
				}
			}
			kept = append(kept, e)
		}
		if dropped == 0 {
			return "", 0
		}
		n := len(resp.Timeline)
		resp.Timeline = kept
		// Continue with the entries older than the boundary: skip the rest.
		p.NextPageToken = encodeExplainToken(explain.SectionTimeline, int(p.Total-p.Offset)-boundary, key)
		p.Offset += int32(boundary)
		return fmt.Sprintf("timeline: %d of the %d oldest of %d entries cut to fit (those the narrative cites kept); next_page_token continues with them", dropped, boundary, n), freed
	}
}

// proposalToProto converts one plan proposal.
func proposalToProto(p detect.Proposal) *pb.Proposal {
	out := &pb.Proposal{Action: p.Action, Changes: p.Changes, Approver: OwnerToProto(p.Approver), Preconditions: p.Preconditions,
		RollbackNote: p.RollbackNote, Risks: p.Risks, DataNotes: p.DataNotes}
	for _, a := range p.Artifacts {
		out.Artifacts = append(out.Artifacts, &pb.Artifact{Name: a.Name, Format: a.Format, Content: a.Content})
	}
	for _, a := range p.Rollback {
		out.Rollback = append(out.Rollback, &pb.Artifact{Name: a.Name, Format: a.Format, Content: a.Content})
	}
	for _, x := range p.Facts {
		out.Facts = append(out.Facts, &pb.Fact{Name: x.Name, Value: finite(x.Value), Unit: x.Unit, Text: x.Text})
	}
	return out
}
