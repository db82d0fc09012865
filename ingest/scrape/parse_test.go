package scrape

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

// render prints a sample compactly: signal{topic,partition,request,mount}=value.
func render(s Sample) string {
	var b strings.Builder
	b.WriteString(s.Signal.String())
	var kv []string
	if s.Topic != "" {
		kv = append(kv, "topic="+s.Topic)
	}
	if s.Partition >= 0 {
		kv = append(kv, fmt.Sprintf("partition=%d", s.Partition))
	}
	if s.Request != "" {
		kv = append(kv, "request="+s.Request)
	}
	if s.Mount != "" {
		kv = append(kv, "mount="+s.Mount)
	}
	if len(kv) > 0 {
		b.WriteString("{" + strings.Join(kv, ",") + "}")
	}
	fmt.Fprintf(&b, "=%g", s.Value)
	if s.Counter {
		b.WriteString(" counter")
	}
	return b.String()
}

func renderAll(ss []Sample) string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = render(s)
	}
	return strings.Join(out, "; ")
}

// TestParseMapping: each row is one small exposition and the samples it must
// yield, rendered by render. An empty want means nothing maps.
func TestParseMapping(t *testing.T) {
	f := func(body, want string) {
		t.Helper()
		res, err := Parse(strings.NewReader(body), Options{})
		if err != nil {
			t.Fatalf("%q: %v", body, err)
		}
		if res.Malformed != 0 {
			t.Fatalf("%q: problems %v", body, res.Problems)
		}
		if got := renderAll(res.Samples); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", body, got, want)
		}
	}
	// 1. MBean broker total, 0.x trailing comma, Java float.
	f("kafka_server_BrokerTopicMetrics_Count{name=\"BytesInPerSec\",} 5.7778761E7\n", "bytes_in=5.7778761e+07 counter")
	// 2. MBean per topic; an unmapped `name` in a mapped family yields nothing.
	f("kafka_server_BrokerTopicMetrics_Count{name=\"BytesOutPerSec\",topic=\"t\",} 1.0\n"+
		"kafka_server_BrokerTopicMetrics_Count{name=\"TotalFetchRequestsPerSec\",topic=\"t\",} 9.0\n",
		"bytes_out{topic=t}=1 counter")
	// 3. MBean log size per partition.
	f("kafka_log_Log_Value{name=\"Size\",topic=\"test-topic-4\",partition=\"45\",} 113330.0\n", "log_size{topic=test-topic-4,partition=45}=113330")
	// 4. MBean latency percentiles and request count; other request-metric names are ignored.
	f("kafka_network_RequestMetrics_99thPercentile{name=\"TotalTimeMs\",request=\"Produce\",} 35.0\n"+
		"kafka_network_RequestMetrics_99thPercentile{name=\"LocalTimeMs\",request=\"Produce\",} 3.0\n"+
		"kafka_network_RequestMetrics_999thPercentile{name=\"TotalTimeMs\",request=\"Fetch\",} 534.797\n"+
		"kafka_network_RequestMetrics_Count{name=\"TotalTimeMs\",request=\"Produce\",} 281530.0\n",
		"request_latency_p99{request=Produce}=35; request_latency_p999{request=Fetch}=534.797; request_count{request=Produce}=281530 counter")
	// 5. MBean per-partition replication flags and broker-wide counts share signals.
	f("kafka_cluster_Partition_Value{name=\"UnderMinIsr\",topic=\"t\",partition=\"3\",} 1.0\n"+
		"kafka_server_ReplicaManager_Value{name=\"UnderMinIsrPartitionCount\",} 1.0\n",
		"under_min_isr{topic=t,partition=3}=1; under_min_isr=1")
	// 6. Escaped quotes in a label value (MSK's logDirectory); the JMX quoting is trimmed.
	f("kafka_log_LogManager_Value{name=\"LogDirectoryOffline\",logDirectory=\"\\\"/kafka/datalogs/logs\\\"\",} 0.0\n",
		"log_dir_offline{mount=/kafka/datalogs/logs}=0")
	// 7. Lowercase traffic with and without topic.
	f("# TYPE kafka_server_brokertopicmetrics_bytesin_total counter\n"+
		"kafka_server_brokertopicmetrics_bytesin_total 10.0\n"+
		"kafka_server_brokertopicmetrics_bytesin_total{topic=\"orders\",} 7.0\n",
		"bytes_in=10 counter; bytes_in{topic=orders}=7 counter")
	// 8. Lowercase latency by quantile; other quantiles are ignored.
	f("kafka_network_requestmetrics_totaltimems{quantile=\"0.50\",request=\"Produce\",} 1.0\n"+
		"kafka_network_requestmetrics_totaltimems{quantile=\"0.99\",request=\"Produce\",} 12.0\n"+
		"kafka_network_requestmetrics_totaltimems{request=\"Produce\",quantile=\"0.999\"} 40.0\n",
		"request_latency_p99{request=Produce}=12; request_latency_p999{request=Produce}=40")
	// 9. jmx_exporter 1.x `_count_total`; a non-counter with `_total` does not map.
	f("kafka_network_requestmetrics_totaltimems_count_total{request=\"Fetch\"} 5\n"+
		"kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total 9e15\n"+
		"kafka_log_log_size_total{topic=\"t\",partition=\"0\"} 1\n",
		"request_count{request=Fetch}=5 counter; handler_idle_count=9e+15 counter")
	// 10. node_exporter filesystem, by mount point.
	f("node_filesystem_avail_bytes{device=\"/dev/nvme2n1\",fstype=\"ext4\",mountpoint=\"/kafka/datalogs\"} 1.002783698944e+12\n"+
		"node_filesystem_readonly{device=\"/dev/nvme2n1\",fstype=\"\",mountpoint=\"/kafka/datalogs\"} 0\n",
		"filesystem_avail{mount=/kafka/datalogs}=1.002783698944e+12; filesystem_readonly{mount=/kafka/datalogs}=0")
	// 11. -Inf, NaN and Java's long max as float are values like any other.
	f("kafka_server_FetcherLagMetrics_Value{name=\"ConsumerLag\",clientId=\"c\",topic=\"t\",partition=\"1\",} -Inf\n"+
		"kafka_log_Log_Value{name=\"LogEndOffset\",topic=\"t\",partition=\"1\",} 9.223372036854776E18\n"+
		"kafka_log_Log_Value{name=\"LogStartOffset\",topic=\"t\",partition=\"1\",} NaN\n",
		"fetcher_lag{topic=t,partition=1}=-Inf; log_end_offset{topic=t,partition=1}=9.223372036854776e+18; log_start_offset{topic=t,partition=1}=NaN")
	// 12. Blanks around tokens, a timestamp, CRLF-free tabs, comments and blank lines.
	f("# a comment\n\n\t kafka_log_log_size { topic = \"t\" , partition = \"2\" , } \t 5 1574380800000\n",
		"log_size{topic=t,partition=2}=5")
	// 13. OpenMetrics: float timestamp, exemplar, # EOF.
	f("# TYPE kafka_server_replicamanager_isrshrinks counter\n"+
		"kafka_server_replicamanager_isrshrinks_total 3 1574380800.5 # {trace_id=\"x\"} 1\n# EOF\n",
		"isr_shrinks=3 counter")
	// 14. Unmapped families are counted, not returned.
	f("jvm_memory_bytes_used{area=\"heap\",} 1.0\n", "")
}

