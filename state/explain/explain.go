// Package explain assembles one cited evidence bundle about a consumer
// group, a topic or a broker: its state now, a timeline of what changed
// around it (oldest first), the findings on it and on what it depends on,
// and a narrative whose every statement refers to entries of the bundle.
//
// It reads what kwitness already holds — the detectors' window and
// telemetry, the findings, the reported deploy events, the newest
// DescribeConfigs and Metadata answers and the changes seen between them —
// and never asks Kafka anything. Every list is capped at a page and can be
// continued from an offset; encoding the bundle and keeping it within a
// byte budget is the API's job.
package explain

import (
	"errors"
	"fmt"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Page sizes of every list.
const (
	DefaultPageSize = 10
	MaxPageSize     = 500
)

// Sources is what an Explainer reads. Window, Findings and Owners are
// required; the others may be nil (their parts of a bundle stay empty).
type Sources struct {
	Window    *state.Window
	Findings  *state.Findings
	Events    *state.Deploys
	Telemetry *state.Telemetry
	// Layout holds the newest Metadata and DescribeConfigs answers and the
	// leader, partition-count and config changes seen between them.
	Layout *state.Layout
	Owners *detect.Owners
	Lag    detect.LagConfig
}

// Explainer builds bundles. Safe for concurrent use: each call reads its
// own view of the published state.
type Explainer struct {
	src Sources
}

// New validates src and returns an Explainer.
func New(src Sources) (*Explainer, error) {
	if src.Window == nil || src.Findings == nil || src.Owners == nil {
		return nil, errors.New("explain: window, findings and owners are required")
	}
	if err := src.Lag.Validate(); err != nil {
		return nil, err
	}
	return &Explainer{src: src}, nil
}

// Owners is the owners lookup the bundles use.
func (e *Explainer) Owners() *detect.Owners { return e.src.Owners }

// Section names one list of a bundle, for continuing it.
type Section string

// Lists of a bundle that can be continued.
const (
	SectionAll        Section = ""
	SectionTimeline   Section = "timeline"
	SectionFindings   Section = "findings"
	SectionPartitions Section = "partitions"
	SectionMembers    Section = "members"
)

// KnownSection reports whether s names a list.
func KnownSection(s Section) bool {
	switch s {
	case SectionAll, SectionTimeline, SectionFindings, SectionPartitions, SectionMembers:
		return true
	}
	return false
}

// Request asks for one subject's bundle. Exactly one of Group, Topic and
// Broker (≥ 0) is set.
type Request struct {
	Group    string
	Topic    string
	Broker   int32 // -1: not a broker
	PageSize int   // 0: DefaultPageSize
	// PartitionRows, when > 0, ends a page of partitions after that many
	// rows even if PageSize is larger (the caller's byte budget cannot
	// hold more): rows are judged from their whole windows, so rows that
	// would be cut are not worth reading. The page continues from there.
	PartitionRows int
	// Section, when set, continues that list only, from Offset.
	Section Section
	Offset  int
	// TopicVisible, when set, limits a group's bundle to the topics it
	// allows: other topics' partitions, assignments and changes are left
	// out of the state, the timeline and the narrative, and counted in
	// Bundle.Withheld.
	TopicVisible func(topic string) bool
}

// topicVisible reports whether r lets its bundle show topic.
func (r Request) topicVisible(topic string) bool {
	return r.TopicVisible == nil || r.TopicVisible(topic)
}

// Validate reports a malformed request.
func (r Request) Validate() error {
	n := 0
	for _, set := range []bool{r.Group != "", r.Topic != "", r.Broker >= 0} {
		if set {
			n++
		}
	}
	switch {
	case n != 1:
		return errors.New("subject: want exactly one of group, topic, broker")
	case r.PageSize < 0 || r.PageSize > MaxPageSize:
		return fmt.Errorf("page_size %d: want 1..%d", r.PageSize, MaxPageSize)
	case r.PartitionRows < 0:
		return fmt.Errorf("partition_rows %d: must be ≥ 0", r.PartitionRows)
	case r.Offset < 0:
		return fmt.Errorf("offset %d: must be ≥ 0", r.Offset)
	case !KnownSection(r.Section):
		return fmt.Errorf("section %q: unknown", r.Section)
	}
	return nil
}

// Page says which part of a list a bundle holds.
type Page struct {
	Total  int // entries in the whole list
	Offset int // index of the first entry held
	More   bool
	Next   int // the Request.Offset that continues the list
}

// Bundle is the evidence about one subject.
type Bundle struct {
	Cluster string
	Subject detect.Subject
	At      time.Time // newest sweep read
	Owner   detect.Owner
	Section Section // the list continued, or SectionAll

	Group  *GroupState
	Topic  *TopicState
	Broker *BrokerState

	// Timeline pages go from the newest end: the first page holds the
	// newest entries, oldest first; a continuation's Offset counts entries
	// skipped at the newest end.
	Timeline     []Entry
	TimelinePage Page
	Findings     []Related
	FindingsPage Page
	Narrative    []Statement
	Withheld     int // entries left out by Request.TopicVisible
}

// GroupState is a group now.
type GroupState struct {
	State       string
	Generation  int32
	MemberCount int
	Members     []Member
	MembersPage Page
	Topics      []string
	TotalLag    int64
	// MaxTimeLag and CommitInterval are read from the windows of the
	// partitions judged: those shown, and the onset candidates (see group).
	MaxTimeLag     float64 // seconds
	CommitInterval float64 // seconds; 0 unknown
	Partitions     []PartitionRow
	PartitionsPage Page
}

// Member is one member of a group and its assignment.
type Member struct {
	Member, ClientID, Host string
	Assignment             []TopicPartitions
}

// TopicPartitions is a topic and some of its partitions.
type TopicPartitions struct {
	Topic      string
	Partitions []int32
}

// PartitionRow is one group-partition's lag now.
type PartitionRow struct {
	Topic     string
	Partition int32
	Lag       detect.PartitionLag
	TimeLag   detect.TimeLag
}

// TopicState is a topic now.
type TopicState struct {
	PartitionCount int
	Configs        [][2]string // name, value; sorted by name
	SizeBytes      float64     // all replicas; NaN unknown
	ProduceRate    float64     // messages/s over the window; NaN unknown
	Groups         []string
	Partitions     []TopicPartition
	PartitionsPage Page
}

// TopicPartition is one partition of a topic now.
type TopicPartition struct {
	Partition        int32
	Leader           int32 // -1 unknown or offline
	Replicas, ISR    []int32
	LogStart, LogEnd int64 // detect.Gap when unknown
}

// BrokerState is a broker now.
type BrokerState struct {
	Registered, Reachable bool
	Leaders, Replicas     float64 // NaN unknown
	BytesIn, BytesOut     float64 // bytes/s; NaN unknown
	LogDirs               []LogDir
	TopicsLed             []string
	// Health holds the newest health gauges (under-replicated and
	// under-min-ISR partitions, offline log dirs, request queue, …), the
	// ISR shrink rate, p99 request latencies and a restart, when known.
	Health []detect.Fact
}

// LogDir is one log directory's use.
type LogDir struct {
	Path        string
	Used, Total float64 // bytes; NaN unknown
}

// Timeline entry kinds.
const (
	EntryDeploy            = "DEPLOY"
	EntryMembershipChange  = "MEMBERSHIP_CHANGE"
	EntryLagOnset          = "LAG_ONSET"
	EntryLeaderMoved       = "LEADER_MOVED"
	EntryPartitionsChanged = "PARTITIONS_CHANGED"
	EntryConfigChanged     = "CONFIG_CHANGED"
	EntryFindingOpened     = "FINDING_OPENED"
	EntryFindingResolved   = "FINDING_RESOLVED"
)

// Entry is one change around the subject.
type Entry struct {
	ID        string // "t1", "t2", … in time order over the whole timeline
	At        time.Time
	Kind      string
	Text      string
	Citations []detect.Citation // series, or an API call with its time (Series.Metric "")
	FindingID string

	change *state.Change // a layout change whose Text and Citations are not written yet
}

// Related is a finding on the subject or on what it depends on.
type Related struct {
	Finding  detect.Finding // Evidence and Facts left out: GetFinding has them
	Relation string
	// Dependent: the finding is on something that depends on the subject
	// (a topic's consumer group), not on something the subject depends on.
	Dependent bool
	Owner     detect.Owner
	Runbook   string
}

// Statement is one narrative sentence and the entries it rests on: timeline
// entry ids, finding ids, RefState or RefOwner.
type Statement struct {
	Text string
	Refs []string
}

// References of a Statement to the subject's state now and its owner.
const (
	RefState = "state"
	RefOwner = "owner"
)

// Explain builds the bundle r asks for; ok is false when kwitness knows
// nothing of the subject.
func (e *Explainer) Explain(r Request) (Bundle, bool, error) {
	if err := r.Validate(); err != nil {
		return Bundle{}, false, err
	}
	if r.PageSize == 0 {
		r.PageSize = DefaultPageSize
	}
	switch {
	case r.Group != "":
		b, ok := e.group(r)
		return b, ok, nil
	case r.Topic != "":
		return e.topic(r)
	}
	return e.broker(r)
}

// page returns the [offset, offset+size) part of n entries.
func page(n, offset, size int) (lo, hi int, p Page) {
	lo = min(offset, n)
	hi = min(lo+size, n)
	return lo, hi, Page{Total: n, Offset: lo, More: hi < n, Next: hi}
}

// pageFromEnd pages a list whose newest entries matter most: skip entries
// are left out at the newest end and the page holds the size entries
// before them, oldest first; More says older entries remain.
func pageFromEnd(n, skip, size int) (lo, hi int, p Page) {
	hi = max(n-skip, 0)
	lo = max(hi-size, 0)
	return lo, hi, Page{Total: n, Offset: lo, More: lo > 0, Next: n - lo}
}

// partitionPage is the number of partition rows a page holds.
func (r Request) partitionPage() int {
	if r.PartitionRows > 0 {
		return min(r.PageSize, r.PartitionRows)
	}
	return r.PageSize
}

// wants reports whether r fills section s.
func (r Request) wants(s Section) bool { return r.Section == SectionAll || r.Section == s }

// offsetOf is where list s starts in r.
func (r Request) offsetOf(s Section) int {
	if r.Section == s {
		return r.Offset
	}
	return 0
}
