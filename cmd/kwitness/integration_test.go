package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/ingest"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/engine"
	"github.com/kwitness/kwitness/state/store"
)

// rig is kwitness (window, engine, poller) against a kfake cluster, driven
// sweep by sweep with synthetic sweep times one second apart, so the test is
// fast and deterministic while every request is real Kafka protocol.
type rig struct {
	t        *testing.T
	ctx      context.Context
	cluster  *kfake.Cluster
	admin    *kadm.Client
	producer *kgo.Client
	cfg      Config
	window   *state.Window
	findings *state.Findings
	deploys  *state.Deploys
	engine   *engine.Engine
	poller   *ingest.Poller
	at       time.Time
	keys     *keyRecorder
	events   []detect.Event
	store    *store.Store       // optional: set by withStore
	tel      *state.Telemetry   // optional: set by withTelemetry
	observe  func(detect.Event) // optional: called for every event after recording it
}

// keyRecorder records the API key of every request kwitness's client writes.
type keyRecorder struct {
	mu   sync.Mutex
	keys map[int16]int
}

func (r *keyRecorder) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _, _ time.Duration, _ error) {
	r.mu.Lock()
	r.keys[key]++
	r.mu.Unlock()
}

func newRig(t *testing.T, topics ...string) *rig {
	t.Helper()
	return newRigWith(t, nil, topics...)
}

// newRigWith is newRig with the sidecar configuration adjusted by mut.
func newRigWith(t *testing.T, mut func(*Config), topics ...string) *rig {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(3, topics...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	r := &rig{t: t, ctx: t.Context(), cluster: c, at: time.UnixMilli(1_800_000_000_000), keys: &keyRecorder{keys: map[int16]int{}}}
	r.producer = r.client(kgo.RecordPartitioner(kgo.RoundRobinPartitioner()))
	r.admin = kadm.NewClient(r.client())

	cfg := DefaultConfig()
	cfg.Kafka.Cluster, cfg.Kafka.Brokers = "it", c.ListenAddrs()
	if mut != nil {
		mut(&cfg)
	}
	r.window, err = state.NewWindow(cfg.Window, cfg.Kafka.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	r.findings = state.NewFindings(time.Hour, 1000)
	r.deploys = state.NewDeploys(maxDeploys)
	r.cfg = cfg
	r.buildEngine()
	if r.poller, err = newPollerFor(cfg, r); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.poller.Close)
	return r
}

// buildEngine (re)builds the rig's engine over its window, findings,
// deploys and — when set — store and telemetry, recording every event.
// Call it again after giving the rig a store or telemetry, before sweeping.
func (r *rig) buildEngine() {
	r.t.Helper()
	notify := func(ev detect.Event) {
		r.events = append(r.events, ev)
		if r.observe != nil {
			r.observe(ev)
		}
	}
	e, err := engine.New(engineConfig(r.cfg), engine.Deps{Window: r.window, Telemetry: r.tel, Findings: r.findings, Deploys: r.deploys,
		Store: r.store, Notify: notify, Log: slog.New(slog.DiscardHandler), Metrics: metrics.NewSet()})
	if err != nil {
		r.t.Fatal(err)
	}
	r.engine = e
}

// newPollerFor builds the rig's poller, recording request keys.
func newPollerFor(cfg Config, r *rig) (*ingest.Poller, error) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return ingest.New(cfg.Kafka, r.window, log, metrics.NewSet(), nil, kgo.WithHooks(r.keys))
}

func (r *rig) client(opts ...kgo.Opt) *kgo.Client {
	r.t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(r.cluster.ListenAddrs()...)}, opts...)...)
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(cl.Close)
	return cl
}

// produce writes n records to topic, spread over its partitions.
func (r *rig) produce(topic string, n int) {
	r.t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Value: []byte("v")}
	}
	if err := r.producer.ProduceSync(r.ctx, recs...).FirstErr(); err != nil {
		r.t.Fatal(err)
	}
}

