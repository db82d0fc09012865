package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// Time-lag accuracy on the demo workload: an embedded kfake with the
// demo's workload machinery, a producer that records the true produce time
// of every record from its produce results, and one consumer group going
// through four phases; the whole sidecar (offset poller against kfake,
// state.Window, GetGroupLag over gRPC) estimates each partition's time lag
// at every sweep, and the estimate is compared with the truth: the age, at
// the sweep, of the record at the committed offset the sweep saw (0 when
// that record did not exist yet).
//
// Phases (durations × KWITNESS_TIMELAG_SCALE, default 1):
//
//   - steady: 200 records/s; the consumer reads 120/s, so lag grows.
//   - bursty: 800 records at once every 2.5 s; the consumer reads 250/s.
//   - idle: nothing produced; the consumer reads 100/s.
//   - replay: 200 records/s again; the consumer seeks back to the record
//     produced 15 s earlier (in the bursty phase) and re-reads at 400/s.
//
// The sidecar polls every accPoll; its window spans the whole run (the
// demo's 55 history points plus 6 recent sweeps), so every record is
// dated inside it and none is extrapolated.
const (
	accTopic = "ledger"
	accGroup = "ledger-replay"
	accPoll  = 250 * time.Millisecond
)

type accPhase struct {
	name       string
	dur        time.Duration
	perSec     int           // steady production, records/s
	burst      int           // records produced at once every burstEvery
	burstEvery time.Duration //
	consume    int           // records/s the consumer reads
	seekBack   time.Duration // at the start, the consumer seeks back to the record produced this long ago
}

func accPhases(scale float64) []accPhase {
	d := func(s float64) time.Duration { return time.Duration(s * scale * float64(time.Second)) }
	return []accPhase{
		{name: "steady", dur: d(8), perSec: 200, consume: 120},
		{name: "bursty", dur: d(10), burst: 800, burstEvery: 2500 * time.Millisecond, consume: 250},
		{name: "idle", dur: d(6), consume: 100},
		{name: "replay", dur: d(10), perSec: 200, consume: 400, seekBack: d(15)},
	}
}

// accSchedule maps a time since the start to its phase.
type accSchedule struct {
	start  time.Time
	phases []accPhase
}

// at returns the phase at t, its index and the time since it began; ok is
// false after the last phase.
func (s accSchedule) at(t time.Time) (p accPhase, i int, in time.Duration, ok bool) {
	d := t.Sub(s.start)
	for i, p := range s.phases {
		if d < p.dur {
			return p, i, d, d >= 0
		}
		d -= p.dur
	}
	return accPhase{}, len(s.phases), 0, false
}

func (s accSchedule) end() time.Time {
	e := s.start
	for _, p := range s.phases {
		e = e.Add(p.dur)
	}
	return e
}

// produceTimes holds the true produce time of each record, per partition,
// from the produce results: offsets are dense per partition, so a slice
// from the oldest kept offset; at most accKeep per partition (the oldest
// half is dropped beyond that).
type produceTimes struct {
	mu    sync.Mutex
	parts map[int32]*producedLog
}

type producedLog struct {
	first int64   // offset of at[0]
	at    []int64 // Unix ms; 0 = not (yet) acknowledged
}

const accKeep = 1 << 20

func (pt *produceTimes) record(r *kgo.Record, err error) {
	if err != nil {
		return
	}
	pt.mu.Lock()
	defer pt.mu.Unlock()
	l := pt.parts[r.Partition]
	if l == nil {
		l = &producedLog{first: r.Offset}
		pt.parts[r.Partition] = l
	}
	i := r.Offset - l.first
	if i < 0 {
		return // older than what is kept
	}
	for int64(len(l.at)) <= i {
		l.at = append(l.at, 0)
	}
	l.at[i] = r.Timestamp.UnixMilli()
	if len(l.at) > accKeep {
		drop := len(l.at) / 2
		l.at, l.first = slices.Clone(l.at[drop:]), l.first+int64(drop)
	}
}

// at returns the produce time (Unix ms) of partition/offset.
func (pt *produceTimes) at(partition int32, offset int64) (int64, bool) {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	l := pt.parts[partition]
	if l == nil || offset < l.first || offset-l.first >= int64(len(l.at)) || l.at[offset-l.first] == 0 {
		return 0, false
	}
	return l.at[offset-l.first], true
}

// producedBefore returns, per partition, the offset of the first record
// produced at or after t (Unix ms).
func (pt *produceTimes) producedBefore(t int64) map[int32]int64 {
	pt.mu.Lock()
	defer pt.mu.Unlock()
	out := map[int32]int64{}
	for p, l := range pt.parts {
		i, _ := slices.BinarySearchFunc(l.at, t, func(at, t int64) int {
			if at == 0 || at < t { // unacknowledged slots are older (acks come in order)
				return -1
			}
			return 1
		})
		out[p] = l.first + int64(i)
	}
	return out
}

