package scrape

import (
	"bytes"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// FuzzParse feeds arbitrary bodies to Parse, once with default options and
// once with tiny limits. Invariants:
//
//   - Parse never panics.
//   - Never more samples than lines: len(Samples) ≤ Lines, and
//     Series + Malformed ≤ Lines.
//   - Errors are typed: ErrNoSeries, *CardinalityError or *TooLargeError,
//     and an error comes with no samples.
//   - Every problem has 1 ≤ Line ≤ Lines; every sample has a valid Signal,
//     Partition ≥ -1 and a non-empty, valid UTF-8 Series; Parts tile Samples.
//   - Differential against prometheus/common/expfmt: when expfmt accepts the
//     body, all its families are counter, gauge or untyped, and no metric or
//     label name is quoted (UTF-8 names are not supported), Parse rejects
//     no line, sees one part and as many series as expfmt, and every sample's
//     value is expfmt's value for the same series (first occurrence wins).
func FuzzParse(f *testing.F) {
	for _, seed := range fuzzSeeds(f) {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := Parse(bytes.NewReader(body), Options{})
		checkInvariants(t, res, err)
		checkAgainstExpfmt(t, body, res, err)
		res, err = Parse(bytes.NewReader(body), Options{MaxSeries: 3, MaxBytes: 256})
		checkInvariants(t, res, err)
	})
}

func fuzzSeeds(f *testing.F) []string {
	seeds := []string{
		"",
		"\n\n",
		"kafka_server_BrokerTopicMetrics_Count{name=\"BytesInPerSec\",} 5.7778761E7\n",
		"kafka_log_Log_Value{name=\"Size\",topic=\"t\",partition=\"0\",} 1.0\nkafka_log_Log_Value{name=\"Size\",topic=\"t\",partition=\"0\",} 2.0\n",
		"kafka_log_LogManager_Value{name=\"LogDirectoryOffline\",logDirectory=\"\\\"/kafka/datalogs/logs\\\"\",} 0.0\n",
		"kafka_network_requestmetrics_totaltimems{quantile=\"0.99\",request=\"Produce\",} 12.0\n",
		"kafka_network_requestmetrics_totaltimems_count_total{request=\"Fetch\"} 5 1574380800000\n",
		"# HELP a x\n# TYPE a counter\na_total 1\n# HELP a x\na 2\n",
		"# TYPE s summary\ns{quantile=\"0.5\"} 1\ns_sum 2\ns_count 3\n",
		"node_filesystem_avail_bytes{device=\"/dev/nvme2n1\",fstype=\"ext4\",mountpoint=\"/kafka/datalogs\"} 1.002783698944e+12\n",
		"kafka_server_ReplicaManager_Value{name=\"UnderRep",
		"a{b=\"c\\d\"} -Inf\n",
		"a 1 2 # {x=\"y\"} 3\n# EOF\n",
	}
	for _, name := range []string{"kafka-broker-jmx-exporter-0.12-msk.prom.gz", "node-exporter-msk-broker.prom"} {
		lines := strings.SplitAfter(string(readFixture(f, name)), "\n")
		seeds = append(seeds, strings.Join(lines[:min(len(lines), 40)], ""))
	}
	for _, st := range []genStyle{{profile: ProfileMBean}, {profile: ProfileLowercase, v1: true}} {
		b, _ := genExposition(st, 40, 7)
		seeds = append(seeds, string(b))
	}
	return seeds
}

func checkInvariants(t *testing.T, res Result, err error) {
	t.Helper()
	if err != nil {
		var ce *CardinalityError
		var te *TooLargeError
		if !errors.Is(err, ErrNoSeries) && !errors.As(err, &ce) && !errors.As(err, &te) {
			t.Fatalf("untyped error %v (%T)", err, err)
		}
		if len(res.Samples) != 0 {
			t.Fatalf("error %v with %d samples", err, len(res.Samples))
		}
	}
	if len(res.Samples) > res.Lines || res.Series+res.Malformed > res.Lines || res.Duplicates > res.Series {
		t.Fatalf("samples %d series %d malformed %d dups %d > lines %d", len(res.Samples), res.Series, res.Malformed, res.Duplicates, res.Lines)
	}
	for _, p := range res.Problems {
		if p.Line < 1 || p.Line > res.Lines {
			t.Fatalf("problem at line %d of %d: %v", p.Line, res.Lines, p.Msg)
		}
	}
	for _, s := range res.Samples {
		if !s.Signal.Valid() || s.Partition < -1 || s.Series == "" || !utf8.ValidString(s.Series) {
			t.Fatalf("bad sample %+v", s)
		}
	}
	next := 0
	for _, p := range res.Parts {
		if p.Start != next || p.End < p.Start {
			t.Fatalf("parts %+v do not tile %d samples", res.Parts, len(res.Samples))
		}
		next = p.End
	}
	if err == nil && next != len(res.Samples) {
		t.Fatalf("parts %+v do not tile %d samples", res.Parts, len(res.Samples))
	}
}

