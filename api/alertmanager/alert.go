package alertmanager

import (
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// Alert is one alert of the Alertmanager v2 API (POST /api/v2/alerts).
type Alert struct {
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     time.Time         `json:"startsAt"`
	EndsAt       time.Time         `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL,omitempty"`
}

// key is the alert's identity as Alertmanager sees it: its sorted labels.
func (a Alert) key() string { return labelKey(a.Labels) }

func labelKey(l map[string]string) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(l)) {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(strconv.Quote(l[k]))
		b.WriteByte(',')
	}
	return b.String()
}

// alertNames maps each known kind to its alert name; other kinds get
// "Kafka" + CamelCase(kind).
var alertNames = map[detect.Kind]string{
	detect.KindLagGrowing:      "KafkaConsumerLagGrowing",
	detect.KindConsumerStalled: "KafkaConsumerStalled",
	detect.KindConsumerStopped: "KafkaConsumerStopped",
	detect.KindOffsetRewind:    "KafkaConsumerOffsetRewind",
}

// AlertName is the alertname label of a finding kind.
func AlertName(k detect.Kind) string {
	if n, ok := alertNames[k]; ok {
		return n
	}
	var b strings.Builder
	b.WriteString("Kafka")
	for w := range strings.FieldsFuncSeq(strings.ToLower(string(k)), func(r rune) bool { return r == '_' || r == '-' || r == ' ' }) {
		b.WriteString(strings.ToUpper(w[:1]) + w[1:])
	}
	return b.String()
}

// Mapper turns findings into alerts. The zero value works; Values, when set,
// returns the raw values of a cited series so the description carries a
// real sparkline rather than one built from the citation's numbers.
type Mapper struct {
	ExternalURL string
	RunbookURL  string // "{kind}" is replaced by the finding kind
	Values      func(detect.Citation) []float64
	// Owners, when set, adds the owner's team as the "team" label (so
	// Alertmanager's routing tree sends each team its findings), the owner
	// or the unowned note as the "owner" annotation, and the kind's
	// configured runbook, which takes precedence over RunbookURL.
	Owners *detect.Owners
}

// Labels are the identity labels of f: alertname, severity, cluster and the
// subject; partition only when the finding is about exactly one partition.
func Labels(f *detect.Finding) map[string]string {
	l := map[string]string{"alertname": AlertName(f.Kind), "severity": f.Severity.String()}
	s := f.Subject
	set := func(k, v string) {
		if v != "" {
			l[k] = v
		}
	}
	set("cluster", s.Cluster)
	set("group", s.Group)
	set("topic", s.Topic)
	if s.Broker >= 0 {
		l["broker"] = strconv.Itoa(int(s.Broker))
	}
	if len(s.Partitions) == 1 {
		l["partition"] = strconv.Itoa(int(s.Partitions[0]))
	}
	return l
}

// Alert maps f to an alert with the given endsAt; startsAt is f.OpenedAt.
func (m Mapper) Alert(f *detect.Finding, endsAt time.Time) Alert {
	a := Alert{
		Labels:      Labels(f),
		Annotations: map[string]string{"summary": f.Summary, "description": m.description(f), "finding_id": f.ID},
		StartsAt:    f.OpenedAt,
		EndsAt:      endsAt,
	}
	if m.RunbookURL != "" {
		a.Annotations["runbook_url"] = strings.ReplaceAll(m.RunbookURL, "{kind}", string(f.Kind))
	}
	if m.Owners != nil {
		o := m.Owners.Of(f.Subject)
		if o.Owned {
			a.Labels["team"] = o.Team
		}
		a.Annotations["owner"] = o.String()
		if o.Escalation != "" {
			a.Annotations["escalation"] = o.Escalation
		}
		if u := m.Owners.Runbook(f.Kind); u != "" {
			a.Annotations["runbook_url"] = u
		}
	}
	if m.ExternalURL != "" {
		a.GeneratorURL = strings.TrimSuffix(m.ExternalURL, "/") + "/findings/" + url.PathEscape(f.ID)
	}
	return a
}

// keyFacts are the facts worth a reader's attention, in display order.
var keyFacts = []string{
	"total_lag", "lag_growth_rate", "produce_rate", "consume_rate", "time_to_catch_up",
	"partitions_affected", "worst_partition", "worst_partition_lag",
	"committed_unchanged_for", "stuck_with_lag_for", "group_state", "group_members",
}

