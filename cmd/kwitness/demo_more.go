package main

import (
	"context"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// More demo scenarios, for the root-cause detectors:
//
//   - clicks: partition 0 takes ten times the traffic of the others →
//     HOT_PARTITION (group clickstream keeps up).
//   - logs: retention deletes old segments every few seconds (the workload
//     calls DeleteRecords, as a broker's retention would). Group reports
//     stopped at offset 0 → DATA_SKIPPED (and CONSUMER_STOPPED); group
//     indexer reads slower than the log start advances → RETENTION_RISK.
//   - flaky: a member on orders that restarts every 8 s → REBALANCE_STORM.
//   - etl: two members on events, one of which stops processing at +10 s →
//     CONSUMER_STALLED on its partitions, with the lag skew naming the
//     member attached as related evidence (one cause, one finding).
const (
	demoHotRate     = 40 // records/s to each cold clicks partition; partition 0 gets 10×
	demoLogsRate    = 50 // records/s to logs
	demoIndexerRate = 35 // records/s the indexer commits
	demoFlakyEvery  = 8 * time.Second
)

// startMoreScenarios starts the root-cause scenarios' clients.
func (w *workload) startMoreScenarios(ctx context.Context, prod *kgo.Client) error {
	hot, err := w.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return err
	}
	w.goRun(ctx, func(ctx context.Context) { produceClicks(ctx, hot, w.sim.onProduced) })
	w.goRun(ctx, func(ctx context.Context) { produceAt(ctx, prod, "logs", demoLogsRate, w.sim.onProduced) })
	if err := w.consumer(ctx, "clickstream", "clicks", func(time.Duration) (int, bool) { return 0, true }); err != nil {
		return err
	}
	admin, err := w.client()
	if err != nil {
		return err
	}
	adm := kadm.NewClient(admin)
	w.goRun(ctx, func(ctx context.Context) { w.retentionAndIndexer(ctx, adm) })
	w.goRun(ctx, func(ctx context.Context) { w.flakyMember(ctx) })
	for _, stalls := range []bool{false, true} {
		script := func(time.Duration) (int, bool) { return 0, true }
		if stalls {
			script = func(t time.Duration) (int, bool) { return 0, t < demoStallAt }
		}
		if err := w.consumer(ctx, "etl", "events", script); err != nil {
			return err
		}
	}
	return nil
}

// produceClicks writes demoHotRate records/s to each clicks partition and
// ten times that to partition 0.
func produceClicks(ctx context.Context, cl *kgo.Client, done func(*kgo.Record, error)) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for p := range int32(6) {
			n := demoHotRate / 10
			if p == 0 {
				n *= 10
			}
			for range n {
				cl.Produce(ctx, &kgo.Record{Topic: "clicks", Partition: p, Value: []byte("click")}, done)
			}
		}
	}
}

// retentionAndIndexer plays the broker's retention on logs (the log start
// follows the end, 400 records behind, every 2 s) and two groups: reports
// committed at 0 and never again; indexer committing demoIndexerRate/s from
// just ahead of the log start.
func (w *workload) retentionAndIndexer(ctx context.Context, adm *kadm.Client) {
	commitAll := func(group string, at func(p int32, end int64) int64) {
		ends, err := adm.ListEndOffsets(ctx, "logs")
		if err != nil {
			return
		}
		os := kadm.Offsets{}
		ends.Each(func(o kadm.ListedOffset) { os.AddOffset("logs", o.Partition, at(o.Partition, o.Offset), -1) })
		adm.CommitOffsets(ctx, group, os)
	}
	commitAll("reports", func(int32, int64) int64 { return 0 })
	indexed := map[int32]int64{}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for sec := 1; ; sec++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		ends, err := adm.ListEndOffsets(ctx, "logs")
		if err != nil {
			continue
		}
		if sec%2 == 0 {
			del := kadm.Offsets{}
			ends.Each(func(o kadm.ListedOffset) {
				if o.Offset > 400 {
					del.AddOffset("logs", o.Partition, o.Offset-400, -1)
				}
			})
			adm.DeleteRecords(ctx, del)
		}
		commitAll("indexer", func(p int32, end int64) int64 {
			if _, ok := indexed[p]; !ok {
				indexed[p] = max(0, end-300)
			}
			indexed[p] = min(end, indexed[p]+demoIndexerRate/3)
			return indexed[p]
		})
	}
}

// flakyMember joins group flaky on orders, consumes a few seconds, leaves,
// and joins again: a rebalance every demoFlakyEvery.
func (w *workload) flakyMember(ctx context.Context) {
	for {
		cl, err := w.client(kgo.ConsumerGroup("flaky"), kgo.ConsumeTopics("orders"), kgo.AutoCommitInterval(time.Second))
		if err != nil {
			return
		}
		deadline := time.Now().Add(demoFlakyEvery)
		for time.Now().Before(deadline) {
			pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			cl.PollRecords(pctx, 1000)
			cancel()
			if ctx.Err() != nil {
				return
			}
		}
		cl.Close()
	}
}
