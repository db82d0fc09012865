package ingest

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/state"
)

// groupOffsets is one group's OffsetFetch answer as decoded by kmsg, topics
// sorted by name (partitions in the broker's order). Err is the group's
// error (a failed shard, or the group's error code); Topics is nil then.
type groupOffsets struct {
	Err    error
	Topics []kmsg.OffsetFetchResponseGroupTopic
}

// topic returns the answer for topic name, or nil.
func (g groupOffsets) topic(name string) []kmsg.OffsetFetchResponseGroupTopicPartition {
	i, ok := slices.BinarySearchFunc(g.Topics, name, func(t kmsg.OffsetFetchResponseGroupTopic, n string) int {
		return cmp.Compare(t.Topic, n)
	})
	if !ok {
		return nil
	}
	return g.Topics[i].Partitions
}

// committedAt reports whether p carries a usable committed offset.
func committedAt(p *kmsg.OffsetFetchResponseGroupTopicPartition) bool {
	return p.ErrorCode == 0 && p.Offset >= 0
}

// fetchOffsets sends one OffsetFetch for all groups, which the client splits
// per group coordinator, and keeps the responses as kmsg decoded them. It
// reports errors as kadm.FetchManyOffsets does (a failed shard's error for
// each of its groups; authorization codes as *kadm.AuthError), without
// copying every partition into maps.
func (p *Poller) fetchOffsets(ctx context.Context, groups []string) map[string]groupOffsets {
	out := make(map[string]groupOffsets, len(groups))
	if len(groups) == 0 {
		return out
	}
	req := kmsg.NewPtrOffsetFetchRequest()
	req.Groups = make([]kmsg.OffsetFetchRequestGroup, len(groups))
	for i, g := range groups {
		req.Groups[i] = kmsg.NewOffsetFetchRequestGroup()
		req.Groups[i].Group = g
	}
	for _, shard := range p.client.RequestSharded(ctx, req) {
		sent := shard.Req.(*kmsg.OffsetFetchRequest)
		if shard.Err != nil {
			failGroups(out, sent, shard.Err)
			continue
		}
		resp := shard.Resp.(*kmsg.OffsetFetchResponse)
		if err := authErr(resp.ErrorCode); err != nil {
			failGroups(out, sent, err)
			continue
		}
		for _, g := range resp.Groups {
			if err := authErr(g.ErrorCode); err != nil {
				out[g.Group] = groupOffsets{Err: err}
				continue
			}
			slices.SortFunc(g.Topics, func(a, b kmsg.OffsetFetchResponseGroupTopic) int { return cmp.Compare(a.Topic, b.Topic) })
			out[g.Group] = groupOffsets{Err: kerr.ErrorForCode(g.ErrorCode), Topics: g.Topics}
		}
	}
	return out
}

func failGroups(out map[string]groupOffsets, req *kmsg.OffsetFetchRequest, err error) {
	for _, g := range req.Groups {
		out[g.Group] = groupOffsets{Err: err}
	}
}

// authErr wraps authorization error codes as kadm does (*kadm.AuthError).
func authErr(code int16) error {
	switch err := kerr.ErrorForCode(code); err {
	case kerr.ClusterAuthorizationFailed, kerr.TopicAuthorizationFailed, kerr.GroupAuthorizationFailed,
		kerr.TransactionalIDAuthorizationFailed, kerr.DelegationTokenAuthorizationFailed:
		return &kadm.AuthError{Err: err}
	}
	return nil
}

// maxIndexed bounds the partition numbers partIndex indexes densely; an
// answer with a partition outside [0, maxIndexed) is searched linearly.
const maxIndexed = 1 << 16

// partIndex finds partitions in one topic's OffsetFetch answer, which
// brokers send in no particular order, without sorting it: pos[p] is the
// position of partition p, or -1. It is loaded for one topic at a time and
// cleared after, so the slice is reused for every topic of a sweep.
type partIndex struct {
	pos   []int32
	parts []kmsg.OffsetFetchResponseGroupTopicPartition // loaded answer
	dense bool                                          // pos holds parts
}

// load indexes parts until the next clear.
func (x *partIndex) load(parts []kmsg.OffsetFetchResponseGroupTopicPartition) {
	x.parts, x.dense = parts, true
	for j := range parts {
		p := parts[j].Partition
		if p < 0 || p >= maxIndexed {
			x.clear()
			x.parts = parts
			return
		}
		if int(p) >= len(x.pos) {
			x.pos = slices.Grow(x.pos, int(p)+1-len(x.pos))
			for len(x.pos) <= int(p) {
				x.pos = append(x.pos, -1)
			}
		}
		x.pos[p] = int32(j)
	}
}

// find returns the loaded answer for partition p, or nil.
func (x *partIndex) find(p int32) *kmsg.OffsetFetchResponseGroupTopicPartition {
	if !x.dense {
		for j := range x.parts {
			if x.parts[j].Partition == p {
				return &x.parts[j]
			}
		}
		return nil
	}
	if p < 0 || int(p) >= len(x.pos) || x.pos[p] < 0 {
		return nil
	}
	return &x.parts[x.pos[p]]
}

// clear unloads the answer, leaving pos all -1.
func (x *partIndex) clear() {
	for _, p := range x.parts {
		if p.Partition >= 0 && int(p.Partition) < len(x.pos) {
			x.pos[p.Partition] = -1
		}
	}
	x.parts, x.dense = nil, false
}

// listRequest builds one ListOffsets request at timestamp (-1: latest, -2:
// earliest) for exactly the topic-partitions in ids, topics and partitions
// sorted. The client splits it per partition leader from its cached
// metadata, so listing needs no Metadata request of its own.
func listRequest(ids map[string]map[int32]state.PartRef, timestamp int64, timeout time.Duration) *kmsg.ListOffsetsRequest {
	req := kmsg.NewPtrListOffsetsRequest()
	req.TimeoutMillis = int32(min(timeout.Milliseconds(), math.MaxInt32))
	for _, topic := range slices.Sorted(maps.Keys(ids)) {
		rt := kmsg.NewListOffsetsRequestTopic()
		rt.Topic = topic
		for _, part := range slices.Sorted(maps.Keys(ids[topic])) {
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.Timestamp = part, timestamp
			rt.Partitions = append(rt.Partitions, rp)
		}
		req.Topics = append(req.Topics, rt)
	}
	return req
}

// listOffsets sends req and calls each for every partition answered. It
// returns one RequestError per failed shard, naming its broker.
func (p *Poller) listOffsets(ctx context.Context, request string, req *kmsg.ListOffsetsRequest, each func(topic string, part *kmsg.ListOffsetsResponseTopicPartition)) []error {
	var errs []error
	for _, shard := range p.client.RequestSharded(ctx, req) {
		if shard.Err != nil {
			errs = append(errs, &RequestError{Request: request, Broker: shardBroker(shard.Meta), Err: shard.Err})
			continue
		}
		resp := shard.Resp.(*kmsg.ListOffsetsResponse)
		for i := range resp.Topics {
			t := &resp.Topics[i]
			for j := range t.Partitions {
				each(t.Topic, &t.Partitions[j])
			}
		}
	}
	return errs
}

// shardBroker names the broker a shard went to, or "" when unknown.
func shardBroker(m kgo.BrokerMetadata) string {
	if m.NodeID < 0 && m.Host == "" {
		return ""
	}
	return fmt.Sprintf("broker %d (%s:%d)", m.NodeID, m.Host, m.Port)
}
