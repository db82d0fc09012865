package detect

import (
	"errors"
	"fmt"
	"time"
)

// Idle-counter interpretations for BrokerConfig.HandlerIdleCounter.
const (
	// IdleCounterMean: the counter is Kafka's own RequestHandlerAvgIdlePercent
	// meter Count. KafkaRequestHandler.run marks idleTime / totalHandlerThreads
	// nanoseconds per wait, so the Count is Σ over threads of idle ns ÷ threads
	// and rate(Count) / 1e9 is already the mean idle fraction of the pool,
	// 0..1. This is what the JMX exporter exposes on Apache Kafka and MSK (the
	// captured MSK fixture shows Count ≈ uptime in ns × idle fraction).
	IdleCounterMean = "mean"
	// IdleCounterSum: the counter is an undivided Σ of idle ns over all
	// handler threads (e.g. per-thread meters summed by an exporter), so
	// rate / 1e9 is in 0..threads and is divided by BrokerInput.HandlerThreads.
	IdleCounterSum = "sum"
)

// BrokerConfig holds the thresholds of the broker detectors. YAML keys are
// under "broker.". Zero values are invalid; start from DefaultBrokerConfig.
//
// Unless a field says otherwise, "X for D" means: X held at every present
// sample of the series from some sample at least D before the newest present
// sample up to it. Gaps (NaN) are skipped: they neither satisfy nor break a
// condition. A series whose newest entry is a gap is not judged at all, so a
// gap can neither open a finding nor look like a recovery.
//
// Defaults and their sources. "Strimzi's X alert" is alert X in
// strimzi-kafka-operator packaging/examples/metrics/prometheus-install/
// prometheus-rules.yaml (mostly `for: 10s`, which fires on every rolling
// restart); "Kafka's monitoring docs" is the Monitoring section of the Apache
// Kafka documentation (kafka.apache.org/documentation/#monitoring).
//
//   - BROKER_UNREACHABLE: scrape_up = 0 or the broker not registered
//     (SigRegistered = 0) for UnreachableWarn = 3m → warning (Strimzi's
//     ScrapeProblem alert), for UnreachableCritical = 15m → critical
//     (Cruise Control's broker.failure.alert.threshold.ms, 900000 ms).
//   - TELEMETRY_GAP: a broker's scrape or the admin API has not answered
//     for GapAfter = 3m (as Strimzi's ScrapeProblem, `up == 0` for 3m).
//     Independently, any subject whose inputs are not current (newest
//     scrape_up/AdminUp not 1, older than StaleAfter = 1m, or a judged
//     series whose newest entry is a gap) is left Present but not Observed,
//     so the Book holds its findings: unknown, never resolved. StaleAfter
//     is a kwitness choice: twice the default 30 s admin metadata cadence.
//   - OFFLINE_PARTITIONS: offline_partitions > 0 on OfflineSamples = 2
//     consecutive present samples, critical (Strimzi's OfflinePartitions
//     alert, with two samples instead of 10 s so one stale sample cannot
//     fire it; Kafka's monitoring docs: OfflinePartitionsCount should be 0).
//   - UNDER_MIN_ISR: > 0 for UnderMinISRFor = 1m, critical: producers with
//     acks=all get NOT_ENOUGH_REPLICAS (Kafka docs, min.insync.replicas);
//     Strimzi's UnderMinIsrPartitionCount alert, held 1m (kwitness choice).
//   - UNDER_REPLICATED: > 0 for UnderReplicatedFor = 5m, warning; info while
//     the broker is Restarting; not opened while the cluster is Reassigning
//     (one already raised continues at info). Strimzi's
//     UnderReplicatedPartitions alert, held 5m instead of 10 s (kwitness
//     choice) so that a broker roll does not fire it.
//   - ISR_FLAPPING: isr_shrinks increased in ≥ ISRFlapMinShrinking = 3 of the
//     last ISRFlapBuckets = 6 buckets of ISRFlapBucket = 5m, warning
//     (kwitness choice; Kafka's monitoring docs: IsrShrinksPerSec should be 0
//     outside broker restarts).
//   - UNCLEAN_LEADER_ELECTION: any increase of the counter within the last
//     UncleanWindow = 10m, critical (Kafka's monitoring docs:
//     UncleanLeaderElectionsPerSec should be 0; an unclean election may lose
//     committed data);
//     the 10 m hold is a kwitness choice so that one election stays visible.
//   - CONTROLLER_ANOMALY: Σ active_controller_count over the brokers that
//     export it ≠ 1 for ControllerFor = 1m, critical (Kafka's monitoring
//     docs: exactly one broker has ActiveControllerCount 1; Strimzi's
//     AbnormalControllerState alert, held 1m).
//   - OFFLINE_LOG_DIR: offline_log_dirs > 0 at the newest sample, critical
//     (Strimzi's OfflineLogDirectoryCount alert).
//   - DISK_NEARLY_FULL: free = (total − used) / total of a log dir below
//     DiskFreeWarn = 0.15 → warning, below DiskFreeCritical = 0.05 →
//     critical (Strimzi's KafkaRunningOutOfSpace: < 15 % available; the 5 %
//     critical level is node-mixin's NodeFilesystemAlmostOutOfSpace).
//   - DISK_FILL_FORECAST: see FillWithin* and FillMinSpan; warn < 24h,
//     critical < 4h (node-mixin's NodeFilesystemSpaceFillingUp alerts).
//   - REQUEST_HANDLER_SATURATION: idle ratio < HandlerIdleBelow = 0.3 for
//     HandlerIdleFor = 10m, warning (Kafka's monitoring docs:
//     RequestHandlerAvgIdlePercent and NetworkProcessorAvgIdlePercent
//     "ideally > 0.3"; the 10m hold is a kwitness choice).
//   - LATENCY_REGRESSION: p99/p999 above LatencyFactor = 1.5 × the
//     LatencyPercentile = 95th percentile of the broker's own history for
//     that request, for LatencyFor = 5m, ignoring values ≤ LatencyFloorMs =
//     1 ms (Cruise Control's PercentileMetricAnomalyFinder:
//     metric.anomaly.percentile.upper.threshold 95,
//     metric.anomaly.upper.margin 0.5); history must span
//     LatencyMinHistory = 1h (kwitness choice).
type BrokerConfig struct {
	StaleAfter time.Duration `yaml:"stale_after"` // default 1m
	GapAfter   time.Duration `yaml:"gap_after"`   // default 3m

	UnreachableWarn     time.Duration `yaml:"unreachable_warn_after"`     // default 3m
	UnreachableCritical time.Duration `yaml:"unreachable_critical_after"` // default 15m

	OfflineSamples     int           `yaml:"offline_partitions_samples"` // default 2
	UnderMinISRFor     time.Duration `yaml:"under_min_isr_for"`          // default 1m
	UnderReplicatedFor time.Duration `yaml:"under_replicated_for"`       // default 5m

	ISRFlapBucket       time.Duration `yaml:"isr_flap_bucket"`        // default 5m
	ISRFlapBuckets      int           `yaml:"isr_flap_buckets"`       // default 6
	ISRFlapMinShrinking int           `yaml:"isr_flap_min_shrinking"` // default 3

	UncleanWindow time.Duration `yaml:"unclean_window"` // default 10m
	ControllerFor time.Duration `yaml:"controller_for"` // default 1m

	DiskFreeWarn     float64 `yaml:"disk_free_warn"`     // fraction free; default 0.15
	DiskFreeCritical float64 `yaml:"disk_free_critical"` // fraction free; default 0.05

	// DISK_FILL_FORECAST: time to full = free bytes / robust slope of used
	// bytes (RobustSlope over the present samples of the last FillWindow).
	// Judged only when those samples span FillMinSpan and both the slope and
	// the observed change (last − first) are positive: a flat or shrinking
	// log dir is never forecast to fill.
	FillWithinWarn     time.Duration `yaml:"fill_within_warn"`     // default 24h
	FillWithinCritical time.Duration `yaml:"fill_within_critical"` // default 4h
	// FillWindow default 6h, as node-mixin's NodeFilesystemSpaceFillingUp
	// (predict_linear over 6h) uses for its 24 h and 4 h horizons.
	FillWindow time.Duration `yaml:"fill_window"`
	// FillMinSpan default 10m (kwitness choice; the demo shortens it). A
	// shorter span forecasts from a shorter trend.
	FillMinSpan   time.Duration `yaml:"fill_min_span"`
	FillTopTopics int           `yaml:"fill_top_topics"` // topics named in evidence; default 3

	HandlerIdleBelow   float64       `yaml:"handler_idle_below"`   // ratio 0..1; default 0.3
	HandlerIdleFor     time.Duration `yaml:"handler_idle_for"`     // default 10m
	HandlerIdleCounter string        `yaml:"handler_idle_counter"` // IdleCounterMean (default) or IdleCounterSum

	LatencyFactor     float64       `yaml:"latency_factor"`      // default 1.5
	LatencyPercentile float64       `yaml:"latency_percentile"`  // 0 < p < 1; default 0.95
	LatencyFloorMs    float64       `yaml:"latency_floor_ms"`    // default 1
	LatencyFor        time.Duration `yaml:"latency_for"`         // default 5m
	LatencyMinHistory time.Duration `yaml:"latency_min_history"` // default 1h
}