// skipZero are facts that say nothing when zero.
var skipZero = map[string]bool{"committed_unchanged_for": true, "stuck_with_lag_for": true}

// maxCitationLines bounds the evidence lines after the main series.
const maxCitationLines = 3

// description is the plain text a person reads: key numbers, the window,
// the evidence in short and a sparkline of the main cited series.
func (m Mapper) description(f *detect.Finding) string {
	var lines []string
	var nums []string
	for _, name := range keyFacts {
		for _, x := range f.Facts {
			if x.Name == name && (x.Value != 0 || x.Text != "" || !skipZero[name]) {
				nums = append(nums, formatFact(x))
			}
		}
	}
	if len(nums) > 0 {
		lines = append(lines, strings.Join(nums, "; ")+".")
	}
	if len(f.Evidence) > 0 {
		c := f.Evidence[0]
		lines = append(lines, fmt.Sprintf("Window %s to %s UTC (%d samples, %d gaps).",
			c.From.UTC().Format(time.DateTime), c.To.UTC().Format(time.TimeOnly), c.Count, c.Gaps))
		lines = append(lines, m.sparkLine(c))
		for i, c := range f.Evidence[1:] {
			if i == maxCitationLines {
				lines = append(lines, fmt.Sprintf("… and %d more citations.", len(f.Evidence)-1-i))
				break
			}
			lines = append(lines, citationLine(c))
		}
	}
	if f.State == detect.StateResolved {
		lines = append(lines, fmt.Sprintf("Resolved (%s) at %s UTC.", f.Resolution, f.ResolvedAt.UTC().Format(time.DateTime)))
	}
	return strings.Join(lines, "\n")
}

func formatFact(x detect.Fact) string {
	name := strings.ReplaceAll(x.Name, "_", " ")
	if x.Text != "" {
		return name + " " + x.Text
	}
	v := strconv.FormatFloat(x.Value, 'f', -1, 64)
	if x.Value != float64(int64(x.Value)) {
		v = strconv.FormatFloat(x.Value, 'f', 1, 64)
	}
	if x.Unit == "" {
		return name + " " + v
	}
	return name + " " + v + " " + x.Unit
}

// sparkLine renders the main cited series. With raw values it is a real
// sparkline; otherwise only first and last are known, placed on the
// citation's min..max scale, and the line says so.
func (m Mapper) sparkLine(c detect.Citation) string {
	head := fmt.Sprintf("%s %s", shortSeries(c.Series), c.Note)
	if m.Values != nil {
		if vs := m.Values(c); len(vs) > 1 {
			return fmt.Sprintf("%s: %s (min %s, max %s, last %s)", head, Sparkline(vs), num(c.Min), num(c.Max), num(c.Last))
		}
	}
	return fmt.Sprintf("%s: first→last %s (first %s, min %s, max %s, last %s, slope %s %s)",
		head, SparklineScaled([]float64{c.First, c.Last}, c.Min, c.Max), num(c.First), num(c.Min), num(c.Max), num(c.Last), num(c.Slope), c.SlopeUnit)
}

func citationLine(c detect.Citation) string {
	return fmt.Sprintf("%s %s: %s → %s, slope %s %s (%s).", shortSeries(c.Series), c.Note, num(c.First), num(c.Last), num(c.Slope), c.SlopeUnit, c.Source.API)
}

// shortSeries names a series by its metric and the labels that vary within
// one finding (partition), keeping the annotation short.
func shortSeries(r detect.SeriesRef) string {
	s := r.Metric
	for _, l := range r.Labels {
		if l.Name == "partition" {
			s += "[" + l.Value + "]"
		}
	}
	return s
}

func num(v float64) string {
	if v == float64(int64(v)) {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

var bars = []rune("▁▂▃▄▅▆▇█")

// Sparkline renders vs on their own min..max scale.
func Sparkline(vs []float64) string {
	if len(vs) == 0 {
		return ""
	}
	return SparklineScaled(vs, slices.Min(vs), slices.Max(vs))
}

// SparklineScaled renders vs on the lo..hi scale; values outside are clamped.
// A flat scale renders the lowest bar.
func SparklineScaled(vs []float64, lo, hi float64) string {
	out := make([]rune, len(vs))
	for i, v := range vs {
		j := 0
		if hi > lo {
			j = int((v-lo)/(hi-lo)*float64(len(bars)-1) + 0.5)
		}
		out[i] = bars[max(0, min(j, len(bars)-1))]
	}
	return string(out)
}
