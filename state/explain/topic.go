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

// topic builds a topic's bundle: its partitions (Metadata's leaders,
// replicas and ISR, the window's newest log start and end offsets),
// configs (DescribeConfigs), size (scraped topic sizes), produce rate and
// consumer groups; the changes to its layout and configs; the findings on
// it, on the brokers holding it, on the cluster and on the groups reading
// it. ok is false when no source knows the topic.
func (e *Explainer) topic(r Request) (Bundle, bool, error) {
	v := e.src.Window.View()
	cluster := e.src.Window.Cluster()
	b := Bundle{Cluster: cluster, At: v.At(), Section: r.Section,
		Subject: detect.Subject{Cluster: cluster, Topic: r.Topic, Broker: -1}, Owner: e.src.Owners.Topic(r.Topic)}
	parts, configs := e.layout()
	assign, inLayout := parts[r.Topic]
	cfg, hasConfigs := configs[r.Topic]
	ci := e.clusterInput()
	ts := &TopicState{Configs: configRows(cfg), SizeBytes: topicSize(ci, r.Topic), ProduceRate: math.NaN()}
	since := b.At.Add(-e.src.Window.Span())
	w := e.watchedTopic(v, r.Topic, since.UnixMilli())
	ts.Groups, ts.ProduceRate = w.groups, w.produceRate
	rows := topicRows(assign, w)
	if !inLayout && !hasConfigs && len(w.groups) == 0 && math.IsNaN(ts.SizeBytes) {
		return b, false, nil
	}
	ts.PartitionCount = len(rows)
	if r.wants(SectionPartitions) {
		lo, hi, p := page(len(rows), r.offsetOf(SectionPartitions), r.partitionPage())
		ts.Partitions, ts.PartitionsPage = rows[lo:hi], p
	}
	b.Topic = ts

	related := e.topicFindings(r.Topic, assign)
	var timeline []Entry
	timeline = append(timeline, e.layoutEntries(since, func(c *state.Change) bool { return c.Topic == r.Topic })...)
	timeline = append(timeline, findingEntries(related, since)...)
	timeline = number(timeline)
	e.fill(&b, r, timeline, related)
	if r.Section == SectionAll {
		b.Narrative = topicNarrative(&b, ts, rows, cfg, e.src.Window.Span())
	}
	return b, true, nil
}

// clusterInput is the brokers' telemetry now, or nil without it.
func (e *Explainer) clusterInput() *detect.ClusterInput {
	if e.src.Telemetry == nil {
		return nil
	}
	ci := e.src.Telemetry.ClusterInput()
	return &ci
}

// configRows sorts a topic's configs by name.
func configRows(cfg map[string]string) [][2]string {
	out := make([][2]string, 0, len(cfg))
	for _, k := range sortedKeys(cfg) {
		out = append(out, [2]string{k, cfg[k]})
	}
	return out
}

// topicSize is Σ over brokers of the topic's newest scraped size (all
// replicas), bytes; NaN when no broker reports it.
func topicSize(ci *detect.ClusterInput, topic string) float64 {
	size := math.NaN()
	if ci == nil {
		return size
	}
	for _, br := range ci.Brokers {
		if w, ok := br.TopicSize[topic]; ok {
			if x, _ := w.Last(); !math.IsNaN(x) {
				size = nanAdd(size, x)
			}
		}
	}
	return size
}

// watched is what the window holds of one topic.
type watched struct {
	groups      []string
	produceRate float64             // messages/s over the window; NaN unknown
	offsets     map[int32]*[2]int64 // partition → newest log start, end
	order       []int32             // watched partitions, ascending
}

// watchedTopic reads the groups consuming topic, its partitions' newest
// log start and end offsets, and its produce rate: Σ over partitions of
// the log end offset's growth since from, per second.
func (e *Explainer) watchedTopic(v *state.View, topic string, from int64) watched {
	w := watched{produceRate: math.NaN(), offsets: map[int32]*[2]int64{}}
	for _, te := range v.Snapshot().Topology.GroupTopics {
		if te.Topic == topic && !slices.Contains(w.groups, te.Group) {
			w.groups = append(w.groups, te.Group)
		}
	}
	slices.Sort(w.groups)
	if len(w.groups) == 0 {
		return w
	}
	rate, known := 0.0, false
	v.GroupTopics(w.groups[0], func(gt *detect.GroupTopic) {
		if gt.Topic != topic {
			return
		}
		for j := range gt.Partitions {
			v.LoadOffsets(gt, j)
			pw := gt.Partitions[j].Window
			end := detect.Gap
			if n := len(pw.Times); n > 0 {
				end = pw.End[n-1]
			}
			_, start := v.NewestStart(gt, j)
			p := gt.Partitions[j].Partition
			w.offsets[p] = &[2]int64{start, end}
			w.order = append(w.order, p)
			if g, secs, ok := growth(pw.Times, pw.End, from); ok && secs > 0 {
				rate, known = rate+g/secs, true
			}
		}
	})
	slices.Sort(w.order)
	if known {
		w.produceRate = rate
	}
	return w
}

