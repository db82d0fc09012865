package explain

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// group builds a consumer group's bundle. Every partition's lag now is
// read from the newest sweep alone; whole windows are read and judged
// (the lag verdict learns each partition's rhythm from its window) only
// for the partitions the bundle shows and the onset candidates — the
// onsetProbe with the most lag of each topic and those the group's firing
// lag findings name — so a group of thousands of partitions costs about
// as much as one of a few dozen.
func (e *Explainer) group(r Request) (Bundle, bool) {
	v := e.src.Window.View()
	b := Bundle{Cluster: e.src.Window.Cluster(), At: v.At(), Section: r.Section,
		Subject: detect.Subject{Cluster: e.src.Window.Cluster(), Group: r.Group, Broker: -1}, Owner: e.src.Owners.Group(r.Group)}
	d, err := detect.NewLagDetector(e.src.Lag)
	if err != nil {
		return b, false
	}
	gs := &GroupState{}
	snap := v.Snapshot()
	var all []partLag
	found := false
	for i := range snap.Topology.GroupTopics {
		te := &snap.Topology.GroupTopics[i]
		if te.Group != r.Group {
			continue
		}
		found = true
		if !r.topicVisible(te.Topic) {
			b.Withheld += len(te.Parts)
			continue
		}
		gs.Topics = append(gs.Topics, te.Topic)
		for j, p := range te.Parts {
			l := lagOf(v.Latest(p.Series[detect.ColCommitted]), v.Latest(p.Series[detect.ColEnd]))
			if l != detect.Gap {
				gs.TotalLag += l
			}
			all = append(all, partLag{topic: te.Topic, partition: p.Partition, j: j, lag: l})
		}
	}
	if !found {
		return b, false
	}
	ctx := snap.Groups[r.Group]
	gs.State, gs.Generation, gs.MemberCount = ctx.State, ctx.Generation, ctx.Members

	related := e.groupFindings(r.Group, gs.Topics)
	// Onset candidates, by topic (all holds each topic's partitions in order).
	named := lagNamed(related)
	onsetCand := map[string][]partLag{}
	for lo := 0; lo < len(all); {
		hi := lo + 1
		for hi < len(all) && all[hi].topic == all[lo].topic {
			hi++
		}
		onsetCand[all[lo].topic] = onsetCandidates(all[lo:hi], named[all[lo].topic])
		lo = hi
	}
	var shown []partLag
	if r.wants(SectionPartitions) {
		lo, hi, p := page(len(all), r.offsetOf(SectionPartitions), r.partitionPage())
		shown, gs.PartitionsPage = mostLagFirst(all, hi)[lo:hi], p
	}
	j := judgeGroup(v, d, r.Group, shown, onsetCand, e.src.Lag)
	gs.MaxTimeLag, gs.CommitInterval = j.maxTimeLag, median(j.intervals)
	if r.wants(SectionPartitions) {
		gs.Partitions = j.rows
	}
	members := membersOf(ctx, r.topicVisible)
	if r.wants(SectionMembers) {
		lo, hi, p := page(len(members), r.offsetOf(SectionMembers), r.PageSize)
		gs.Members, gs.MembersPage = members[lo:hi], p
	}
	b.Group = gs

	since := b.At.Add(-e.src.Window.Span())
	timeline := e.groupTimeline(r.Group, ctx, since, j.onsets, related, gs.Topics)
	e.fill(&b, r, timeline, related)
	if r.Section == SectionAll {
		b.Narrative = groupNarrative(&b, gs, timeline, related, e.src.Lag)
	}
	return b, true
}

// partLag is one group-partition's lag at the newest sweep.
type partLag struct {
	topic     string
	partition int32
	j         int   // index in its topic's partitions
	lag       int64 // detect.Gap when the newest sweep has no sample
}

// lagOf is the lag of a committed and a log end offset, as the lag verdict
// reads it; Gap when either is.
func lagOf(committed, end int64) int64 {
	if committed == detect.Gap || end == detect.Gap {
		return detect.Gap
	}
	return max(0, end-committed)
}

