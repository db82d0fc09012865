package explain_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/explain"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// Scenario timings (seconds after t0): the group consumes as fast as
// records arrive until a deploy is reported at deployAt; the rebalance is
// observed at changeAt, after which partition 0 consumes at half the rate.
const (
	sweeps   = 60
	deployAt = 29
	changeAt = 30
)

type rig struct {
	w        *state.Window
	findings *state.Findings
	events   *state.Deploys
	layout   *state.Layout
	ex       *explain.Explainer
}

// newRig fills a real window with group "fraud" on topic "payments" (parts
// partitions), its generation series and membership history.
func newRig(t testing.TB, parts int, owners detect.OwnersConfig) *rig {
	t.Helper()
	return newRigLag(t, parts, owners, 0)
}

// newRigLag is newRig with every partition but 0 behind by a steady
// steady messages (consuming as fast as records arrive).
func newRigLag(t testing.TB, parts int, owners detect.OwnersConfig, steady int64) *rig {
	t.Helper()
	w, err := state.NewWindow(state.WindowConfig{Span: 2 * time.Minute, Points: 55, Recent: 6}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	topo := w.BuildTopology([]state.GroupTopicSpec{{Group: "fraud", Topic: "payments", Partitions: ps}})
	gen := w.Register(state.SeriesKey{Metric: state.MetricGeneration, Group: "fraud"})
	ids := func(p int32) (c, e, s uint32) {
		c, _ = w.Lookup(state.SeriesKey{Metric: state.MetricCommitted, Group: "fraud", Topic: "payments", Partition: p})
		e, _ = w.Lookup(state.SeriesKey{Metric: state.MetricEnd, Topic: "payments", Partition: p})
		s, _ = w.Lookup(state.SeriesKey{Metric: state.MetricStart, Topic: "payments", Partition: p})
		return
	}
	ms := func(sec int) int64 { return t0.Add(time.Duration(sec) * time.Second).UnixMilli() }
	change := detect.MembershipChange{AtMs: ms(changeAt), BeforeMs: ms(changeAt - 1), From: 4, To: 5,
		Joined: []string{"fraud-1@10.0.0.2"}, Left: []string{"fraud-1@10.0.0.1"}, GenerationID: gen, HasSeries: true}
	owners0 := map[string]map[int32]string{"payments": {}}
	for _, p := range ps {
		owners0["payments"][p] = "fraud-1@10.0.0.1"
	}
	owners1 := map[string]map[int32]string{"payments": {}}
	for _, p := range ps {
		owners1["payments"][p] = "fraud-1@10.0.0.2"
	}
	for i := range sweeps {
		s := w.Begin(t0.Add(time.Duration(i) * time.Second))
		switch i {
		case 0:
			s.SetTopology(topo)
			s.SetGroups(map[string]detect.GroupContext{"fraud": {Known: true, State: "Stable", Members: 1, Generation: 4, Owners: owners0}})
		case changeAt:
			s.SetGroups(map[string]detect.GroupContext{"fraud": {Known: true, State: "Stable", Members: 1, Generation: 5,
				Change: change, History: []detect.MembershipChange{change}, Owners: owners1}})
		}
		g := int64(4)
		if i >= changeAt {
			g = 5
		}
		s.Set(gen, g)
		for _, p := range ps {
			c, e, st := ids(p)
			end := int64(100 * i)
			com := end
			if p > 0 {
				com = max(0, end-steady)
			}
			if p == 0 && i > changeAt {
				com = 100*changeAt + 50*int64(i-changeAt) // half speed after the deploy
			}
			s.Set(c, com)
			s.Set(e, end)
			s.Set(st, 0)
		}
		w.Commit(s)
	}
	r := &rig{w: w, findings: state.NewFindings(time.Hour, 100), events: state.NewDeploys(10), layout: state.NewLayout(100)}
	r.events.Add(detect.DeployEvent{Service: "fraud", Version: "v2", Group: "fraud", AtMs: ms(deployAt)})
	o, err := detect.NewOwners(owners)
	if err != nil {
		t.Fatal(err)
	}
	if r.ex, err = explain.New(explain.Sources{Window: w, Findings: r.findings, Events: r.events, Layout: r.layout, Owners: o, Lag: lagConfig()}); err != nil {
		t.Fatal(err)
	}
	return r
}

func lagConfig() detect.LagConfig {
	cfg := detect.DefaultLagConfig()
	cfg.Window, cfg.MinSpan = 2*time.Minute, 15*time.Second
	return cfg
}

func TestGroupBundleNamesTheDeploy(t *testing.T) {
	r := newRig(t, 4, detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "risk", Contact: "#risk", Groups: []string{"fraud*"}}}})
	// The layout: partition 0's leader moves at +40s; a retention change.
	layout := func(leader int32) map[string][]detect.PartitionAssignment {
		return map[string][]detect.PartitionAssignment{"payments": {{Partition: 0, Leader: leader, Replicas: []int32{1, 2}}, {Partition: 1, Leader: 2, Replicas: []int32{2, 1}}}}
	}
	r.layout.ObserveMetadata(t0.Add(35*time.Second), layout(1))
	r.layout.ObserveMetadata(t0.Add(40*time.Second), layout(2))
	r.layout.ObserveConfigs(t0.Add(35*time.Second), map[string]map[string]string{"payments": {"retention.ms": "3600000"}})
	r.layout.ObserveConfigs(t0.Add(45*time.Second), map[string]map[string]string{"payments": {"retention.ms": "600000"}})
	lagging := detect.Finding{ID: "f1", Kind: detect.KindLagGrowing, Severity: detect.SeverityWarning, State: detect.StateFiring,
		Subject: detect.Subject{Cluster: "c1", Group: "fraud", Topic: "payments", Broker: -1}, Summary: "fraud is behind.", OpenedAt: t0.Add(50 * time.Second)}
	broker := detect.Finding{ID: "f2", Kind: detect.KindDiskNearlyFull, Severity: detect.SeverityCritical, State: detect.StateFiring,
		Subject: detect.Subject{Cluster: "c1", Broker: 2}, Summary: "broker 2's disk is nearly full.", OpenedAt: t0.Add(10 * time.Second)}
	other := detect.Finding{ID: "f3", Kind: detect.KindDiskNearlyFull, Severity: detect.SeverityCritical, State: detect.StateFiring,
		Subject: detect.Subject{Cluster: "c1", Broker: 7}, Summary: "broker 7 is full.", OpenedAt: t0.Add(10 * time.Second)}
	r.findings.Apply(t0.Add(50*time.Second), []detect.Event{{Type: detect.EventOpened, Finding: lagging}, {Type: detect.EventOpened, Finding: broker}, {Type: detect.EventOpened, Finding: other}})

	b, ok, err := r.ex.Explain(explain.Request{Group: "fraud", Broker: -1})
	if err != nil || !ok {
		t.Fatalf("Explain: ok=%v err=%v", ok, err)
	}
	if !b.Owner.Owned || b.Owner.Team != "risk" {
		t.Errorf("owner = %+v", b.Owner)
	}
	g := b.Group
	if g == nil || g.State != "Stable" || g.Generation != 5 || len(g.Members) != 1 || g.Members[0].ClientID != "fraud-1" || g.Members[0].Host != "10.0.0.2" {
		t.Fatalf("group state = %+v", g)
	}
	if g.Partitions[0].Partition != 0 || g.Partitions[0].Lag.Lag != 50*(sweeps-1-changeAt) || g.TotalLag != g.Partitions[0].Lag.Lag {
		t.Errorf("worst partition first: %+v, total %d", g.Partitions[0], g.TotalLag)
	}
	// One commit per sweep, read at the window's resolution: its history
	// keeps one sample per 2m/53 ≈ 2.3s.
	if g.CommitInterval < 1 || g.CommitInterval > 3 {
		t.Errorf("commit interval = %vs, want 1s..3s", g.CommitInterval)
	}

	kinds := map[string]explain.Entry{}
	for i, e := range b.Timeline {
		kinds[e.Kind] = e
		if i > 0 && e.At.Before(b.Timeline[i-1].At) {
			t.Errorf("timeline not oldest first at %d", i)
		}
		if len(e.Citations) == 0 && e.Kind != explain.EntryFindingOpened {
			t.Errorf("entry %s %s cites nothing", e.ID, e.Kind)
		}
	}
	for _, k := range []string{explain.EntryDeploy, explain.EntryMembershipChange, explain.EntryLagOnset, explain.EntryLeaderMoved,
		explain.EntryConfigChanged, explain.EntryFindingOpened} {
		if _, ok := kinds[k]; !ok {
			t.Errorf("timeline lacks %s: %+v", k, b.Timeline)
		}
	}
	on := kinds[explain.EntryLagOnset]
	if want := t0.Add(changeAt * time.Second); !on.At.Equal(want) {
		t.Errorf("lag onset at %v, want %v (the last sample before growth)", on.At, want)
	}
	c := on.Citations[0]
	if c.Series.Metric != "kafka_consumergroup_committed_offset" || !c.From.Equal(on.At) || c.First != 100*changeAt || c.Last != float64(100*changeAt+50*(sweeps-1-changeAt)) {
		t.Errorf("onset citation = %+v", c)
	}
	if m := kinds[explain.EntryMembershipChange].Citations[0]; m.Series.Metric != "kafka_consumergroup_generation" || m.First != 4 || m.Last != 5 {
		t.Errorf("membership citation = %+v", m)
	}
	if !strings.Contains(kinds[explain.EntryConfigChanged].Text, `retention.ms changed from "3600000" to "600000"`) {
		t.Errorf("config change = %q", kinds[explain.EntryConfigChanged].Text)
	}

	ids := map[string]bool{explain.RefState: true, explain.RefOwner: true}
	for _, e := range b.Timeline {
		ids[e.ID] = true
	}
	for _, f := range b.Findings {
		ids[f.Finding.ID] = true
	}
	var onsetStmt string
	for _, st := range b.Narrative {
		if len(st.Refs) == 0 {
			t.Errorf("statement without a reference: %q", st.Text)
		}
		for _, ref := range st.Refs {
			if !ids[ref] {
				t.Errorf("statement %q refers to %q, not in the bundle", st.Text, ref)
			}
		}
		if slices.Contains(st.Refs, on.ID) {
			onsetStmt = st.Text
			if !slices.Contains(st.Refs, kinds[explain.EntryDeploy].ID) || !slices.Contains(st.Refs, kinds[explain.EntryMembershipChange].ID) {
				t.Errorf("onset statement does not cite the deploy and the rebalance: %+v", st)
			}
		}
	}
	if !strings.Contains(onsetStmt, "1s after the deploy of fraud v2 reported (event ev-1)") || !strings.Contains(onsetStmt, "generation 4→5") {
		t.Errorf("onset statement = %q", onsetStmt)
	}
	var rels []string
	for _, f := range b.Findings {
		rels = append(rels, f.Finding.ID+" "+f.Relation)
	}
	if want := []string{"f1 subject", "f2 broker 2 (leads 2 partitions of payments)"}; !slices.Equal(rels, want) {
		t.Errorf("findings = %q, want %q", rels, want)
	}
}