// TestParseProblems: each row is a body with bad lines; the good lines still
// map, the bad ones yield no sample (never a zero) and a problem at the given line.
func TestParseProblems(t *testing.T) {
	good := "kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} 7.0\n"
	f := func(bad string, line int, msg string) {
		t.Helper()
		res, err := Parse(strings.NewReader(good+bad), Options{})
		if err != nil {
			t.Fatalf("%q: %v", bad, err)
		}
		if got := renderAll(res.Samples); got != "leader_count=7" {
			t.Fatalf("%q: samples %s", bad, got)
		}
		if res.Malformed != 1 || len(res.Problems) != 1 || res.Problems[0].Line != line ||
			!strings.Contains(res.Problems[0].Msg, msg) {
			t.Fatalf("%q: malformed=%d problems=%v, want line %d %q", bad, res.Malformed, res.Problems, line, msg)
		}
	}
	// 1. Truncated at end of body: no newline, so not trusted (the value may be cut).
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 13", 2, "not terminated")
	// 2. Truncated inside the label set.
	f("kafka_server_ReplicaManager_Value{name=\"UnderRep\n", 2, "unterminated value")
	f("kafka_server_ReplicaManager_Value{name=\"UnderReplicatedPartitions\",\n", 2, "unterminated label set")
	f("kafka_server_ReplicaManager_Value{,} 1\n", 2, "invalid label name")
	// 3. Bad floats.
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 1,5\n", 2, "invalid value")
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 0x1p3\n", 2, "invalid value")
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 1_000\n", 2, "invalid value")
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 1e999\n", 2, "invalid value")
	// 4. Missing value, bad timestamp, trailing garbage.
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",}\n", 2, "missing value")
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 1 soon\n", 2, "invalid timestamp")
	f("kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 1 2 3\n", 2, "unexpected text")
	// 5. Label set errors.
	f("kafka_log_Log_Value{name=\"Size\",name=\"Size\",} 1\n", 2, "duplicate label")
	f("kafka_log_Log_Value{__name__=\"x\"} 1\n", 2, "reserved label")
	f("kafka_log_Log_Value{name=Size} 1\n", 2, "expected quoted value")
	f("kafka_log_Log_Value{name\"Size\"} 1\n", 2, "expected '='")
	f("kafka_log_Log_Value{name=\"Size\" topic=\"t\"} 1\n", 2, "expected ',' or '}'")
	f("kafka_log_Log_Value{name=\"Size\",topic=\"\xff\"} 1\n", 2, "invalid UTF-8")
	f("kafka_log_Log_Value{name=\"Size\",topic=\"a\\\xff\"} 1\n", 2, "invalid UTF-8")
	// 6. Unmapped lines are skimmed: structure and value are still checked.
	f("jvm_threads{state=\"RUNNABLE} 1\n", 2, "unterminated label value")
	f("jvm_threads{state=\"RUNNABLE\" 1\n", 2, "unterminated label set")
	f("kafka_log_Log_Value{name=\"NumLogSegments\",topic=\"t\",} one\n", 2, "invalid value")
	f("Service Unavailable\n", 2, "invalid value")
	// 7. Names and metadata.
	f("9kafka 1\n", 2, "invalid metric name")
	f("kafka-log 1\n", 2, "invalid character")
	f("{\"kafka.log\"} 1\n", 2, "invalid metric name")
	f("# TYPE kafka_log_Log_Value bogus\n", 2, "invalid metric type")
	f("# HELP kafka.log x\n", 2, "invalid metric name in # HELP")
}

