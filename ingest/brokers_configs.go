package ingest

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// TopicConfigKeys are the topic configs TopicConfigs holds: what retention
// and replication detectors need.
var TopicConfigKeys = []string{"retention.ms", "retention.bytes", "cleanup.policy", "min.insync.replicas", "segment.bytes"}

// configBatch is the most topics described per DescribeConfigs request.
const configBatch = 500

// TopicConfigs returns the newest snapshot of topic configs: topic →
// config name (TopicConfigKeys) → value as the broker reports it, for the
// topics seen in telemetry (scraped log sizes, DescribeLogDirs) or named by
// WithConsumedTopics, refreshed every MetadataInterval. A config the broker
// does not report (or reports as sensitive) is absent. A topic whose
// describe failed keeps its previous values; a topic no longer seen, or
// deleted, leaves the snapshot. Safe for concurrent use; the maps must not
// be modified.
func (p *BrokerPoller) TopicConfigs() map[string]map[string]string { return *p.configs.Load() }

// collectTopicConfigs describes the topics in view and publishes the
// snapshot.
func (p *BrokerPoller) collectTopicConfigs(ctx context.Context, at time.Time) {
	topics := p.topicsInView()
	prev := p.TopicConfigs()
	next := make(map[string]map[string]string, len(topics))
	for _, t := range topics {
		if c, ok := prev[t]; ok {
			next[t] = c
		}
	}
	var errs []error
	answered := false
	for batch := range slices.Chunk(topics, configBatch) {
		rcs, err := p.adm.DescribeTopicConfigs(ctx, batch...)
		if err != nil {
			errs = append(errs, err)
		}
		for _, rc := range rcs {
			answered = true
			switch {
			case errors.Is(rc.Err, kerr.UnknownTopicOrPartition):
				delete(next, rc.Name)
			case rc.Err == nil:
				next[rc.Name] = pickConfigs(rc)
			}
		}
	}
	if len(topics) > 0 {
		p.adminMu.Lock()
		p.adminResult(ReqDescribeConfigs, at, errors.Join(errs...), answered)
		p.adminMu.Unlock()
	}
	p.configs.Store(&next)
	if answered && p.layout != nil {
		p.layout.ObserveConfigs(at, next)
	}
}

// pickConfigs keeps the TopicConfigKeys of rc that have a value.
func pickConfigs(rc kadm.ResourceConfig) map[string]string {
	out := map[string]string{}
	for _, c := range rc.Configs {
		if c.Value != nil && !c.Sensitive && slices.Contains(TopicConfigKeys, c.Key) {
			out[c.Key] = *c.Value
		}
	}
	return out
}

// topicsInView are the topics whose configs are described, sorted: those
// of the newest good scrape of each target, of the newest DescribeLogDirs,
// and the consumed ones.
func (p *BrokerPoller) topicsInView() []string {
	set := map[string]bool{}
	if s := p.scraped.Load(); s != nil {
		for _, t := range *s {
			set[t] = true
		}
	}
	p.adminMu.Lock()
	p.admin.logDirs.Each(func(d kadm.DescribedLogDir) {
		for t := range d.Topics {
			set[t] = true
		}
	})
	for _, t := range p.admin.metaTopics { // under-min-ISR needs every listed topic's minimum
		set[t] = true
	}
	p.adminMu.Unlock()
	if p.consumed != nil {
		for _, t := range p.consumed() {
			set[t] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}