// topicRows merges Metadata's partitions with the watched ones: problems
// first (no leader, then fewer in-sync replicas than replicas), then by
// partition.
func topicRows(assign []detect.PartitionAssignment, w watched) []TopicPartition {
	rows := make([]TopicPartition, 0, max(len(assign), len(w.order)))
	known := make(map[int32]bool, len(assign))
	for _, a := range assign {
		rows = append(rows, TopicPartition{Partition: a.Partition, Leader: a.Leader, Replicas: a.Replicas, ISR: a.ISR, LogStart: detect.Gap, LogEnd: detect.Gap})
		known[a.Partition] = true
	}
	for _, p := range w.order {
		if !known[p] {
			rows = append(rows, TopicPartition{Partition: p, Leader: -1, LogStart: detect.Gap, LogEnd: detect.Gap})
		}
	}
	for i := range rows {
		if o := w.offsets[rows[i].Partition]; o != nil {
			rows[i].LogStart, rows[i].LogEnd = o[0], o[1]
		}
	}
	slices.SortFunc(rows, func(a, b TopicPartition) int {
		return cmp.Or(cmp.Compare(partitionRank(a), partitionRank(b)), cmp.Compare(a.Partition, b.Partition))
	})
	return rows
}

// partitionRank orders a topic's partitions by trouble: 0 no leader, 1
// under-replicated, 2 healthy or unknown.
func partitionRank(p TopicPartition) int {
	switch {
	case p.Leader < 0 && len(p.Replicas) > 0:
		return 0
	case len(p.ISR) < len(p.Replicas):
		return 1
	}
	return 2
}

// topicFindings returns the findings on the topic, on the brokers holding
// its partitions, on the cluster and on the groups reading it: firing
// first, the topic's own first, newest opened first.
func (e *Explainer) topicFindings(topic string, assign []detect.PartitionAssignment) []Related {
	var out []Related
	seen := map[string]bool{}
	add := func(f detect.Finding, rel string) bool {
		if seen[f.ID] {
			return false
		}
		seen[f.ID] = true
		out = append(out, e.related(f, rel))
		return true
	}
	var groups []detect.Finding
	for _, f := range e.src.Findings.List(state.FindingFilter{Topic: topic, Broker: -1}) {
		if f.Subject.Group == "" {
			add(f, RelationSubject)
		} else {
			groups = append(groups, f)
		}
	}
	for _, h := range holders(assign) {
		for _, f := range e.src.Findings.List(state.FindingFilter{Broker: h.broker}) {
			add(f, h.relation(topic))
		}
	}
	e.addClusterFindings(add)
	for _, f := range groups {
		if add(f, fmt.Sprintf("consumer group %s (reads the topic)", f.Subject.Group)) {
			out[len(out)-1].Dependent = true
		}
	}
	sortRelated(out)
	return out
}

// addClusterFindings adds the findings on the whole cluster.
func (e *Explainer) addClusterFindings(add func(detect.Finding, string) bool) {
	clusterWide := func(f *detect.Finding) bool {
		return f.Subject.Group == "" && f.Subject.Topic == "" && f.Subject.Broker < 0
	}
	for _, f := range e.src.Findings.List(state.FindingFilter{Broker: -1, Allow: clusterWide}) {
		add(f, "the cluster")
	}
}

// holder is a broker holding partitions of one topic.
type holder struct {
	broker            int32
	leads, replicates int
}

func (h holder) relation(topic string) string {
	return fmt.Sprintf("broker %d (leads %d and holds replicas of %d partitions of %s)", h.broker, h.leads, h.replicates, topic)
}

// holders returns the brokers leading or holding replicas of assign, by id.
func holders(assign []detect.PartitionAssignment) []holder {
	by := map[int32]*holder{}
	get := func(id int32) *holder {
		if by[id] == nil {
			by[id] = &holder{broker: id}
		}
		return by[id]
	}
	for _, a := range assign {
		if a.Leader >= 0 {
			get(a.Leader).leads++
		}
		for _, r := range a.Replicas {
			get(r).replicates++
		}
	}
	out := make([]holder, 0, len(by))
	for _, h := range by {
		out = append(out, *h)
	}
	slices.SortFunc(out, func(a, b holder) int { return cmp.Compare(a.broker, b.broker) })
	return out
}

