package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The demo's leadership episode (LEADER_SKEW): at demoFailoverAt, broker
// demoFailoverBroker loses leadership of one partition of each six-partition
// topic — a third of the partitions it prefers — to the next replica,
// broker 0, as after a failover in a cluster without preferred-leader
// election (auto.leader.rebalance.enable=false). Broker 0 then leads 12
// partitions, 3 of them (25 %) preferring broker 2, above Kafka's 10 %.
// Every topic keeps a partition led by broker 2, so the broker's per-topic
// log sizes (demo_brokers.go) stay continuous.
const (
	demoFailoverBroker = 2
	demoFailoverAt     = 20 * time.Second
)

// The layout problem: kfake builds every replica list of Metadata and
// DescribeTopicPartitions starting at the current leader (03_metadata.go),
// so its leader is always the preferred replica. leaderLayout keeps the
// replica order kfake served at start (each list the preferred order, as a
// real cluster keeps it across leader changes) and answers both requests
// from kfake's own answer at start with the leaders and epochs the demo
// has since moved to through kfake (Cluster.MoveTopicPartition). Leaders,
// epochs and replica sets are kfake's; only the order of each replica
// list is stable.
//
// The layout assumes what the demo does: no topic is created, deleted or
// repartitioned, and leaders move only through failover. A request naming
// a topic the layout does not hold is left to kfake.
type leaderLayout struct {
	cluster *kfake.Cluster
	base    *kmsg.MetadataResponse // kfake's answer at start, all topics, with authorized operations
	topics  map[string]int         // topic name → index in base.Topics
	ids     map[[16]byte]string    // topic ID → name

	mu struct {
		sync.Mutex
		leaders map[layoutKey]layoutLeader
	}
}

type layoutKey struct {
	topic     string
	partition int32
}

type layoutLeader struct {
	leader, epoch int32
}

// startLeaderLayout spreads partition leadership round-robin over the
// brokers (a balanced start, whatever kfake chose at random), records
// kfake's answer as the preferred layout and installs the Metadata and
// DescribeTopicPartitions controls. Call it before any workload client
// exists.
func startLeaderLayout(ctx context.Context, c *kfake.Cluster) (*leaderLayout, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.ClientID("demo-layout"))
	if err != nil {
		return nil, fmt.Errorf("demo: layout client: %w", err)
	}
	defer cl.Close()
	meta, err := layoutMetadata(ctx, cl)
	if err != nil {
		return nil, err
	}
	nodes := make([]int32, 0, len(meta.Brokers))
	for _, b := range meta.Brokers {
		nodes = append(nodes, b.NodeID)
	}
	slices.Sort(nodes)
	i := 0
	for _, t := range meta.Topics {
		for _, p := range t.Partitions {
			if err := c.MoveTopicPartition(*t.Topic, p.Partition, nodes[i%len(nodes)]); err != nil {
				return nil, fmt.Errorf("demo: place %s/%d: %w", *t.Topic, p.Partition, err)
			}
			i++
		}
	}
	if meta, err = layoutMetadata(ctx, cl); err != nil {
		return nil, err
	}
	l := &leaderLayout{cluster: c, base: meta, topics: map[string]int{}, ids: map[[16]byte]string{}}
	l.mu.leaders = map[layoutKey]layoutLeader{}
	for ti, t := range meta.Topics {
		l.topics[*t.Topic], l.ids[t.TopicID] = ti, *t.Topic
		for _, p := range t.Partitions {
			l.mu.leaders[layoutKey{*t.Topic, p.Partition}] = layoutLeader{p.Leader, p.LeaderEpoch}
		}
	}
	c.ControlKey(int16(kmsg.Metadata), l.metadata)
	c.ControlKey(int16(kmsg.DescribeTopicPartitions), l.describeTopicPartitions)
	return l, nil
}

// startLeaderEpisode installs the layout and fails broker
// demoFailoverBroker over at demoFailoverAt. Call it before any workload
// client exists.
func (w *workload) startLeaderEpisode(ctx context.Context) error {
	l, err := startLeaderLayout(ctx, w.cluster)
	if err != nil {
		return err
	}
	w.goRun(ctx, func(ctx context.Context) {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(w.start.Add(demoFailoverAt))):
		}
		l.failOver(demoFailoverBroker) // an error leaves the layout as kfake serves it
	})
	return nil
}

// layoutMetadata asks kfake for every topic, sorted by name and partition.
func layoutMetadata(ctx context.Context, cl *kgo.Client) (*kmsg.MetadataResponse, error) {
	req := kmsg.NewPtrMetadataRequest()
	req.IncludeClusterAuthorizedOperations, req.IncludeTopicAuthorizedOperations = true, true
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, fmt.Errorf("demo: layout metadata: %w", err)
	}
	slices.SortFunc(resp.Topics, func(a, b kmsg.MetadataResponseTopic) int { return cmp.Compare(*a.Topic, *b.Topic) })
	for _, t := range resp.Topics {
		slices.SortFunc(t.Partitions, func(a, b kmsg.MetadataResponseTopicPartition) int { return cmp.Compare(a.Partition, b.Partition) })
	}
	return resp, nil
}