// ends returns the log end offsets of topic.
func (r *rig) ends(topic string) kadm.ListedOffsets {
	r.t.Helper()
	l, err := r.admin.ListEndOffsets(r.ctx, topic)
	if err != nil {
		r.t.Fatal(err)
	}
	return l
}

// commit sets group's committed offset of every partition of topic to
// f(end offset, previous committed).
func (r *rig) commit(group, topic string, f func(end, prev int64) int64) {
	r.t.Helper()
	prev, _ := r.admin.FetchOffsets(r.ctx, group)
	os := kadm.Offsets{}
	r.ends(topic).Each(func(o kadm.ListedOffset) {
		p := int64(0)
		if c, ok := prev.Lookup(topic, o.Partition); ok {
			p = c.At
		}
		os.AddOffset(topic, o.Partition, f(o.Offset, p), -1)
	})
	if err := r.admin.CommitAllOffsets(r.ctx, group, os); err != nil {
		r.t.Fatalf("commit %s/%s: %v", group, topic, err)
	}
}

// sweep runs one kwitness sweep and detection pass, then advances the clock.
func (r *rig) sweep() ingest.SweepReport {
	rep := r.poller.Sweep(r.ctx, r.at)
	if r.store != nil {
		r.store.AppendWindow(r.window)
	}
	r.engine.JudgeOffsets()
	r.at = r.at.Add(time.Second)
	return rep
}

func (r *rig) firing(kind detect.Kind, group string) (detect.Finding, bool) {
	fs := r.findings.List(state.FindingFilter{Kinds: []detect.Kind{kind}, Group: group, States: []detect.State{detect.StateFiring}, Broker: -1})
	if len(fs) == 0 {
		return detect.Finding{}, false
	}
	return fs[0], true
}

// TestLagScenarios drives four groups through the skeleton's scenarios: a
// healthy group, a lagging group that later catches up, a stalled group that
// is then deleted, and a caught-up group on an idle topic.
func TestLagScenarios(t *testing.T) {
	r := newRig(t, "fast", "slow", "stuck", "idle")
	r.produce("idle", 30)
	r.produce("stuck", 300)
	r.commit("idle-group", "idle", func(end, _ int64) int64 { return end })
	r.commit("stuck-group", "stuck", func(end, _ int64) int64 { return end / 2 })
	member := r.client(kgo.ConsumerGroup("stuck-group"), kgo.ConsumeTopics("stuck"), kgo.DisableAutoCommit())
	waitMembers(t, r, "stuck-group", 1)

	for i := range 160 { // stuck-group is never seen committing: judged against 2 × stall_after + 30 s
		r.produce("fast", 90)
		r.produce("slow", 90)
		r.produce("stuck", 30)
		r.commit("fast-group", "fast", func(end, _ int64) int64 { return end })
		r.commit("slow-group", "slow", func(end, prev int64) int64 { return min(end, prev+10) }) // 10/s per partition vs 30/s produced
		if rep := r.sweep(); !rep.Ready || len(rep.Errors) > 0 {
			t.Fatalf("sweep %d: ready %v errors %v", i, rep.Ready, rep.Errors)
		}
	}

	lagging, ok := r.firing(detect.KindLagGrowing, "slow-group")
	if !ok {
		t.Fatalf("slow-group: no LAG_GROWING finding; events: %v", eventSummaries(r.events))
	}
	checkEvidence(t, lagging, "slow-group", "slow")
	if _, ok := r.firing(detect.KindConsumerStalled, "stuck-group"); !ok {
		t.Fatalf("stuck-group: no CONSUMER_STALLED finding; events: %v", eventSummaries(r.events))
	}
	for _, g := range []string{"fast-group", "idle-group"} {
		if fs := r.findings.List(state.FindingFilter{Group: g, Broker: -1}); len(fs) > 0 {
			t.Errorf("%s is healthy but has findings: %v", g, fs[0].Summary)
		}
	}

	// slow-group catches up: LAG_GROWING resolves as recovered after resolve_after.
	// stuck-group's member leaves and the group is deleted: its finding closes as gone.
	member.Close()
	waitMembers(t, r, "stuck-group", 0)
	if _, err := r.admin.DeleteGroups(r.ctx, "stuck-group"); err != nil {
		t.Fatal(err)
	}
	for range 40 {
		r.produce("slow", 90)
		r.commit("slow-group", "slow", func(end, _ int64) int64 { return end })
		r.sweep()
	}
	got, ok := r.findings.Get(lagging.ID)
	if !ok || got.State != detect.StateResolved || got.Resolution != detect.ResolvedRecovered {
		t.Fatalf("slow-group after catching up: %+v", got)
	}
	stalled := r.findings.List(state.FindingFilter{Kinds: []detect.Kind{detect.KindConsumerStalled}, Broker: -1})
	if len(stalled) != 1 || stalled[0].State != detect.StateResolved || stalled[0].Resolution != detect.ResolvedSubjectGone {
		t.Fatalf("deleted group's finding must close as subject gone, got %+v", stalled)
	}
	checkReadOnly(t, r.keys)
	t.Logf("events: %v", eventSummaries(r.events))
}

