package exporter

import (
	"bufio"
	"math"
	"strconv"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Metric families, with their help texts (docs/metrics.md compares them
// with kafka_exporter's and kminion's).
const (
	famInfo      = "kwitness_info"
	famLag       = "kwitness_consumergroup_lag"
	famLagSec    = "kwitness_consumergroup_lag_seconds"
	famCommitted = "kwitness_consumergroup_committed_offset"
	famEnd       = "kwitness_partition_end_offset"
	famStart     = "kwitness_partition_start_offset"
	famMembers   = "kwitness_consumergroup_members"
	famState     = "kwitness_consumergroup_state"
	famFiring    = "kwitness_finding_firing"
	famLimit     = "kwitness_exporter_series_limit"
	famWritten   = "kwitness_exporter_series"
	famDropped   = "kwitness_exporter_series_dropped_total"
)

var help = map[string]string{
	famInfo:      "The Kafka cluster this kwitness watches; always 1.",
	famLag:       "Messages the consumer group has not committed: log end offset (ListOffsets latest) minus committed offset (OffsetFetch), at least 0; summed over partitions above partition granularity.",
	famLagSec:    "Age in seconds, at the newest sweep, of the oldest record the group has not committed, dated from the log end offset history; 0 when caught up; the maximum over partitions above partition granularity.",
	famCommitted: "Committed offset of the consumer group (OffsetFetch).",
	famEnd:       "Log end offset, the offset the next produced record gets (ListOffsets latest).",
	famStart:     "Log start offset, the oldest offset still readable (ListOffsets earliest).",
	famMembers:   "Members of the consumer group (DescribeGroups).",
	famState:     "State of the consumer group (DescribeGroups); 1 for the current state.",
	famFiring:    "1 while a finding of this kind about this subject fires, 0 once it resolved (kept while the resolved finding is listed).",
	famLimit:     "Most consumer-group series one scrape writes (metrics.max_series).",
	famWritten:   "Consumer-group series the newest scrape wrote.",
	famDropped:   "Consumer-group series not written because they exceeded metrics.max_series, summed over scrapes.",
}

// scrape is one WritePrometheus call.
type scrape struct {
	e    *Exporter
	w    *bufio.Writer
	v    *state.View
	snap *state.Snapshot
	plan plan
}

func (s *scrape) header(fam, typ string) {
	s.w.WriteString("# HELP " + fam + " " + help[fam] + "\n# TYPE " + fam + " " + typ + "\n")
}

// line writes fam{labels[,extra]} value.
func (s *scrape) line(fam, labels string, extra []byte, v float64) {
	b := append(s.e.buf[:0], fam...)
	if labels != "" || len(extra) > 0 {
		b = append(b, '{')
		b = append(b, labels...)
		b = append(b, extra...)
		b = append(b, '}')
	}
	b = append(b, ' ')
	b = appendFloat(b, v)
	b = append(b, '\n')
	s.w.Write(b)
	s.e.buf = b
}

// partLine writes fam{labels,partition="p"} v for an integer value.
func (s *scrape) partLine(fam, labels string, p int32, v int64) {
	b := append(s.e.buf[:0], fam...)
	b = append(b, '{')
	b = append(b, labels...)
	b = append(b, `,partition="`...)
	b = strconv.AppendInt(b, int64(p), 10)
	b = append(b, '"', '}', ' ')
	b = strconv.AppendInt(b, v, 10)
	b = append(b, '\n')
	s.w.Write(b)
	s.e.buf = b
}

func (s *scrape) info() {
	s.header(famInfo, "gauge")
	s.line(famInfo, string(appendLabel(nil, "cluster", s.e.window.Cluster())), nil, 1)
}

// partitions writes the partition-granularity families, one pass over the
// admitted group-topics per family.
func (s *scrape) partitions() {
	gts := s.snap.Topology.GroupTopics[:s.plan.admitted]
	labels := s.e.cache.groupTop
	s.header(famLag, "gauge")
	for i := range gts {
		for _, p := range gts[i].Parts {
			if l := lagOf(s.v.Latest(p.Series[detect.ColCommitted]), s.v.Latest(p.Series[detect.ColEnd])); l != detect.Gap {
				s.partLine(famLag, labels[i], p.Partition, l)
			}
		}
	}
	s.header(famLagSec, "gauge")
	var tl []byte
	s.eachAdmitted(func(i int, gt *detect.GroupTopic) {
		for j := range gt.Partitions {
			sec, ok := s.timeLag(gt, j)
			if !ok {
				continue
			}
			tl = append(tl[:0], `,partition="`...)
			tl = strconv.AppendInt(tl, int64(gt.Partitions[j].Partition), 10)
			tl = append(tl, '"')
			s.line(famLagSec, labels[i], tl, sec)
		}
	})
	s.header(famCommitted, "gauge")
	for i := range gts {
		for _, p := range gts[i].Parts {
			if c := s.v.Latest(p.Series[detect.ColCommitted]); c != detect.Gap {
				s.partLine(famCommitted, labels[i], p.Partition, c)
			}
		}
	}
	s.topicOffsets(famEnd, detect.ColEnd, gts)
	s.topicOffsets(famStart, detect.ColStart, gts)
}

// topicOffsets writes one per-topic-partition family once per series,
// however many groups consume the topic.
func (s *scrape) topicOffsets(fam string, col detect.Column, gts []state.TopicEntry) {
	s.header(fam, "gauge")
	words := (s.snap.Series + 63) / 64
	if cap(s.e.seen) < words {
		s.e.seen = make([]uint64, words)
	}
	seen := s.e.seen[:words]
	clear(seen)
	for i := range gts {
		for _, p := range gts[i].Parts {
			id := p.Series[col]
			if int(id) >= s.snap.Series || seen[id/64]&(1<<(id%64)) != 0 {
				continue
			}
			seen[id/64] |= 1 << (id % 64)
			if x := s.v.Latest(id); x != detect.Gap {
				s.partLine(fam, s.e.cache.topicOnly[i], p.Partition, x)
			}
		}
	}
}

// eachAdmitted calls fn for every admitted group-topic with the view's
// GroupTopic (windows loaded on demand).
func (s *scrape) eachAdmitted(fn func(i int, gt *detect.GroupTopic)) {
	i := 0
	s.v.EachGroupTopic(func(gt *detect.GroupTopic) {
		if i < s.plan.admitted {
			fn(i, gt)
		}
		i++
	})
}

// timeLag is partition j's time lag in seconds: 0 without lag, else dated
// from its window; false on a gap.
func (s *scrape) timeLag(gt *detect.GroupTopic, j int) (float64, bool) {
	p := gt.Partitions[j]
	l := lagOf(s.v.Latest(p.Series[detect.ColCommitted]), s.v.Latest(p.Series[detect.ColEnd]))
	switch {
	case l == detect.Gap:
		return 0, false
	case l == 0:
		return 0, true
	}
	s.v.LoadOffsets(gt, j)
	tl := detect.EstimateTimeLag(gt.Partitions[j].Window)
	if tl.Method == detect.TimeLagUnknown {
		return 0, false
	}
	return tl.Seconds, true
}

// agg is a lag sum and time-lag maximum; ok turns false on any gap.
type agg struct {
	lag          int64
	sec          float64
	lagOK, secOK bool
}

func newAgg() agg { return agg{lagOK: true, secOK: true} }

func (a *agg) merge(b agg) {
	a.lag += b.lag
	a.sec = math.Max(a.sec, b.sec)
	a.lagOK = a.lagOK && b.lagOK
	a.secOK = a.secOK && b.secOK
}

// aggregates writes the topic- or group-granularity lag families.
func (s *scrape) aggregates() {
	per := make([]agg, s.plan.admitted)
	s.eachAdmitted(func(i int, gt *detect.GroupTopic) {
		a := newAgg()
		for j, p := range gt.Partitions {
			l := lagOf(s.v.Latest(p.Series[detect.ColCommitted]), s.v.Latest(p.Series[detect.ColEnd]))
			if l == detect.Gap {
				a.lagOK, a.secOK = false, false
				continue
			}
			a.lag += l
			sec, ok := s.timeLag(gt, j)
			a.sec, a.secOK = math.Max(a.sec, sec), a.secOK && ok
		}
		per[i] = a
	})
	gts := s.snap.Topology.GroupTopics[:s.plan.admitted]
	labels := s.e.cache.groupTop
	if s.e.cfg.Granularity == Group {
		byGroup := map[string]*agg{}
		for i := range gts {
			a := byGroup[gts[i].Group]
			if a == nil {
				n := newAgg()
				a = &n
				byGroup[gts[i].Group] = a
			}
			a.merge(per[i])
		}
		per = per[:0]
		labels = labels[:0:0]
		for _, g := range s.plan.groups {
			per = append(per, *byGroup[g])
			labels = append(labels, string(appendGroupLabels(nil, s.e.window.Cluster(), g)))
		}
	}
	s.header(famLag, "gauge")
	for i, a := range per {
		if a.lagOK {
			s.line(famLag, labels[i], nil, float64(a.lag))
		}
	}
	s.header(famLagSec, "gauge")
	for i, a := range per {
		if a.secOK {
			s.line(famLagSec, labels[i], nil, a.sec)
		}
	}
}

func appendGroupLabels(b []byte, cluster, group string) []byte {
	b = appendLabel(b, "cluster", cluster)
	b = append(b, ',')
	return appendLabel(b, "group", group)
}

// groups writes the state and member count of every admitted group that
// was described at least once.
func (s *scrape) groups() {
	labels := make([]string, len(s.plan.groups))
	for i, g := range s.plan.groups {
		labels[i] = string(appendGroupLabels(nil, s.e.window.Cluster(), g))
	}
	s.header(famMembers, "gauge")
	for i, g := range s.plan.groups {
		if gc := s.snap.Groups[g]; gc.Known {
			s.line(famMembers, labels[i], nil, float64(gc.Members))
		}
	}
	s.header(famState, "gauge")
	var st []byte
	for i, g := range s.plan.groups {
		if gc := s.snap.Groups[g]; gc.Known && gc.State != "" {
			st = appendLabel(append(st[:0], ','), "state", gc.State)
			s.line(famState, labels[i], st, 1)
		}
	}
}

// findingsFiring writes one series per finding kind and subject: 1 while
// one fires, else 0 while a resolved one is still listed.
func (s *scrape) findingsFiring() {
	s.header(famFiring, "gauge")
	if s.e.findings == nil {
		return
	}
	fs := s.e.findings.List(state.FindingFilter{Broker: -1})
	value := map[string]float64{}
	var order []string
	for i := range fs {
		k := string(findingLabels(nil, &fs[i]))
		v, ok := value[k]
		if !ok {
			order = append(order, k)
		}
		if fs[i].State == detect.StateFiring || v == 1 {
			value[k] = 1
		} else {
			value[k] = 0
		}
	}
	for _, k := range order {
		s.line(famFiring, k, nil, value[k])
	}
}

// findingLabels are a finding's kind, severity and subject labels; partition
// only when the finding is about exactly one partition.
func findingLabels(b []byte, f *detect.Finding) []byte {
	b = appendLabel(b, "cluster", f.Subject.Cluster)
	add := func(name, v string) {
		if v != "" {
			b = append(b, ',')
			b = appendLabel(b, name, v)
		}
	}
	if f.Subject.Broker >= 0 {
		add("broker", strconv.Itoa(int(f.Subject.Broker)))
	}
	add("group", f.Subject.Group)
	add("kind", string(f.Kind))
	if len(f.Subject.Partitions) == 1 {
		add("partition", strconv.Itoa(int(f.Subject.Partitions[0])))
	}
	add("severity", f.Severity.String())
	add("topic", f.Subject.Topic)
	return b
}

// self writes the exporter's own limit and counters.
func (s *scrape) self() {
	s.header(famLimit, "gauge")
	s.line(famLimit, "", nil, float64(s.e.cfg.MaxSeries))
	s.header(famWritten, "gauge")
	s.line(famWritten, "", nil, float64(s.e.written.Load()))
	s.header(famDropped, "counter")
	s.line(famDropped, "", nil, float64(s.e.dropped.Load()))
}