func TestGroupBundlePages(t *testing.T) {
	r := newRig(t, 5, detect.OwnersConfig{})
	b, ok, err := r.ex.Explain(explain.Request{Group: "fraud", Broker: -1, PageSize: 2})
	if err != nil || !ok {
		t.Fatal(ok, err)
	}
	if b.Owner.Owned || b.Owner.Note != `unowned: no owners rule matches group "fraud"` {
		t.Errorf("owner = %+v", b.Owner)
	}
	if p := b.Group.PartitionsPage; len(b.Group.Partitions) != 2 || p.Total != 5 || !p.More || p.Next != 2 {
		t.Fatalf("first page = %d rows, %+v", len(b.Group.Partitions), p)
	}
	var got []int32
	for off := 0; ; {
		b, _, err := r.ex.Explain(explain.Request{Group: "fraud", Broker: -1, PageSize: 2, Section: explain.SectionPartitions, Offset: off})
		if err != nil {
			t.Fatal(err)
		}
		if b.Timeline != nil || b.Findings != nil || b.Narrative != nil {
			t.Error("a continuation fills other lists")
		}
		for _, p := range b.Group.Partitions {
			got = append(got, p.Partition)
		}
		if !b.Group.PartitionsPage.More {
			break
		}
		off = b.Group.PartitionsPage.Next
	}
	if want := []int32{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Errorf("paged partitions = %v, want %v", got, want)
	}
	b, _, _ = r.ex.Explain(explain.Request{Group: "fraud", Broker: -1})
	if tl := b.TimelinePage; tl.Total != 3 || tl.More {
		t.Errorf("timeline page = %+v (deploy, rebalance, onset)", tl)
	}
	b, _, _ = r.ex.Explain(explain.Request{Group: "fraud", Broker: -1, PageSize: 1})
	if tl := b.TimelinePage; len(b.Timeline) != 1 || b.Timeline[0].Kind != explain.EntryLagOnset || !tl.More || tl.Next != 1 {
		t.Errorf("timeline's first page holds the newest: %+v %+v", b.Timeline, tl)
	}
	b, _, _ = r.ex.Explain(explain.Request{Group: "fraud", Broker: -1, PageSize: 1, Section: explain.SectionTimeline, Offset: 2})
	if len(b.Timeline) != 1 || b.Timeline[0].Kind != explain.EntryDeploy || b.TimelinePage.More {
		t.Errorf("timeline's last page holds the oldest: %+v %+v", b.Timeline, b.TimelinePage)
	}
	if _, ok, _ := r.ex.Explain(explain.Request{Group: "nope", Broker: -1}); ok {
		t.Error("an unknown group explained")
	}
	for _, bad := range []explain.Request{{Broker: -1}, {Group: "g", Topic: "t", Broker: -1}, {Group: "g", Broker: -1, PageSize: 501}, {Group: "g", Broker: -1, Section: "x"}} {
		if _, _, err := r.ex.Explain(bad); err == nil {
			t.Errorf("Explain(%+v): no error", bad)
		}
	}
}

