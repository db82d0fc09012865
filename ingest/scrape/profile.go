package scrape

import "strings"

// Profile is the naming style of an exposition, detected from the families
// that mapped to signals.
type Profile uint8

const (
	// ProfileUnknown: no family mapped to a signal.
	ProfileUnknown Profile = iota
	// ProfileMBean: jmx_exporter default rules that keep MBean case,
	// `<domain>_<type>_<attribute>{name="<MBean name>",...}`, e.g.
	// `kafka_server_BrokerTopicMetrics_Count{name="BytesInPerSec"}` (Amazon MSK).
	ProfileMBean
	// ProfileLowercase: Strimzi / jmx_exporter example rules with
	// lowercaseOutputName, e.g. `kafka_server_brokertopicmetrics_bytesin_total`,
	// `kafka_network_requestmetrics_totaltimems{quantile="0.99",request="Produce"}`.
	ProfileLowercase
	// ProfileNode: node_exporter only (no Kafka family mapped).
	ProfileNode

	numProfiles
)

var profileNames = [numProfiles]string{"unknown", "mbean", "lowercase", "node"}

// String returns the profile name used in logs: unknown, mbean, lowercase or node.
func (p Profile) String() string {
	if p < numProfiles {
		return profileNames[p]
	}
	return "invalid"
}

// family says how the samples of one metric family map to signals.
type family struct {
	signal   Signal    // fixed signal, when byName is nil and quantile is false
	byName   []nameSig // MBean style: the signal is chosen by the `name` label
	profile  Profile
	counter  bool // cumulative; also accepted with jmx_exporter 1.x's extra `_total`
	quantile bool // lowercase latency: the signal is chosen by the `quantile` label
}

// nameSig maps one MBean `name` label value to a signal.
type nameSig struct {
	name   string
	signal Signal
}

// signalFor returns the signal of a sample whose `name` label is v, or
// SignalUnknown. The lists are short (≤ 6), so a scan beats a map.
func (f *family) signalFor(v string) Signal {
	for _, ns := range f.byName {
		if ns.name == v {
			return ns.signal
		}
	}
	return SignalUnknown
}

// quantileSignal maps a lowercase-profile `quantile` label to a latency signal.
func quantileSignal(q string) Signal {
	switch q {
	case "0.99":
		return RequestLatencyP99
	case "0.999":
		return RequestLatencyP999
	}
	return SignalUnknown
}

func mbean(counter bool, pairs ...nameSig) *family {
	return &family{byName: pairs, profile: ProfileMBean, counter: counter}
}

func lower(s Signal, counter bool) *family {
	return &family{signal: s, profile: ProfileLowercase, counter: counter}
}

func node(s Signal) *family { return &family{signal: s, profile: ProfileNode} }

