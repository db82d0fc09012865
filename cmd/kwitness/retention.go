package main

import (
	"strconv"
	"strings"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// judgeRetention runs the retention and hot-partition detectors every
// slowEvery (both read whole windows), and between those runs the retention
// detector's DATA_SKIPPED check alone, which costs one comparison per
// partition, so that skipped data is reported within a sweep or two.
func (e *engine) judgeRetention(v detect.ConsumerView, at time.Time) {
	if e.retention == nil {
		return
	}
	if at.Sub(e.lastRetention) < e.slowEvery {
		e.apply(at, e.book.Observe("retention", at, e.retention.SweepSkipped(v, e.topicRetention)))
		return
	}
	e.lastRetention = at
	e.apply(at, e.book.Observe("retention", at, e.retention.Sweep(v, e.topicRetention())))
	if tv, ok := v.(detect.TopicView); ok {
		e.apply(at, e.book.Observe("hot", at, e.hot.Sweep(tv)))
	}
}

// topicRetention maps the broker poller's topic configs (DescribeConfigs) to
// the detector's input; without them every topic's limits are unknown and
// the forecast rests on how fast the log start offset advances.
func (e *engine) topicRetention() map[string]detect.TopicRetention {
	if e.topicConfigs == nil {
		return nil
	}
	out := map[string]detect.TopicRetention{}
	for topic, cfg := range e.topicConfigs() {
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
