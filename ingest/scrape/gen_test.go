package scrape

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
)

// genStyle selects the naming and exporter version of a generated body.
type genStyle struct {
	profile Profile // ProfileMBean or ProfileLowercase
	v1      bool    // jmx_exporter 1.x: `_total` on counters, no trailing comma
}

// generator writes a jmx_exporter-like exposition of a fixed number of lines
// from a fixed seed. Its shape follows the MSK fixture: most lines are
// per-partition log, replication and fetcher series; then traffic per topic,
// request metrics per request type, broker-wide gauges and unmapped families.
type generator struct {
	style  genStyle
	rng    *rand.Rand
	buf    bytes.Buffer
	lines  int // lines written
	limit  int // lines wanted
	mapped int // sample lines that map to a Signal
}

const (
	genTopics     = 100
	genPartitions = 50

	benchLines = 50_000   // lines of the bodies of BenchmarkScrape and TestScrapeProfiles
	benchSeed  = 20191122 // fixed: the day the second MSK broker was added
)

var genRequests = []string{
	"Produce", "Fetch", "FetchConsumer", "FetchFollower", "ListOffsets", "Metadata", "LeaderAndIsr",
	"StopReplica", "UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator",
	"JoinGroup", "Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups", "SaslHandshake",
	"ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords", "InitProducerId", "OffsetForLeaderEpoch",
	"AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "WriteTxnMarkers", "TxnOffsetCommit", "DescribeAcls",
	"CreateAcls", "DeleteAcls", "DescribeConfigs", "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs",
	"SaslAuthenticate", "CreatePartitions",
}

// genExposition returns exactly lines lines (cut inside the last family when
// needed) and how many of its sample lines map to a signal.
func genExposition(style genStyle, lines int, seed uint64) ([]byte, int) {
	g := &generator{style: style, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), limit: lines}
	if style.profile == ProfileMBean {
		g.mbean()
	} else {
		g.lowercase()
	}
	if g.lines < lines {
		panic(fmt.Sprintf("generator made %d lines, want %d", g.lines, lines))
	}
	return g.buf.Bytes(), g.mapped
}

func (g *generator) full() bool { return g.lines >= g.limit }

func (g *generator) line(s string) {
	if g.full() {
		return
	}
	g.buf.WriteString(s)
	g.buf.WriteByte('\n')
	g.lines++
}

// family writes HELP and TYPE; typ is the exported type.
func (g *generator) family(name, typ string) {
	g.line("# HELP " + name + " Attribute exposed for management (generated)")
	g.line("# TYPE " + name + " " + typ)
}