// accProducer produces to accTopic following the schedule, 10 ticks a second.
func accProducer(ctx context.Context, cl *kgo.Client, s accSchedule, pt *produceTimes) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	n, lastBurst := 0, -1
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p, i, in, ok := s.at(now)
			if !ok {
				continue
			}
			count := p.perSec / 10
			if p.burst > 0 {
				if k := i*1000 + int(in/p.burstEvery); k != lastBurst {
					count, lastBurst = p.burst, k
				}
			}
			for range count {
				n++
				cl.Produce(ctx, &kgo.Record{Topic: accTopic, Key: fmt.Appendf(nil, "k%d", n%64), Value: fmt.Appendf(nil, "ledger-%d", n)}, pt.record)
			}
		}
	}
}

// accConsumer reads accTopic in group accGroup at the phase's rate,
// committing after every poll; at the start of a phase with seekBack it
// seeks every partition back to the record produced that long before.
func accConsumer(ctx context.Context, cl *kgo.Client, s accSchedule, pt *produceTimes) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sought := -1
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			p, i, _, ok := s.at(now)
			if !ok {
				continue
			}
			if p.seekBack > 0 && sought != i {
				sought = i
				to := map[string]map[int32]kgo.EpochOffset{accTopic: {}}
				for part, o := range pt.producedBefore(now.Add(-p.seekBack).UnixMilli()) {
					to[accTopic][part] = kgo.EpochOffset{Epoch: -1, Offset: o}
				}
				cl.SetOffsets(to)
			}
			pctx, cancel := context.WithTimeout(ctx, 80*time.Millisecond)
			cl.PollRecords(pctx, max(1, p.consume/10))
			cancel()
			cl.CommitUncommittedOffsets(ctx)
		}
	}
}

// accSample is one partition at one sweep.
type accSample struct {
	phase          string
	sweep          int64 // Unix ms
	partition      int32
	committed, end int64
	est            float64 // s
	method         string
}

