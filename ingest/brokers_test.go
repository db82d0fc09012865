package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Broker telemetry end to end: real HTTP servers speaking exposition text →
// BrokerPoller.Sweep at synthetic times → state.Telemetry.ClusterInput →
// the broker detectors and a Book.

const telT0 = 1_800_000_000_000 // Unix ms of the first sweep

// expo is an httptest server whose body depends on the sweep index k, set
// by the test before each sweep. status, when non-zero, is answered
// instead (with a text body, so only the status is wrong).
type expo struct {
	srv    *httptest.Server
	k      atomic.Int64
	status atomic.Int32
	ctype  string
	body   func(k int) string
}

func newExpo(t *testing.T, body func(k int) string) *expo {
	t.Helper()
	e := &expo{body: body, ctype: "text/plain; version=0.0.4; charset=utf-8"}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s: kwitness must only GET", r.Method, r.URL)
		}
		w.Header().Set("Content-Type", e.ctype)
		if c := e.status.Load(); c != 0 {
			w.WriteHeader(int(c))
			io.WriteString(w, "broken\n")
			return
		}
		io.WriteString(w, e.body(int(e.k.Load())))
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *expo) url() string { return e.srv.URL + "/metrics" }

// strimziBody is a lower-case (Strimzi rules) exposition with jmx_exporter
// 1.x `_total` counters: urp under-replicated partitions, handler 80 % idle.
func strimziBody(urp float64, controller int) func(k int) string {
	return func(k int) string {
		return fmt.Sprintf(`# HELP kafka_server_replicamanager_underreplicatedpartitions Attribute exposed for management
# TYPE kafka_server_replicamanager_underreplicatedpartitions gauge
kafka_server_replicamanager_underreplicatedpartitions %g
kafka_server_replicamanager_underminisrpartitioncount 0.0
kafka_controller_kafkacontroller_activecontrollercount %d.0
kafka_controller_kafkacontroller_offlinepartitionscount 0.0
# TYPE kafka_server_replicamanager_isrshrinks_total counter
kafka_server_replicamanager_isrshrinks_total 3.0
# TYPE kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total counter
kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count_total %g
# TYPE kafka_server_brokertopicmetrics_bytesin_total counter
kafka_server_brokertopicmetrics_bytesin_total %g
kafka_server_brokertopicmetrics_bytesin_total{topic="orders"} %g
# TYPE kafka_log_log_size gauge
kafka_log_log_size{topic="orders",partition="0"} 1000.0
kafka_log_log_size{topic="orders",partition="1"} 2000.0
kafka_log_log_size{topic="audit",partition="0"} 500.0
# TYPE kafka_network_requestmetrics_totaltimems gauge
kafka_network_requestmetrics_totaltimems{quantile="0.99",request="Produce"} 12.5
kafka_network_requestmetrics_totaltimems{quantile="0.999",request="Produce"} 40.0
kafka_network_requestmetrics_totaltimems_count_total{request="Produce"} %d
`, urp, controller, float64(k)*8e9, float64(k)*1e6, float64(k)*1e6, 1000*k)
	}
}

// mbeanBody is an MSK-style exposition (jmx_exporter 0.12 default rules,
// trailing commas in label sets).
func mbeanBody(k int) string {
	return fmt.Sprintf(`# HELP kafka_server_ReplicaManager_Value Attribute exposed for management (kafka.server<type=ReplicaManager, name=UnderReplicatedPartitions><>Value)
# TYPE kafka_server_ReplicaManager_Value untyped
kafka_server_ReplicaManager_Value{name="UnderReplicatedPartitions",} 0.0
kafka_server_ReplicaManager_Value{name="UnderMinIsrPartitionCount",} 0.0
kafka_server_ReplicaManager_Value{name="LeaderCount",} 7.0
# TYPE kafka_controller_KafkaController_Value untyped
kafka_controller_KafkaController_Value{name="ActiveControllerCount",} 0.0
kafka_controller_KafkaController_Value{name="OfflinePartitionsCount",} 0.0
# TYPE kafka_log_Log_Value untyped
kafka_log_Log_Value{name="Size",topic="orders",partition="2",} 3000.0
kafka_log_Log_Value{name="LogEndOffset",topic="orders",partition="2",} 42.0
# TYPE kafka_network_RequestMetrics_99thPercentile untyped
kafka_network_RequestMetrics_99thPercentile{name="TotalTimeMs",request="Produce",} 7.0
kafka_network_RequestMetrics_999thPercentile{name="TotalTimeMs",request="Produce",} 9.0
# TYPE kafka_server_KafkaRequestHandlerPool_Count untyped
kafka_server_KafkaRequestHandlerPool_Count{name="RequestHandlerAvgIdlePercent",} %g
`, float64(k)*9e9)
}