func checkAgainstExpfmt(t *testing.T, body []byte, res Result, err error) {
	t.Helper()
	if quotedNames(body) {
		return
	}
	want, ok := expfmtSamples(body)
	if !ok {
		return
	}
	if res.Malformed != 0 || res.Series != len(want.order) {
		t.Fatalf("expfmt accepts %d series; Parse: series %d malformed %d problems %v", len(want.order), res.Series, res.Malformed, res.Problems)
	}
	if len(want.order) == 0 {
		if !errors.Is(err, ErrNoSeries) {
			t.Fatalf("no series, err %v", err)
		}
		return
	}
	if err != nil || len(res.Parts) != 1 {
		t.Fatalf("expfmt accepts; Parse: %v, parts %+v", err, res.Parts)
	}
	for _, s := range res.Samples {
		key, ok := seriesKey(s.Series + " 0\n")
		if !ok {
			t.Fatalf("series %q does not parse on its own", s.Series)
		}
		v, ok := want.values[key]
		if !ok || math.Float64bits(v) != math.Float64bits(s.Value) && !(math.IsNaN(v) && math.IsNaN(s.Value)) {
			t.Fatalf("%s = %v, expfmt says %v (present %v)", s.Series, s.Value, v, ok)
		}
	}
}

// quotedNames reports a sample line with a quote before its first '=':
// a quoted (UTF-8) metric or label name, which expfmt reads and this parser
// deliberately does not (jmx_exporter and node_exporter never write them).
func quotedNames(body []byte) bool {
	for ln := range bytes.Lines(body) {
		ln = bytes.TrimLeft(ln, " \t")
		if len(ln) > 0 && ln[0] == '#' {
			f := bytes.Fields(ln[1:])
			if len(f) > 1 && (string(f[0]) == "HELP" || string(f[0]) == "TYPE") && bytes.IndexByte(f[1], '"') >= 0 {
				return true
			}
			continue
		}
		if eq := bytes.IndexByte(ln, '='); bytes.IndexByte(ln[:max(eq, 0)], '"') >= 0 || eq < 0 && bytes.IndexByte(ln, '"') >= 0 {
			return true
		}
	}
	return false
}

type oracle struct {
	order  []string           // series keys in body order, duplicates included
	values map[string]float64 // first value per key
}

// expfmtSamples parses body with expfmt; ok is false when expfmt rejects it
// or it holds summaries or histograms (whose samples expfmt regroups).
func expfmtSamples(body []byte) (o oracle, ok bool) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		return o, false
	}
	o.values = map[string]float64{}
	for name, mf := range fams {
		for _, m := range mf.GetMetric() {
			var v float64
			switch mf.GetType() {
			case dto.MetricType_COUNTER:
				v = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				v = m.GetGauge().GetValue()
			case dto.MetricType_UNTYPED:
				v = m.GetUntyped().GetValue()
			default:
				return o, false
			}
			k := key(name, m.GetLabel())
			o.order = append(o.order, k)
			if _, dup := o.values[k]; !dup {
				o.values[k] = v
			}
		}
	}
	return o, true
}

// seriesKey parses one sample line with expfmt and returns its series key.
func seriesKey(line string) (string, bool) {
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(line))
	if err != nil || len(fams) != 1 {
		return "", false
	}
	for name, mf := range fams {
		return key(name, mf.GetMetric()[0].GetLabel()), true
	}
	return "", false
}

func key(name string, ls []*dto.LabelPair) string {
	kv := make([]string, len(ls))
	for i, l := range ls {
		kv[i] = l.GetName() + "\xfe" + l.GetValue()
	}
	slices.Sort(kv)
	return name + "\xff" + strings.Join(kv, "\xff")
}