// runTimeLagAccuracy runs the workload and the sidecar through the phases
// and returns every (sweep, partition) GetGroupLag answered, with the
// produce times.
func runTimeLagAccuracy(tb testing.TB, scale float64) ([]accSample, *produceTimes) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, accTopic))
	if err != nil {
		tb.Fatal(err)
	}
	w := &workload{cluster: c, start: time.Now()}
	defer w.Stop()
	wctx, wcancel := context.WithCancel(ctx)
	w.cancel = wcancel

	cfg := demoConfig(c.ListenAddrs())
	cfg.Kafka.PollInterval = accPoll
	cfg.API = APIConfig{GRPCListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"}
	cfg.DataDir = tb.TempDir()
	phases := accPhases(scale)
	var run time.Duration
	for _, p := range phases {
		run += p.dur
	}
	cfg.Window.Span = run + 10*time.Second
	cfg.Lag.Window, cfg.HotPartition.Sustain = cfg.Window.Span, min(cfg.HotPartition.Sustain, cfg.Window.Span)
	s, err := startSidecar(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Stop()

	prod, err := w.client(kgo.ProducerLinger(0))
	if err != nil {
		tb.Fatal(err)
	}
	cons, err := w.client(kgo.ConsumerGroup(accGroup), kgo.ConsumeTopics(accTopic), kgo.DisableAutoCommit(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		tb.Fatal(err)
	}
	sched := accSchedule{start: time.Now().Add(time.Second), phases: phases}
	pt := &produceTimes{parts: map[int32]*producedLog{}}
	w.goRun(wctx, func(ctx context.Context) { accProducer(ctx, prod, sched, pt) })
	w.goRun(wctx, func(ctx context.Context) { accConsumer(ctx, cons, sched, pt) })

	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close()
	api := pb.NewFindingsServiceClient(conn)
	var out []accSample
	seen := map[int64]bool{}
	for time.Now().Before(sched.end()) {
		time.Sleep(accPoll / 3)
		resp, err := api.GetGroupLag(ctx, &pb.GetGroupLagRequest{Group: accGroup})
		if err != nil {
			continue // not watched yet
		}
		at := resp.SweepTime.AsTime()
		p, _, _, ok := sched.at(at)
		if !ok || seen[at.UnixMilli()] {
			continue
		}
		seen[at.UnixMilli()] = true
		for _, pl := range resp.Partitions {
			out = append(out, accSample{phase: p.name, sweep: at.UnixMilli(), partition: pl.Partition,
				committed: pl.CommittedOffset, end: pl.EndOffset, est: pl.GetTimeLagSeconds(), method: pl.TimeLagMethod})
		}
	}
	wcancel()
	w.wg.Wait()
	prod.Flush(ctx) // every produce result is in
	return out, pt
}

// accError is one sample's error: relative |est − truth| / truth, 0 when
// within two poll intervals (the target's allowance for small lags), +Inf
// for a lag estimated where there is none.
type accError struct {
	phase, method string
	truth, est    float64
	rel           float64 // the target's measure
}

// accErrors dates each sample's committed record; samples whose committed
// offset is unknown (a gap) or whose record was never acknowledged are
// skipped.
func accErrors(samples []accSample, pt *produceTimes) []accError {
	tol := 2 * accPoll.Seconds()
	var out []accError
	for _, s := range samples {
		if s.committed < 0 || s.end < 0 {
			continue
		}
		truth := 0.0
		if at, ok := pt.at(s.partition, s.committed); ok && at < s.sweep {
			truth = float64(s.sweep-at) / 1000
		} else if !ok && s.committed < s.end {
			continue
		}
		e := accError{phase: s.phase, method: s.method, truth: truth, est: s.est}
		switch d := math.Abs(s.est - truth); {
		case d <= tol:
		case truth == 0:
			e.rel = math.Inf(1)
		default:
			e.rel = d / truth
		}
		out = append(out, e)
	}
	return out
}

// accStat summarises one phase ("" = all): the p50 and p95 of the
// target's relative error, of the plain relative error |est − truth| /
// truth (samples with a true lag only) and of the absolute error in s;
// the number of samples, and of those with a true lag above two polls.
type accStat struct {
	p50, p95, rawP50, rawP95, absP50, absP95 float64
	n, lagging                               int
}

func accStats(errs []accError, phase string) accStat {
	var rel, raw, abs []float64
	var st accStat
	for _, e := range errs {
		if phase != "" && e.phase != phase {
			continue
		}
		d := math.Abs(e.est - e.truth)
		rel, abs = append(rel, e.rel), append(abs, d)
		if e.truth > 0 {
			raw = append(raw, d/e.truth)
		}
		if e.truth > 2*accPoll.Seconds() {
			st.lagging++
		}
	}
	q := func(vs []float64) (p50, p95 float64) {
		if len(vs) == 0 {
			return 0, 0
		}
		slices.Sort(vs)
		return vs[len(vs)/2], vs[len(vs)*95/100]
	}
	st.n = len(rel)
	st.p50, st.p95 = q(rel)
	st.rawP50, st.rawP95 = q(raw)
	st.absP50, st.absP95 = q(abs)
	return st
}

func accScale(tb testing.TB) float64 {
	v := os.Getenv("KWITNESS_TIMELAG_SCALE")
	if v == "" {
		return 1
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f <= 0 {
		tb.Fatalf("KWITNESS_TIMELAG_SCALE=%q: want a positive number", v)
	}
	return f
}

// TestTimeLagAccuracyDemo: in every phase, p95 relative error ≤ 10 % of
// the true lag (an error within two poll intervals counts as exact), over
// sweeps where the consumer is really behind.
func TestTimeLagAccuracyDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo workload for about 40 s")
	}
	samples, pt := runTimeLagAccuracy(t, accScale(t))
	errs := accErrors(samples, pt)
	for _, phase := range []string{"steady", "bursty", "idle", "replay"} {
		st := accStats(errs, phase)
		t.Logf("%-6s n=%3d (lag > %s in %3d) p50=%.3f p95=%.3f; plain relative p50=%.3f p95=%.3f; absolute p50=%.2fs p95=%.2fs",
			phase, st.n, 2*accPoll, st.lagging, st.p50, st.p95, st.rawP50, st.rawP95, st.absP50, st.absP95)
		if st.n < 10 || st.lagging < st.n/2 {
			t.Errorf("%s: %d samples, %d with lag > %s: the phase did not exercise the estimator", phase, st.n, st.lagging, 2*accPoll)
		}
		if st.p95 > 0.10 {
			t.Errorf("%s: p95 relative error %.3f over %d samples, want ≤ 0.10", phase, st.p95, st.n)
		}
	}
	if testing.Verbose() {
		for _, e := range errs {
			if e.rel > 0.10 {
				t.Logf("%s truth %.2fs est %.2fs (%s) rel %.3f", e.phase, e.truth, e.est, e.method, e.rel)
			}
		}
	}
}

// BenchmarkTimeLagAccuracyDemo reports the same comparison as metrics (one
// run per iteration; KWITNESS_TIMELAG_SCALE lengthens the phases).
func BenchmarkTimeLagAccuracyDemo(b *testing.B) {
	var errs []accError
	for b.Loop() {
		samples, pt := runTimeLagAccuracy(b, accScale(b))
		errs = accErrors(samples, pt)
	}
	for _, phase := range []string{"steady", "bursty", "idle", "replay"} {
		st := accStats(errs, phase)
		b.ReportMetric(st.p50*100, phase+"-p50-err-%")
		b.ReportMetric(st.p95*100, phase+"-p95-err-%")
		b.ReportMetric(st.absP95, phase+"-p95-abs-s")
	}
}