// DefaultBrokerConfig returns the defaults documented on BrokerConfig.
func DefaultBrokerConfig() BrokerConfig {
	return BrokerConfig{
		StaleAfter:          time.Minute,
		GapAfter:            3 * time.Minute,
		UnreachableWarn:     3 * time.Minute,
		UnreachableCritical: 15 * time.Minute,
		OfflineSamples:      2,
		UnderMinISRFor:      time.Minute,
		UnderReplicatedFor:  5 * time.Minute,
		ISRFlapBucket:       5 * time.Minute,
		ISRFlapBuckets:      6,
		ISRFlapMinShrinking: 3,
		UncleanWindow:       10 * time.Minute,
		ControllerFor:       time.Minute,
		DiskFreeWarn:        0.15,
		DiskFreeCritical:    0.05,
		FillWithinWarn:      24 * time.Hour,
		FillWithinCritical:  4 * time.Hour,
		FillWindow:          6 * time.Hour,
		FillMinSpan:         10 * time.Minute,
		FillTopTopics:       3,
		HandlerIdleBelow:    0.3,
		HandlerIdleFor:      10 * time.Minute,
		HandlerIdleCounter:  IdleCounterMean,
		LatencyFactor:       1.5,
		LatencyPercentile:   0.95,
		LatencyFloorMs:      1,
		LatencyFor:          5 * time.Minute,
		LatencyMinHistory:   time.Hour,
	}
}