// TestGroupOnsetNamedByFinding: the lag onset is sought among the
// partitions with the most lag and those the group's firing lag findings
// name. Partition 0's growing lag is smaller than the steady lag of 39
// others: only a finding naming it has its onset dated.
func TestGroupOnsetNamedByFinding(t *testing.T) {
	r := newRigLag(t, 40, detect.OwnersConfig{}, 5000)
	onset := func() (explain.Entry, bool) {
		b, ok, err := r.ex.Explain(explain.Request{Group: "fraud", Broker: -1})
		if err != nil || !ok {
			t.Fatal(ok, err)
		}
		for _, e := range b.Timeline {
			if e.Kind == explain.EntryLagOnset {
				return e, true
			}
		}
		return explain.Entry{}, false
	}
	if e, ok := onset(); ok {
		t.Fatalf("an onset among steady partitions: %+v", e)
	}
	f := detect.Finding{ID: "f1", Kind: detect.KindLagGrowing, Severity: detect.SeverityWarning, State: detect.StateFiring,
		Subject: detect.Subject{Cluster: "c1", Group: "fraud", Topic: "payments", Partitions: []int32{0}, Broker: -1}, Summary: "fraud is behind.", OpenedAt: t0.Add(50 * time.Second)}
	r.findings.Apply(t0.Add(50*time.Second), []detect.Event{{Type: detect.EventOpened, Finding: f}})
	e, ok := onset()
	if !ok || !strings.HasPrefix(e.Text, "lag on payments-0 began to grow") || !e.At.Equal(t0.Add(changeAt*time.Second)) {
		t.Errorf("onset = %+v, %v; want payments-0 at +%ds", e, ok, changeAt)
	}
}
