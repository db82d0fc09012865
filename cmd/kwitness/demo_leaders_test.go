package main

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestDemoLeaderLayout: after the demo's failover, Metadata and
// DescribeTopicPartitions (paginated) answer kfake's own leaders and epochs
// with stable, preferred-first replica lists over the same replica set;
// broker 0 leads three partitions whose preferred replica is broker 2; and
// clients still produce to and consume from a partition that moved.
func TestDemoLeaderLayout(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(6, "orders", "payments", "clicks"), kfake.SeedTopics(3, "events", "archive", "logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	l, err := startLeaderLayout(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	before, err := adm.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	preferred := map[layoutKey][]int32{}
	leads := map[int32]int{}
	before.Topics.EachPartition(func(p kadm.PartitionDetail) {
		preferred[layoutKey{p.Topic, p.Partition}] = p.Replicas
		leads[p.Leader]++
		if p.Replicas[0] != p.Leader {
			t.Errorf("%s/%d: led by %d before the failover, preferred %v", p.Topic, p.Partition, p.Leader, p.Replicas)
		}
	})
	if leads[0] != 9 || leads[1] != 9 || leads[2] != 9 {
		t.Fatalf("leaders per broker at start %v, want 9 each", leads)
	}

	moved, err := l.failOver(demoFailoverBroker)
	if err != nil || moved != 3 {
		t.Fatalf("failover moved %d partitions (%v), want 3", moved, err)
	}
	fresh, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...)) // kgo caches Metadata answers for a few seconds
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	after, err := kadm.NewClient(fresh).Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	nonPreferred := map[int32]int{}
	after.Topics.EachPartition(func(p kadm.PartitionDetail) {
		k := layoutKey{p.Topic, p.Partition}
		if want := c.LeaderFor(p.Topic, p.Partition); p.Leader != want {
			t.Errorf("%s/%d: Metadata leader %d, kfake's %d", p.Topic, p.Partition, p.Leader, want)
		}
		if !slices.Equal(p.Replicas, preferred[k]) || !slices.Equal(p.ISR, p.Replicas) || !slices.Contains(p.Replicas, p.Leader) {
			t.Errorf("%s/%d: replicas %v ISR %v leader %d, want replicas %v in that order", p.Topic, p.Partition, p.Replicas, p.ISR, p.Leader, preferred[k])
		}
		if p.Replicas[0] != p.Leader {
			nonPreferred[p.Leader]++
			if p.Replicas[0] != demoFailoverBroker || p.Leader != 0 || p.LeaderEpoch != l.leader(p.Topic, p.Partition).epoch {
				t.Errorf("%s/%d: led by %d (epoch %d), preferred %d", p.Topic, p.Partition, p.Leader, p.LeaderEpoch, p.Replicas[0])
			}
		}
	})
	if len(nonPreferred) != 1 || nonPreferred[0] != 3 {
		t.Fatalf("non-preferred leaders per broker %v, want 3 on broker 0", nonPreferred)
	}
	checkDescribeTopicPartitions(ctx, t, fresh, c, preferred)

	// A client follows the moved leader: produce to clicks/2 (moved off
	// broker 2) and read it back.
	if got := c.LeaderFor("clicks", 2); got != 0 {
		t.Fatalf("clicks/2 led by %d, want 0", got)
	}
	pc, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{"clicks": {2: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if err := pc.ProduceSync(ctx, &kgo.Record{Topic: "clicks", Partition: 2, Value: []byte("moved")}).FirstErr(); err != nil {
		t.Fatalf("produce to the moved partition: %v", err)
	}
	fs := pc.PollFetches(ctx)
	if errs := fs.Errors(); len(errs) > 0 || fs.NumRecords() != 1 {
		t.Fatalf("consume the moved partition: %d records, errors %v", fs.NumRecords(), errs)
	}
}

// checkDescribeTopicPartitions pages through every topic two partitions at
// a time and compares each partition with kfake's leader and the preferred
// replica list.
func checkDescribeTopicPartitions(ctx context.Context, t *testing.T, cl *kgo.Client, c *kfake.Cluster, preferred map[layoutKey][]int32) {
	t.Helper()
	seen := 0
	req := kmsg.NewPtrDescribeTopicPartitionsRequest()
	req.ResponsePartitionLimit = 2
	for {
		resp, err := req.RequestWith(ctx, cl)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range resp.Topics {
			for _, p := range tp.Partitions {
				seen++
				want := preferred[layoutKey{*tp.Topic, p.Partition}]
				if p.LeaderID != c.LeaderFor(*tp.Topic, p.Partition) || !slices.Equal(p.Replicas, want) {
					t.Errorf("DescribeTopicPartitions %s/%d: leader %d replicas %v, want kfake's leader and %v", *tp.Topic, p.Partition, p.LeaderID, p.Replicas, want)
				}
			}
		}
		if resp.NextCursor == nil {
			break
		}
		req.Cursor = &kmsg.DescribeTopicPartitionsRequestCursor{Topic: resp.NextCursor.Topic, Partition: resp.NextCursor.Partition}
	}
	if seen != len(preferred) {
		t.Fatalf("DescribeTopicPartitions paged %d partitions, want %d", seen, len(preferred))
	}
}