// families is the read-only mapping table, keyed by exposed family name.
// Sources: the captured MSK exposition (testdata/README.md) for the MBean
// names; Strimzi's kafka-metrics.yaml rules (jmx_exporter with
// lowercaseOutputName) for the lowercase names; node_exporter ≥ 0.16 and
// < 0.16 filesystem names.
var families = map[string]*family{
	// MBean case (jmx_exporter default naming, MSK open monitoring).
	"kafka_server_BrokerTopicMetrics_Count": mbean(true,
		nameSig{"BytesInPerSec", BytesIn}, nameSig{"BytesOutPerSec", BytesOut},
		nameSig{"MessagesInPerSec", MessagesIn}),
	"kafka_log_Log_Value": mbean(false,
		nameSig{"Size", LogSize}, nameSig{"LogEndOffset", LogEndOffset},
		nameSig{"LogStartOffset", LogStartOffset}),
	"kafka_server_ReplicaManager_Value": mbean(false,
		nameSig{"UnderReplicatedPartitions", UnderReplicated},
		nameSig{"UnderMinIsrPartitionCount", UnderMinISR},
		nameSig{"AtMinIsrPartitionCount", AtMinISR},
		nameSig{"OfflineReplicaCount", OfflineReplicas},
		nameSig{"PartitionCount", PartitionCount}, nameSig{"LeaderCount", LeaderCount}),
	"kafka_server_ReplicaManager_Count": mbean(true,
		nameSig{"IsrShrinksPerSec", IsrShrinks}, nameSig{"IsrExpandsPerSec", IsrExpands}),
	"kafka_cluster_Partition_Value": mbean(false,
		nameSig{"UnderReplicated", UnderReplicated}, nameSig{"UnderMinIsr", UnderMinISR},
		nameSig{"AtMinIsr", AtMinISR}),
	"kafka_controller_KafkaController_Value": mbean(false,
		nameSig{"OfflinePartitionsCount", OfflinePartitions},
		nameSig{"ActiveControllerCount", ActiveControllers}),
	"kafka_controller_ControllerStats_Count": mbean(true,
		nameSig{"UncleanLeaderElectionsPerSec", UncleanLeaderElections}),
	"kafka_network_RequestMetrics_99thPercentile":  mbean(false, nameSig{"TotalTimeMs", RequestLatencyP99}),
	"kafka_network_RequestMetrics_999thPercentile": mbean(false, nameSig{"TotalTimeMs", RequestLatencyP999}),
	"kafka_network_RequestMetrics_Count":           mbean(true, nameSig{"TotalTimeMs", RequestCount}),
	"kafka_server_KafkaRequestHandlerPool_Count": mbean(true,
		nameSig{"RequestHandlerAvgIdlePercent", HandlerIdleCount}),
	"kafka_server_KafkaRequestHandlerPool_OneMinuteRate": mbean(false,
		nameSig{"RequestHandlerAvgIdlePercent", HandlerIdleRatio}),
	"kafka_network_SocketServer_Value": mbean(false,
		nameSig{"NetworkProcessorAvgIdlePercent", NetworkIdle}),
	"kafka_network_RequestChannel_Value": mbean(false, nameSig{"RequestQueueSize", RequestQueueSize}),
	"kafka_log_LogManager_Value": mbean(false,
		nameSig{"OfflineLogDirectoryCount", OfflineLogDirs},
		nameSig{"LogDirectoryOffline", LogDirOffline}),
	"kafka_server_FetcherLagMetrics_Value": mbean(false, nameSig{"ConsumerLag", FetcherLag}),

	// Lower case (Strimzi rules; jmx_exporter 1.x adds `_total` to the `_count` counters).
	"kafka_server_brokertopicmetrics_bytesin_total":                 lower(BytesIn, true),
	"kafka_server_brokertopicmetrics_bytesout_total":                lower(BytesOut, true),
	"kafka_server_brokertopicmetrics_messagesin_total":              lower(MessagesIn, true),
	"kafka_log_log_size":                                            lower(LogSize, false),
	"kafka_log_log_logendoffset":                                    lower(LogEndOffset, false),
	"kafka_log_log_logstartoffset":                                  lower(LogStartOffset, false),
	"kafka_server_replicamanager_underreplicatedpartitions":         lower(UnderReplicated, false),
	"kafka_server_replicamanager_underminisrpartitioncount":         lower(UnderMinISR, false),
	"kafka_server_replicamanager_atminisrpartitioncount":            lower(AtMinISR, false),
	"kafka_server_replicamanager_offlinereplicacount":               lower(OfflineReplicas, false),
	"kafka_server_replicamanager_partitioncount":                    lower(PartitionCount, false),
	"kafka_server_replicamanager_leadercount":                       lower(LeaderCount, false),
	"kafka_cluster_partition_underreplicated":                       lower(UnderReplicated, false),
	"kafka_cluster_partition_underminisr":                           lower(UnderMinISR, false),
	"kafka_cluster_partition_atminisr":                              lower(AtMinISR, false),
	"kafka_server_replicamanager_isrshrinks_total":                  lower(IsrShrinks, true),
	"kafka_server_replicamanager_isrexpands_total":                  lower(IsrExpands, true),
	"kafka_controller_kafkacontroller_offlinepartitionscount":       lower(OfflinePartitions, false),
	"kafka_controller_kafkacontroller_activecontrollercount":        lower(ActiveControllers, false),
	"kafka_controller_controllerstats_uncleanleaderelections_total": lower(UncleanLeaderElections, true),
	"kafka_network_requestmetrics_totaltimems": {
		profile: ProfileLowercase, quantile: true},
	"kafka_network_requestmetrics_totaltimems_count":                          lower(RequestCount, true),
	"kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count": lower(HandlerIdleCount, true),
	"kafka_server_kafkarequesthandlerpool_requesthandleravgidle_percent":      lower(HandlerIdleRatio, false),
	"kafka_network_socketserver_networkprocessoravgidle_percent":              lower(NetworkIdle, false),
	"kafka_network_requestchannel_requestqueuesize":                           lower(RequestQueueSize, false),
	"kafka_log_logmanager_offlinelogdirectorycount":                           lower(OfflineLogDirs, false),
	"kafka_log_logmanager_logdirectoryoffline":                                lower(LogDirOffline, false),
	"kafka_server_fetcherlagmetrics_consumerlag":                              lower(FetcherLag, false),

	// node_exporter.
	"node_filesystem_avail_bytes": node(FilesystemAvail),
	"node_filesystem_size_bytes":  node(FilesystemSize),
	"node_filesystem_readonly":    node(FilesystemReadonly),
	"node_filesystem_avail":       node(FilesystemAvail), // node_exporter < 0.16
	"node_filesystem_size":        node(FilesystemSize),  // node_exporter < 0.16
}

// lookupFamily returns the mapping of a family name and whether the name
// carried an extra `_total` that only jmx_exporter ≥ 1.0 appends to counters
// (`..._count` exposed as `..._count_total`).
func lookupFamily(name string) (f *family, extraTotal bool) {
	if f = families[name]; f != nil {
		return f, false
	}
	base, ok := strings.CutSuffix(name, "_total")
	if !ok {
		return nil, false
	}
	if f = families[base]; f != nil && f.counter {
		return f, true
	}
	return nil, false
}
