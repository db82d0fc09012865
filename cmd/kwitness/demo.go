package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// The demo's script, as offsets from the start of the workload.
const (
	demoStallAt   = 10 * time.Second // "audit" stops processing but stays in its group
	demoDeployAt  = 15 * time.Second // "fraud-check" is redeployed: a rebalance, then a slower consumer
	demoRecoverAt = 70 * time.Second // "fraud-check" is fixed and catches up
)

// demoConfig is the sidecar configuration of the demo: defaults with the
// thresholds shortened so every scenario shows within a minute.
func demoConfig(brokers []string) Config {
	cfg := DefaultConfig()
	cfg.Kafka.Cluster = "demo"
	cfg.Kafka.Brokers = brokers
	cfg.Lag.StallAfter = 20 * time.Second
	cfg.Lag.StopAfter = 20 * time.Second
	cfg.Lag.MinSpan = 15 * time.Second
	cfg.Findings.OpenAfter = 3 * time.Second
	cfg.Findings.ResolveAfter = 15 * time.Second
	cfg.Broker.UnderReplicatedFor = 10 * time.Second
	cfg.Broker.FillMinSpan = 20 * time.Second
	// A two-minute window at ~2.3 s history resolution, so the sustained
	// conditions below show within a minute.
	cfg.Window.Span, cfg.Lag.Window = 2*time.Minute, 2*time.Minute
	cfg.HotPartition.Sustain = 30 * time.Second
	cfg.Retention.MinSpan = 15 * time.Second
	cfg.Rebalance.Window = time.Minute
	cfg.Skew.TrafficSustain = 30 * time.Second
	cfg.Lag.AssignMinLag = 300
	cfg.Findings.SlowEvery = 5 * time.Second
	cfg.Skew.LeaderSustain = 10 * time.Second
	return cfg
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dur := fs.Duration("for", 2*time.Minute, "how long to run the demo (0 = until interrupted)")
	def := DefaultConfig()
	listen := listenFlags(fs, &def.API)
	verbose := fs.Bool("v", false, "log kwitness internals to stderr")
	dataDir := fs.String("data-dir", "", "store directory (default: a temporary directory removed at exit)")
	amURL := fs.String("alertmanager", "", "push findings to the Alertmanager at this base URL, e.g. http://127.0.0.1:9093")
	if err := fs.Parse(args); err != nil {
		return err
	}
	early := def.API // refuse an open non-loopback listener before starting anything
	if err := listen.apply(&early); err != nil {
		return err
	}
	if *dur > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	logLevel := slog.LevelWarn
	if *verbose {
		logLevel = slog.LevelInfo
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: logLevel}))

	wl, err := startWorkload(ctx)
	if err != nil {
		return err
	}
	defer wl.Stop()
	cfg := demoConfig(wl.cluster.ListenAddrs())
	cfg.Telemetry.Targets = wl.sim.targets()
	cfg.DataDir = *dataDir
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "kwitness-demo-")
		if err != nil {
			return fmt.Errorf("demo: data dir: %w", err)
		}
		defer os.RemoveAll(dir)
		cfg.DataDir = dir
	}
	if err := listen.apply(&cfg.API); err != nil {
		return err
	}
	if *amURL != "" {
		cfg.Alertmanager.URLs = []string{*amURL}
		if !strings.HasSuffix(cfg.API.HTTPListen, ":0") {
			cfg.Alertmanager.ExternalURL = "http://" + cfg.API.HTTPListen
		}
		if err := cfg.Alertmanager.Validate(); err != nil {
			return fmt.Errorf("--alertmanager: %w", err)
		}
	}
	p := &demoPrinter{w: stdout, start: wl.start}
	s, err := startSidecar(ctx, cfg, log, p.print)
	if err != nil {
		return err
	}
	defer s.Stop()
	wl.reportDeploy(s.HTTPAddr)
	fmt.Fprintf(stdout, "kwitness demo: embedded Kafka (kfake, 3 brokers) at %s\n", strings.Join(wl.cluster.ListenAddrs(), ","))
	fmt.Fprintf(stdout, "findings page: http://%s/ (lag metrics: http://%s/metrics)\n", s.HTTPAddr, s.HTTPAddr)
	fmt.Fprintf(stdout, "API: gRPC %s, HTTP http://%s (try: curl http://%s/v1/findings)\n", s.GRPCAddr, s.HTTPAddr, s.HTTPAddr)
	fmt.Fprintf(stdout, "script: audit stalls at +%s; fraud-check is redeployed slower at +%s and fixed at +%s; billing, archiver and clickstream stay healthy;\n"+
		"        clicks has a hot partition; retention deletes logs under reports and indexer; flaky rejoins every %s; one of etl's two members stalls;\n"+
		"        broker 0 takes more traffic and replicas, broker 1 has an under-replicated episode, broker 2's disk fills and holds more data;\n"+
		"        broker %d fails over at +%s: a third of its partitions stay led by broker 0, a non-preferred replica (README: the demo)\n\n",
		demoStallAt, demoDeployAt, demoRecoverAt, demoFlakyEvery, demoFailoverBroker, demoFailoverAt)
	<-ctx.Done()
	fmt.Fprintf(stdout, "\ndemo over after %s. Findings:\n", time.Since(wl.start).Round(time.Second))
	printFindings(stdout, p.final(s))
	return nil
}

