package state

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// Layout keeps the newest partition layout (Metadata) and topic configs
// (DescribeConfigs) kwitness polled, and the changes seen between
// consecutive answers: leader movements, partition-count changes and
// config changes. It asks Kafka nothing; the broker poller hands it each
// good answer. Safe for concurrent use.
type Layout struct {
	max int
	mu  sync.Mutex
	// Guarded by mu.
	parts     map[string][]detect.PartitionAssignment
	partsAt   time.Time
	configs   map[string]map[string]string
	configsAt time.Time
	changes   []Change // oldest first, at most max
}

// Change kinds.
const (
	ChangeLeaderMoved       = "LEADER_MOVED"
	ChangePartitionsChanged = "PARTITIONS_CHANGED"
	ChangeConfigChanged     = "CONFIG_CHANGED"
)

// Change is one difference between two consecutive answers.
type Change struct {
	Kind      string
	At        time.Time // the answer that showed the change
	PrevAt    time.Time // the previous answer, which did not
	Source    string    // "Metadata" or "DescribeConfigs"
	Topic     string
	Partition int32 // -1 when not about one partition
	// LEADER_MOVED: broker ids (-1 = no leader); PARTITIONS_CHANGED:
	// partition counts.
	From, To int32
	// CONFIG_CHANGED: the config and its values ("" = not set).
	Name, Before, After string
}

// NewLayout keeps at most maxChanges changes.
func NewLayout(maxChanges int) *Layout { return &Layout{max: maxChanges} }

// ObserveMetadata records a good Metadata answer: topic → partitions. m
// must not be modified afterwards. The first answer records no change.
// A topic absent from one answer is not a change (Metadata may omit a
// topic being created or deleted).
func (l *Layout) ObserveMetadata(at time.Time, m map[string][]detect.PartitionAssignment) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.parts != nil {
		for _, t := range slices.Sorted(maps.Keys(m)) {
			old, ok := l.parts[t]
			if !ok {
				continue
			}
			l.diffPartitions(at, t, old, m[t])
		}
	}
	l.parts, l.partsAt = m, at
}

func (l *Layout) diffPartitions(at time.Time, topic string, old, cur []detect.PartitionAssignment) {
	base := Change{At: at, PrevAt: l.partsAt, Source: "Metadata", Topic: topic, Partition: -1}
	if len(old) != len(cur) {
		c := base
		c.Kind, c.From, c.To = ChangePartitionsChanged, int32(len(old)), int32(len(cur))
		l.add(c)
	}
	byID := make(map[int32]int32, len(old))
	for _, p := range old {
		byID[p.Partition] = p.Leader
	}
	for _, p := range cur {
		if was, ok := byID[p.Partition]; ok && was != p.Leader {
			c := base
			c.Kind, c.Partition, c.From, c.To = ChangeLeaderMoved, p.Partition, was, p.Leader
			l.add(c)
		}
	}
}

// ObserveConfigs records a DescribeConfigs snapshot: topic → name → value.
// m must not be modified afterwards. Only topics present in both the
// previous and this snapshot are compared.
func (l *Layout) ObserveConfigs(at time.Time, m map[string]map[string]string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.configs != nil {
		for _, t := range slices.Sorted(maps.Keys(m)) {
			old, ok := l.configs[t]
			if !ok {
				continue
			}
			cur := m[t]
			names := slices.Sorted(maps.Keys(old))
			for n := range cur {
				if _, ok := old[n]; !ok {
					names = append(names, n)
				}
			}
			slices.Sort(names)
			for _, n := range slices.Compact(names) {
				if old[n] != cur[n] {
					l.add(Change{Kind: ChangeConfigChanged, At: at, PrevAt: l.configsAt, Source: "DescribeConfigs", Topic: t, Partition: -1,
						Name: n, Before: old[n], After: cur[n]})
				}
			}
		}
	}
	l.configs, l.configsAt = m, at
}

func (l *Layout) add(c Change) {
	l.changes = append(l.changes, c)
	if len(l.changes) > l.max {
		l.changes = slices.Delete(l.changes, 0, len(l.changes)-l.max)
	}
}

// Partitions returns the newest layout and when it was polled; nil before
// the first answer. The map must not be modified.
func (l *Layout) Partitions() (map[string][]detect.PartitionAssignment, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.parts, l.partsAt
}

// Configs returns the newest topic configs and when they were polled.
func (l *Layout) Configs() (map[string]map[string]string, time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.configs, l.configsAt
}

// Changes returns the changes at or after since that keep, oldest first.
func (l *Layout) Changes(since time.Time, keep func(*Change) bool) []Change {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Change
	for i := range l.changes {
		if c := &l.changes[i]; !c.At.Before(since) && keep(c) {
			out = append(out, *c)
		}
	}
	return out
}
