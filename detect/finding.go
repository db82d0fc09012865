// Package detect turns windows of samples into findings with evidence.
//
// It is a pure leaf: no Kafka client, no store, no protobuf. Every detector is
// a function of samples (see PartitionWindow) and configuration, so it can be
// table-tested; the Book turns a detector's candidates into a finding
// lifecycle (pending → firing → resolved) with hysteresis.
//
// Conventions used throughout the package:
//   - timestamps are Unix milliseconds (int64) unless a field is a time.Time;
//   - offsets and lags are Kafka offsets (messages), int64;
//   - a missing sample is the value Gap, never zero;
//   - rates are per second.
package detect

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Gap marks a missing sample in a value column: the poll or scrape that should
// have produced it failed. It is never a valid offset.
const Gap int64 = math.MinInt64

// Kind names what a finding is about. Kinds are stable identifiers that appear
// in the API and in alert names.
type Kind string

// Consumer-lag kinds (the Burrow statuses, measured in seconds).
const (
	KindLagGrowing      Kind = "LAG_GROWING"
	KindConsumerStalled Kind = "CONSUMER_STALLED"
	KindConsumerStopped Kind = "CONSUMER_STOPPED"
	KindOffsetRewind    Kind = "OFFSET_REWIND"
)

// Broker and cluster kinds (BrokerDetector); formulas and defaults are
// documented on BrokerConfig.
const (
	KindOfflinePartitions        Kind = "OFFLINE_PARTITIONS"
	KindUnderMinISR              Kind = "UNDER_MIN_ISR"
	KindUnderReplicated          Kind = "UNDER_REPLICATED"
	KindISRFlapping              Kind = "ISR_FLAPPING"
	KindUncleanLeaderElection    Kind = "UNCLEAN_LEADER_ELECTION"
	KindControllerAnomaly        Kind = "CONTROLLER_ANOMALY"
	KindOfflineLogDir            Kind = "OFFLINE_LOG_DIR"
	KindBrokerUnreachable        Kind = "BROKER_UNREACHABLE"
	KindDiskNearlyFull           Kind = "DISK_NEARLY_FULL"
	KindDiskFillForecast         Kind = "DISK_FILL_FORECAST"
	KindRequestHandlerSaturation Kind = "REQUEST_HANDLER_SATURATION"
	KindLatencyRegression        Kind = "LATENCY_REGRESSION"
	KindTelemetryGap             Kind = "TELEMETRY_GAP"
)

// Retention and hot-spot kinds (RetentionDetector, HotDetector); formulas and
// defaults are documented on RetentionConfig.Risk and HotConfig.
const (
	KindRetentionRisk Kind = "RETENTION_RISK"
	KindDataSkipped   Kind = "DATA_SKIPPED"
	KindHotPartition  Kind = "HOT_PARTITION"
)

// Severity orders how urgent a finding is.
type Severity int

// Severities, least to most urgent.
const (
	SeverityInfo Severity = iota + 1
	SeverityWarning
	SeverityCritical
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	case SeverityCritical:
		return "critical"
	}
	return "unknown"
}

// ParseSeverity is the inverse of Severity.String.
func ParseSeverity(s string) (Severity, error) {
	switch strings.ToLower(s) {
	case "info":
		return SeverityInfo, nil
	case "warning":
		return SeverityWarning, nil
	case "critical":
		return SeverityCritical, nil
	}
	return 0, fmt.Errorf("severity %q: want info, warning or critical", s)
}

// State is where a finding is in its lifecycle.
type State int

// States of a finding.
const (
	StateFiring State = iota + 1
	StateResolved
)

func (s State) String() string {
	switch s {
	case StateFiring:
		return "firing"
	case StateResolved:
		return "resolved"
	}
	return "unknown"
}

// Resolution reasons. A subject that disappears is never a recovery.
const (
	ResolvedRecovered   = "recovered"
	ResolvedSubjectGone = "subject gone"
)

// Subject is what a finding is about. Empty fields do not apply; Broker is -1
// when the finding is not about one broker.
type Subject struct {
	Cluster    string
	Group      string
	Topic      string
	Partitions []int32 // sorted ascending
	Broker     int32
}

// Key identifies the subject without its partition list: partitions of a
// finding may change while it is open.
func (s Subject) Key() string {
	return s.Cluster + "\x00" + s.Group + "\x00" + s.Topic + "\x00" + strconv.Itoa(int(s.Broker))
}

// Label is one name=value pair of a series.
type Label struct {
	Name, Value string
}

// SeriesRef names one stored series exactly: the metric name and its labels,
// sorted by name. It is the reference a citation gives and the API resolves.
type SeriesRef struct {
	Metric string
	Labels []Label
}

