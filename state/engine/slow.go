package engine

import (
	"strconv"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// judgeRetentionAndHot runs the retention and hot-partition detectors
// every slowEvery of sweep time (both read every partition's whole window),
// and between those runs the retention detector's DATA_SKIPPED check alone,
// which costs one comparison per partition, so that skipped data is
// reported within a sweep or two.
func (e *Engine) judgeRetentionAndHot(v *state.View, at time.Time) {
	if at.Sub(e.lastSlow) < e.slowEvery {
		e.apply(at, e.book.Observe(detect.DomainRetention, at, e.retention.SweepSkipped(v, e.topicRetention)))
		return
	}
	e.lastSlow = at
	e.apply(at, e.book.Observe(detect.DomainRetention, at, e.retention.Sweep(v, e.topicRetention())))
	e.apply(at, e.book.Observe(detect.DomainHot, at, e.hot.Sweep(v)))
}

// topicRetention maps the broker poller's topic configs (DescribeConfigs) to
// the detector's input; without them every topic's limits are unknown and
// the forecast rests on how fast the log start offset advances.
func (e *Engine) topicRetention() map[string]detect.TopicRetention {
	if e.d.TopicConfigs == nil {
		return nil
	}
	out := map[string]detect.TopicRetention{}
	for topic, cfg := range e.d.TopicConfigs() {
		t := detect.UnknownRetention()
		t.RetentionMs = parseLimit(cfg["retention.ms"])
		t.RetentionBytes = parseLimit(cfg["retention.bytes"])
		policy := cfg["cleanup.policy"]
		t.Compacted = strings.Contains(policy, "compact") && !strings.Contains(policy, "delete")
		out[topic] = t
	}
	return out
}

// parseLimit reads a retention limit: -1 unlimited, 0 when absent or bad.
func parseLimit(s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v == 0 {
		return 0
	}
	return max(v, -1)
}
