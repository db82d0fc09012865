package explain_test

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/explain"
)

// subjectRig is newRig's window (group fraud on payments, 4 partitions,
// end offsets growing 100/s each) with a layout, configs, broker
// telemetry and findings on the topic, its brokers, the cluster and the
// group.
func subjectRig(t *testing.T) *explain.Explainer {
	t.Helper()
	r := newRig(t, 4, detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "payments", Contact: "#pay", Topics: []string{"payments"}, Brokers: []string{"2"}}}})
	// Partition 0 lost a follower (ISR [1] of [1 2]); partition 2's leader
	// moves from broker 1 to broker 2 at +40s; retention shrinks at +45s.
	layout := func(p2leader int32) map[string][]detect.PartitionAssignment {
		return map[string][]detect.PartitionAssignment{
			"payments": {
				{Partition: 0, Leader: 1, Replicas: []int32{1, 2}, ISR: []int32{1}},
				{Partition: 1, Leader: 2, Replicas: []int32{2, 1}, ISR: []int32{2, 1}},
				{Partition: 2, Leader: p2leader, Replicas: []int32{1, 2}, ISR: []int32{1, 2}},
				{Partition: 3, Leader: 2, Replicas: []int32{2, 1}, ISR: []int32{2, 1}},
			},
			"audit": {{Partition: 0, Leader: 1, Replicas: []int32{1}, ISR: []int32{1}}},
		}
	}
	r.layout.ObserveMetadata(t0.Add(35*time.Second), layout(1))
	r.layout.ObserveMetadata(t0.Add(40*time.Second), layout(2))
	cfg := func(retention string) map[string]map[string]string {
		return map[string]map[string]string{"payments": {"retention.ms": retention, "cleanup.policy": "delete", "min.insync.replicas": "2"}}
	}
	r.layout.ObserveConfigs(t0.Add(35*time.Second), cfg("3600000"))
	r.layout.ObserveConfigs(t0.Add(45*time.Second), cfg("600000"))

	tel, err := state.NewTelemetry(state.WindowConfig{Span: 2 * time.Minute, Points: 55, Recent: 6}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	key := func(sig detect.Signal, broker int32) state.TelemetryKey {
		return state.TelemetryKey{Signal: sig, Broker: broker, Partition: -1}
	}
	for i := range sweeps {
		s := tel.Begin(t0.Add(time.Duration(i) * time.Second))
		if i == 0 {
			s.SetBrokers(map[int32]state.BrokerContext{1: {Registered: true}, 2: {Registered: true}})
		}
		for _, b := range []int32{1, 2} {
			s.Set(key(detect.SigScrapeUp, b), 1)
			s.Set(key(detect.SigBytesIn, b), float64(1000*int(b)*i)) // 1000·b bytes/s
			s.Set(key(detect.SigBytesOut, b), float64(2000*int(b)*i))
			s.Set(key(detect.SigUnderReplicated, b), float64(b-1)) // broker 2 reports one
			size := key(detect.SigTopicSize, b)
			size.Topic = "payments"
			s.Set(size, 3e6)
			used, total := key(detect.SigLogDirUsed, b), key(detect.SigLogDirTotal, b)
			used.Dir, total.Dir = "/data", "/data"
			s.Set(used, 80e9)
			s.Set(total, 100e9)
		}
		tel.Commit(s)
	}

	at := t0.Add(50 * time.Second)
	f := func(id string, k detect.Kind, s detect.Subject, summary string) detect.Event {
		s.Cluster = "c1"
		return detect.Event{Type: detect.EventOpened, Finding: detect.Finding{ID: id, Kind: k, Severity: detect.SeverityWarning, State: detect.StateFiring,
			Subject: s, Summary: summary, OpenedAt: at.Add(-time.Duration(len(id)) * time.Second),
			Evidence: []detect.Citation{{From: at, To: at, Source: detect.Source{API: "scrape", SweepAt: at}}}}}
	}
	r.findings.Apply(at, []detect.Event{
		f("urp", detect.KindUnderReplicated, detect.Subject{Topic: "payments", Partitions: []int32{0}, Broker: -1}, "payments-0 is under-replicated."),
		f("disk2", detect.KindDiskNearlyFull, detect.Subject{Broker: 2}, "broker 2's disk is nearly full."),
		f("disk7", detect.KindDiskNearlyFull, detect.Subject{Broker: 7}, "broker 7's disk is nearly full."),
		f("ctrl", detect.KindControllerAnomaly, detect.Subject{Broker: -1}, "no active controller."),
		f("lag", detect.KindLagGrowing, detect.Subject{Group: "fraud", Topic: "payments", Broker: -1}, "fraud is behind."),
		f("audit", detect.KindHotPartition, detect.Subject{Topic: "audit", Broker: -1}, "audit-0 is hot."),
	})
	o, err := detect.NewOwners(detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "payments", Contact: "#pay", Topics: []string{"payments"}, Brokers: []string{"2"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := explain.New(explain.Sources{Window: r.w, Findings: r.findings, Events: r.events, Telemetry: tel, Layout: r.layout, Owners: o, Lag: lagConfig()})
	if err != nil {
		t.Fatal(err)
	}
	return ex
}

// checkRefs fails when a narrative statement refers to an entry the
// bundle does not hold.
func checkRefs(t *testing.T, b explain.Bundle) {
	t.Helper()
	ids := map[string]bool{explain.RefState: true, explain.RefOwner: true}
	for _, e := range b.Timeline {
		ids[e.ID] = true
		if len(e.Citations) == 0 {
			t.Errorf("entry %s %s cites nothing", e.ID, e.Kind)
		}
	}
	for _, f := range b.Findings {
		ids[f.Finding.ID] = true
	}
	for _, st := range b.Narrative {
		if len(st.Refs) == 0 {
			t.Errorf("statement without a reference: %q", st.Text)
		}
		for _, ref := range st.Refs {
			if !ids[ref] {
				t.Errorf("statement %q refers to %q, not in the bundle", st.Text, ref)
			}
		}
	}
}

func relations(b explain.Bundle) []string {
	var out []string
	for _, f := range b.Findings {
		out = append(out, f.Finding.ID+" "+f.Relation)
	}
	return out
}

func narrative(b explain.Bundle) string {
	var s []string
	for _, st := range b.Narrative {
		s = append(s, st.Text)
	}
	return strings.Join(s, "\n")
}

func TestTopicBundle(t *testing.T) {
	ex := subjectRig(t)
	b, ok, err := ex.Explain(explain.Request{Topic: "payments", Broker: -1})
	if err != nil || !ok {
		t.Fatalf("Explain: ok=%v err=%v", ok, err)
	}
	if !b.Owner.Owned || b.Owner.Team != "payments" || b.Subject.Topic != "payments" {
		t.Errorf("owner %+v subject %+v", b.Owner, b.Subject)
	}
	ts := b.Topic
	if ts == nil || ts.PartitionCount != 4 || len(ts.Partitions) != 4 || !slices.Equal(ts.Groups, []string{"fraud"}) {
		t.Fatalf("topic state = %+v", ts)
	}
	// The under-replicated partition comes first; offsets are the newest sweep's.
	p0 := ts.Partitions[0]
	if p0.Partition != 0 || p0.Leader != 1 || !slices.Equal(p0.ISR, []int32{1}) || p0.LogEnd != 100*(sweeps-1) || p0.LogStart != 0 {
		t.Errorf("first partition = %+v", p0)
	}
	if p := ts.Partitions[2]; p.Partition != 2 || p.Leader != 2 {
		t.Errorf("partition 2 = %+v (its leader moved to broker 2)", p)
	}
	if ts.SizeBytes != 6e6 {
		t.Errorf("size = %v, want 6e6 (3e6 on each of two brokers)", ts.SizeBytes)
	}
	if math.Abs(ts.ProduceRate-400) > 1 {
		t.Errorf("produce rate = %v msg/s, want 400 (4 partitions × 100/s)", ts.ProduceRate)
	}
	if want := [][2]string{{"cleanup.policy", "delete"}, {"min.insync.replicas", "2"}, {"retention.ms", "600000"}}; !slices.Equal(ts.Configs, want) {
		t.Errorf("configs = %v, want %v", ts.Configs, want)
	}
	kinds := map[string]explain.Entry{}
	for _, e := range b.Timeline {
		kinds[e.Kind] = e
	}
	for _, k := range []string{explain.EntryLeaderMoved, explain.EntryConfigChanged, explain.EntryFindingOpened} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("timeline lacks %s: %+v", k, b.Timeline)
		}
	}
	if c := kinds[explain.EntryLeaderMoved].Citations[0]; c.Source.API != "Metadata" || !c.To.Equal(t0.Add(40*time.Second)) {
		t.Errorf("leader movement cites %+v", c)
	}
	// The topic's own, its brokers' (not broker 7's), the cluster's, and the
	// group reading it; not another topic's.
	got := relations(b)
	want := []string{"urp subject", "ctrl the cluster", "disk2 broker 2 (leads 3 and holds replicas of 4 partitions of payments)", "lag consumer group fraud (reads the topic)"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
	if b.Findings[0].Finding.ID != "urp" {
		t.Errorf("the topic's own finding is not first: %q", relations(b))
	}
	checkRefs(t, b)
	text := narrative(b)
	for _, s := range []string{
		"Topic payments has 4 partitions, replicas on brokers 1, 2, leaders on brokers 1, 2; 1 under-replicated",
		"1 below min.insync.replicas=2", "5.7 MiB on disk", "about 400 messages/s", "read by group(s) fraud",
		"One leader movement in the window: leader of payments-2 moved from broker 1 to broker 2",
		`config retention.ms changed from "3600000" to "600000"`,
		"On consumer group fraud (reads the topic), LAG_GROWING is firing", "It depends on broker 2",
		"Owned by",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("narrative lacks %q:\n%s", s, text)
		}
	}

	if _, ok, err := ex.Explain(explain.Request{Topic: "nope", Broker: -1}); ok || err != nil {
		t.Errorf("an unknown topic: ok=%v err=%v", ok, err)
	}
	// A topic Metadata lists but no group reads: no offsets, no rate.
	b, ok, _ = ex.Explain(explain.Request{Topic: "audit", Broker: -1})
	if !ok || b.Topic.PartitionCount != 1 || b.Topic.Partitions[0].LogEnd != detect.Gap || !math.IsNaN(b.Topic.ProduceRate) {
		t.Errorf("audit = %+v", b.Topic)
	}
	// Partitions page.
	b, _, _ = ex.Explain(explain.Request{Topic: "payments", Broker: -1, PageSize: 3, Section: explain.SectionPartitions, Offset: 3})
	if p := b.Topic.PartitionsPage; len(b.Topic.Partitions) != 1 || p.Total != 4 || p.More || b.Narrative != nil || b.Timeline != nil {
		t.Errorf("partitions continuation = %+v %+v", b.Topic.Partitions, p)
	}
}