// demoPrinter prints one readable line per finding event.
type demoPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *demoPrinter) print(ev detect.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Type == detect.EventUpdated {
		return
	}
	f := ev.Finding
	text := f.Summary
	if ev.Type == detect.EventResolved {
		text = fmt.Sprintf("%s: %s after %s firing.", subjectText(api.FindingToProto(f).Subject),
			f.Resolution, f.ResolvedAt.Sub(f.OpenedAt).Round(time.Second))
	}
	fmt.Fprintf(p.w, "+%5.1fs %-8s %-8s %-16s %s\n", time.Since(p.start).Seconds(),
		strings.ToUpper(ev.Type.String()), f.Severity, f.Kind, text)
}

// final lists every finding the sidecar still holds.
func (p *demoPrinter) final(s *sidecar) []*pb.Finding {
	var out []*pb.Finding
	for _, f := range s.findings.List(state.FindingFilter{Broker: -1}) {
		out = append(out, api.FindingToProto(f))
	}
	return out
}

// workload is the demo's embedded cluster and its scripted clients. Every
// goroutine it starts is cancelled and waited for by Stop.
type workload struct {
	cluster *kfake.Cluster
	sim     *brokerSim
	start   time.Time
	ctx     context.Context // cancelled by Stop
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	mu      sync.Mutex
	clients []*kgo.Client
}