// nodeBody is a node_exporter exposition: the Kafka data mount half full,
// the root filesystem 99 % full (not a log dir: filtered by Mounts).
func nodeBody(int) string {
	return `# HELP node_filesystem_avail_bytes Filesystem space available to non-root users in bytes.
# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/nvme2n1",fstype="ext4",mountpoint="/kafka/datalogs"} 6e+11
node_filesystem_avail_bytes{device="rootfs",fstype="rootfs",mountpoint="/"} 1e+09
# TYPE node_filesystem_size_bytes gauge
node_filesystem_size_bytes{device="/dev/nvme2n1",fstype="ext4",mountpoint="/kafka/datalogs"} 1e+12
node_filesystem_size_bytes{device="rootfs",fstype="rootfs",mountpoint="/"} 1e+11
`
}

// newTelemetry returns a window whose history keeps every 10 s sweep.
func newTelemetry(t *testing.T) *state.Telemetry {
	t.Helper()
	tel, err := state.NewTelemetry(state.WindowConfig{Span: 10 * time.Minute, Points: 122, Recent: 8}, "c")
	if err != nil {
		t.Fatal(err)
	}
	return tel
}

func newTestBrokerPoller(t *testing.T, cfg TelemetryConfig, tel *state.Telemetry, set *metrics.Set, opts ...BrokerOption) *BrokerPoller {
	t.Helper()
	p, err := NewBrokerPoller(cfg, tel, nil, slog.New(slog.DiscardHandler), set, nil, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func testTelemetryConfig(targets ...ScrapeTarget) TelemetryConfig {
	cfg := DefaultTelemetryConfig()
	cfg.ScrapeTimeout = time.Second
	cfg.Targets = targets
	return cfg
}

// shortBrokerConfig shortens the detectors' durations so that a few
// minutes of 10 s sweeps exercise them.
func shortBrokerConfig() detect.BrokerConfig {
	c := detect.DefaultBrokerConfig()
	c.StaleAfter, c.GapAfter = 20*time.Second, 30*time.Second
	c.UnreachableWarn, c.UnreachableCritical = 30*time.Second, 5*time.Minute
	c.UnderReplicatedFor = 30 * time.Second
	return c
}

// brokerOf returns broker id's input, failing the test if absent.
func brokerOf(t *testing.T, in detect.ClusterInput, id int32) detect.BrokerInput {
	t.Helper()
	for _, b := range in.Brokers {
		if b.Broker == id {
			return b
		}
	}
	t.Fatalf("broker %d missing from ClusterInput (brokers %v)", id, brokerIDs(in))
	return detect.BrokerInput{}
}

func brokerIDs(in detect.ClusterInput) []int32 {
	var ids []int32
	for _, b := range in.Brokers {
		ids = append(ids, b.Broker)
	}
	return ids
}

// render prints a window's values compactly: "1 1 _ 0".
func render(w detect.SignalWindow) string {
	var b strings.Builder
	for i, v := range w.Values {
		if i > 0 {
			b.WriteByte(' ')
		}
		if math.IsNaN(v) {
			b.WriteByte('_')
		} else {
			fmt.Fprintf(&b, "%g", v)
		}
	}
	return b.String()
}

func lastValue(t *testing.T, what string, w detect.SignalWindow, want float64) {
	t.Helper()
	if n := len(w.Values); n == 0 || w.Values[n-1] != want {
		t.Errorf("%s: newest value of [%s], want %g", what, render(w), want)
	}
}

// TestBrokerTelemetryEndToEnd: four brokers — 1 Strimzi-style with 1.x
// counters and a node_exporter, 2 MSK-style, 3 whose JMX endpoint answers
// 500 (its node_exporter answers), 4 whose endpoint closes after four
// sweeps. The signals land under the right broker; failing targets leave
// scrape_up 0 and gaps, never zeros; and the detectors open
// UNDER_REPLICATED for 1, BROKER_UNREACHABLE and TELEMETRY_GAP for 3 and 4,
// and nothing else.
func TestBrokerTelemetryEndToEnd(t *testing.T) {
	b1 := newExpo(t, strimziBody(2, 1))
	n1 := newExpo(t, nodeBody)
	b2 := newExpo(t, mbeanBody)
	b3 := newExpo(t, mbeanBody)
	b3.status.Store(http.StatusInternalServerError)
	n3 := newExpo(t, nodeBody)
	b4 := newExpo(t, strimziBody(0, 0))
	mounts := []string{"/kafka/datalogs"}
	cfg := testTelemetryConfig(
		ScrapeTarget{Broker: 1, URL: b1.url()}, ScrapeTarget{Broker: 1, URL: n1.url(), Kind: "node", Mounts: mounts},
		ScrapeTarget{Broker: 2, URL: b2.url()},
		ScrapeTarget{Broker: 3, URL: b3.url()}, ScrapeTarget{Broker: 3, URL: n3.url(), Kind: "node", Mounts: mounts},
		ScrapeTarget{Broker: 4, URL: b4.url()},
	)
	tel, set := newTelemetry(t), metrics.NewSet()
	p := newTestBrokerPoller(t, cfg, tel, set)
	det, err := detect.NewBrokerDetector(shortBrokerConfig())
	if err != nil {
		t.Fatal(err)
	}
	book, err := detect.NewBook(detect.BookConfig{OpenAfter: 5 * time.Second, ResolveAfter: 30 * time.Second, UpdateEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var events []string
	const sweeps = 12
	for k := range sweeps {
		for _, e := range []*expo{b1, n1, b2, b3, n3, b4} {
			e.k.Store(int64(k))
		}
		if k == 4 {
			b4.srv.CloseClientConnections()
			b4.srv.Close()
		}
		at := time.UnixMilli(telT0 + int64(k)*10_000)
		p.Sweep(context.Background(), at)
		for _, ev := range book.Observe("broker", at, det.Sweep(tel.ClusterInput())) {
			events = append(events, fmt.Sprintf("%d %s@%d %s", k, ev.Finding.Kind, ev.Finding.Subject.Broker, ev.Type))
		}
	}
	want := []string{
		"4 BROKER_UNREACHABLE@3 opened", // scrape_up 0 from sweep 0: 30 s at sweep 3, +OpenAfter
		"4 TELEMETRY_GAP@3 opened",      // never answered: silent 30 s at sweep 3
		"4 UNDER_REPLICATED@1 opened",   // 2 URP from sweep 0: 30 s at sweep 3
		"7 TELEMETRY_GAP@4 opened",      // last answer at sweep 3: silent 30 s at 6
		"8 BROKER_UNREACHABLE@4 opened", // failing from sweep 4: 30 s at 7
	}
	if !slices.Equal(events, want) {
		t.Errorf("events:\n got %q\nwant %q", events, want)
	}

	in := tel.ClusterInput()
	if got := brokerIDs(in); !slices.Equal(got, []int32{1, 2, 3, 4}) {
		t.Fatalf("brokers %v, want [1 2 3 4]", got)
	}
	one := brokerOf(t, in, 1)
	lastValue(t, "broker 1 URP", one.Signals[detect.SigUnderReplicated], 2)
	lastValue(t, "broker 1 active controller", one.Signals[detect.SigActiveController], 1)
	lastValue(t, "broker 1 scrape_up (jmx)", one.Signals[detect.SigScrapeUp], 1)
	lastValue(t, "broker 1 handler idle counter (1.x _count_total)", one.Signals[detect.SigHandlerIdleCounter], (sweeps-1)*8e9)
	lastValue(t, "broker 1 bytes in (broker total, not the topic's)", one.Signals[detect.SigBytesIn], (sweeps-1)*1e6)
	lastValue(t, "broker 1 topic orders", one.TopicSize["orders"], 3000)
	lastValue(t, "broker 1 topic audit", one.TopicSize["audit"], 500)
	if len(one.LogDirs) != 1 || one.LogDirs[0].Path != "/kafka/datalogs" {
		t.Fatalf("broker 1 log dirs %+v, want /kafka/datalogs only (Mounts filter)", one.LogDirs)
	}
	lastValue(t, "broker 1 log dir used (node size − avail)", one.LogDirs[0].Used, 4e11)
	lastValue(t, "broker 1 log dir total", one.LogDirs[0].Total, 1e12)
	if one.LogDirs[0].Used.Source != "scrape node_exporter" {
		t.Errorf("log dir source %q", one.LogDirs[0].Used.Source)
	}
	if len(one.Latency) != 1 || one.Latency[0].Request != "Produce" {
		t.Fatalf("broker 1 latency %+v", one.Latency)
	}
	lastValue(t, "broker 1 Produce p99", one.Latency[0].P99, 12.5)
	lastValue(t, "broker 1 Produce p999", one.Latency[0].P999, 40)

	two := brokerOf(t, in, 2)
	lastValue(t, "broker 2 URP", two.Signals[detect.SigUnderReplicated], 0)
	lastValue(t, "broker 2 leader count", two.Signals[detect.SigLeaderCount], 7)
	lastValue(t, "broker 2 topic orders", two.TopicSize["orders"], 3000)
	lastValue(t, "broker 2 Produce p99", two.Latency[0].P99, 7)
	if !strings.HasPrefix(two.Signals[detect.SigUnderReplicated].Source, "scrape "+b2.srv.URL) {
		t.Errorf("broker 2 URP source %q", two.Signals[detect.SigUnderReplicated].Source)
	}

	// Broker 3: the JMX scrape_up (0), not the node_exporter's (1), decides.
	three := brokerOf(t, in, 3)
	if got := render(three.Signals[detect.SigScrapeUp]); got != strings.TrimSpace(strings.Repeat("0 ", sweeps)) {
		t.Errorf("broker 3 scrape_up [%s], want all 0", got)
	}
	for sig, w := range three.Signals {
		if sig != detect.SigScrapeUp {
			t.Errorf("broker 3 has %s [%s]: a failing target must leave no series", sig, render(w))
		}
	}
	if len(three.TopicSize) != 0 || len(three.Latency) != 0 {
		t.Errorf("broker 3 has topic sizes %v / latency %v", three.TopicSize, three.Latency)
	}

	// Broker 4: values, then gaps — never zeros.
	four := brokerOf(t, in, 4)
	if got, want := render(four.Signals[detect.SigScrapeUp]), "1 1 1 1 0 0 0 0 0 0 0 0"; got != want {
		t.Errorf("broker 4 scrape_up [%s], want [%s]", got, want)
	}
	if got, want := render(four.Signals[detect.SigActiveController]), "0 0 0 0 _ _ _ _ _ _ _ _"; got != want {
		t.Errorf("broker 4 active controller [%s], want [%s]", got, want)
	}
	if got, want := render(four.TopicSize["orders"]), "3000 3000 3000 3000 _ _ _ _ _ _ _ _"; got != want {
		t.Errorf("broker 4 topic size [%s], want [%s]", got, want)
	}

	st := p.Status()
	if st.Sweeps != sweeps || len(st.Targets) != len(cfg.Targets) {
		t.Fatalf("status: %d sweeps, %d targets", st.Sweeps, len(st.Targets))
	}
	for i, want := range []struct{ profile, reason string }{
		{"lowercase", ""}, {"node", ""}, {"mbean", ""}, {"", "status"}, {"node", ""}, {"lowercase", "connect"},
	} {
		ts := st.Targets[i]
		if ts.Reason != want.reason || (want.reason == "" && ts.Profile != want.profile) {
			t.Errorf("target %d (%s): profile %q reason %q (%s), want %q %q", i, ts.URL, ts.Profile, ts.Reason, ts.LastError, want.profile, want.reason)
		}
	}
	if got := set.GetOrCreateCounter(`kwitness_scrape_errors_total{broker="3",kind="jmx",reason="status"}`).Get(); got != sweeps {
		t.Errorf("broker 3 status errors counted %d, want %d", got, sweeps)
	}
}

// TestScrapeMalformedBody: bad floats, a truncated line, a duplicate
// series: the rest of the body is used, the bad lines are counted and
// named in Status; a body with no sample, or of the wrong content type,
// is a failed scrape (scrape_up 0, gaps).
func TestScrapeMalformedBody(t *testing.T) {
	var mode atomic.Int32
	e := newExpo(t, func(int) string {
		switch mode.Load() {
		case 1:
			return "<html><body>not metrics</body></html>\n"
		}
		return `kafka_server_replicamanager_underreplicatedpartitions 1.0
kafka_server_replicamanager_underreplicatedpartitions 9.0
kafka_controller_kafkacontroller_activecontrollercount 1.0.0
kafka_server_replicamanager_leadercount NaNx
kafka_log_log_size{topic="orders",partition="0"} 100.0
kafka_log_log_size{topic="orders",partit`
	})
	tel, set := newTelemetry(t), metrics.NewSet()
	p := newTestBrokerPoller(t, testTelemetryConfig(ScrapeTarget{Broker: 1, URL: e.url()}), tel, set)
	sweep := func(k int) detect.BrokerInput {
		t.Helper()
		p.Sweep(context.Background(), time.UnixMilli(telT0+int64(k)*10_000))
		return brokerOf(t, tel.ClusterInput(), 1)
	}
	b := sweep(0)
	lastValue(t, "scrape_up", b.Signals[detect.SigScrapeUp], 1)
	lastValue(t, "URP (first of a duplicate kept)", b.Signals[detect.SigUnderReplicated], 1)
	lastValue(t, "topic size (well-formed partition only)", b.TopicSize["orders"], 100)
	for _, sig := range []detect.Signal{detect.SigActiveController, detect.SigLeaderCount} {
		if w, ok := b.Signals[sig]; ok {
			t.Errorf("%s from a malformed line: [%s], want absent", sig, render(w))
		}
	}
	ts := p.Status().Targets[0]
	if ts.Malformed != 4 || ts.FirstProblem == "" || ts.LastError != "" {
		t.Errorf("status: malformed %d, first problem %q, error %q; want 4 (3 bad lines, 1 duplicate)", ts.Malformed, ts.FirstProblem, ts.LastError)
	}
	if got := set.GetOrCreateCounter(`kwitness_scrape_malformed_lines_total{broker="1",kind="jmx"}`).Get(); got != 4 {
		t.Errorf("malformed lines counted %d, want 4", got)
	}

	mode.Store(1) // HTML: no sample at all
	b = sweep(1)
	if got := render(b.Signals[detect.SigUnderReplicated]); got != "1 _" {
		t.Errorf("URP after a body with no samples [%s], want [1 _]", got)
	}
	if ts := p.Status().Targets[0]; ts.Reason != "no_series" {
		t.Errorf("reason %q (%s), want no_series", ts.Reason, ts.LastError)
	}
	mode.Store(0)
	e.ctype = "application/json"
	b = sweep(2)
	lastValue(t, "scrape_up with a wrong content type", b.Signals[detect.SigScrapeUp], 0)
	if ts := p.Status().Targets[0]; ts.Reason != "content_type" {
		t.Errorf("reason %q (%s), want content_type", ts.Reason, ts.LastError)
	}
}

// TestScrapeCardinalityGuard: a body that grows past MaxSeries fails the
// scrape with a clear error, counted by reason; its series become gaps.
func TestScrapeCardinalityGuard(t *testing.T) {
	var lines atomic.Int32
	lines.Store(3)
	e := newExpo(t, func(int) string {
		var b strings.Builder
		b.WriteString("kafka_server_replicamanager_underreplicatedpartitions 0.0\n")
		for i := range int(lines.Load()) - 1 {
			fmt.Fprintf(&b, "kafka_log_log_size{topic=\"t%d\",partition=\"0\"} 10.0\n", i)
		}
		return b.String()
	})
	cfg := testTelemetryConfig(ScrapeTarget{Broker: 1, URL: e.url()})
	cfg.MaxSeries = 5
	tel, set := newTelemetry(t), metrics.NewSet()
	p := newTestBrokerPoller(t, cfg, tel, set)
	for k := range 4 {
		if k == 2 {
			lines.Store(50)
		}
		p.Sweep(context.Background(), time.UnixMilli(telT0+int64(k)*10_000))
	}
	b := brokerOf(t, tel.ClusterInput(), 1)
	if got := render(b.Signals[detect.SigUnderReplicated]); got != "0 0 _ _" {
		t.Errorf("URP [%s], want [0 0 _ _]: a guard hit is a gap, not zeros", got)
	}
	if got := render(b.Signals[detect.SigScrapeUp]); got != "1 1 0 0" {
		t.Errorf("scrape_up [%s], want [1 1 0 0]", got)
	}
	ts := p.Status().Targets[0]
	if ts.Reason != "cardinality" || !strings.Contains(ts.LastError, "cardinality limit: 50 series exceed the limit of 5") {
		t.Errorf("status reason %q error %q", ts.Reason, ts.LastError)
	}
	if got := set.GetOrCreateCounter(`kwitness_scrape_errors_total{broker="1",kind="jmx",reason="cardinality"}`).Get(); got != 2 {
		t.Errorf("cardinality errors counted %d, want 2", got)
	}
}

// TestScrapeMSKFixture serves the captured MSK exposition (two brokers'
// scrapes concatenated): only the first exposition is used, and its
// signals land under the target's broker. The expected values come from
// prometheus/common/expfmt reading the first scrape (lines 1–20 011, per
// scrape/testdata/README.md), not from this project's parser.
func TestScrapeMSKFixture(t *testing.T) {
	body := mskFixture(t)
	want := expfmtMSKPart1(t, body)
	// By hand from the capture (scrape/testdata/README.md): 17 topics, URP 0,
	// one active controller.
	if len(want.sizes) != 17 || want.urp != 0 || want.controllers != 1 {
		t.Fatalf("oracle: %d topics, URP %v, controllers %v; want 17, 0, 1", len(want.sizes), want.urp, want.controllers)
	}
	e := newExpo(t, func(int) string { return string(body) })
	tel := newTelemetry(t)
	cfg := testTelemetryConfig(ScrapeTarget{Broker: 7, URL: e.url()})
	// Parsing 2.4 MB under -race on a loaded machine can take seconds.
	cfg.ScrapeInterval, cfg.ScrapeTimeout = time.Minute, time.Minute
	cfg.LogDirsInterval, cfg.MetadataInterval = time.Minute, time.Minute
	p := newTestBrokerPoller(t, cfg, tel, metrics.NewSet())
	p.Sweep(context.Background(), time.UnixMilli(telT0))
	if ts := p.Status().Targets[0]; ts.LastError != "" {
		t.Fatalf("scrape: %s", ts.LastError)
	}
	b := brokerOf(t, tel.ClusterInput(), 7)
	lastValue(t, "URP", b.Signals[detect.SigUnderReplicated], want.urp)
	lastValue(t, "active controller", b.Signals[detect.SigActiveController], want.controllers)
	if len(b.TopicSize) != len(want.sizes) {
		t.Fatalf("telemetry has %d topics, want %d", len(b.TopicSize), len(want.sizes))
	}
	for topic, v := range want.sizes {
		lastValue(t, "topic "+topic, b.TopicSize[topic], v)
	}
	if ts := p.Status().Targets[0]; ts.Profile != "mbean" || ts.Parts != 2 {
		t.Errorf("status profile %q parts %d, want mbean 2", ts.Profile, ts.Parts)
	}
}

// mskFixture returns the raw MSK jmx_exporter capture; a missing fixture
// fails the test.
func mskFixture(t *testing.T) []byte {
	t.Helper()
	raw, err := os.ReadFile("scrape/testdata/kafka-broker-jmx-exporter-0.12-msk.prom.gz")
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return body
}

type mskExpect struct {
	sizes            map[string]float64 // Σ kafka_log_Log_Value{name="Size"} per topic
	urp, controllers float64
}

// expfmtMSKPart1 reads the first scrape of the capture with expfmt.
func expfmtMSKPart1(t *testing.T, body []byte) mskExpect {
	t.Helper()
	lines := strings.SplitAfter(string(body), "\n")
	part1 := strings.Join(lines[:20011], "")
	parser := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := parser.TextToMetricFamilies(strings.NewReader(part1))
	if err != nil {
		t.Fatalf("expfmt: %v", err)
	}
	label := func(m *dto.Metric, name string) string {
		for _, l := range m.GetLabel() {
			if l.GetName() == name {
				return l.GetValue()
			}
		}
		return ""
	}
	value := func(family, name string) float64 {
		for _, m := range fams[family].GetMetric() {
			if label(m, "name") == name {
				return m.GetUntyped().GetValue()
			}
		}
		t.Fatalf("expfmt: no %s{name=%q}", family, name)
		return 0
	}
	out := mskExpect{sizes: map[string]float64{}}
	for _, m := range fams["kafka_log_Log_Value"].GetMetric() {
		if label(m, "name") == "Size" {
			out.sizes[label(m, "topic")] += m.GetUntyped().GetValue()
		}
	}
	out.urp = value("kafka_server_ReplicaManager_Value", "UnderReplicatedPartitions")
	out.controllers = value("kafka_controller_KafkaController_Value", "ActiveControllerCount")
	return out
}
