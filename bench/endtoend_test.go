package bench

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/ingest"
	"github.com/kwitness/kwitness/state"
)

// BenchmarkEndToEnd times full ingest.Poller sweeps through the real franz-go
// client against a kfake cluster of 3 brokers served by a child process
// (serveKfake), so that this process's CPU time is kwitness's alone:
// ListGroups, DescribeGroups (every 10th sweep), OffsetFetch batched per
// coordinator, ListOffsets (latest and earliest) per leader, decoding every
// response, and publishing the sweep into a state.Window. The cluster has
// topics × partitions topic-partitions with 3 records each; each of the
// groups has committed offsets on perGroup topics (group g reads topics g …
// g+perGroup-1, wrapping), so every topic is read by groups×perGroup/topics
// groups. Seeding and two warm-up sweeps (the first registers every series)
// are not timed. One iteration is one sweep; a sample is one group-partition.
//
// Metrics:
//   - ms/sweep, ns/sample: sweep wall time, the round trips to the child
//     included (target: 1 M group-partitions in ≤ 1 s).
//   - cpu-ns/sample: this process's CPU time per group-partition: the
//     client's encoding, decoding and collection, without the brokers' work.
//   - MB/sweep, sentMB/sweep, recvMB/sweep, wireB/gp: bytes kwitness's
//     client wrote and read on its broker connections during the timed
//     sweeps, frames included, counted by a kgo hook (target ≤ 25 MB at
//     1 M group-partitions); ofMB/sweep and loMB/sweep are the OffsetFetch
//     and ListOffsets shares (requests and responses).
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
	addrs := startKfakeChild(b, topics, partitions)
	seedStart := time.Now()
	seedCluster(b, addrs, names, partitions, groups, perGroup)
	b.Logf("seeded %d topic-partitions and %d groups in %s", topics*partitions, groups, time.Since(seedStart).Round(time.Millisecond))

	before := heapInUse()
	cfg := ingest.DefaultConfig()
	cfg.Cluster, cfg.Brokers = "bench", addrs
	cfg.RequestTimeout = time.Minute // a loaded machine must slow the benchmark, not fail it
	w, err := state.NewWindow(state.DefaultWindowConfig(), cfg.Cluster)
	if err != nil {
		b.Fatal(err)
	}
	wire := &wireCounter{}
	p, err := ingest.New(cfg, w, slog.New(slog.DiscardHandler), metrics.NewSet(), nil, kgo.WithHooks(wire))
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
	wire.reset()
	b.ReportAllocs()
	for b.Loop() {
		start := cpuTime()
		sweep()
		cpu += cpuTime() - start
	}
	samples, sweeps := float64(b.N*want), float64(b.N)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/1e6/sweeps, "ms/sweep")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/samples, "cpu-ns/sample")
	}
	sent, recv := wire.total()
	of, lo := wire.api(kmsg.OffsetFetch), wire.api(kmsg.ListOffsets)
	b.ReportMetric(float64(sent+recv)/1e6/sweeps, "MB/sweep")
	b.ReportMetric(float64(sent)/1e6/sweeps, "sentMB/sweep")
	b.ReportMetric(float64(recv)/1e6/sweeps, "recvMB/sweep")
	b.ReportMetric(float64(of)/1e6/sweeps, "ofMB/sweep")
	b.ReportMetric(float64(lo)/1e6/sweeps, "loMB/sweep")
	b.ReportMetric(float64(sent+recv)/samples, "wireB/gp")
	b.ReportMetric(float64(heap)/float64(series), "heapB/series")
}

// wireCounter counts the bytes a kgo client writes and reads on its broker
// connections, per request key (kgo.HookBrokerWrite and HookBrokerRead:
// whole requests and responses, size prefix included).
type wireCounter struct {
	sent, recv [maxKey]atomic.Int64
}

// maxKey bounds the request keys counted; kgo reads SASL and ApiVersions
// responses with keys below it too.
const maxKey = 128

func (w *wireCounter) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	if key >= 0 && key < maxKey {
		w.sent[key].Add(int64(n))
	}
}

func (w *wireCounter) OnBrokerRead(_ kgo.BrokerMetadata, key int16, n int, _, _ time.Duration, _ error) {
	if key >= 0 && key < maxKey {
		w.recv[key].Add(int64(n))
	}
}

func (w *wireCounter) reset() {
	for k := range maxKey {
		w.sent[k].Store(0)
		w.recv[k].Store(0)
	}
}

func (w *wireCounter) total() (sent, recv int64) {
	for k := range maxKey {
		sent += w.sent[k].Load()
		recv += w.recv[k].Load()
	}
	return sent, recv
}

// api returns the bytes sent and received for one request key.
func (w *wireCounter) api(k kmsg.Key) int64 { return w.sent[k].Load() + w.recv[k].Load() }

// kfakeChildEnv, set to "topics,partitions", makes the test binary serve a
// kfake cluster of 3 brokers instead of running tests (see TestMain).
const kfakeChildEnv = "KWITNESS_BENCH_KFAKE"

// TestMain serves kfake when started by startKfakeChild, and otherwise
// runs the package's tests and benchmarks.
func TestMain(m *testing.M) {
	if spec := os.Getenv(kfakeChildEnv); spec != "" {
		if err := serveKfake(spec); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	os.Exit(m.Run())
}

// serveKfake runs a kfake cluster seeded with spec's topics t-000… of spec's
// partitions each, prints its broker addresses on one line, and serves
// until stdin closes.
func serveKfake(spec string) error {
	var topics, partitions int
	if _, err := fmt.Sscanf(spec, "%d,%d", &topics, &partitions); err != nil {
		return fmt.Errorf("%s=%q: %w", kfakeChildEnv, spec, err)
	}
	names := make([]string, topics)
	for i := range names {
		names[i] = fmt.Sprintf("t-%03d", i)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(int32(partitions), names...))
	if err != nil {
		return err
	}
	defer c.Close()
	fmt.Println(strings.Join(c.ListenAddrs(), ","))
	_, err = io.Copy(io.Discard, os.Stdin)
	return err
}

// startKfakeChild starts this test binary as a kfake server (serveKfake)
// and returns its broker addresses; the child stops when the benchmark
// ends.
func startKfakeChild(b *testing.B, topics, partitions int) []string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$", "-test.bench=^$")
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d,%d", kfakeChildEnv, topics, partitions))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("kfake child: %v", err)
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("kfake child: %v", err)
	}
	return strings.Split(strings.TrimSpace(line), ",")
}

// seedCluster produces 3 records to every partition and commits offsets 1–3
// for every group on its topics, one commit of all partitions per group.
func seedCluster(b *testing.B, addrs, names []string, partitions, groups, perGroup int) {
	b.Helper()
	ctx := b.Context()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
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
