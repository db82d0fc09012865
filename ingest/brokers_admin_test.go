package ingest

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"maps"
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
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Admin-API collection against kfake: log dirs (with controlled KIP-827
// answers), capability probing, Metadata partition health, topic configs,
// and the read-only guarantee.

// readOnlyKeys are the requests kwitness may send (with the client's own
// ApiVersions and Metadata).
var readOnlyKeys = map[int16]bool{
	kmsg.Metadata.Int16(): true, kmsg.ApiVersions.Int16(): true, kmsg.DescribeLogDirs.Int16(): true,
	kmsg.ListPartitionReassignments.Int16(): true, kmsg.DescribeConfigs.Int16(): true,
	kmsg.DescribeCluster.Int16(): true,
}

// adminHarness is a 3-broker kfake cluster, a test client that may write
// (setup only), and a poller whose own client is observed: every request
// key it sends is recorded.
type adminHarness struct {
	c      *kfake.Cluster
	setup  *kadm.Client
	cl     *kgo.Client // the poller's client
	tel    *state.Telemetry
	set    *metrics.Set
	logs   *syncBuffer
	p      *BrokerPoller
	nodes  kadm.BrokerDetails
	mu     sync.Mutex
	sent   map[int16]int
	sweeps int
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) count(sub string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Count(s.b.String(), sub)
}

func newAdminHarness(t *testing.T, cfg TelemetryConfig, kopts []kfake.Opt, opts ...BrokerOption) *adminHarness {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(3), kfake.SeedTopics(3, "orders", "audit")}, kopts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	h := &adminHarness{c: c, tel: newTelemetry(t), set: metrics.NewSet(), logs: &syncBuffer{}, sent: map[int16]int{}}
	setup, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(setup.Close)
	h.setup = kadm.NewClient(setup)
	if h.nodes, err = h.setup.ListBrokers(context.Background()); err != nil || len(h.nodes) != 3 {
		t.Fatalf("kfake brokers %v: %v", h.nodes, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...), kgo.WithHooks(h))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	h.cl = cl
	log := slog.New(slog.NewTextHandler(h.logs, nil))
	if h.p, err = NewBrokerPoller(cfg, h.tel, kadm.NewClient(cl), log, h.set, nil, opts...); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		for k := range h.sent {
			if !readOnlyKeys[k] {
				t.Errorf("the poller sent %s: kwitness must only read", kmsg.NameForKey(k))
			}
		}
	})
	return h
}

// OnBrokerWrite records the key of every request the poller's client sends.
func (h *adminHarness) OnBrokerWrite(_ kgo.BrokerMetadata, key int16, _ int, _ time.Duration, _ time.Duration, err error) {
	if err == nil {
		h.mu.Lock()
		h.sent[key]++
		h.mu.Unlock()
	}
}

func (h *adminHarness) sentCount(k kmsg.Key) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sent[k.Int16()]
}

// sweep runs n sweeps 10 s apart and returns the newest ClusterInput.
func (h *adminHarness) sweep(n int) detect.ClusterInput {
	for range n {
		h.p.Sweep(context.Background(), time.UnixMilli(telT0+int64(h.sweeps)*10_000))
		h.sweeps++
	}
	return h.tel.ClusterInput()
}

func adminConfig() TelemetryConfig {
	cfg := testTelemetryConfig()
	cfg.LogDirsInterval, cfg.MetadataInterval = 10*time.Second, 10*time.Second
	return cfg
}