// startWorkload starts the embedded cluster, with extra options if given,
// and the scripted clients on it.
func startWorkload(ctx context.Context, extra ...kfake.Opt) (*workload, error) {
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(6, "orders", "payments", "clicks"),
		kfake.SeedTopics(3, "events", "archive", "logs")}, extra...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: start kfake: %w", err)
	}
	w := &workload{cluster: c, start: time.Now()}
	w.sim = newBrokerSim(c, w.start)
	if err := w.sim.serve([]int32{0, 1, 2}); err != nil {
		w.Stop()
		return nil, err
	}
	ctx, w.cancel = context.WithCancel(ctx)
	w.ctx = ctx
	if err := w.startLeaderEpisode(ctx); err != nil {
		w.Stop()
		return nil, err
	}
	prod, err := w.client()
	if err != nil {
		w.Stop()
		return nil, err
	}
	w.goRun(ctx, func(ctx context.Context) { produceAt(ctx, prod, "orders", 100, w.sim.onProduced) })
	w.goRun(ctx, func(ctx context.Context) { produceAt(ctx, prod, "payments", 200, w.sim.onProduced) })
	w.goRun(ctx, func(ctx context.Context) { produceAt(ctx, prod, "events", 50, w.sim.onProduced) })
	for i := range 20 {
		prod.Produce(ctx, &kgo.Record{Topic: "archive", Value: fmt.Appendf(nil, "archived-%d", i)}, w.sim.onProduced)
	}
	if err := w.startMoreScenarios(ctx, prod); err != nil {
		w.Stop()
		return nil, err
	}
	for _, spec := range []struct {
		group, topic string
		script       func(time.Duration) (rate int, run bool)
	}{
		{"billing", "orders", func(time.Duration) (int, bool) { return 0, true }},
		{"archiver", "archive", func(time.Duration) (int, bool) { return 0, true }},
		{"audit", "events", func(t time.Duration) (int, bool) { return 0, t < demoStallAt }},
		{"fraud-check", "payments", func(t time.Duration) (int, bool) { return 0, t < demoDeployAt }},
		{"fraud-check", "payments", func(t time.Duration) (int, bool) {
			if t >= demoRecoverAt {
				return 0, true
			}
			return 80, t >= demoDeployAt // slower than the 200/s produced
		}},
	} {
		if err := w.consumer(ctx, spec.group, spec.topic, spec.script); err != nil {
			w.Stop()
			return nil, err
		}
	}
	return w, nil
}

func (w *workload) client(opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(w.cluster.ListenAddrs()...), kgo.ClientID("demo-workload")}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("demo: client: %w", err)
	}
	w.mu.Lock()
	w.clients = append(w.clients, cl)
	w.mu.Unlock()
	return cl, nil
}

func (w *workload) goRun(ctx context.Context, fn func(context.Context)) {
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		fn(ctx)
	}()
}

// consumer runs one group member following script: rate 0 is unlimited;
// run=false before it ever ran means "not joined yet", after it ran means
// "left the group" for a member that is replaced, or "stalled" otherwise.
func (w *workload) consumer(ctx context.Context, group, topic string, script func(time.Duration) (int, bool)) error {
	var cl *kgo.Client
	join := func() error {
		var err error
		cl, err = w.client(kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.AutoCommitInterval(time.Second), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		return err
	}
	_, runsAtStart := script(0)
	if runsAtStart {
		if err := join(); err != nil {
			return err
		}
	}
	replaced := group == "fraud-check" && runsAtStart
	w.goRun(ctx, func(ctx context.Context) {
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			rate, run := script(time.Since(w.start))
			switch {
			case !run && cl == nil:
				continue
			case !run && replaced:
				cl.Close() // leaves the group: a rebalance
				return
			case !run:
				continue // stalled: still a member, no progress
			case cl == nil:
				if join() != nil {
					return
				}
			}
			max := 1 << 20
			if rate > 0 {
				max = rate / 10
			}
			pctx, cancel := context.WithTimeout(ctx, 90*time.Millisecond)
			cl.PollRecords(pctx, max)
			cancel()
		}
	})
	return nil
}

// produceAt produces perSec records a second to topic until ctx is done.
func produceAt(ctx context.Context, cl *kgo.Client, topic string, perSec int, done func(*kgo.Record, error)) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		for range perSec / 10 {
			n++
			cl.Produce(ctx, &kgo.Record{Topic: topic, Key: fmt.Appendf(nil, "k%d", n%64), Value: fmt.Appendf(nil, "%s-%d", topic, n)}, done)
		}
	}
}

// Stop cancels the workload, waits for its goroutines and closes everything.
func (w *workload) Stop() {
	if w.cancel != nil {
		w.cancel()
	}
	w.wg.Wait()
	w.mu.Lock()
	for _, cl := range w.clients {
		cl.Close()
	}
	w.clients = nil
	w.mu.Unlock()
	if w.sim != nil {
		w.sim.stop()
	}
	w.cluster.Close()
}