// failOver moves the leadership of one partition of each topic from broker
// `from` to the next replica of that partition; it returns how many moved.
// Only topics where `from` leads more than one partition give one up.
func (l *leaderLayout) failOver(from int32) (int, error) {
	moved := 0
	for _, t := range l.base.Topics {
		var led []kmsg.MetadataResponseTopicPartition
		for _, p := range t.Partitions {
			if l.leader(*t.Topic, p.Partition).leader == from {
				led = append(led, p)
			}
		}
		if len(led) < 2 {
			continue
		}
		p := led[0]
		to := p.Replicas[(slices.Index(p.Replicas, from)+1)%len(p.Replicas)]
		if err := l.cluster.MoveTopicPartition(*t.Topic, p.Partition, to); err != nil {
			return moved, fmt.Errorf("demo: fail over %s/%d: %w", *t.Topic, p.Partition, err)
		}
		l.mu.Lock()
		k := layoutKey{*t.Topic, p.Partition}
		l.mu.leaders[k] = layoutLeader{to, l.mu.leaders[k].epoch + 1} // as MoveTopicPartition bumps it
		l.mu.Unlock()
		moved++
	}
	return moved, nil
}

func (l *leaderLayout) leader(topic string, partition int32) layoutLeader {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.mu.leaders[layoutKey{topic, partition}]
}

// metadata answers a Metadata request from the layout, as kfake would
// with the replica lists in preferred order. It runs inside kfake's loop:
// it must not call kfake.
func (l *leaderLayout) metadata(kreq kmsg.Request) (kmsg.Response, error, bool) {
	l.cluster.KeepControl()
	req := kreq.(*kmsg.MetadataRequest)
	names, ok := l.requested(req)
	if !ok {
		return nil, nil, false
	}
	resp := req.ResponseKind().(*kmsg.MetadataResponse)
	resp.Brokers, resp.ClusterID, resp.ControllerID = l.base.Brokers, l.base.ClusterID, l.base.ControllerID
	if req.IncludeClusterAuthorizedOperations {
		resp.AuthorizedOperations = l.base.AuthorizedOperations
	}
	for _, name := range names {
		t := l.base.Topics[l.topics[name]]
		if !req.IncludeTopicAuthorizedOperations {
			t.AuthorizedOperations = kmsg.NewMetadataResponseTopic().AuthorizedOperations
		}
		t.Partitions = slices.Clone(t.Partitions)
		for i := range t.Partitions {
			p := &t.Partitions[i]
			cur := l.leader(name, p.Partition)
			p.Leader, p.LeaderEpoch = cur.leader, cur.epoch
		}
		resp.Topics = append(resp.Topics, t)
	}
	return resp, nil, true
}

// requested resolves the topics of req (all when Topics is null, by ID or
// name otherwise, without duplicates); ok is false when one is unknown.
func (l *leaderLayout) requested(req *kmsg.MetadataRequest) (names []string, ok bool) {
	if req.Topics == nil {
		for _, t := range l.base.Topics {
			names = append(names, *t.Topic)
		}
		return names, true
	}
	for _, rt := range req.Topics {
		name, known := l.ids[rt.TopicID]
		if rt.TopicID == [16]byte{} {
			if rt.Topic == nil {
				continue
			}
			_, known = l.topics[*rt.Topic]
			name = *rt.Topic
		}
		if !known {
			return nil, false
		}
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names, true
}

// describeTopicPartitions answers DescribeTopicPartitions (KIP-966) from
// the layout, paginated as kfake paginates (75_describe_topic_partitions.go:
// topics by name, partitions by id, ResponsePartitionLimit in [1, 2000],
// the cursor's topic must be among those requested). Unknown topics and a
// bad cursor are left to kfake.
func (l *leaderLayout) describeTopicPartitions(kreq kmsg.Request) (kmsg.Response, error, bool) {
	l.cluster.KeepControl()
	req := kreq.(*kmsg.DescribeTopicPartitionsRequest)
	var cursor layoutKey
	if req.Cursor != nil {
		cursor = layoutKey{req.Cursor.Topic, req.Cursor.Partition}
	}
	var names []string
	for _, rt := range req.Topics {
		if _, ok := l.topics[rt.Topic]; !ok {
			return nil, nil, false
		}
		names = append(names, rt.Topic)
	}
	if len(req.Topics) == 0 {
		for _, t := range l.base.Topics {
			names = append(names, *t.Topic)
		}
	} else if cursor.topic != "" && !slices.Contains(names, cursor.topic) {
		return nil, nil, false
	}
	if cursor.partition < 0 {
		return nil, nil, false
	}
	slices.Sort(names)
	names = slices.Compact(names)
	resp := req.ResponseKind().(*kmsg.DescribeTopicPartitionsResponse)
	limit, emitted := min(max(req.ResponsePartitionLimit, 1), 2000), int32(0)
	for _, name := range names {
		if name < cursor.topic {
			continue
		}
		bt := l.base.Topics[l.topics[name]]
		st := kmsg.NewDescribeTopicPartitionsResponseTopic()
		st.Topic, st.TopicID, st.IsInternal, st.AuthorizedOperations = bt.Topic, bt.TopicID, bt.IsInternal, bt.AuthorizedOperations
		for _, bp := range bt.Partitions {
			if name == cursor.topic && bp.Partition < cursor.partition {
				continue
			}
			if emitted == limit {
				resp.NextCursor = &kmsg.DescribeTopicPartitionsResponseNextCursor{Topic: name, Partition: bp.Partition}
				break
			}
			cur := l.leader(name, bp.Partition)
			sp := kmsg.NewDescribeTopicPartitionsResponseTopicPartition()
			sp.Partition, sp.LeaderID, sp.LeaderEpoch, sp.Replicas, sp.ISR = bp.Partition, cur.leader, cur.epoch, bp.Replicas, bp.ISR
			st.Partitions = append(st.Partitions, sp)
			emitted++
		}
		if len(st.Partitions) > 0 || resp.NextCursor == nil {
			resp.Topics = append(resp.Topics, st)
		}
		if resp.NextCursor != nil {
			break
		}
	}
	return resp, nil, true
}