// String renders the reference in Prometheus notation, e.g.
// kafka_consumergroup_committed_offset{group="g",partition="0",topic="t"};
// values are quoted as Go strings (strconv.Quote), so any group id round-trips.
func (r SeriesRef) String() string {
	var b strings.Builder
	b.WriteString(r.Metric)
	b.WriteByte('{')
	for i, l := range r.Labels {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(l.Name)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// Source says where a cited sample came from.
type Source struct {
	API     string    // Kafka API or scrape, e.g. "OffsetFetch", "ListOffsets(latest)"
	SweepAt time.Time // time of the newest sweep cited
}

// Citation is one piece of evidence: a series over a window, summarised by
// the numbers a reader needs, and where the samples came from. Every citation
// resolves to raw samples by (Series, From, To).
type Citation struct {
	Series    SeriesRef
	From, To  time.Time // inclusive window of the cited samples
	First     float64
	Last      float64
	Min       float64
	Max       float64
	Slope     float64 // robust slope over the window, in SlopeUnit
	SlopeUnit string  // e.g. "messages/s"
	Count     int     // samples present in the window
	Gaps      int     // samples missing in the window
	Source    Source
	Note      string // what this citation shows, one short clause
}

// Fact is a derived number or a piece of configuration a finding relies on.
type Fact struct {
	Name  string
	Value float64
	Unit  string
	Text  string // non-numeric facts (e.g. group state); Value is then 0
}

// Finding is one detected condition with its evidence.
type Finding struct {
	ID          string // unique per occurrence: fingerprint hash + open time
	Fingerprint string // stable identity: kind + subject
	Kind        Kind
	Severity    Severity
	State       State
	Subject     Subject
	Summary     string // one sentence a person can read
	OpenedAt    time.Time
	UpdatedAt   time.Time
	ResolvedAt  time.Time // zero while firing
	Resolution  string    // ResolvedRecovered or ResolvedSubjectGone
	Evidence    []Citation
	Facts       []Fact
}

// Clone returns a deep copy safe to hand to another goroutine.
func (f Finding) Clone() Finding {
	f.Subject.Partitions = slices.Clone(f.Subject.Partitions)
	f.Evidence = slices.Clone(f.Evidence)
	for i := range f.Evidence {
		f.Evidence[i].Series.Labels = slices.Clone(f.Evidence[i].Series.Labels)
	}
	f.Facts = slices.Clone(f.Facts)
	return f
}

// Fingerprint is the stable identity of a finding: its kind and subject key.
func Fingerprint(k Kind, s Subject) string {
	return string(k) + "|" + strings.ReplaceAll(s.Key(), "\x00", "|")
}

// findingID derives an occurrence id from the fingerprint and open time.
func findingID(fp string, openedAt time.Time) string {
	h := fnv.New64a()
	h.Write([]byte(fp))
	return fmt.Sprintf("%016x-%s", h.Sum64(), strconv.FormatInt(openedAt.UnixMilli(), 36))
}

// EventType says what happened to a finding.
type EventType int

// Event types, in lifecycle order.
const (
	EventOpened EventType = iota + 1
	EventUpdated
	EventResolved
)

func (e EventType) String() string {
	switch e {
	case EventOpened:
		return "opened"
	case EventUpdated:
		return "updated"
	case EventResolved:
		return "resolved"
	}
	return "unknown"
}

// Event is a change in a finding's lifecycle, carrying the finding as it is
// after the change.
type Event struct {
	Type    EventType
	Finding Finding
}

// Domain names the detector whose sweeps judge a kind of finding: the Book
// updates and resolves a finding only on sweeps of its own domain, and a
// finding restored after a restart joins its kind's domain.
type Domain string

// Domains, one per detector.
const (
	DomainLag       Domain = "lag"       // LagDetector: consumer lag and assignment
	DomainRebalance Domain = "rebalance" // RebalanceDetector
	DomainRetention Domain = "retention" // RetentionDetector
	DomainHot       Domain = "hot"       // HotDetector
	DomainBroker    Domain = "broker"    // BrokerDetector
	DomainSkew      Domain = "skew"      // SkewDetector
)

// kindDomain is a kind and the domain of the detector that opens it.
type kindDomain struct {
	kind   Kind
	domain Domain
}

// kinds lists every kind a detector opens, in API order, with its domain.
var kinds = []kindDomain{
	{KindLagGrowing, DomainLag}, {KindConsumerStalled, DomainLag}, {KindConsumerStopped, DomainLag}, {KindOffsetRewind, DomainLag},
	{KindOfflinePartitions, DomainBroker}, {KindUnderMinISR, DomainBroker}, {KindUnderReplicated, DomainBroker},
	{KindISRFlapping, DomainBroker}, {KindUncleanLeaderElection, DomainBroker}, {KindControllerAnomaly, DomainBroker},
	{KindOfflineLogDir, DomainBroker}, {KindBrokerUnreachable, DomainBroker}, {KindDiskNearlyFull, DomainBroker},
	{KindDiskFillForecast, DomainBroker}, {KindRequestHandlerSaturation, DomainBroker}, {KindLatencyRegression, DomainBroker},
	{KindTelemetryGap, DomainBroker},
	{KindRetentionRisk, DomainRetention}, {KindDataSkipped, DomainRetention}, {KindHotPartition, DomainHot},
	{KindAssignmentSkew, DomainLag}, {KindRebalanceStorm, DomainRebalance},
	{KindLeaderSkew, DomainSkew}, {KindReplicaSkew, DomainSkew}, {KindDiskSkew, DomainSkew}, {KindTrafficSkew, DomainSkew},
}

// Domain returns the domain of the detector that opens k; false when no
// detector opens k (e.g. a stored finding of a kind this version dropped).
func (k Kind) Domain() (Domain, bool) {
	i := slices.IndexFunc(kinds, func(e kindDomain) bool { return e.kind == k })
	if i < 0 {
		return "", false
	}
	return kinds[i].domain, true
}

// KnownKind reports whether k is a kind some detector opens.
func KnownKind(k Kind) bool {
	_, ok := k.Domain()
	return ok
}

// KindNames returns the names of all kinds.
func KindNames() []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k.kind)
	}
	return out
}
