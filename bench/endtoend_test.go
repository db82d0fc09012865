package bench

import (
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwitness/kwitness/ingest"
	"github.com/kwitness/kwitness/state"
)

// BenchmarkEndToEnd times full ingest.Poller sweeps through the real franz-go
// client against an in-process kfake cluster of 3 brokers: ListGroups,
// DescribeGroups (every 10th sweep), OffsetFetch batched per coordinator,
// ListOffsets (latest and earliest) per leader, and publishing the sweep into
// a state.Window. The cluster has topics × partitions topic-partitions with
// 3 records each; each of the groups has committed offsets on perGroup
// topics (group g reads topics g … g+perGroup-1, wrapping), so every topic
// is read by groups×perGroup/topics groups. Seeding and two warm-up sweeps
// (the first registers every series) are not timed. One iteration is one
// sweep; a sample is one group-partition.
//
// Metrics:
//   - ms/sweep, ns/sample: sweep wall time (target: 1 M group-partitions
//     in ≤ 1 s).
//   - cpu-ns/sample: process CPU time per group-partition. kfake runs in
//     the same process, so this includes the fake brokers' work of serving
//     the requests: an upper bound on kwitness's own cost.
//   - heapB/series: Go heap in use held by the window and the poller after
//     the warm-up sweeps, per window series (committed, end and start).
func BenchmarkEndToEnd(b *testing.B) {
	for _, c := range []struct{ topics, partitions, groups, perGroup int }{
		{100, 100, 100, 10},  // 10,000 partitions, 100,000 group-partitions
		{100, 100, 100, 100}, // every group reads every topic: 1 M group-partitions
	} {
		name := fmt.Sprintf("gp=%d/partitions=%d/groups=%d", c.groups*c.perGroup*c.partitions, c.topics*c.partitions, c.groups)
		b.Run(name, func(b *testing.B) { benchEndToEnd(b, c.topics, c.partitions, c.groups, c.perGroup) })
	}
}

func benchEndToEnd(b *testing.B, topics, partitions, groups, perGroup int) {
	ctx := b.Context()
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("t-%03d", i)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(int32(partitions), names...))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	seedStart := time.Now()
	seedCluster(b, c, names, partitions, groups, perGroup)
	b.Logf("seeded %d topic-partitions and %d groups in %s", topics*partitions, groups, time.Since(seedStart).Round(time.Millisecond))

	before := heapInUse()
	cfg := ingest.DefaultConfig()
	cfg.Cluster, cfg.Brokers = "bench", c.ListenAddrs()
	w, err := state.NewWindow(state.DefaultWindowConfig(), cfg.Cluster)
	if err != nil {
		b.Fatal(err)
	}
	p, err := ingest.New(cfg, w, slog.New(slog.DiscardHandler), metrics.NewSet(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	want := groups * perGroup * partitions
	at := time.UnixMilli(t0)
	sweep := func() {
		rep := p.Sweep(ctx, at)
		at = at.Add(time.Second)
		if !rep.Ready || len(rep.Errors) > 0 || rep.Partitions != want {
			b.Fatalf("sweep at %s: ready %v, %d of %d group-partitions, errors %v", at, rep.Ready, rep.Partitions, want, rep.Errors)
		}
	}
	for range 2 {
		sweep()
	}
	heap := heapInUse() - before
	series := w.Snapshot().Series

	var cpu time.Duration
	b.ReportAllocs()
	for b.Loop() {
		start := cpuTime()
		sweep()
		cpu += cpuTime() - start
	}
	samples := float64(b.N * want)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/float64(b.N), "ms/sweep")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/samples, "cpu-ns/sample")
	}
	b.ReportMetric(float64(heap)/float64(series), "heapB/series")
}

// seedCluster produces 3 records to every partition and commits offsets 1–3
// for every group on its topics, one commit of all partitions per group.
func seedCluster(b *testing.B, c *kfake.Cluster, names []string, partitions, groups, perGroup int) {
	b.Helper()
	ctx := b.Context()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, t := range names {
		for p := range partitions {
			for range 3 {
				recs = append(recs, &kgo.Record{Topic: t, Partition: int32(p), Value: []byte("v")})
			}
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		b.Fatal(err)
	}
	adm := kadm.NewClient(cl)
	for g := range groups {
		os := kadm.Offsets{}
		for k := range perGroup {
			t := names[(g+k)%len(names)]
			for p := range partitions {
				os.AddOffset(t, int32(p), int64(1+(g+p)%3), -1)
			}
		}
		if err := adm.CommitAllOffsets(ctx, fmt.Sprintf("g-%03d", g), os); err != nil {
			b.Fatalf("commit group %d: %v", g, err)
		}
	}
}
