package api

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// This file holds every conversion between domain types and protobuf.

// FindingToProto converts a finding for the API.
func FindingToProto(f detect.Finding) *pb.Finding {
	out := &pb.Finding{
		Id: f.ID, Fingerprint: f.Fingerprint, Kind: string(f.Kind),
		Severity: pb.Severity(f.Severity), State: pb.FindingState(f.State),
		Subject: &pb.Subject{
			Cluster: f.Subject.Cluster, Group: f.Subject.Group, Topic: f.Subject.Topic,
			Partitions: f.Subject.Partitions, Broker: f.Subject.Broker,
		},
		Summary:    f.Summary,
		OpenedAt:   ts(f.OpenedAt),
		UpdatedAt:  ts(f.UpdatedAt),
		ResolvedAt: ts(f.ResolvedAt),
		Resolution: f.Resolution,
		Evidence:   citationsToProto(f.Evidence),
	}
	for _, x := range f.Facts {
		out.Facts = append(out.Facts, &pb.Fact{Name: x.Name, Value: finite(x.Value), Unit: x.Unit, Text: x.Text})
	}
	return out
}

func citationsToProto(cs []detect.Citation) []*pb.Citation {
	out := make([]*pb.Citation, 0, len(cs))
	for _, c := range cs {
		var series *pb.SeriesRef // none when the citation is an API answer, not a series
		if c.Series.Metric != "" {
			series = seriesToProto(c.Series)
		}
		out = append(out, &pb.Citation{
			Series: series,
			From:   ts(c.From), To: ts(c.To),
			First: c.First, Last: c.Last, Min: c.Min, Max: c.Max,
			Slope: finite(c.Slope), SlopeUnit: c.SlopeUnit,
			Count: int32(c.Count), Gaps: int32(c.Gaps),
			SourceApi: c.Source.API, SweepTime: ts(c.Source.SweepAt),
			Note: c.Note,
		})
	}
	return out
}

func seriesToProto(r detect.SeriesRef) *pb.SeriesRef {
	out := &pb.SeriesRef{Metric: r.Metric, Text: r.String()}
	for _, l := range r.Labels {
		out.Labels = append(out.Labels, &pb.Label{Name: l.Name, Value: l.Value})
	}
	return out
}

func partitionLagToProto(topic string, part int32, r detect.PartitionLag, tl detect.TimeLag, ev []detect.Citation) *pb.PartitionLag {
	out := &pb.PartitionLag{
		Topic: topic, Partition: part,
		CommittedOffset: gapToMinus1(r.Committed), EndOffset: gapToMinus1(r.End), Lag: gapToMinus1(r.Lag),
		Status:        r.Status.String(),
		LagGrowthRate: finite(r.LagSlope), ConsumeRate: finite(r.ConsumeRate), ProduceRate: finite(r.ProduceRate),
		Evidence:       citationsToProto(ev),
		TimeLagMethod:  tl.Method,
		RecordsSkipped: tl.Skipped,
	}
	if tl.Known() { // an unknown time lag has no value, never 0 s
		sec, low, high := finite(tl.Seconds), finite(tl.Low), finite(tl.High)
		out.TimeLagSeconds, out.TimeLagLowSeconds, out.TimeLagHighSeconds = &sec, &low, &high
	}
	if !math.IsInf(r.CatchUp, 0) && !math.IsNaN(r.CatchUp) && r.Status != detect.StatusUnknown {
		c := r.CatchUp
		out.CatchUpSeconds = &c
	}
	return out
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func gapToMinus1(v int64) int64 {
	if v == detect.Gap {
		return -1
	}
	return v
}

// finite keeps JSON encodable: NaN and infinities become 0.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// FilterArgs are the filter fields shared by ListFindings and WatchFindings.
type FilterArgs struct {
	State, Kind, Severity, Group, Topic string
	Broker                              *int32
}

// ParseFilter validates API filter arguments. Names match ignoring case in
// the sense of strings.EqualFold (so "ı" is not an "i"). Errors name the
// argument and what was expected.
func ParseFilter(a FilterArgs) (state.FindingFilter, error) {
	q := state.FindingFilter{Group: a.Group, Topic: a.Topic, Broker: -1}
	switch {
	case a.State == "":
	case strings.EqualFold(a.State, "firing"):
		q.States = []detect.State{detect.StateFiring}
	case strings.EqualFold(a.State, "resolved"):
		q.States = []detect.State{detect.StateResolved}
	default:
		return q, fmt.Errorf("state %q: want firing or resolved", a.State)
	}
	if a.Kind != "" {
		names := detect.KindNames()
		i := slices.IndexFunc(names, func(n string) bool { return strings.EqualFold(n, a.Kind) })
		if i < 0 {
			return q, fmt.Errorf("kind %q: want one of %s", a.Kind, strings.Join(names, ", "))
		}
		q.Kinds = []detect.Kind{detect.Kind(names[i])}
	}
	if a.Severity != "" {
		s, err := detect.ParseSeverity(a.Severity)
		if err != nil || !strings.EqualFold(s.String(), a.Severity) {
			return q, fmt.Errorf("severity %q: want info, warning or critical", a.Severity)
		}
		q.MinSeverity = s
	}
	if a.Broker != nil {
		if *a.Broker < 0 {
			return q, fmt.Errorf("broker %d: want a broker id ≥ 0", *a.Broker)
		}
		q.Broker = *a.Broker
	}
	for _, arg := range [...]struct{ name, v string }{{"group", a.Group}, {"topic", a.Topic}} {
		if len(arg.v) > 249*4 {
			return q, fmt.Errorf("%s: %d bytes, longer than any Kafka name (limit %d bytes)", arg.name, len(arg.v), 249*4)
		}
		if !utf8.ValidString(arg.v) {
			return q, fmt.Errorf("%s: not valid UTF-8", arg.name)
		}
	}
	return q, nil
}