// Validate reports every invalid field by its YAML key.
func (c BrokerConfig) Validate() error {
	var errs []error
	bad := func(key, want string, got any) {
		errs = append(errs, fmt.Errorf("broker.%s: must be %s, got %v", key, want, got))
	}
	for _, d := range []struct {
		key string
		v   time.Duration
	}{
		{"stale_after", c.StaleAfter}, {"gap_after", c.GapAfter},
		{"unreachable_warn_after", c.UnreachableWarn}, {"unreachable_critical_after", c.UnreachableCritical},
		{"under_min_isr_for", c.UnderMinISRFor}, {"under_replicated_for", c.UnderReplicatedFor},
		{"isr_flap_bucket", c.ISRFlapBucket}, {"unclean_window", c.UncleanWindow}, {"controller_for", c.ControllerFor},
		{"fill_within_warn", c.FillWithinWarn}, {"fill_within_critical", c.FillWithinCritical},
		{"fill_window", c.FillWindow}, {"fill_min_span", c.FillMinSpan},
		{"handler_idle_for", c.HandlerIdleFor}, {"latency_for", c.LatencyFor}, {"latency_min_history", c.LatencyMinHistory},
	} {
		if d.v <= 0 {
			bad(d.key, "a positive duration", d.v)
		}
	}
	if c.StaleAfter > c.GapAfter {
		errs = append(errs, fmt.Errorf("broker.stale_after: %s exceeds broker.gap_after %s", c.StaleAfter, c.GapAfter))
	}
	if c.UnreachableCritical < c.UnreachableWarn {
		errs = append(errs, fmt.Errorf("broker.unreachable_critical_after: %s is shorter than broker.unreachable_warn_after %s", c.UnreachableCritical, c.UnreachableWarn))
	}
	if c.FillWithinCritical > c.FillWithinWarn {
		errs = append(errs, fmt.Errorf("broker.fill_within_critical: %s exceeds broker.fill_within_warn %s", c.FillWithinCritical, c.FillWithinWarn))
	}
	if c.FillMinSpan > c.FillWindow {
		errs = append(errs, fmt.Errorf("broker.fill_min_span: %s exceeds broker.fill_window %s", c.FillMinSpan, c.FillWindow))
	}
	if c.OfflineSamples < 1 {
		bad("offline_partitions_samples", "≥ 1", c.OfflineSamples)
	}
	if c.ISRFlapBuckets < 1 {
		bad("isr_flap_buckets", "≥ 1", c.ISRFlapBuckets)
	}
	if c.ISRFlapMinShrinking < 1 || c.ISRFlapMinShrinking > c.ISRFlapBuckets {
		bad("isr_flap_min_shrinking", fmt.Sprintf("in 1..broker.isr_flap_buckets (%d)", c.ISRFlapBuckets), c.ISRFlapMinShrinking)
	}
	if !(c.DiskFreeCritical > 0 && c.DiskFreeCritical <= c.DiskFreeWarn && c.DiskFreeWarn < 1) {
		errs = append(errs, fmt.Errorf("broker.disk_free_warn, broker.disk_free_critical: want 0 < critical ≤ warn < 1, got warn %v critical %v", c.DiskFreeWarn, c.DiskFreeCritical))
	}
	if c.FillTopTopics < 0 {
		bad("fill_top_topics", "≥ 0", c.FillTopTopics)
	}
	if !(c.HandlerIdleBelow > 0 && c.HandlerIdleBelow < 1) {
		bad("handler_idle_below", "a ratio in (0, 1)", c.HandlerIdleBelow)
	}
	if c.HandlerIdleCounter != IdleCounterMean && c.HandlerIdleCounter != IdleCounterSum {
		bad("handler_idle_counter", fmt.Sprintf("%q or %q", IdleCounterMean, IdleCounterSum), fmt.Sprintf("%q", c.HandlerIdleCounter))
	}
	if !(c.LatencyFactor >= 1) {
		bad("latency_factor", "≥ 1", c.LatencyFactor)
	}
	if !(c.LatencyPercentile > 0 && c.LatencyPercentile < 1) {
		bad("latency_percentile", "in (0, 1)", c.LatencyPercentile)
	}
	if !(c.LatencyFloorMs >= 0) {
		bad("latency_floor_ms", "≥ 0", c.LatencyFloorMs)
	}
	return errors.Join(errs...)
}