func TestBrokerBundle(t *testing.T) {
	ex := subjectRig(t)
	b, ok, err := ex.Explain(explain.Request{Broker: 2})
	if err != nil || !ok {
		t.Fatalf("Explain: ok=%v err=%v", ok, err)
	}
	bs := b.Broker
	if bs == nil || !bs.Registered || !bs.Reachable || bs.Leaders != 3 || bs.Replicas != 4 || !slices.Equal(bs.TopicsLed, []string{"payments"}) {
		t.Fatalf("broker state = %+v", bs)
	}
	if math.Abs(bs.BytesIn-2000) > 1 || math.Abs(bs.BytesOut-4000) > 1 {
		t.Errorf("traffic in %v out %v, want 2000 and 4000 B/s", bs.BytesIn, bs.BytesOut)
	}
	if len(bs.LogDirs) != 1 || bs.LogDirs[0].Path != "/data" || bs.LogDirs[0].Used != 80e9 || bs.LogDirs[0].Total != 100e9 {
		t.Errorf("log dirs = %+v", bs.LogDirs)
	}
	if i := slices.IndexFunc(bs.Health, func(f detect.Fact) bool { return f.Name == string(detect.SigUnderReplicated) }); i < 0 || bs.Health[i].Value != 1 {
		t.Errorf("health = %+v", bs.Health)
	}
	if got, want := relations(b), []string{"disk2 subject", "ctrl the cluster"}; !slices.Equal(got, want) {
		t.Errorf("findings = %q, want %q", got, want)
	}
	var moved *explain.Entry
	for i := range b.Timeline {
		if b.Timeline[i].Kind == explain.EntryLeaderMoved {
			moved = &b.Timeline[i]
		}
		if b.Timeline[i].Kind == explain.EntryConfigChanged {
			t.Errorf("a topic's config change is in the broker's timeline: %+v", b.Timeline[i])
		}
	}
	if moved == nil || !strings.Contains(moved.Text, "payments-2 moved from broker 1 to broker 2") {
		t.Fatalf("timeline = %+v", b.Timeline)
	}
	checkRefs(t, b)
	text := narrative(b)
	for _, s := range []string{
		"Broker 2 is registered (DescribeCluster lists it) and its metrics scrape answers; it leads 3 partitions and holds 4 replicas",
		"log dir /data 80% used (74.5 GiB of 93.1 GiB)", "2.0 KiB/s in, 3.9 KiB/s out", "under_replicated_partitions 1",
		"Firing DISK_NEARLY_FULL: broker 2's disk is nearly full.", "It depends on the cluster, where CONTROLLER_ANOMALY is firing",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("narrative lacks %q:\n%s", s, text)
		}
	}

	// A caller who may not see payments: its leadership and movement are withheld.
	b, _, _ = ex.Explain(explain.Request{Broker: 2, TopicVisible: func(topic string) bool { return topic != "payments" }})
	if len(b.Broker.TopicsLed) != 0 || b.Withheld != 1 || slices.ContainsFunc(b.Timeline, func(e explain.Entry) bool { return e.Kind == explain.EntryLeaderMoved }) {
		t.Errorf("scoped: topics %v withheld %d timeline %+v", b.Broker.TopicsLed, b.Withheld, b.Timeline)
	}
	if _, ok, _ := ex.Explain(explain.Request{Broker: 9}); ok {
		t.Error("an unknown broker explained")
	}
	// Broker 1 appears only as a former leader: its bundle has the movement too.
	b, ok, _ = ex.Explain(explain.Request{Broker: 1, PageSize: 1})
	if !ok || len(b.Timeline) != 1 || b.TimelinePage.Total < 2 || !b.TimelinePage.More {
		t.Errorf("broker 1 timeline page = %+v %+v", b.Timeline, b.TimelinePage)
	}
}