// onsetProbe is how many of a topic's partitions with the most lag are
// judged when looking for the lag onset, besides those named by firing
// lag findings.
const onsetProbe = 16

// lagKinds are the findings whose partitions are onset candidates.
var lagKinds = []detect.Kind{detect.KindLagGrowing, detect.KindConsumerStalled, detect.KindConsumerStopped}

// lagNamed returns, by topic, the partitions the group's own firing lag
// findings (among related) name.
func lagNamed(related []Related) map[string][]int32 {
	out := map[string][]int32{}
	for _, r := range related {
		f := &r.Finding
		if r.Relation == RelationSubject && f.State == detect.StateFiring && slices.Contains(lagKinds, f.Kind) {
			out[f.Subject.Topic] = append(out[f.Subject.Topic], f.Subject.Partitions...)
		}
	}
	return out
}

// byLag orders partitions most lag first (gaps last), then by topic and
// partition.
func byLag(a, b partLag) int {
	if c := cmp.Compare(lagValue(b.lag), lagValue(a.lag)); c != 0 {
		return c
	}
	if a.topic != b.topic {
		return strings.Compare(a.topic, b.topic)
	}
	return cmp.Compare(a.partition, b.partition)
}

// mostLagFirst returns a slice whose first n entries are ps's first n
// byLag, in order: ps sorted when n is not small, else just those n (a
// page of a thousand partitions needs its ten first: they are kept in a
// sorted buffer while ps is scanned once).
func mostLagFirst(ps []partLag, n int) []partLag {
	if n > 64 || 8*n > len(ps) {
		slices.SortFunc(ps, byLag)
		return ps
	}
	top := make([]partLag, 0, n+1)
	for _, p := range ps {
		if len(top) == n && byLag(p, top[n-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, p, byLag)
		top = slices.Insert(top, i, p)
		if len(top) > n {
			top = top[:n]
		}
	}
	return top
}

// onsetCandidates are the partitions of one topic (lags, in order) with
// lag whose onset may be dated: those named, and the onsetProbe with the
// most lag.
func onsetCandidates(lags []partLag, named []int32) []partLag {
	var out []partLag
	for _, pl := range lags {
		if pl.lag > 0 && slices.Contains(named, pl.partition) {
			out = append(out, pl)
		}
	}
	for _, pl := range mostLag(lags, onsetProbe) {
		if !slices.Contains(named, pl.partition) {
			out = append(out, pl)
		}
	}
	return out
}

// mostLag returns the (at most) k partitions of lags with the most lag
// above zero, the lower index first on a tie, in no particular order.
func mostLag(lags []partLag, k int) []partLag {
	top := make([]partLag, 0, k)
	less := func(a, b partLag) bool { return a.lag < b.lag || a.lag == b.lag && a.j > b.j }
	low := 0 // the least of top once it is full
	for _, pl := range lags {
		if pl.lag <= 0 {
			continue
		}
		if len(top) < k {
			top = append(top, pl)
			if len(top) < k {
				continue
			}
		} else if less(top[low], pl) {
			top[low] = pl
		} else {
			continue
		}
		low = 0
		for i := range top {
			if less(top[i], top[low]) {
				low = i
			}
		}
	}
	return top
}

// judged is what reading the windows of some of a group's partitions
// gave.
type judged struct {
	rows       []PartitionRow // of the partitions shown, in their order
	onsets     []Entry        // one per topic at most
	maxTimeLag float64        // seconds, over the partitions judged
	intervals  []int64        // commit intervals, ms (commitIntervals)
}

// judgeGroup reads the windows of the partitions shown and the onset
// candidates, judges them, and dates each topic's lag onset: of its
// candidates, the lagging one with the most lag (the lowest partition on a
// tie).
func judgeGroup(v *state.View, d *detect.LagDetector, group string, shown []partLag, onsetCand map[string][]partLag, cfg detect.LagConfig) judged {
	out := judged{rows: make([]PartitionRow, len(shown)), intervals: make([]int64, 0, 64)}
	v.GroupTopics(group, func(gt *detect.GroupTopic) {
		want := map[int]bool{}
		for _, pl := range onsetCand[gt.Topic] {
			want[pl.j] = true
		}
		for _, pl := range shown {
			if pl.topic == gt.Topic {
				want[pl.j] = true
			}
		}
		if len(want) == 0 {
			return
		}
		sub := &detect.GroupTopic{Cluster: gt.Cluster, Group: gt.Group, Topic: gt.Topic, Context: gt.Context}
		at := map[int]int{} // j → index in sub
		for j := range gt.Partitions {
			if want[j] {
				v.LoadOffsets(gt, j)
				at[j] = len(sub.Partitions)
				sub.Partitions = append(sub.Partitions, gt.Partitions[j])
			}
		}
		verdicts := slices.Clone(d.GroupLag(sub))
		for k := range sub.Partitions {
			w := sub.Partitions[k].Window
			if tl := detect.EstimateTimeLag(w); !math.IsNaN(tl.Seconds) {
				out.maxTimeLag = max(out.maxTimeLag, tl.Seconds)
			}
			if len(out.intervals) < cap(out.intervals) {
				out.intervals = commitIntervals(out.intervals, w)
			}
		}
		for i, pl := range shown {
			if pl.topic == gt.Topic {
				k := at[pl.j]
				out.rows[i] = PartitionRow{Topic: gt.Topic, Partition: pl.partition, Lag: verdicts[k], TimeLag: detect.EstimateTimeLag(sub.Partitions[k].Window)}
			}
		}
		worst := -1
		for _, pl := range onsetCand[gt.Topic] {
			k := at[pl.j]
			if lagging(verdicts[k].Status) && (worst < 0 || verdicts[k].Lag > verdicts[worst].Lag || verdicts[k].Lag == verdicts[worst].Lag && k < worst) {
				worst = k
			}
		}
		if worst >= 0 {
			if en, ok := onsetEntry(v, sub, worst, verdicts[worst], cfg); ok {
				out.onsets = append(out.onsets, en)
			}
		}
	})
	return out
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
		lists := map[string]*[]int32{} // member → its partitions of topic: one lookup per partition
		for p, m := range parts {
			l := lists[m]
			if l == nil {
				l = new([]int32)
				lists[m] = l
			}
			*l = append(*l, p)
		}
		for m, l := range lists {
			if byMember[m] == nil {
				byMember[m] = map[string][]int32{}
			}
			byMember[m][topic] = *l
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
			Source: detect.Source{API: sourceAPI(col), SweepAt: time.UnixMilli(now)}, Note: note, SlopeUnit: "messages/s"}
		vals := w.Committed
		if col == detect.ColEnd {
			vals = w.End
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

// number sorts entries by time (stable for equal times) and ids them. It
// sorts indices and moves each entry once: entries are large.
func number(tl []Entry) []Entry {
	idx := make([]int, len(tl))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return tl[a].At.Compare(tl[b].At) })
	out := make([]Entry, len(tl))
	for i, k := range idx {
		out[i] = tl[k]
		out[i].ID = "t" + strconv.Itoa(i+1)
	}
	return out
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

// layoutEntries turns the layout changes that keep into entries. Their
// text and citation are written only for the entries a bundle holds
// (renderChange, from fill): a busy cluster's window can hold hundreds.
func (e *Explainer) layoutEntries(since time.Time, keep func(*state.Change) bool) []Entry {
	if e.src.Layout == nil {
		return nil
	}
	changes := e.src.Layout.Changes(since, keep)
	out := make([]Entry, len(changes))
	for i := range changes {
		out[i] = Entry{At: changes[i].At, Kind: changes[i].Kind, change: &changes[i]}
	}
	return out
}

// renderChange writes the text and citation of a layout change's entry.
func renderChange(en *Entry) {
	c := en.change
	if c == nil || en.Text != "" {
		return
	}
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
		for i := range b.Timeline {
			renderChange(&b.Timeline[i])
		}
	}
	if r.wants(SectionFindings) {
		lo, hi, p := page(len(related), r.offsetOf(SectionFindings), r.PageSize)
		b.Findings, b.FindingsPage = related[lo:hi], p
	}
}
