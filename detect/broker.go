package detect

import "math"

// Broker-side inputs. The broker detectors (broker health, disk, request
// handling, telemetry gaps) are functions of a ClusterInput: per broker, a set
// of named signal windows, each citing the series it came from. Values are
// float64; a missing sample is NaN (the scrape or admin request failed).
//
// Counters are kept as raw cumulative values; detectors take rates
// themselves (Rate) so that a counter reset reads as a reset, not a drop.

// Signal names a broker signal. The state package maps scraped metric names
// (any naming profile) and admin-API answers onto these.
type Signal string

// Broker-wide signals.
const (
	SigUnderReplicated    Signal = "under_replicated_partitions"  // gauge, partitions
	SigUnderMinISR        Signal = "under_min_isr_partitions"     // gauge, partitions
	SigOfflinePartitions  Signal = "offline_partitions"           // gauge, partitions (controller only)
	SigActiveController   Signal = "active_controller_count"      // gauge, 0 or 1
	SigUncleanElections   Signal = "unclean_leader_elections"     // counter
	SigIsrShrinks         Signal = "isr_shrinks"                  // counter
	SigIsrExpands         Signal = "isr_expands"                  // counter
	SigOfflineLogDirs     Signal = "offline_log_dirs"             // gauge
	SigHandlerIdleCounter Signal = "request_handler_idle_ns"      // counter: idle ns (pool mean per Kafka); rate/1e9 = idle ratio, see IdleRatios
	SigNetworkIdle        Signal = "network_processor_idle_ratio" // gauge 0..1
	SigRequestQueue       Signal = "request_queue_size"           // gauge
	SigBytesIn            Signal = "bytes_in"                     // counter, bytes (broker total)
	SigBytesOut           Signal = "bytes_out"                    // counter, bytes (broker total)
	SigPartitionCount     Signal = "partition_count"              // gauge
	SigLeaderCount        Signal = "leader_count"                 // gauge
	SigScrapeUp           Signal = "scrape_up"                    // 1 when the scrape answered, 0 when it failed
	SigAdminUp            Signal = "admin_up"                     // 1 when the admin API answered (cluster-wide; Broker -1)
	SigLogDirUsed         Signal = "log_dir_used_bytes"           // gauge, per log dir (LogDir.Used)
	SigLogDirTotal        Signal = "log_dir_total_bytes"          // gauge, per log dir (LogDir.Total)
	SigTopicSize          Signal = "topic_size_bytes"             // gauge, Σ partition log size per topic (TopicSize)
	SigRequestLatency     Signal = "request_latency_ms"           // gauge per request and quantile (RequestLatency)
	SigRegistered         Signal = "registered"                   // 1 when DescribeCluster lists the broker, 0 when not (admin cadence)
)

// SignalWindow is one series over the window, aligned with its Times.
type SignalWindow struct {
	Ref    SeriesRef
	Source string    // e.g. "scrape http://b1:7071/metrics", "DescribeLogDirs"
	Times  []int64   // Unix ms, ascending
	Values []float64 // NaN where missing
}

// Last returns the newest present value and its time, or NaN.
func (w SignalWindow) Last() (float64, int64) {
	for i := len(w.Values) - 1; i >= 0; i-- {
		if !math.IsNaN(w.Values[i]) {
			return w.Values[i], w.Times[i]
		}
	}
	return math.NaN(), 0
}

// LogDir is one log directory of a broker with its used and total bytes
// (DescribeLogDirs KIP-827, or node_exporter filesystem size − avail).
type LogDir struct {
	Path  string
	Used  SignalWindow // bytes
	Total SignalWindow // bytes
}

// RequestLatency is one request type's latency quantiles on a broker.
type RequestLatency struct {
	Request string       // e.g. "Produce", "FetchConsumer"
	P99     SignalWindow // ms
	P999    SignalWindow // ms
}

// BrokerInput is everything known about one broker over the window.
type BrokerInput struct {
	Broker    int32
	Signals   map[Signal]SignalWindow
	LogDirs   []LogDir
	Latency   []RequestLatency
	TopicSize map[string]SignalWindow // Σ log size per topic on this broker, bytes
	// HandlerThreads is num.io.threads when known (0 = unknown). It is used
	// only with BrokerConfig's "sum" idle-counter mode; Kafka's own counter is
	// already a per-pool mean (see IdleRatios).
	HandlerThreads int
	// Restarting is true when the broker left and rejoined the cluster
	// within the window (a rolling restart): replication findings are
	// suppressed or downgraded.
	Restarting bool
	// Registered is false when DescribeCluster no longer lists the broker.
	Registered bool
}

// ClusterInput is the broker detectors' view of one cluster.
type ClusterInput struct {
	Cluster string
	At      int64 // Unix ms of the newest sample
	Brokers []BrokerInput
	// Reassigning is true while ListPartitionReassignments reports moves.
	Reassigning bool
	// AdminUp is the admin API's availability (1 answered, 0 failed).
	AdminUp SignalWindow
}
