package detect

import (
	"strings"
	"testing"
	"time"
)

// oneTopic is a ConsumerView over one group-topic.
type oneTopic struct{ gt GroupTopic }

func (o *oneTopic) EachGroupTopic(fn func(*GroupTopic)) { fn(&o.gt) }
func (o *oneTopic) SeriesRef(id uint32) SeriesRef {
	return SeriesRef{Metric: "m", Labels: []Label{{Name: "id", Value: string(rune('0' + id))}}}
}

// TestDeployCorrelation: a membership change shortly before lag starts to
// grow is named in the finding and cited; one long before, or none, is not.
func TestDeployCorrelation(t *testing.T) {
	cfg := DefaultLagConfig()
	d, _ := NewLagDetector(cfg)
	// 120 sweeps: caught up for 40 s, then the consumer does 40/s of 100/s.
	w := win(120, func(i int) int64 {
		if i < 40 {
			return 100 * int64(i)
		}
		return 4000 + 40*int64(i-40)
	}, rate(0, 100))
	at := func(i int) int64 { return w.Times[i] }
	f := func(n int, change MembershipChange, wantNamed bool) {
		t.Helper()
		ctx := stable
		ctx.Change = change
		v := &oneTopic{gt: GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: ctx,
			Partitions: []PartitionInput{{Partition: 0, Window: w, Series: [3]uint32{1, 2, 3}}}}}
		res := d.Sweep(v)
		if len(res.Candidates) != 1 || res.Candidates[0].Kind != KindLagGrowing {
			t.Fatalf("%d: want one LAG_GROWING candidate, got %+v", n, res.Candidates)
		}
		c := res.Candidates[0]
		named := strings.Contains(c.Summary, "generation 4→5")
		cited := false
		for _, e := range c.Evidence {
			cited = cited || e.Source.API == "DescribeGroups" && e.First == 4 && e.Last == 5
		}
		if named != wantNamed || cited != wantNamed {
			t.Errorf("%d: named %v cited %v, want %v: %s", n, named, cited, wantNamed, c.Summary)
		}
	}
	ch := func(i int) MembershipChange {
		return MembershipChange{AtMs: at(i), BeforeMs: at(i - 1), From: 4, To: 5, Joined: []string{"app-2@10.0.0.2"}, Left: []string{"app-1@10.0.0.1"}, GenerationID: 9, HasSeries: true}
	}
	f(1, MembershipChange{}, false) // no change seen: nothing to correlate
	f(2, ch(30), true)              // rebalance 10 s before the lag began
	f(3, ch(45), true)              // observed 5 s after the onset: within the describe slack
	f(4, ch(100), false)            // observed a minute after: not the cause
	long := ch(2)
	long.AtMs = at(39) - (cfg.DeployWindow + time.Minute).Milliseconds()
	f(5, long, false) // long before the window: unrelated
}

// TestDeployEventCorrelation: a deploy a user reported shortly before lag
// began is named in the finding; one for another group, or long before, is not.
func TestDeployEventCorrelation(t *testing.T) {
	cfg := DefaultLagConfig()
	w := win(120, func(i int) int64 {
		if i < 40 {
			return 100 * int64(i)
		}
		return 4000 + 40*int64(i-40)
	}, rate(0, 100))
	f := func(n int, evs map[string][]DeployEvent, want bool) {
		t.Helper()
		d, _ := NewLagDetector(cfg)
		d.SetDeploys(evs)
		v := &oneTopic{gt: GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: stable,
			Partitions: []PartitionInput{{Partition: 0, Window: w, Series: [3]uint32{1, 2, 3}}}}}
		res := d.Sweep(v)
		if len(res.Candidates) != 1 {
			t.Fatalf("%d: want one candidate, got %d", n, len(res.Candidates))
		}
		c := res.Candidates[0]
		named := strings.Contains(c.Summary, "reported deploy of payments 1.4.2 (event ev-1)")
		if named != want {
			t.Errorf("%d: named %v, want %v: %s", n, named, want, c.Summary)
		}
	}
	ev := func(group string, i int) map[string][]DeployEvent {
		return map[string][]DeployEvent{group: {{ID: "ev-1", Service: "payments", Version: "1.4.2", Group: group, AtMs: w.Times[i]}}}
	}
	f(1, nil, false)        // no events
	f(2, ev("g", 35), true) // deployed 5 s before the lag began
	f(3, ev("other", 35), false)
	f(4, ev("g", 0), true) // 40 s before: within the 5 m deploy window
	long := ev("g", 0)
	long["g"][0].AtMs -= (cfg.DeployWindow + time.Minute).Milliseconds()
	f(5, long, false) // long before the window
}

// TestOnsetDatesGrowthNotJitter: a consumer that commits every 5 s keeps
// a sawtooth lag of 0–40 messages, later 5–45; at a deploy (sample 60) it
// falls behind. The onset is the last sample near the baseline before the
// rise, not the window's exact minimum 40 s before the deploy, so the
// deploy correlates; a stall's onset is the committed offset's last move.
func TestOnsetDatesGrowthNotJitter(t *testing.T) {
	const deployAt = 60
	com := func(i int) int64 {
		switch {
		case i < 20:
			return steps(10, 5)(i)
		case i < deployAt:
			return steps(10, 5)(i) - 5
		}
		return steps(10, 5)(deployAt) - 5 + steps(4, 5)(i-deployAt)
	}
	w := win(120, com, rate(0, 10))
	lag := PartitionLag{Status: StatusLagGrowing, Lag: lagOf(w.End[119], w.Committed[119])}
	i, ok := Onset(w, lag, DefaultLagConfig().Window)
	if !ok || i < deployAt-5 || i > deployAt+5 {
		t.Errorf("growth onset at sample %d (ok %v), want within 5 s of the deploy at %d", i, ok, deployAt)
	}

	stalled := win(120, func(i int) int64 { return steps(10, 5)(min(i, 80)) }, rate(0, 10))
	lag = PartitionLag{Status: StatusStalled, Lag: lagOf(stalled.End[119], stalled.Committed[119])}
	if i, ok := Onset(stalled, lag, DefaultLagConfig().Window); !ok || i != 80 {
		t.Errorf("stall onset at sample %d (ok %v), want 80 (the last commit)", i, ok)
	}

	d, _ := NewLagDetector(DefaultLagConfig())
	d.SetDeploys(map[string][]DeployEvent{"g": {{ID: "ev-1", Service: "payments", Version: "1.4.2", Group: "g", AtMs: w.Times[deployAt]}}})
	v := &oneTopic{gt: GroupTopic{Cluster: "c", Group: "g", Topic: "t", Context: stable,
		Partitions: []PartitionInput{{Partition: 0, Window: w, Series: [3]uint32{1, 2, 3}}}}}
	cs := d.Sweep(v).Candidates
	if len(cs) == 0 {
		t.Fatal("no lag candidate for a consumer reading 40 % of production")
	}
	for _, c := range cs {
		if !strings.Contains(c.Summary, "reported deploy of payments 1.4.2") {
			t.Errorf("%s does not name the deploy: %s", c.Kind, c.Summary)
		}
	}
}