// sample writes `name{k="v",...} value`; kv alternates names and values.
func (g *generator) sample(name string, mapped bool, v float64, kv ...string) {
	if g.full() {
		return
	}
	var b strings.Builder
	b.WriteString(name)
	if len(kv) > 0 {
		b.WriteByte('{')
		for i := 0; i < len(kv); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(kv[i])
			b.WriteString(`="`)
			b.WriteString(kv[i+1])
			b.WriteByte('"')
		}
		if !g.style.v1 {
			b.WriteByte(',')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.WriteString(javaFloat(v))
	g.line(b.String())
	if mapped {
		g.mapped++
	}
}

// javaFloat formats v as Java's Double.toString does: 113329.0, 0.99, 5.7778761E7.
func javaFloat(v float64) string {
	if math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'f', -1, 64)[:1] + "Inf" // client_java writes +Inf / -Inf
	}
	a := math.Abs(v)
	if a != 0 && (a < 1e-3 || a >= 1e7) {
		s := strconv.FormatFloat(v, 'E', -1, 64)
		mant, exp, _ := strings.Cut(s, "E")
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		e, _ := strconv.Atoi(exp)
		return mant + "E" + strconv.Itoa(e)
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

func (g *generator) counter() float64 { return float64(g.rng.Int64N(1e10)) }
func (g *generator) small() float64   { return float64(g.rng.IntN(500)) }
func (g *generator) ratio() float64   { return g.rng.Float64() }
func (g *generator) size() float64    { return float64(100_000 + g.rng.IntN(30_000)) }
func topicName(i int) string          { return "test-topic-" + strconv.Itoa(i) }

// forPartitions calls f for every generated topic-partition.
func forPartitions(f func(topic, partition string)) {
	for t := range genTopics {
		for p := range genPartitions {
			f(topicName(t), strconv.Itoa(p))
		}
	}
}

func (g *generator) total(name string) string {
	if g.style.v1 {
		return name + "_total"
	}
	return name
}

func (g *generator) mbean() {
	g.family("kafka_server_ReplicaManager_Value", "untyped")
	for _, n := range []string{"UnderReplicatedPartitions", "UnderMinIsrPartitionCount", "AtMinIsrPartitionCount",
		"OfflineReplicaCount", "PartitionCount", "LeaderCount"} {
		g.sample("kafka_server_ReplicaManager_Value", true, g.small(), "name", n)
	}
	cnt := g.total("kafka_server_ReplicaManager_Count")
	g.family(cnt, "untyped")
	g.sample(cnt, true, g.small(), "name", "IsrShrinksPerSec")
	g.sample(cnt, true, g.small(), "name", "IsrExpandsPerSec")
	g.sample(cnt, false, g.small(), "name", "FailedIsrUpdatesPerSec")
	g.family("kafka_controller_KafkaController_Value", "untyped")
	for _, n := range []string{"ActiveControllerCount", "OfflinePartitionsCount", "GlobalPartitionCount", "GlobalTopicCount"} {
		g.sample("kafka_controller_KafkaController_Value", strings.HasPrefix(n, "A") || strings.HasPrefix(n, "O"), g.small(), "name", n)
	}
	for _, attr := range []string{"Count", "MeanRate", "OneMinuteRate", "FiveMinuteRate", "FifteenMinuteRate"} {
		name := "kafka_server_BrokerTopicMetrics_" + attr
		if attr == "Count" {
			name = g.total(name)
		}
		g.family(name, "untyped")
		for t := -1; t < genTopics; t++ {
			for _, n := range []string{"BytesInPerSec", "BytesOutPerSec", "MessagesInPerSec", "TotalProduceRequestsPerSec",
				"TotalFetchRequestsPerSec", "FailedProduceRequestsPerSec"} {
				mapped := attr == "Count" && strings.Contains("BytesInPerSec BytesOutPerSec MessagesInPerSec", n)
				if t < 0 {
					g.sample(name, mapped, g.counter(), "name", n)
				} else {
					g.sample(name, mapped, g.counter(), "name", n, "topic", topicName(t))
				}
			}
		}
	}
	g.family("kafka_log_Log_Value", "untyped")
	forPartitions(func(topic, part string) {
		g.sample("kafka_log_Log_Value", true, g.size(), "name", "Size", "topic", topic, "partition", part)
		g.sample("kafka_log_Log_Value", true, g.counter(), "name", "LogEndOffset", "topic", topic, "partition", part)
		g.sample("kafka_log_Log_Value", true, g.counter(), "name", "LogStartOffset", "topic", topic, "partition", part)
		g.sample("kafka_log_Log_Value", false, g.small(), "name", "NumLogSegments", "topic", topic, "partition", part)
	})
	for _, attr := range []string{"50thPercentile", "75thPercentile", "95thPercentile", "98thPercentile", "99thPercentile",
		"999thPercentile", "Mean", "Max", "Min", "StdDev", "Count"} {
		name := "kafka_network_RequestMetrics_" + attr
		if attr == "Count" {
			name = g.total(name)
		}
		g.family(name, "untyped")
		for _, n := range []string{"TotalTimeMs", "RequestQueueTimeMs", "LocalTimeMs", "RemoteTimeMs", "ResponseQueueTimeMs", "ResponseSendTimeMs"} {
			for _, r := range genRequests {
				mapped := n == "TotalTimeMs" && (attr == "99thPercentile" || attr == "999thPercentile" || attr == "Count")
				g.sample(name, mapped, g.small(), "name", n, "request", r)
			}
		}
	}
	g.family("kafka_server_FetcherLagMetrics_Value", "untyped")
	forPartitions(func(topic, part string) {
		if g.rng.IntN(3) > 0 {
			g.sample("kafka_server_FetcherLagMetrics_Value", true, g.small(), "name", "ConsumerLag",
				"clientId", "ReplicaFetcherThread-0-2", "topic", topic, "partition", part)
		}
	})
	g.mbeanBrokerWide()
	g.unmapped()
	g.family("kafka_cluster_Partition_Value", "untyped")
	forPartitions(func(topic, part string) {
		for _, n := range []string{"UnderReplicated", "UnderMinIsr", "InSyncReplicasCount", "ReplicasCount", "LastStableOffsetLag"} {
			g.sample("kafka_cluster_Partition_Value", n == "UnderReplicated" || n == "UnderMinIsr", g.small(),
				"name", n, "topic", topic, "partition", part)
		}
	})
}

func (g *generator) mbeanBrokerWide() {
	hc := g.total("kafka_server_KafkaRequestHandlerPool_Count")
	g.family(hc, "untyped")
	g.sample(hc, true, 9.060629555646406e15, "name", "RequestHandlerAvgIdlePercent")
	g.family("kafka_server_KafkaRequestHandlerPool_OneMinuteRate", "untyped")
	g.sample("kafka_server_KafkaRequestHandlerPool_OneMinuteRate", true, g.ratio(), "name", "RequestHandlerAvgIdlePercent")
	g.family("kafka_network_SocketServer_Value", "untyped")
	g.sample("kafka_network_SocketServer_Value", true, g.ratio(), "name", "NetworkProcessorAvgIdlePercent")
	g.family("kafka_network_RequestChannel_Value", "untyped")
	g.sample("kafka_network_RequestChannel_Value", true, g.small(), "name", "RequestQueueSize")
	for p := range 10 {
		g.sample("kafka_network_RequestChannel_Value", false, g.small(), "name", "ResponseQueueSize", "processor", strconv.Itoa(p))
	}
	g.family("kafka_log_LogManager_Value", "untyped")
	g.sample("kafka_log_LogManager_Value", true, 0, "name", "OfflineLogDirectoryCount")
	g.sample("kafka_log_LogManager_Value", true, 0, "name", "LogDirectoryOffline", "logDirectory", `\"/kafka/datalogs/logs\"`)
	cs := g.total("kafka_controller_ControllerStats_Count")
	g.family(cs, "untyped")
	g.sample(cs, true, 0, "name", "UncleanLeaderElectionsPerSec")
	g.sample(cs, false, g.small(), "name", "LeaderElectionRateAndTimeMs")
}

// unmapped writes families no signal reads, as jmx_exporter does.
func (g *generator) unmapped() {
	for _, m := range []string{"connection_creation_total", "incoming_byte_total", "outgoing_byte_total", "request_total",
		"response_total", "select_total", "io_wait_time_ns_total", "io_time_ns_total", "network_io_total", "request_size_max"} {
		name := "kafka_server_socket_server_metrics_" + m
		g.family(name, "untyped")
		for p := range 20 {
			listener := "CLIENT"
			if p%2 == 1 {
				listener = "REPLICATION"
			}
			v := g.counter()
			if m == "request_size_max" && p%3 == 0 {
				v = math.Inf(-1)
			}
			g.sample(name, false, v, "listener", listener, "networkProcessor", strconv.Itoa(p))
		}
	}
	for _, area := range []string{"heap", "nonheap"} {
		g.family("jvm_memory_bytes_used_"+area, "gauge")
		g.sample("jvm_memory_bytes_used_"+area, false, g.counter(), "area", area)
	}
}

func (g *generator) lowercase() {
	for _, n := range []string{"underreplicatedpartitions", "underminisrpartitioncount", "atminisrpartitioncount",
		"offlinereplicacount", "partitioncount", "leadercount"} {
		name := "kafka_server_replicamanager_" + n
		g.family(name, "gauge")
		g.sample(name, true, g.small())
	}
	for _, n := range []string{"isrshrinks_total", "isrexpands_total"} {
		g.family("kafka_server_replicamanager_"+n, "counter")
		g.sample("kafka_server_replicamanager_"+n, true, g.small())
	}
	for _, n := range []string{"activecontrollercount", "offlinepartitionscount", "globalpartitioncount"} {
		name := "kafka_controller_kafkacontroller_" + n
		g.family(name, "gauge")
		g.sample(name, n != "globalpartitioncount", g.small())
	}
	g.family("kafka_controller_controllerstats_uncleanleaderelections_total", "counter")
	g.sample("kafka_controller_controllerstats_uncleanleaderelections_total", true, 0)
	for _, n := range []string{"bytesin", "bytesout", "messagesin", "totalproducerequests", "totalfetchrequests", "failedproducerequests"} {
		name := "kafka_server_brokertopicmetrics_" + n + "_total"
		mapped := n == "bytesin" || n == "bytesout" || n == "messagesin"
		g.family(name, "counter")
		g.sample(name, mapped, g.counter())
		for t := range genTopics {
			g.sample(name, mapped, g.counter(), "topic", topicName(t))
		}
	}
	for _, n := range []string{"size", "logendoffset", "logstartoffset", "numlogsegments"} {
		name := "kafka_log_log_" + n
		g.family(name, "gauge")
		forPartitions(func(topic, part string) {
			g.sample(name, n != "numlogsegments", g.size(), "topic", topic, "partition", part)
		})
	}
	for _, n := range []string{"totaltimems", "requestqueuetimems", "localtimems", "remotetimems", "responsequeuetimems", "responsesendtimems"} {
		name := "kafka_network_requestmetrics_" + n
		g.family(name, "gauge")
		for _, r := range genRequests {
			for _, q := range []string{"0.50", "0.75", "0.95", "0.98", "0.99", "0.999"} {
				mapped := n == "totaltimems" && (q == "0.99" || q == "0.999")
				g.sample(name, mapped, g.small(), "quantile", q, "request", r)
			}
		}
		cnt := g.total(name + "_count")
		g.family(cnt, "counter")
		for _, r := range genRequests {
			g.sample(cnt, n == "totaltimems", g.counter(), "request", r)
		}
	}
	g.family("kafka_server_fetcherlagmetrics_consumerlag", "gauge")
	forPartitions(func(topic, part string) {
		if g.rng.IntN(3) > 0 {
			g.sample("kafka_server_fetcherlagmetrics_consumerlag", true, g.small(),
				"clientid", "ReplicaFetcherThread-0-2", "topic", topic, "partition", part)
		}
	})
	g.lowercaseBrokerWide()
	g.unmapped()
	for _, n := range []string{"underreplicated", "underminisr", "insyncreplicascount", "replicascount", "laststableoffsetlag"} {
		name := "kafka_cluster_partition_" + n
		g.family(name, "gauge")
		forPartitions(func(topic, part string) {
			g.sample(name, n == "underreplicated" || n == "underminisr", g.small(), "topic", topic, "partition", part)
		})
	}
}

func (g *generator) lowercaseBrokerWide() {
	hc := g.total("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count")
	g.family(hc, "counter")
	g.sample(hc, true, 9.060629555646406e15)
	for _, n := range []string{"kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent",
		"kafka_network_socketserver_networkprocessoravgidle_percent"} {
		g.family(n, "gauge")
		g.sample(n, true, g.ratio())
	}
	g.family("kafka_network_requestchannel_requestqueuesize", "gauge")
	g.sample("kafka_network_requestchannel_requestqueuesize", true, g.small())
	g.family("kafka_log_logmanager_offlinelogdirectorycount", "gauge")
	g.sample("kafka_log_logmanager_offlinelogdirectorycount", true, 0)
}
