package explain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// group builds a consumer group's bundle.
func (e *Explainer) group(r Request) (Bundle, bool) {
	v := e.src.Window.View()
	b := Bundle{Cluster: e.src.Window.Cluster(), At: v.At(), Section: r.Section,
		Subject: detect.Subject{Cluster: e.src.Window.Cluster(), Group: r.Group, Broker: -1}, Owner: e.src.Owners.Group(r.Group)}
	d, err := detect.NewLagDetector(e.src.Lag)
	if err != nil {
		return b, false
	}
	gs := &GroupState{}
	var rows []PartitionRow
	var onsets []Entry
	var ctx detect.GroupContext
	intervals := make([]int64, 0, 64)
	found := false
	v.GroupTopics(r.Group, func(gt *detect.GroupTopic) {
		found = true
		ctx = gt.Context
		if !r.topicVisible(gt.Topic) {
			b.Withheld += len(gt.Partitions)
			return
		}
		gs.Topics = append(gs.Topics, gt.Topic)
		for j := range gt.Partitions {
			v.LoadOffsets(gt, j) // committed and end offsets: all the lag verdict and time lag read
		}
		lags := d.GroupLag(gt)
		worst := -1
		for j, pl := range lags {
			w := gt.Partitions[j].Window
			row := PartitionRow{Topic: gt.Topic, Partition: gt.Partitions[j].Partition, Lag: pl, TimeLag: detect.EstimateTimeLag(w)}
			if pl.Lag != detect.Gap {
				gs.TotalLag += pl.Lag
			}
			if !math.IsNaN(row.TimeLag.Seconds) {
				gs.MaxTimeLag = max(gs.MaxTimeLag, row.TimeLag.Seconds)
			}
			if lagging(pl.Status) && (worst < 0 || pl.Lag > lags[worst].Lag) {
				worst = j
			}
			if len(intervals) < cap(intervals) {
				intervals = commitIntervals(intervals, w)
			}
			rows = append(rows, row)
		}
		if worst >= 0 {
			if en, ok := onsetEntry(v, gt, worst, lags[worst], e.src.Lag); ok {
				onsets = append(onsets, en)
			}
		}
	})
	if !found {
		return b, false
	}
	gs.State, gs.Generation, gs.MemberCount = ctx.State, ctx.Generation, ctx.Members
	gs.CommitInterval = median(intervals)
	slices.SortFunc(rows, func(a, b PartitionRow) int {
		return cmp.Or(cmp.Compare(lagValue(b.Lag.Lag), lagValue(a.Lag.Lag)), strings.Compare(a.Topic, b.Topic), cmp.Compare(a.Partition, b.Partition))
	})
	if r.wants(SectionPartitions) {
		lo, hi, p := page(len(rows), r.offsetOf(SectionPartitions), r.PageSize)
		gs.Partitions, gs.PartitionsPage = rows[lo:hi], p
	}
	members := membersOf(ctx, r.topicVisible)
	if r.wants(SectionMembers) {
		lo, hi, p := page(len(members), r.offsetOf(SectionMembers), r.PageSize)
		gs.Members, gs.MembersPage = members[lo:hi], p
	}
	b.Group = gs

	related := e.groupFindings(r.Group, gs.Topics)
	since := b.At.Add(-e.src.Window.Span())
	timeline := e.groupTimeline(r.Group, ctx, since, onsets, related, gs.Topics)
	e.fill(&b, r, timeline, related)
	if r.Section == SectionAll {
		b.Narrative = groupNarrative(&b, gs, timeline, related, e.src.Lag)
	}
	return b, true
}

func lagging(s detect.Status) bool {
	return s == detect.StatusLagGrowing || s == detect.StatusStalled || s == detect.StatusStopped
}

func lagValue(l int64) int64 {
	if l == detect.Gap {
		return -1
	}
	return l
}

// commitIntervals appends the intervals (ms) between consecutive samples
// of w at which the committed offset moved. It reads at the window's
// resolution: history keeps one sample per Span/(Points-2), so commits
// more frequent than that read as that step.
func commitIntervals(dst []int64, w detect.PartitionWindow) []int64 {
	prevT, prevC := int64(0), detect.Gap
	for i, c := range w.Committed {
		if c == detect.Gap {
			continue
		}
		if prevC != detect.Gap && c != prevC {
			if prevT != 0 && len(dst) < cap(dst) {
				dst = append(dst, w.Times[i]-prevT)
			}
			prevT = w.Times[i]
		}
		prevC = c
	}
	return dst
}