// waitMembers waits until kafka reports group with n members.
func waitMembers(t *testing.T, r *rig, group string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		d, err := r.admin.DescribeGroups(r.ctx, group)
		if err == nil && len(d[group].Members) == n && (n == 0 || d[group].State == "Stable") {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("group %s never had %d members", group, n)
}

func checkEvidence(t *testing.T, f detect.Finding, group, topic string) {
	t.Helper()
	if len(f.Evidence) < 2 || f.Summary == "" || f.Severity != detect.SeverityWarning {
		t.Fatalf("finding lacks evidence or summary: %+v", f)
	}
	var sawCommitted, sawEnd bool
	for _, c := range f.Evidence {
		s := c.Series.String()
		if !strings.Contains(s, `topic="`+topic+`"`) || !strings.Contains(s, `cluster="it"`) {
			t.Errorf("citation of another subject: %s", s)
		}
		if c.Count < 10 || !c.From.Before(c.To) || c.Source.SweepAt.IsZero() || c.Max < c.Min {
			t.Errorf("citation numbers incomplete: %+v", c)
		}
		switch c.Series.Metric {
		case state.MetricCommitted.String():
			sawCommitted = c.Source.API == "OffsetFetch" && strings.Contains(s, `group="`+group+`"`) && c.Slope > 0
		case state.MetricEnd.String():
			sawEnd = c.Source.API == "ListOffsets(latest)" && c.Slope > c.Last*0 && c.Last > c.First
		}
	}
	if !sawCommitted || !sawEnd {
		t.Errorf("want committed (OffsetFetch) and end offset (ListOffsets) citations: %+v", f.Evidence)
	}
	facts := map[string]detect.Fact{}
	for _, x := range f.Facts {
		facts[x.Name] = x
	}
	if facts["time_to_catch_up"].Text != "never at current rates" || facts["lag_growth_rate"].Value <= 0 || facts["total_lag"].Value <= 0 {
		t.Errorf("facts: %+v", f.Facts)
	}
}

// checkReadOnly proves kwitness sent only read requests.
func checkReadOnly(t *testing.T, r *keyRecorder) {
	t.Helper()
	allowed := []int16{
		kmsg.Metadata.Int16(), kmsg.ApiVersions.Int16(), kmsg.FindCoordinator.Int16(),
		kmsg.ListGroups.Int16(), kmsg.DescribeGroups.Int16(), kmsg.OffsetFetch.Int16(), kmsg.ListOffsets.Int16(),
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keys[kmsg.OffsetFetch.Int16()] == 0 || r.keys[kmsg.ListOffsets.Int16()] == 0 {
		t.Fatalf("recorder saw no offset requests: %v", r.keys)
	}
	for k, n := range r.keys {
		if !slices.Contains(allowed, k) {
			t.Errorf("kwitness sent %d requests of key %d (%s): not a read", n, k, kmsg.NameForKey(k))
		}
	}
}

func eventSummaries(evs []detect.Event) []string {
	var out []string
	for _, ev := range evs {
		out = append(out, ev.Type.String()+" "+string(ev.Finding.Kind)+" "+ev.Finding.Subject.Group)
	}
	return out
}

// TestUnreachableCluster: kwitness keeps running against no brokers, is not
// ready, says why, and publishes gaps rather than zeros.
func TestUnreachableCluster(t *testing.T) {
	cfg := ingest.DefaultConfig()
	cfg.Brokers = []string{"127.0.0.1:1"}
	cfg.RequestTimeout = 500 * time.Millisecond
	w, _ := state.NewWindow(state.DefaultWindowConfig(), "down")
	p, err := ingest.New(cfg, w, slog.New(slog.NewTextHandler(io.Discard, nil)), metrics.NewSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rep := p.Sweep(context.Background(), time.UnixMilli(1_800_000_000_000))
	st := p.Status()
	if rep.Ready || st.Ready || !strings.Contains(st.Reason, "ListGroups") {
		t.Fatalf("want not ready naming ListGroups, got ready=%v reason=%q", st.Ready, st.Reason)
	}
	if got := ingest.Classify(rep.Errors[0]); got != ingest.ClassUnreachable && got != ingest.ClassTimeout {
		t.Fatalf("error class %q for %v", got, rep.Errors[0])
	}
	if w.Snapshot().Sweeps != 1 || len(w.Snapshot().Topology.GroupTopics) != 0 {
		t.Fatalf("a failed sweep still publishes (with nothing in it): %+v", w.Snapshot())
	}
}

// TestPartialSweepFailure: one coordinator denying OffsetFetch affects only
// the groups behind it. Their series become gaps (not gone, not zero), the
// error names the request, the group and the broker, and the rest of the
// sweep is published.
func TestPartialSweepFailure(t *testing.T) {
	r := newRig(t, "a")
	okGroup, denied := "ok-group", ""
	for i := 0; denied == ""; i++ {
		if g := "denied-" + string(rune('a'+i)); r.cluster.CoordinatorFor(g) != r.cluster.CoordinatorFor(okGroup) {
			denied = g
		}
	}
	step := func() ingest.SweepReport {
		r.produce("a", 30)
		for _, g := range []string{okGroup, denied} {
			r.commit(g, "a", func(end, _ int64) int64 { return end })
		}
		return r.sweep()
	}
	for range 5 {
		step()
	}
	r.cluster.ControlKey(kmsg.OffsetFetch.Int16(), func(req kmsg.Request) (kmsg.Response, error, bool) {
		r.cluster.KeepControl()
		of := req.(*kmsg.OffsetFetchRequest)
		if !slices.ContainsFunc(of.Groups, func(g kmsg.OffsetFetchRequestGroup) bool { return g.Group == denied }) {
			return nil, nil, false
		}
		resp := of.ResponseKind().(*kmsg.OffsetFetchResponse)
		resp.SetVersion(of.GetVersion())
		for _, g := range of.Groups {
			rg := kmsg.NewOffsetFetchResponseGroup()
			rg.Group, rg.ErrorCode = g.Group, kerr.GroupAuthorizationFailed.Code
			resp.Groups = append(resp.Groups, rg)
		}
		return resp, nil, true
	})
	rep := step()
	if !rep.Ready || len(rep.Errors) != 1 {
		t.Fatalf("want a ready sweep with one error, got ready=%v errors=%v", rep.Ready, rep.Errors)
	}
	msg := rep.Errors[0].Error()
	if ingest.Classify(rep.Errors[0]) != ingest.ClassAuth || !strings.Contains(msg, "OffsetFetch") || !strings.Contains(msg, denied) || !strings.Contains(msg, "broker ") {
		t.Fatalf("error must be auth, name OffsetFetch, the group and the broker: %q", msg)
	}
	newest := map[string]int64{}
	view := r.window.View()
	view.EachGroupTopic(func(gt *detect.GroupTopic) {
		view.Load(gt, 0)
		c := gt.Partitions[0].Window.Committed
		newest[gt.Group] = c[len(c)-1]
	})
	if v, ok := newest[denied]; !ok || v != detect.Gap {
		t.Fatalf("denied group must stay watched with a gap at the newest sweep, got %v (present %v)", v, ok)
	}
	if v := newest[okGroup]; v == detect.Gap || v <= 0 {
		t.Fatalf("ok group must be unaffected, newest committed %d", v)
	}
}

// TestDataSkipped: records deleted (the log start offset passes the group's
// committed offset) before the group read them is DATA_SKIPPED, critical,
// citing the log start and committed offsets.
func TestDataSkipped(t *testing.T) {
	r := newRigWith(t, func(c *Config) { c.Findings.SlowEvery = 5 * time.Second }, "short")
	r.produce("short", 300)
	r.commit("skip-group", "short", func(_, _ int64) int64 { return 10 })
	for range 3 {
		r.sweep()
	}
	os := kadm.Offsets{}
	r.ends("short").Each(func(o kadm.ListedOffset) { os.AddOffset("short", o.Partition, 50, -1) })
	if _, err := r.admin.DeleteRecords(r.ctx, os); err != nil { // the test deletes, as retention would
		t.Fatal(err)
	}
	for range 20 {
		r.sweep()
	}
	f, ok := r.firing(detect.KindDataSkipped, "skip-group")
	if !ok {
		t.Fatalf("no DATA_SKIPPED; events %v", eventSummaries(r.events))
	}
	cites := map[string]bool{}
	for _, c := range f.Evidence {
		cites[c.Series.Metric] = true
	}
	if f.Severity != detect.SeverityCritical || !cites[state.MetricStart.String()] || !cites[state.MetricCommitted.String()] {
		t.Fatalf("DATA_SKIPPED must be critical and cite log start and committed offsets: %s %v", f.Severity, cites)
	}
	t.Log(f.Summary)
}

// TestHotPartition: one partition of a topic takes ten times the traffic of
// the others for the whole sustain window: HOT_PARTITION names it; an evenly
// loaded topic stays quiet.
func TestHotPartition(t *testing.T) {
	r := newRigWith(t, func(c *Config) {
		c.HotPartition.Sustain, c.Window.Span, c.Lag.Window = 30*time.Second, time.Minute, time.Minute
		c.Findings.SlowEvery = 5 * time.Second
	}, "skewed", "even")
	hotWriter := r.client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for range 60 {
		r.produce("even", 60)
		r.produce("skewed", 30) // 10 per partition
		recs := make([]*kgo.Record, 100)
		for i := range recs {
			recs[i] = &kgo.Record{Topic: "skewed", Partition: 1, Value: []byte("hot")}
		}
		if err := hotWriter.ProduceSync(r.ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for _, topic := range []string{"skewed", "even"} {
			r.commit("reader", topic, func(end, _ int64) int64 { return end })
		}
		r.sweep()
	}
	fs := r.findings.List(state.FindingFilter{Kinds: []detect.Kind{detect.KindHotPartition}, Broker: -1})
	if len(fs) != 1 || fs[0].Subject.Topic != "skewed" || !slices.Equal(fs[0].Subject.Partitions, []int32{1}) {
		t.Fatalf("want HOT_PARTITION for skewed/1 only, got %d: %v", len(fs), eventSummaries(r.events))
	}
	t.Log(fs[0].Summary)
}

// TestReportedDeployCorrelates: a deploy reported through the engine's event
// store shortly before a group starts lagging is named in its finding.
func TestReportedDeployCorrelates(t *testing.T) {
	r := newRig(t, "slow")
	r.deploys.Add(detect.DeployEvent{Service: "slow-group", Version: "2.0.1", Group: "slow-group", AtMs: r.at.UnixMilli()})
	runLagScenarioSlowOnly(r, 60)
	f, ok := r.firing(detect.KindLagGrowing, "slow-group")
	if !ok || !strings.Contains(f.Summary, "reported deploy of slow-group 2.0.1") {
		t.Fatalf("want LAG_GROWING naming the reported deploy, got %v: %s", ok, f.Summary)
	}
}

func runLagScenarioSlowOnly(r *rig, n int) {
	for range n {
		r.produce("slow", 90)
		r.commit("slow-group", "slow", func(end, prev int64) int64 { return min(end, prev+10) })
		r.sweep()
	}
}

// TestAssignmentSkew: of a group's two members, the one that does not make
// progress holds all the lag: CONSUMER_ASSIGNMENT_SKEW names it.
func TestAssignmentSkew(t *testing.T) {
	r := newRig(t, "split")
	r.produce("split", 60)
	a := r.client(kgo.ClientID("fast"), kgo.ConsumerGroup("etl"), kgo.ConsumeTopics("split"), kgo.DisableAutoCommit())
	b := r.client(kgo.ClientID("slow"), kgo.ConsumerGroup("etl"), kgo.ConsumeTopics("split"), kgo.DisableAutoCommit())
	waitMembers(t, r, "etl", 2)
	owned := func(client string) []int32 {
		d, err := r.admin.DescribeGroups(r.ctx, "etl")
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range d["etl"].Members {
			if c, ok := m.Assigned.AsConsumer(); ok && m.ClientID == client {
				for _, tp := range c.Topics {
					return tp.Partitions
				}
			}
		}
		return nil
	}
	fast, slow := owned("fast"), owned("slow")
	if len(fast) == 0 || len(slow) == 0 {
		t.Fatalf("assignment: fast %v slow %v", fast, slow)
	}
	commit := func(cl *kgo.Client, parts []int32, at func(end int64) int64) {
		offs := map[string]map[int32]kgo.EpochOffset{"split": {}}
		ends := r.ends("split")
		for _, p := range parts {
			e, _ := ends.Lookup("split", p)
			offs["split"][p] = kgo.EpochOffset{Epoch: -1, Offset: at(e.Offset)}
		}
		var err error
		cl.CommitOffsetsSync(r.ctx, offs, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, _ *kmsg.OffsetCommitResponse, e error) { err = e })
		if err != nil {
			t.Fatal(err)
		}
	}
	commit(b, slow, func(int64) int64 { return 0 })
	for range 30 {
		r.produce("split", 120)
		commit(a, fast, func(end int64) int64 { return end })
		r.sweep()
	}
	fs := r.findings.List(state.FindingFilter{Kinds: []detect.Kind{detect.KindAssignmentSkew}, Broker: -1})
	if len(fs) != 1 || !strings.Contains(fs[0].Summary, "slow@") || !slices.Equal(fs[0].Subject.Partitions, slow) {
		t.Fatalf("want CONSUMER_ASSIGNMENT_SKEW naming the slow member and its partitions %v, got %d: %v", slow, len(fs), eventSummaries(r.events))
	}
	t.Log(fs[0].Summary)
}

// TestHealthyRunQuiet: ten simulated minutes of bursty but balanced load,
// consumers committing every 5 s like auto-commit, open no finding at all —
// no lag, stall, rewind, retention, hot-partition, rebalance or assignment
// finding.
func TestHealthyRunQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("600 sweeps")
	}
	r := newRig(t, "clicks", "orders", "audit")
	rng := rand.New(rand.NewPCG(1, 2))
	for sec := range 600 {
		for _, topic := range []string{"clicks", "orders", "audit"} {
			n := 9 + rng.IntN(7) // steady trickle, spread round-robin
			if sec%60 == 17 && topic == "clicks" {
				n = 600 // a burst, balanced across partitions
			}
			r.produce(topic, n)
			if sec%5 == 0 {
				r.commit(topic+"-readers", topic, func(end, _ int64) int64 { return end })
			}
		}
		r.sweep()
	}
	if fs := r.findings.List(state.FindingFilter{Broker: -1}); len(fs) > 0 {
		t.Fatalf("a healthy run opened %d findings: %v", len(fs), eventSummaries(r.events))
	}
}