// TestParseBadPartition: a well-formed mapped series whose partition label is
// not a partition yields no sample and a problem, but is not Malformed.
func TestParseBadPartition(t *testing.T) {
	for _, p := range []string{"x", "-1", "", "2147483648"} {
		body := "kafka_log_Log_Value{name=\"Size\",topic=\"t\",partition=\"" + p + "\",} 1\n"
		res, err := Parse(strings.NewReader(body), Options{})
		if err != nil || len(res.Samples) != 0 || res.Malformed != 0 || res.Series != 1 ||
			len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Msg, "invalid partition") {
			t.Fatalf("partition %q: %v samples %d problems %v", p, err, len(res.Samples), res.Problems)
		}
	}
}

func TestParseDuplicateSeries(t *testing.T) {
	body := "kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} 7.0\n" +
		"kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} 0.0\n"
	res, err := Parse(strings.NewReader(body), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := renderAll(res.Samples); got != "leader_count=7" || res.Duplicates != 1 || res.Malformed != 0 ||
		len(res.Problems) != 1 || res.Problems[0].Line != 2 || !strings.Contains(res.Problems[0].Msg, "duplicate series") {
		t.Fatalf("samples %s dups %d problems %v", got, res.Duplicates, res.Problems)
	}
}

// TestParseParts: a repeated HELP or TYPE starts a new exposition, and
// duplicates are tracked per part.
func TestParseParts(t *testing.T) {
	one := "# HELP kafka_server_ReplicaManager_Value x\n# TYPE kafka_server_ReplicaManager_Value untyped\n" +
		"kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} %d\n# TYPE other gauge\nother 1\n"
	body := fmt.Sprintf(one+one+one, 1, 2, 3)
	res, err := Parse(strings.NewReader(body), Options{})
	if err != nil || res.Duplicates != 0 || len(res.Parts) != 3 {
		t.Fatalf("err %v dups %d parts %+v", err, res.Duplicates, res.Parts)
	}
	for i, want := range []string{"leader_count=1", "leader_count=2", "leader_count=3"} {
		if got := renderAll(res.Part(i)); got != want || res.Parts[i].Line != 1+5*i {
			t.Errorf("part %d at line %d: %s, want %s", i, res.Parts[i].Line, got, want)
		}
	}
	if res.Part(3) != nil || res.Part(-1) != nil {
		t.Error("out-of-range part is not nil")
	}
}

// TestParseErrors: bodies that fail as a whole return a typed error and no samples.
func TestParseErrors(t *testing.T) {
	series := strings.Repeat("kafka_log_log_size{topic=\"t\",partition=\"0\"} 1\n", 1) +
		strings.Repeat("jvm_x 1\n", 99)
	f := func(name, body string, opts Options, check func(error) bool) {
		t.Helper()
		res, err := Parse(strings.NewReader(body), opts)
		if err == nil || !check(err) || len(res.Samples) != 0 {
			t.Fatalf("%s: err %v (%T), %d samples", name, err, err, len(res.Samples))
		}
	}
	is := func(target error) func(error) bool { return func(err error) bool { return errors.Is(err, target) } }
	f("empty", "", Options{}, is(ErrNoSeries))
	f("comments only", "# HELP a b\n# TYPE a gauge\n", Options{}, is(ErrNoSeries))
	f("html", "<html>\n<body>Not Found</body>\n</html>\n", Options{}, is(ErrNoSeries))
	f("json", `{"kafka_log_log_size": 1}`+"\n", Options{}, is(ErrNoSeries))
	f("one long line", strings.Repeat("x", 2<<20), Options{}, is(ErrNoSeries))
	f("cardinality", series, Options{MaxSeries: 10}, func(err error) bool {
		var ce *CardinalityError
		return errors.As(err, &ce) && ce.Limit == 10 && ce.Count == 100
	})
	f("too large", series, Options{MaxBytes: 100}, func(err error) bool {
		var te *TooLargeError
		return errors.As(err, &te) && te.Limit == 100 && te.Size == -1
	})
	f("negative limit", series, Options{MaxSeries: -1}, func(err error) bool { return strings.Contains(err.Error(), "negative") })

	// Exactly at the limits is fine.
	res, err := Parse(strings.NewReader(series), Options{MaxSeries: 100, MaxBytes: int64(len(series))})
	if err != nil || res.Series != 100 || res.Bytes != int64(len(series)) || len(res.Samples) != 1 {
		t.Fatalf("at limits: %v series %d bytes %d", err, res.Series, res.Bytes)
	}
}

// TestParseLongLines: lines longer than the read buffer are assembled;
// lines over maxLineBytes are dropped as malformed and parsing resumes.
func TestParseLongLines(t *testing.T) {
	long := "kafka_log_Log_Value{name=\"Size\",topic=\"" + strings.Repeat("t", readBufSize*2) + "\",partition=\"0\",} 5\n"
	huge := "kafka_log_Log_Value{name=\"Size\",topic=\"" + strings.Repeat("h", maxLineBytes) + "\",partition=\"0\",} 5\n"
	res, err := Parse(strings.NewReader(long+huge+"kafka_log_log_size{topic=\"u\",partition=\"1\"} 6\n"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Samples) != 2 || len(res.Samples[0].Topic) != readBufSize*2 || res.Samples[1].Topic != "u" ||
		res.Malformed != 1 || res.Problems[0].Line != 2 || res.Lines != 3 {
		t.Fatalf("%d samples, malformed %d, problems %v, lines %d", len(res.Samples), res.Malformed, res.Problems, res.Lines)
	}
}

func TestSignalAndProfileNames(t *testing.T) {
	seen := map[string]bool{}
	for s := SignalUnknown + 1; s < numSignals; s++ {
		if n := s.String(); n == "" || seen[n] || !s.Valid() {
			t.Errorf("signal %d name %q", s, n)
		} else {
			seen[n] = true
		}
	}
	if numSignals.String() != "invalid" || SignalUnknown.Valid() || numSignals.Valid() {
		t.Error("out-of-range signal")
	}
	if ProfileMBean.String() != "mbean" || ProfileLowercase.String() != "lowercase" || Profile(99).String() != "invalid" {
		t.Error("profile names")
	}
}

// TestFastFloat: the fast path must agree bit for bit with strconv wherever
// it answers, and leave everything else to strconv.
func TestFastFloat(t *testing.T) {
	f := func(s string) {
		t.Helper()
		got, ok := fastFloat(s)
		want, err := strconv.ParseFloat(s, 64)
		if ok && (err != nil || math.Float64bits(got) != math.Float64bits(want)) {
			t.Fatalf("fastFloat(%q) = %v, strconv %v (%v)", s, got, want, err)
		}
		// floatSyntax, used on skimmed lines, accepts exactly what parseValue
		// accepts, plus values out of float64's range.
		_, valid := parseValue(s)
		if floatSyntax(s) != (valid || errors.Is(err, strconv.ErrRange)) {
			t.Fatalf("floatSyntax(%q) = %v, parseValue %v, strconv err %v", s, floatSyntax(s), valid, err)
		}
	}
	for _, s := range []string{"0", "-0", "+0", "0.0", "113330.0", "5.7778761E7", "5.722026886E9", "1e22", "1e23",
		"1e-22", "1e-23", "123456789012345", "1234567890123456", "0.000001", ".5", "5.", ".", "-", "e5", "1e", "1e+",
		"1E+07", "1e-0", "9007199254740993", "0.1", "0.3", "2.5e-3", "-Inf", "NaN", "1_0", "0x10", "00000000000000000001",
		"+inf", "Infinity", "-infinity", "+NaN", "nan", "infx", "1e999", "2.964393875E-314", "0x1p3", "1e+", "+", "+.e1", "1.2.3", ""} {
		f(s)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 50_000 {
		v := float64(rng.Int64N(1e15)) * math.Pow(10, float64(rng.IntN(40)-20))
		if rng.IntN(2) == 0 {
			v = -v
		}
		f(strconv.FormatFloat(v, 'f', -1, 64))
		f(strconv.FormatFloat(v, 'E', -1, 64))
		f(javaFloat(v))
		f(strconv.FormatFloat(v, 'g', rng.IntN(17)+1, 64))
	}
}

// TestParseManyLabels: label indexes are int8; a series with hundreds of
// labels must neither panic nor pick a wrong label.
func TestParseManyLabels(t *testing.T) {
	var b strings.Builder
	b.WriteString(`kafka_log_log_size{topic="t",partition="3"`)
	for i := range 300 {
		fmt.Fprintf(&b, `,l%d="v"`, i)
	}
	b.WriteString(`,request="late"} 1` + "\n")
	res, err := Parse(strings.NewReader(b.String()), Options{})
	if err != nil || renderAll(res.Samples) != "log_size{topic=t,partition=3}=1" {
		t.Fatalf("%v: %s", err, renderAll(res.Samples))
	}
}
