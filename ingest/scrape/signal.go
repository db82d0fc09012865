package scrape

// Signal names one broker signal that kwitness reads from an exposition,
// independent of the exporter's naming. The zero value is SignalUnknown and
// never appears in a Result.
type Signal uint8

// Broker signals. Units are those of the broker: bytes, messages, Kafka
// offsets, counts of partitions, milliseconds. Counter signals (Sample.Counter)
// are cumulative since the broker started; take rates of them, never levels.
const (
	SignalUnknown Signal = iota

	// Traffic, counters. Broker-wide when Sample.Topic is empty, else per topic.
	BytesIn    // bytes produced to the broker (BytesInPerSec Count)
	BytesOut   // bytes fetched from the broker (BytesOutPerSec Count)
	MessagesIn // messages produced to the broker (MessagesInPerSec Count)

	// Per-partition log state, gauges with Topic and Partition.
	LogSize        // bytes on disk of the partition's log on this broker
	LogEndOffset   // next offset to be written
	LogStartOffset // first offset still retained

	// Replication health, gauges. Broker-wide counts of partitions when Topic
	// is empty; 0/1 flags per partition when Topic and Partition are set.
	UnderReplicated // partitions led here whose ISR is smaller than the replica set
	UnderMinISR     // partitions led here with fewer in-sync replicas than min.insync.replicas
	AtMinISR        // partitions led here with exactly min.insync.replicas in sync
	OfflineReplicas // replicas on this broker that are offline (count)
	PartitionCount  // replicas hosted on this broker (count)
	LeaderCount     // partitions led by this broker (count)

	// ISR churn, counters of events.
	IsrShrinks // ISR shrink events
	IsrExpands // ISR expand events

	// Controller, gauges (counts) except UncleanLeaderElections.
	OfflinePartitions      // partitions without a leader, reported by the active controller
	ActiveControllers      // 1 on the active controller, else 0; the cluster sum must be 1
	UncleanLeaderElections // counter of unclean leader elections (possible data loss)

	// Request path, per Kafka request type in Sample.Request.
	RequestLatencyP99  // 99th percentile of TotalTimeMs, milliseconds (gauge)
	RequestLatencyP999 // 99.9th percentile of TotalTimeMs, milliseconds (gauge)
	RequestCount       // requests completed (TotalTimeMs histogram count, counter)

	// Thread pools.
	HandlerIdleCount // counter of request-handler idle time, nanoseconds per thread: rate/1e9 is the idle ratio
	HandlerIdleRatio // request-handler idle ratio 0..1 as exported (MBean OneMinuteRate; Strimzi often a lifetime mean)
	NetworkIdle      // network-processor idle ratio 0..1 (gauge)
	RequestQueueSize // requests waiting for a handler thread (gauge)

	// Log directories.
	OfflineLogDirs // offline log directories on this broker (count, gauge)
	LogDirOffline  // 1 when the log directory in Sample.Mount is offline, else 0 (gauge)

	// Follower replication.
	FetcherLag // messages the follower replica of Topic/Partition is behind its leader (gauge)

	// node_exporter filesystem, per mount point in Sample.Mount.
	FilesystemAvail    // bytes available to non-root users
	FilesystemSize     // bytes of filesystem capacity
	FilesystemReadonly // 1 when mounted read-only, else 0

	numSignals // number of signals; keep last
)

var signalNames = [numSignals]string{
	SignalUnknown:          "unknown",
	BytesIn:                "bytes_in",
	BytesOut:               "bytes_out",
	MessagesIn:             "messages_in",
	LogSize:                "log_size",
	LogEndOffset:           "log_end_offset",
	LogStartOffset:         "log_start_offset",
	UnderReplicated:        "under_replicated",
	UnderMinISR:            "under_min_isr",
	AtMinISR:               "at_min_isr",
	OfflineReplicas:        "offline_replicas",
	PartitionCount:         "partition_count",
	LeaderCount:            "leader_count",
	IsrShrinks:             "isr_shrinks",
	IsrExpands:             "isr_expands",
	OfflinePartitions:      "offline_partitions",
	ActiveControllers:      "active_controllers",
	UncleanLeaderElections: "unclean_leader_elections",
	RequestLatencyP99:      "request_latency_p99",
	RequestLatencyP999:     "request_latency_p999",
	RequestCount:           "request_count",
	HandlerIdleCount:       "handler_idle_count",
	HandlerIdleRatio:       "handler_idle_ratio",
	NetworkIdle:            "network_idle",
	RequestQueueSize:       "request_queue_size",
	OfflineLogDirs:         "offline_log_dirs",
	LogDirOffline:          "log_dir_offline",
	FetcherLag:             "fetcher_lag",
	FilesystemAvail:        "filesystem_avail",
	FilesystemSize:         "filesystem_size",
	FilesystemReadonly:     "filesystem_readonly",
}

// String returns the snake_case name of s, stable for logs and metric labels.
func (s Signal) String() string {
	if s < numSignals {
		return signalNames[s]
	}
	return "invalid"
}

// Valid reports whether s is a known signal other than SignalUnknown.
func (s Signal) Valid() bool { return s > SignalUnknown && s < numSignals }

// Sample is one broker signal read from one exposition line. Samples are
// plain values. Topic, Request and Mount are interned per scrape; Series
// points into 4–64 KiB chunks shared by the samples of one scrape (with a
// Scraper, of all its scrapes), so keeping a Sample keeps its chunk alive,
// never the response body.
type Sample struct {
	Value float64 // in the signal's unit; may be ±Inf or NaN as exposed

	Topic   string // Kafka topic; "" for broker-wide values
	Request string // Kafka request type for request signals (Produce, Fetch, ...), else ""
	Mount   string // filesystem mount point or Kafka log directory, else ""

	// Series is the exposed series text, metric name and label set exactly as
	// they appeared on the line (e.g. `kafka_log_Log_Value{name="Size",topic="t",partition="0",}`),
	// for evidence citations.
	Series string

	Partition int32 // Kafka partition, -1 when the series has none
	Signal    Signal
	Counter   bool // cumulative since broker start: consumers take rates
}