// topicNarrative states the topic now, the changes in the timeline page,
// the firing findings and the owner.
func topicNarrative(b *Bundle, ts *TopicState, rows []TopicPartition, cfg map[string]string, span time.Duration) []Statement {
	var s strings.Builder
	fmt.Fprintf(&s, "Topic %s has %d partitions", b.Subject.Topic, ts.PartitionCount)
	leaders, replicas := map[int32]bool{}, map[int32]bool{}
	offline, under, belowMin := 0, 0, 0
	minISR, minKnown := parseInt(cfg["min.insync.replicas"])
	for _, p := range rows {
		if p.Leader >= 0 {
			leaders[p.Leader] = true
		}
		for _, r := range p.Replicas {
			replicas[r] = true
		}
		switch partitionRank(p) {
		case 0:
			offline++
		case 1:
			under++
		}
		if minKnown && len(p.Replicas) > 0 && int64(len(p.ISR)) < minISR {
			belowMin++
		}
	}
	if len(replicas) > 0 {
		fmt.Fprintf(&s, ", replicas on brokers %s, leaders on brokers %s", idList(replicas), idList(leaders))
	}
	var trouble []string
	if offline > 0 {
		trouble = append(trouble, fmt.Sprintf("%d without a leader", offline))
	}
	if under > 0 {
		trouble = append(trouble, fmt.Sprintf("%d under-replicated (fewer in-sync replicas than replicas)", under))
	}
	if belowMin > 0 {
		trouble = append(trouble, fmt.Sprintf("%d below min.insync.replicas=%d (acks=all produce fails there)", belowMin, minISR))
	}
	if len(trouble) > 0 {
		s.WriteString("; " + strings.Join(trouble, ", "))
	} else if len(replicas) > 0 {
		s.WriteString("; every partition has a leader and its full ISR")
	}
	if !math.IsNaN(ts.SizeBytes) {
		fmt.Fprintf(&s, "; %s on disk over all replicas", bytesText(ts.SizeBytes))
	}
	if !math.IsNaN(ts.ProduceRate) {
		fmt.Fprintf(&s, "; about %.4g messages/s produced over the last %s", ts.ProduceRate, span)
	}
	if len(ts.Configs) > 0 {
		kv := make([]string, 0, len(ts.Configs))
		for _, c := range ts.Configs {
			kv = append(kv, c[0]+"="+c[1])
		}
		fmt.Fprintf(&s, "; configs %s", strings.Join(kv, ", "))
	}
	if len(ts.Groups) > 0 {
		fmt.Fprintf(&s, "; read by group(s) %s", listText(ts.Groups))
	} else {
		s.WriteString("; no watched group reads it")
	}
	out := []Statement{{Text: s.String() + ".", Refs: []string{RefState}}}
	out = append(out, changeStatements(b.Timeline, "")...)
	out = append(out, findingStatements(b.Subject, b.Findings)...)
	return append(out, ownerStatement(b.Owner))
}

// maxNamedChanges caps the changes of one kind a statement names.
const maxNamedChanges = 3

// changeStatements summarize the layout and config changes of the
// timeline page, one statement per kind naming its newest entries (and
// counting the others of the page). about, when set, prefixes each.
func changeStatements(tl []Entry, about string) []Statement {
	var out []Statement
	for _, kind := range []string{EntryPartitionsChanged, EntryConfigChanged, EntryLeaderMoved} {
		var ids, texts []string
		n := 0
		for i := len(tl) - 1; i >= 0; i-- {
			if tl[i].Kind != kind {
				continue
			}
			n++
			if len(ids) < maxNamedChanges {
				ids = append(ids, tl[i].ID)
				texts = append(texts, fmt.Sprintf("%s at %s", tl[i].Text, tl[i].At.UTC().Format("15:04:05Z")))
			}
		}
		if n == 0 {
			continue
		}
		text := about + changeLead(kind, n) + strings.Join(texts, "; ")
		if n > len(ids) {
			text += fmt.Sprintf("; %d older in the timeline", n-len(ids))
		}
		out = append(out, Statement{Text: text + ".", Refs: ids})
	}
	return out
}

func changeLead(kind string, n int) string {
	what := map[string]string{EntryPartitionsChanged: "partition-count change", EntryConfigChanged: "config change", EntryLeaderMoved: "leader movement"}[kind]
	if n == 1 {
		return fmt.Sprintf("One %s in the window: ", what)
	}
	return fmt.Sprintf("%d %ss in the window, newest first: ", n, what)
}

func parseInt(s string) (int64, bool) {
	var n int64
	if _, err := fmt.Sscan(s, &n); err != nil || s == "" {
		return 0, false
	}
	return n, true
}

// idList renders a set of broker ids in order.
func idList(set map[int32]bool) string {
	ids := make([]int32, 0, len(set))
	for id := range set {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	if len(s) == 0 {
		return "(none)"
	}
	return strings.Join(s, ", ")
}

// bytesText renders bytes in binary units: "512 B", "1.5 GiB".
func bytesText(b float64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%.0f B", b)
	}
	div, exp := float64(unit), 0
	for n := b / unit; n >= unit && exp < 5; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", b/div, "KMGTPE"[exp])
}