// median of ms intervals, in seconds; 0 for none.
func median(xs []int64) float64 {
	if len(xs) == 0 {
		return 0
	}
	slices.Sort(xs)
	return float64(xs[len(xs)/2]) / 1000
}

// membersOf lists a group's members from its assignment, sorted.
func membersOf(ctx detect.GroupContext, visible func(string) bool) []Member {
	byMember := map[string]map[string][]int32{}
	for topic, parts := range ctx.Owners {
		if !visible(topic) {
			continue
		}
		for p, m := range parts {
			if byMember[m] == nil {
				byMember[m] = map[string][]int32{}
			}
			byMember[m][topic] = append(byMember[m][topic], p)
		}
	}
	out := make([]Member, 0, len(byMember))
	for _, m := range sortedKeys(byMember) {
		client, host, _ := strings.Cut(m, "@")
		mem := Member{Member: m, ClientID: client, Host: host}
		for _, t := range sortedKeys(byMember[m]) {
			ps := byMember[m][t]
			slices.Sort(ps)
			mem.Assignment = append(mem.Assignment, TopicPartitions{Topic: t, Partitions: ps})
		}
		out = append(out, mem)
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// onsetEntry dates when partition j's condition began (detect.Onset, as
// the findings date it when they correlate deploys) and cites the
// committed and log end offset series from there to now.
func onsetEntry(v *state.View, gt *detect.GroupTopic, j int, pl detect.PartitionLag, cfg detect.LagConfig) (Entry, bool) {
	w := gt.Partitions[j].Window
	at, ok := detect.Onset(w, pl, cfg.Window)
	if !ok {
		return Entry{}, false
	}
	n := len(w.Times)
	now := w.Times[n-1]
	cite := func(col detect.Column, note string) detect.Citation {
		c := detect.Citation{Series: v.SeriesRef(gt.Partitions[j].Series[col]), From: time.UnixMilli(w.Times[at]), To: time.UnixMilli(now),
			Source: detect.Source{API: sourceAPI(col), SweepAt: time.UnixMilli(now)}, Note: note}
		vals := w.Committed
		if col == detect.ColEnd {
			vals = w.End
			c.SlopeUnit = "messages/s"
		} else {
			c.SlopeUnit = "messages/s"
		}
		c.Min, c.Max = math.Inf(1), math.Inf(-1)
		for i := at; i < n; i++ {
			if vals[i] == detect.Gap {
				c.Gaps++
				continue
			}
			x := float64(vals[i])
			if c.Count == 0 {
				c.First = x
			}
			c.Last, c.Count = x, c.Count+1
			c.Min, c.Max = math.Min(c.Min, x), math.Max(c.Max, x)
		}
		if secs := float64(now-w.Times[at]) / 1000; secs > 0 {
			c.Slope = (c.Last - c.First) / secs
		}
		return c
	}
	lagNow := pl.Lag
	what := "grow"
	switch pl.Status {
	case detect.StatusStalled:
		what = "stall (committed offset stopped moving)"
	case detect.StatusStopped:
		what = "stop (no member commits)"
	}
	return Entry{
		At:   time.UnixMilli(w.Times[at]),
		Kind: EntryLagOnset,
		Text: fmt.Sprintf("lag on %s-%d began to %s: %d messages then, %d now (%s)", gt.Topic, gt.Partitions[j].Partition, what, lagAtOnset(w, at), lagNow, pl.Status),
		Citations: []detect.Citation{
			cite(detect.ColCommitted, "the group's committed offset from the onset to now"),
			cite(detect.ColEnd, "the partition's log end offset from the onset to now"),
		},
	}, true
}

func lagAtOnset(w detect.PartitionWindow, i int) int64 {
	if w.Committed[i] == detect.Gap || w.End[i] == detect.Gap {
		return 0
	}
	return max(0, w.End[i]-w.Committed[i])
}

func sourceAPI(col detect.Column) string {
	if col == detect.ColCommitted {
		return "OffsetFetch"
	}
	return "ListOffsets(latest)"
}

// groupFindings returns the findings on the group and on its topics (those
// of the topics without a group, or with another group) and, when the
// layout is known, on the brokers leading the group's partitions: firing
// first, newest opened first.
func (e *Explainer) groupFindings(group string, topics []string) []Related {
	var out []Related
	seen := map[string]bool{}
	add := func(f detect.Finding, rel string) {
		if seen[f.ID] {
			return
		}
		seen[f.ID] = true
		out = append(out, e.related(f, rel))
	}
	for _, f := range e.src.Findings.List(state.FindingFilter{Group: group, Broker: -1}) {
		add(f, RelationSubject)
	}
	for _, t := range topics {
		for _, f := range e.src.Findings.List(state.FindingFilter{Topic: t, Broker: -1}) {
			if f.Subject.Group == "" {
				add(f, fmt.Sprintf("topic %s (consumed by the group)", t))
			}
		}
	}
	for _, bl := range e.leadersOf(topics) {
		for _, f := range e.src.Findings.List(state.FindingFilter{Broker: bl.broker}) {
			add(f, fmt.Sprintf("broker %d (leads %d partitions of %s)", bl.broker, bl.count, strings.Join(bl.topics, ", ")))
		}
	}
	sortRelated(out)
	return out
}

type brokerLeads struct {
	broker int32
	count  int
	topics []string
}

// leadersOf returns the brokers leading partitions of topics, by id.
func (e *Explainer) leadersOf(topics []string) []brokerLeads {
	if e.src.Layout == nil {
		return nil
	}
	parts, _ := e.src.Layout.Partitions()
	by := map[int32]*brokerLeads{}
	for _, t := range topics {
		for _, p := range parts[t] {
			if p.Leader < 0 {
				continue
			}
			bl := by[p.Leader]
			if bl == nil {
				bl = &brokerLeads{broker: p.Leader}
				by[p.Leader] = bl
			}
			bl.count++
			if !slices.Contains(bl.topics, t) {
				bl.topics = append(bl.topics, t)
			}
		}
	}
	out := make([]brokerLeads, 0, len(by))
	for _, bl := range by {
		out = append(out, *bl)
	}
	slices.SortFunc(out, func(a, b brokerLeads) int { return cmp.Compare(a.broker, b.broker) })
	return out
}

// related strips f to what a bundle carries and adds its owner and runbook.
func (e *Explainer) related(f detect.Finding, rel string) Related {
	f.Evidence, f.Facts = slices.Clone(f.Evidence[:min(1, len(f.Evidence))]), nil // the first citation dates its timeline entries
	return Related{Finding: f, Relation: rel, Owner: e.src.Owners.Of(f.Subject), Runbook: e.src.Owners.Runbook(f.Kind)}
}

// sortRelated orders firing before resolved, the subject's own before its
// dependencies', newest opened first.
func sortRelated(rs []Related) {
	own := func(r Related) int {
		if r.Relation == RelationSubject {
			return 0
		}
		return 1
	}
	slices.SortStableFunc(rs, func(a, b Related) int {
		return cmp.Or(cmp.Compare(a.Finding.State, b.Finding.State), cmp.Compare(own(a), own(b)),
			b.Finding.OpenedAt.Compare(a.Finding.OpenedAt), strings.Compare(a.Finding.ID, b.Finding.ID))
	})
}

// RelationSubject is the Relation of a finding on the subject itself.
const RelationSubject = "subject"

// groupTimeline gathers the group's changes since the window start: the
// reported deploys, membership changes, lag onsets, the changes of its
// topics, and the findings opened and resolved.
func (e *Explainer) groupTimeline(group string, ctx detect.GroupContext, since time.Time, onsets []Entry, related []Related, topics []string) []Entry {
	var tl []Entry
	if e.src.Events != nil {
		for _, ev := range e.src.Events.ByGroup(since.UnixMilli())[group] {
			tl = append(tl, deployEntry(ev))
		}
	}
	for _, ch := range ctx.History {
		if ch.AtMs >= since.UnixMilli() {
			tl = append(tl, membershipEntry(e.src.Window, group, ch))
		}
	}
	tl = append(tl, onsets...)
	tl = append(tl, e.layoutEntries(since, func(c *state.Change) bool { return slices.Contains(topics, c.Topic) })...)
	tl = append(tl, findingEntries(related, since)...)
	return number(tl)
}

// number sorts entries by time (stable for equal times) and ids them.
func number(tl []Entry) []Entry {
	slices.SortStableFunc(tl, func(a, b Entry) int { return a.At.Compare(b.At) })
	for i := range tl {
		tl[i].ID = fmt.Sprintf("t%d", i+1)
	}
	return tl
}

func deployEntry(ev detect.DeployEvent) Entry {
	name := ev.Service
	if ev.Version != "" {
		name += " " + ev.Version
	}
	at := time.UnixMilli(ev.AtMs)
	return Entry{At: at, Kind: EntryDeploy,
		Text: fmt.Sprintf("deploy of %s reported (event %s)", name, ev.ID),
		Citations: []detect.Citation{{From: at, To: at, Source: detect.Source{API: "RecordEvent (POST /v1/events)", SweepAt: at},
			Note: fmt.Sprintf("event %s: service %s, group %s", ev.ID, name, ev.Group)}}}
}

func membershipEntry(w *state.Window, group string, ch detect.MembershipChange) Entry {
	en := Entry{At: time.UnixMilli(ch.AtMs), Kind: EntryMembershipChange,
		Text: fmt.Sprintf("group %s rebalanced: generation %d→%d (%s)", group, ch.From, ch.To, membersText(ch))}
	c := detect.Citation{From: time.UnixMilli(ch.BeforeMs), To: time.UnixMilli(ch.AtMs),
		First: float64(ch.From), Last: float64(ch.To), Min: float64(min(ch.From, ch.To)), Max: float64(max(ch.From, ch.To)),
		SlopeUnit: "generations/s", Count: 2,
		Source: detect.Source{API: "DescribeGroups", SweepAt: time.UnixMilli(ch.AtMs)},
		Note:   "the group's membership generation before and after the change"}
	if ch.HasSeries {
		c.Series = w.Ref(ch.GenerationID)
	}
	en.Citations = []detect.Citation{c}
	return en
}

func membersText(ch detect.MembershipChange) string {
	var parts []string
	if len(ch.Joined) > 0 {
		parts = append(parts, "joined "+listText(ch.Joined))
	}
	if len(ch.Left) > 0 {
		parts = append(parts, "left "+listText(ch.Left))
	}
	if len(parts) == 0 {
		return "members changed"
	}
	return strings.Join(parts, "; ")
}

func listText(xs []string) string {
	if len(xs) > 3 {
		return strings.Join(xs[:3], ", ") + fmt.Sprintf(" and %d more", len(xs)-3)
	}
	return strings.Join(xs, ", ")
}

// layoutEntries turns the layout changes that keep into entries.
func (e *Explainer) layoutEntries(since time.Time, keep func(*state.Change) bool) []Entry {
	if e.src.Layout == nil {
		return nil
	}
	var out []Entry
	for _, c := range e.src.Layout.Changes(since, keep) {
		en := Entry{At: c.At, Kind: c.Kind}
		switch c.Kind {
		case state.ChangeLeaderMoved:
			en.Text = fmt.Sprintf("leader of %s-%d moved from broker %d to broker %d", c.Topic, c.Partition, c.From, c.To)
		case state.ChangePartitionsChanged:
			en.Text = fmt.Sprintf("topic %s went from %d to %d partitions", c.Topic, c.From, c.To)
		case state.ChangeConfigChanged:
			en.Text = fmt.Sprintf("topic %s config %s changed from %s to %s", c.Topic, c.Name, quoteOrUnset(c.Before), quoteOrUnset(c.After))
		}
		en.Citations = []detect.Citation{{From: c.PrevAt, To: c.At, Source: detect.Source{API: c.Source, SweepAt: c.At},
			Note: fmt.Sprintf("%s answers at %s and %s differ", c.Source, c.PrevAt.UTC().Format(time.RFC3339), c.At.UTC().Format(time.RFC3339))}}
		out = append(out, en)
	}
	return out
}

func quoteOrUnset(s string) string {
	if s == "" {
		return "(not set)"
	}
	return fmt.Sprintf("%q", s)
}

// findingEntries are the openings and resolutions of related findings
// since the window start; each cites the finding's first evidence.
func findingEntries(related []Related, since time.Time) []Entry {
	var out []Entry
	for _, r := range related {
		f := r.Finding
		if !f.OpenedAt.Before(since) {
			out = append(out, Entry{At: f.OpenedAt, Kind: EntryFindingOpened, FindingID: f.ID, Citations: f.Evidence,
				Text: fmt.Sprintf("%s opened on %s: %s", f.Kind, r.Relation, f.Summary)})
		}
		if f.State == detect.StateResolved && !f.ResolvedAt.Before(since) {
			out = append(out, Entry{At: f.ResolvedAt, Kind: EntryFindingResolved, FindingID: f.ID, Citations: f.Evidence,
				Text: fmt.Sprintf("%s resolved (%s) on %s", f.Kind, f.Resolution, r.Relation)})
		}
	}
	return out
}

// fill pages the timeline and findings into b.
func (e *Explainer) fill(b *Bundle, r Request, timeline []Entry, related []Related) {
	if r.wants(SectionTimeline) {
		lo, hi, p := pageFromEnd(len(timeline), r.offsetOf(SectionTimeline), r.PageSize)
		b.Timeline, b.TimelinePage = timeline[lo:hi], p
	}
	if r.wants(SectionFindings) {
		lo, hi, p := page(len(related), r.offsetOf(SectionFindings), r.PageSize)
		b.Findings, b.FindingsPage = related[lo:hi], p
	}
}