// produce writes n records to topic through the setup client.
func (h *adminHarness) produce(t *testing.T, topic string, n int) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(h.c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for i := range n {
		r := &kgo.Record{Topic: topic, Value: []byte(strings.Repeat("x", 100)), Partition: int32(i % 3)}
		if err := cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAdminLogDirsKfake: kfake answers DescribeLogDirs with TotalBytes = Σ
// sizes < UsableBytes = 32 GiB. Those totals are not used: used bytes are
// Σ partition sizes, no total is written, and the reason is recorded once
// under CapLogDirCapacity. Membership and partition health come from
// Metadata (ISR = replicas in kfake: zeros), reassignments are asked for.
func TestAdminLogDirsKfake(t *testing.T) {
	h := newAdminHarness(t, adminConfig(), nil)
	h.produce(t, "orders", 30)
	in := h.sweep(3)
	for _, n := range h.nodes {
		b := brokerOf(t, in, n.NodeID)
		if len(b.LogDirs) == 0 {
			t.Fatalf("broker %d: no log dirs", n.NodeID)
		}
		for _, d := range b.LogDirs {
			if len(d.Total.Values) != 0 {
				t.Errorf("broker %d dir %s: total [%s] written from contradictory KIP-827 totals", n.NodeID, d.Path, render(d.Total))
			}
			if v, _ := d.Used.Last(); !(v > 0) || d.Used.Source != "DescribeLogDirs" {
				t.Errorf("broker %d dir %s: used %g from %q, want Σ partition sizes > 0 from DescribeLogDirs", n.NodeID, d.Path, v, d.Used.Source)
			}
		}
		lastValue(t, fmt.Sprintf("broker %d registered", n.NodeID), b.Signals[detect.SigRegistered], 1)
		lastValue(t, fmt.Sprintf("broker %d URP from Metadata", n.NodeID), b.Signals[detect.SigUnderReplicated], 0)
		if src := b.Signals[detect.SigUnderReplicated].Source; src != "Metadata" {
			t.Errorf("URP source %q, want Metadata", src)
		}
	}
	lastValue(t, "offline partitions from Metadata (on the lowest broker)", in.Brokers[0].Signals[detect.SigOfflinePartitions], 0)
	lastValue(t, "admin up", in.AdminUp, 1)
	if why := h.p.Capabilities()[CapLogDirCapacity]; !strings.Contains(why, "usable 34359738368 > total") {
		t.Errorf("capability %s: %q", CapLogDirCapacity, why)
	}
	if n := h.logs.count("capability unavailable"); n != 1 {
		t.Errorf("capability logged %d times over 3 sweeps, want once", n)
	}
	if h.sentCount(kmsg.ListPartitionReassignments) == 0 {
		t.Error("ListPartitionReassignments was never sent")
	}
	if in.Reassigning {
		t.Error("kfake has no reassignments")
	}
}

// answerLogDirs makes the cluster answer every DescribeLogDirs with one
// dir "/data" per broker: total 100 GiB, usable 10 GiB, or the error code.
func answerLogDirs(c *kfake.Cluster, code int16) {
	c.ControlKey(kmsg.DescribeLogDirs.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		c.KeepControl()
		resp := r.(*kmsg.DescribeLogDirsRequest).ResponseKind().(*kmsg.DescribeLogDirsResponse)
		resp.ErrorCode = code
		if code != 0 {
			return resp, nil, true
		}
		d := kmsg.NewDescribeLogDirsResponseDir()
		d.Dir, d.TotalBytes, d.UsableBytes = "/data", 100<<30, 10<<30
		rt := kmsg.NewDescribeLogDirsResponseDirTopic()
		rt.Topic = "orders"
		rp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		rp.Partition, rp.Size = c.CurrentNode(), 1<<30
		rt.Partitions = append(rt.Partitions, rp)
		d.Topics = append(d.Topics, rt)
		resp.Dirs = append(resp.Dirs, d)
		return resp, nil, true
	})
}

// TestAdminLogDirsKIP827: a controlled DescribeLogDirs with sane KIP-827
// totals gives used = total − usable and total per broker log dir, and
// no capability is missing.
func TestAdminLogDirsKIP827(t *testing.T) {
	h := newAdminHarness(t, adminConfig(), nil)
	answerLogDirs(h.c, 0)
	in := h.sweep(2)
	for _, n := range h.nodes {
		b := brokerOf(t, in, n.NodeID)
		if len(b.LogDirs) != 1 || b.LogDirs[0].Path != "/data" {
			t.Fatalf("broker %d log dirs %+v", n.NodeID, b.LogDirs)
		}
		d := b.LogDirs[0]
		if got := render(d.Used); got != fmt.Sprintf("%g %g", float64(90<<30), float64(90<<30)) {
			t.Errorf("broker %d used [%s], want 90 GiB twice", n.NodeID, got)
		}
		lastValue(t, "total", d.Total, 100<<30)
		if d.Total.Source != "DescribeLogDirs" {
			t.Errorf("total source %q", d.Total.Source)
		}
	}
	if caps := h.p.Capabilities(); len(caps) != 0 {
		t.Errorf("capabilities %v, want none missing", caps)
	}
}

// TestAdminLogDirsUnsupported: DescribeLogDirs answered UNSUPPORTED_VERSION
// is recorded once as a capability, logged once, not counted as an error;
// Metadata collection and the admin API's health go on.
func TestAdminLogDirsUnsupported(t *testing.T) {
	h := newAdminHarness(t, adminConfig(), nil)
	answerLogDirs(h.c, kerr.UnsupportedVersion.Code)
	in := h.sweep(5)
	if h.sentCount(kmsg.DescribeLogDirs) < 5 {
		t.Errorf("DescribeLogDirs sent %d times over 5 sweeps, want it kept being asked", h.sentCount(kmsg.DescribeLogDirs))
	}
	if why := h.p.Capabilities()[ReqDescribeLogDirs]; !strings.Contains(why, "UNSUPPORTED_VERSION") {
		t.Errorf("capability %s: %q", ReqDescribeLogDirs, why)
	}
	if n := h.logs.count("capability unavailable"); n != 1 {
		t.Errorf("capability logged %d times, want once:\n%s", n, h.logs.b.String())
	}
	if n := h.logs.count("level=WARN"); n != 1 {
		t.Errorf("%d warnings, want the one capability line:\n%s", n, h.logs.b.String())
	}
	if got := h.set.GetOrCreateCounter(`kwitness_ingest_errors_total{class="kafka",request="DescribeLogDirs"}`).Get(); got != 0 {
		t.Errorf("unsupported counted as %d errors", got)
	}
	lastValue(t, "admin up", in.AdminUp, 1)
	for _, n := range h.nodes {
		b := brokerOf(t, in, n.NodeID)
		lastValue(t, "registered", b.Signals[detect.SigRegistered], 1)
		if len(b.LogDirs) != 0 {
			t.Errorf("broker %d has log dirs %+v", n.NodeID, b.LogDirs)
		}
	}
	st := h.p.Status()
	i := slices.IndexFunc(st.Admin.Requests, func(r AdminRequestStatus) bool { return r.Request == ReqDescribeLogDirs })
	if i < 0 || !st.Admin.Requests[i].Unsupported || !st.Admin.Up {
		t.Errorf("status %+v", st.Admin)
	}
}

// TestAdminLogDirsOldVersions: a cluster capped below DescribeLogDirs v4
// answers without KIP-827 totals (recorded once under CapLogDirCapacity);
// one that does not offer DescribeLogDirs at all is recorded under
// ReqDescribeLogDirs. Either way collection goes on.
func TestAdminLogDirsOldVersions(t *testing.T) {
	f := func(n int, maxVersion int16, capability, why string) {
		t.Helper()
		v := kversion.Stable()
		v.SetMaxKeyVersion(kmsg.DescribeLogDirs.Int16(), maxVersion)
		h := newAdminHarness(t, adminConfig(), []kfake.Opt{kfake.MaxVersions(v)})
		in := h.sweep(3)
		if got := h.p.Capabilities()[capability]; !strings.Contains(got, why) {
			t.Errorf("%d: capability %s = %q, want it to contain %q (all: %v)", n, capability, got, why, h.p.Capabilities())
		}
		if c := h.logs.count("capability unavailable"); c != 1 {
			t.Errorf("%d: capability logged %d times, want once", n, c)
		}
		lastValue(t, fmt.Sprint(n, ": admin up"), in.AdminUp, 1)
		lastValue(t, fmt.Sprint(n, ": registered"), brokerOf(t, in, h.nodes[0].NodeID).Signals[detect.SigRegistered], 1)
	}
	f(1, 3, CapLogDirCapacity, "needs DescribeLogDirs v4")
	f(2, -1, ReqDescribeLogDirs, "too old")
}

// TestAdminPartitionHealth: a controlled Metadata answer with an offline
// partition (leader -1) and an under-replicated one led by broker B. The
// admin series reach the detectors — OFFLINE_PARTITIONS opens, and
// UNDER_REPLICATED for B — unless the broker's JMX scrape exports the
// signal: then the scraped value wins.
func TestAdminPartitionHealth(t *testing.T) {
	for _, scraped := range []bool{false, true} {
		t.Run(fmt.Sprintf("scraped=%v", scraped), func(t *testing.T) {
			cfg := adminConfig()
			b := newExpo(t, func(int) string { return "kafka_server_replicamanager_underreplicatedpartitions 0\n" })
			h := newAdminHarness(t, cfg, nil)
			ids := []int32{h.nodes[0].NodeID, h.nodes[1].NodeID, h.nodes[2].NodeID}
			lead := ids[1]
			if scraped {
				cfg.Targets = []ScrapeTarget{{Broker: lead, URL: b.url()}}
				p, err := NewBrokerPoller(cfg, h.tel, h.p.adm, slog.New(slog.DiscardHandler), h.set, nil)
				if err != nil {
					t.Fatal(err)
				}
				h.p = p
			}
			answerMetadata(t, h, ids, lead)
			bc := shortBrokerConfig()
			det, _ := detect.NewBrokerDetector(bc)
			book, _ := detect.NewBook(detect.BookConfig{OpenAfter: 5 * time.Second, ResolveAfter: 30 * time.Second, UpdateEvery: time.Hour})
			var events []string
			var in detect.ClusterInput
			for k := range 6 {
				in = h.sweep(1)
				for _, ev := range book.Observe("broker", time.UnixMilli(in.At), det.Sweep(in)) {
					events = append(events, fmt.Sprintf("%d %s@%d %s", k, ev.Finding.Kind, ev.Finding.Subject.Broker, ev.Type))
				}
			}
			lowest := brokerOf(t, in, ids[0])
			lastValue(t, "offline partitions on the lowest broker", lowest.Signals[detect.SigOfflinePartitions], 1)
			if ref := lowest.Signals[detect.SigOfflinePartitions].Ref; !slices.Contains(ref.Labels, detect.Label{Name: "broker", Value: "-1"}) {
				t.Errorf("offline partitions cite %v, want the cluster-wide series (broker -1)", ref)
			}
			lastValue(t, "URP of a broker leading none", lowest.Signals[detect.SigUnderReplicated], 0)
			urp := brokerOf(t, in, lead).Signals[detect.SigUnderReplicated]
			want := []string{"2 OFFLINE_PARTITIONS@-1 opened"} // 2 consecutive samples at sweep 1, +OpenAfter
			if scraped {
				lastValue(t, "URP of the leader: the scraped 0 wins", urp, 0)
				if !strings.HasPrefix(urp.Source, "scrape ") {
					t.Errorf("URP source %q, want the scrape", urp.Source)
				}
			} else {
				lastValue(t, "URP of the leader from Metadata", urp, 1)
				want = append(want, fmt.Sprintf("4 UNDER_REPLICATED@%d opened", lead)) // 30 s at sweep 3
			}
			if !slices.Equal(events, want) {
				t.Errorf("events\n got %q\nwant %q", events, want)
			}
		})
	}
}

// answerMetadata answers every Metadata request (the poller's and its
// client's own) with the real brokers and topic "orders": partition 0
// healthy, 1 offline (leader -1, empty ISR), 2 led by lead with one
// replica out of sync.
func answerMetadata(t *testing.T, h *adminHarness, ids []int32, lead int32) {
	t.Helper()
	m, err := h.setup.Metadata(context.Background(), "orders")
	if err != nil {
		t.Fatal(err)
	}
	topicID := m.Topics["orders"].ID
	h.c.ControlKey(kmsg.Metadata.Int16(), func(r kmsg.Request) (kmsg.Response, error, bool) {
		h.c.KeepControl()
		resp := r.(*kmsg.MetadataRequest).ResponseKind().(*kmsg.MetadataResponse)
		for _, n := range h.nodes {
			b := kmsg.NewMetadataResponseBroker()
			b.NodeID, b.Host, b.Port = n.NodeID, n.Host, n.Port
			resp.Brokers = append(resp.Brokers, b)
		}
		resp.ControllerID = ids[0]
		rt := kmsg.NewMetadataResponseTopic()
		rt.Topic, rt.TopicID = kmsg.StringPtr("orders"), topicID
		part := func(p, leader int32, replicas, isr []int32, code int16) {
			rp := kmsg.NewMetadataResponseTopicPartition()
			rp.Partition, rp.Leader, rp.Replicas, rp.ISR, rp.ErrorCode = p, leader, replicas, isr, code
			rt.Partitions = append(rt.Partitions, rp)
		}
		part(0, ids[0], ids, ids, 0)
		part(1, -1, ids, []int32{}, kerr.LeaderNotAvailable.Code)
		part(2, lead, ids, []int32{lead}, 0)
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
}

// TestAdminTopicConfigs: DescribeConfigs for the topics seen in telemetry
// (kfake's DescribeLogDirs lists every partition) and the consumed ones;
// a consumed topic that does not exist is left out.
func TestAdminTopicConfigs(t *testing.T) {
	consumed := func() []string { return []string{"billing", "missing"} }
	h := newAdminHarness(t, adminConfig(), nil, WithConsumedTopics(consumed))
	if _, err := h.setup.CreateTopic(context.Background(), 1, 1, map[string]*string{
		"retention.ms": kmsg.StringPtr("3600000"), "cleanup.policy": kmsg.StringPtr("compact"), "min.insync.replicas": kmsg.StringPtr("1"),
	}, "billing"); err != nil {
		t.Fatal(err)
	}
	h.sweep(2)
	got := h.p.TopicConfigs()
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"audit", "billing", "orders"}) {
		t.Fatalf("topics %v, want audit billing orders", names)
	}
	b := got["billing"]
	if b["retention.ms"] != "3600000" || b["cleanup.policy"] != "compact" || b["min.insync.replicas"] != "1" {
		t.Errorf("billing configs %v", b)
	}
	for topic, cs := range got {
		for k := range cs {
			if !slices.Contains(TopicConfigKeys, k) {
				t.Errorf("%s: config %s is not one of TopicConfigKeys", topic, k)
			}
		}
	}
	if h.sentCount(kmsg.DescribeConfigs) == 0 {
		t.Error("DescribeConfigs never sent")
	}
	st := h.p.Status()
	i := slices.IndexFunc(st.Admin.Requests, func(r AdminRequestStatus) bool { return r.Request == ReqDescribeConfigs })
	if i < 0 || st.Admin.Requests[i].LastError != "" {
		t.Errorf("DescribeConfigs status %+v", st.Admin.Requests)
	}
}

// TestAdminRequestFailing: DescribeLogDirs starts failing (authorization):
// its series turn into gaps, admin_up 0, the error is counted at every
// attempt but logged once, and Status names the error and the last success.
func TestAdminRequestFailing(t *testing.T) {
	h := newAdminHarness(t, adminConfig(), nil)
	h.produce(t, "orders", 3)
	h.sweep(2)
	answerLogDirs(h.c, kerr.ClusterAuthorizationFailed.Code)
	in := h.sweep(3)
	b := brokerOf(t, in, h.nodes[0].NodeID)
	if len(b.LogDirs) == 0 {
		t.Fatal("no log dirs")
	}
	if got := render(b.LogDirs[0].Used); !strings.HasSuffix(got, " _ _ _") || strings.HasPrefix(got, "_") {
		t.Errorf("used [%s], want values then 3 gaps", got)
	}
	if got := render(in.AdminUp); got != "1 1 0 0 0" {
		t.Errorf("admin_up [%s], want [1 1 0 0 0]", got)
	}
	if got := h.set.GetOrCreateCounter(`kwitness_ingest_errors_total{class="auth",request="DescribeLogDirs"}`).Get(); got != 3 {
		t.Errorf("auth errors counted %d, want 3", got)
	}
	if n := h.logs.count("admin request failing"); n != 1 {
		t.Errorf("failure logged %d times, want once:\n%s", n, h.logs.b.String())
	}
	st := h.p.Status()
	i := slices.IndexFunc(st.Admin.Requests, func(r AdminRequestStatus) bool { return r.Request == ReqDescribeLogDirs })
	if i < 0 {
		t.Fatalf("no DescribeLogDirs status: %+v", st.Admin)
	}
	r := st.Admin.Requests[i]
	if st.Admin.Up || !strings.Contains(r.LastError, "CLUSTER_AUTHORIZATION_FAILED") ||
		r.LastSuccess != time.UnixMilli(telT0+10_000) || r.LastAttempt != time.UnixMilli(telT0+40_000) {
		t.Errorf("status up %v, request %+v", st.Admin.Up, r)
	}
	if st.LastSweep != time.UnixMilli(telT0+40_000) || st.Sweeps != 5 {
		t.Errorf("status sweep %v / %d", st.LastSweep, st.Sweeps)
	}
}

// TestAdminSlowDoesNotDelayScrapes: under Run, a cluster that does not
// answer admin requests (every Metadata held for longer than the test)
// must not hold back the 1 s scrape sweeps; Run returns once cancelled,
// after its admin goroutine.
func TestAdminSlowDoesNotDelayScrapes(t *testing.T) {
	e := newExpo(t, strimziBody(0, 1))
	cfg := testTelemetryConfig(ScrapeTarget{Broker: 1, URL: e.url()})
	cfg.AdminTimeout = 30 * time.Second
	h := newAdminHarness(t, cfg, nil)
	release := make(chan struct{})
	var held sync.Once
	heldNow := make(chan struct{})
	h.c.ControlKey(kmsg.Metadata.Int16(), func(kmsg.Request) (kmsg.Response, error, bool) {
		h.c.KeepControl()
		held.Do(func() { close(heldNow) })
		<-release // the cluster hangs on Metadata
		return nil, nil, false
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.p.Run(ctx)
	}()
	defer func() {
		cancel()
		close(release)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after cancel")
		}
	}()
	select {
	case <-heldNow:
	case <-time.After(10 * time.Second):
		t.Fatal("the poller never asked for Metadata")
	}
	start := h.p.Status().Sweeps
	deadline := time.Now().Add(10 * time.Second)
	for h.p.Status().Sweeps < start+3 {
		if time.Now().After(deadline) {
			t.Fatalf("scrape sweeps stalled behind a hung admin request: %d sweeps in 10 s", h.p.Status().Sweeps-start)
		}
		time.Sleep(50 * time.Millisecond)
	}
	b := brokerOf(t, h.tel.ClusterInput(), 1)
	if w := b.Signals[detect.SigScrapeUp]; !newestIs(w, 1) {
		t.Fatalf("scrape_up of broker 1 while admin hangs: %s, want newest 1", render(w))
	}
}

func newestIs(w detect.SignalWindow, v float64) bool {
	return len(w.Values) > 0 && w.Values[len(w.Values)-1] == v
}

// TestAdminDescribeCluster: with the Kafka client, membership comes from
// DescribeCluster (a fenced broker is not a member: registered 0) and the
// status carries the cluster id and controller; a cluster without
// DescribeCluster is recorded once as a capability and membership falls
// back to Metadata.
func TestAdminDescribeCluster(t *testing.T) {
	t.Run("answered", func(t *testing.T) {
		h := newAdminHarness(t, adminConfig(), nil)
		h.p.kcl = h.cl
		in := h.sweep(1)
		if h.sentCount(kmsg.DescribeCluster) == 0 {
			t.Fatal("DescribeCluster was not sent")
		}
		st := h.p.Status().Admin
		if st.ClusterID == "" || st.ControllerID == nil || len(st.Members) != 3 {
			t.Fatalf("status %+v: want a cluster id, a controller and 3 members", st)
		}
		for _, b := range h.nodes {
			lastValue(t, fmt.Sprint("registered ", b.NodeID), brokerOf(t, in, b.NodeID).Signals[detect.SigRegistered], 1)
		}
		fenced := h.nodes[2].NodeID
		h.c.ControlKey(kmsg.DescribeCluster.Int16(), func(kr kmsg.Request) (kmsg.Response, error, bool) {
			h.c.KeepControl()
			req := kr.(*kmsg.DescribeClusterRequest)
			resp := req.ResponseKind().(*kmsg.DescribeClusterResponse)
			resp.Version = req.Version
			resp.ClusterID, resp.ControllerID = st.ClusterID, *st.ControllerID
			for _, b := range h.nodes {
				rb := kmsg.NewDescribeClusterResponseBroker()
				rb.NodeID, rb.Host, rb.Port, rb.IsFenced = b.NodeID, b.Host, b.Port, b.NodeID == fenced
				resp.Brokers = append(resp.Brokers, rb)
			}
			return resp, nil, true
		})
		h.sweeps += 3 // past the metadata cadence
		in = h.sweep(1)
		lastValue(t, "registered (fenced)", brokerOf(t, in, fenced).Signals[detect.SigRegistered], 0)
		lastValue(t, "registered", brokerOf(t, in, h.nodes[0].NodeID).Signals[detect.SigRegistered], 1)
		if st := h.p.Status().Admin; !slices.Equal(st.Fenced, []int32{fenced}) || len(st.Members) != 2 {
			t.Fatalf("status %+v: want broker %d fenced and 2 members", st, fenced)
		}
	})
	t.Run("unsupported", func(t *testing.T) {
		v := kversion.Stable()
		v.SetMaxKeyVersion(kmsg.DescribeCluster.Int16(), -1)
		h := newAdminHarness(t, adminConfig(), []kfake.Opt{kfake.MaxVersions(v)})
		h.p.kcl = h.cl
		in := h.sweep(4)
		if why := h.p.Capabilities()[ReqDescribeCluster]; why == "" {
			t.Fatalf("capabilities %v: want %s recorded", h.p.Capabilities(), ReqDescribeCluster)
		}
		if c := h.logs.count("capability=DescribeCluster"); c != 1 {
			t.Errorf("capability logged %d times, want once", c)
		}
		lastValue(t, "admin up", in.AdminUp, 1)
		lastValue(t, "registered from Metadata", brokerOf(t, in, h.nodes[0].NodeID).Signals[detect.SigRegistered], 1)
		if st := h.p.Status().Admin; st.ControllerID != nil || len(st.Members) != 3 {
			t.Fatalf("status %+v: want no DescribeCluster facts and 3 members from Metadata", st)
		}
	})
}

// TestAdminUnderMinISR: partition 2 of "orders" keeps one in-sync replica
// while the topic requires two. Once DescribeConfigs has told the minimum,
// Metadata yields under_min_isr_partitions 1 for its leader (0 for the
// others) and UNDER_MIN_ISR opens for it; before that the series is absent,
// not 0.
func TestAdminUnderMinISR(t *testing.T) {
	h := newAdminHarness(t, adminConfig(), nil)
	ctx := context.Background()
	if _, err := h.setup.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "min.insync.replicas", Value: kmsg.StringPtr("2")}}, "orders"); err != nil {
		t.Fatal(err)
	}
	ids := []int32{h.nodes[0].NodeID, h.nodes[1].NodeID, h.nodes[2].NodeID}
	lead := ids[1]
	answerMetadata(t, h, ids, lead)
	in := h.sweep(1)
	if w, ok := brokerOf(t, in, lead).Signals[detect.SigUnderMinISR]; ok && len(w.Values) > 0 {
		t.Fatalf("under-min-ISR before the minimum is known: %s, want no series", render(w))
	}
	bc := shortBrokerConfig()
	bc.UnderMinISRFor = 20 * time.Second
	det, _ := detect.NewBrokerDetector(bc)
	book, _ := detect.NewBook(detect.BookConfig{OpenAfter: 5 * time.Second, ResolveAfter: 30 * time.Second, UpdateEvery: time.Hour})
	opened := false
	for range 4 {
		in = h.sweep(1)
		for _, ev := range book.Observe("broker", time.UnixMilli(in.At), det.Sweep(in)) {
			if ev.Finding.Kind == detect.KindUnderMinISR && ev.Finding.Subject.Broker == lead {
				opened = true
			}
		}
	}
	w := brokerOf(t, in, lead).Signals[detect.SigUnderMinISR]
	lastValue(t, "under-min-ISR of the leader", w, 1)
	if w.Source != "Metadata" {
		t.Errorf("source %q, want Metadata", w.Source)
	}
	lastValue(t, "under-min-ISR of a broker leading none", brokerOf(t, in, ids[0]).Signals[detect.SigUnderMinISR], 0)
	if !opened {
		t.Error("UNDER_MIN_ISR did not open for the leader")
	}
}
