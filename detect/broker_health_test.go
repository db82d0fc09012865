package detect

import (
	"strings"
	"testing"
	"time"
)

// TestBrokerUnreachableAndGapTable: one broker, one sample every 10 s. Each
// row: scrape_up, SigRegistered (nil: not supplied), AdminUp (nil: always
// answered), and the sweep rendered (candidates | observed subjects).
func TestBrokerUnreachableAndGapTable(t *testing.T) {
	const step = 10 * time.Second
	f := func(n int, scrape, reg, admin string, want string) {
		t.Helper()
		sigs := map[Signal][]float64{SigScrapeUp: vals(scrape)}
		if reg != "" {
			sigs[SigRegistered] = vals(reg)
		}
		var adm []float64
		if admin != "" {
			adm = vals(admin)
		}
		res := sweepOnce(t, clusterOf(step, adm, broker(1, step, sigs)), nil)
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: scrape always answered: nothing, both subjects observed.
	f(1, "1*30", "", "", "| obs=1,c")
	// 2: scrape failing for 2 min: too early for a finding, but the broker's findings are held.
	f(2, "1*18 0*13", "", "", "| obs=")
	// 3: failing for 3 min (19 samples, 180 s from first to newest failure): warning, and the gap says what is missing.
	f(3, "1*10 0*19", "", "", "BROKER_UNREACHABLE@1:warning TELEMETRY_GAP@1:warning | obs=")
	// 4: failing for 15 min: critical.
	f(4, "1*5 0*91", "", "", "BROKER_UNREACHABLE@1:critical TELEMETRY_GAP@1:warning | obs=")
	// 5: nothing recorded for 4 min (gaps, not failures): a telemetry gap, never "unreachable".
	f(5, "1*10 _*24", "", "", "TELEMETRY_GAP@1:warning | obs=")
	// 6: scrape fine but DescribeCluster dropped the broker 4 min ago: unreachable, still observed.
	f(6, "1*40", "1*16 0*24", "", "BROKER_UNREACHABLE@1:warning | obs=1,c")
	// 7: scrape failed for 5 min and came back: OK and observed again.
	f(7, "0*30 1", "", "", "| obs=1,c")
	// 8: failures around a recording gap: the gap does not break the run.
	f(8, "1*10 0*10 _*5 0*10", "", "", "BROKER_UNREACHABLE@1:warning TELEMETRY_GAP@1:warning | obs=")
	// 9: flapping scrape, never down long: no finding; held at the failing newest sample.
	f(9, "1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0 1 0", "", "", "| obs=")
	// 10: admin API silent for 4 min: a cluster gap; every subject held (membership is unknown).
	f(10, "1*34", "", "1*10 0*24", "TELEMETRY_GAP@c:warning | obs=")
	// 11: admin API failing for 1 min only: no gap finding yet, but nothing is observed.
	f(11, "1*34", "", "1*28 0*6", "| obs=")
	// 12: registration unknown at the newest sample (admin gap): not unreachable, held.
	f(12, "1*40", "1*16 0*23 _", "1*39 _", "| obs=")
}

// TestBrokerReplicationTable: UNDER_REPLICATED, UNDER_MIN_ISR and
// OFFLINE_PARTITIONS on one broker, one sample every 10 s.
func TestBrokerReplicationTable(t *testing.T) {
	const step = 10 * time.Second
	type ctx struct{ restarting, reassigning bool }
	var none ctx
	f := func(n int, s Signal, spec string, c ctx, want string) {
		t.Helper()
		b := broker(1, step, map[Signal][]float64{s: vals(spec)})
		b.Restarting = c.restarting
		in := clusterOf(step, nil, b)
		in.Reassigning = c.reassigning
		res := sweepOnce(t, in, nil)
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: no under-replicated partitions.
	f(1, SigUnderReplicated, "0*40", none, "| obs=1,c")
	// 2: under-replicated for 4m50s: not yet 5 min.
	f(2, SigUnderReplicated, "0*10 3*30", none, "| obs=1,c")
	// 3: under-replicated for 5m10s: warning.
	f(3, SigUnderReplicated, "0*5 3*32", none, "UNDER_REPLICATED@1:warning | obs=1,c")
	// 4: same during a rolling restart of this broker: info.
	f(4, SigUnderReplicated, "0*5 3*32", ctx{restarting: true}, "UNDER_REPLICATED@1:info | obs=1,c")
	// 5: same during a reassignment: suppressed.
	f(5, SigUnderReplicated, "0*5 3*32", ctx{reassigning: true}, "| obs=1,c")
	// 6: a gap inside the run is not a recovery: still 5m10s.
	f(6, SigUnderReplicated, "0*5 3*15 _*5 3*12", none, "UNDER_REPLICATED@1:warning | obs=1,c")
	// 7: newest sample missing: not judged and the broker is held.
	f(7, SigUnderReplicated, "3*40 _", none, "| obs=c")
	// 8: a dip to 0 restarts the clock.
	f(8, SigUnderReplicated, "3*30 0 3*10", none, "| obs=1,c")
	// 9: under min ISR for 60 s: critical.
	f(9, SigUnderMinISR, "0*30 2*7", none, "UNDER_MIN_ISR@1:critical | obs=1,c")
	// 10: under min ISR for 50 s: not yet.
	f(10, SigUnderMinISR, "0*30 2*6", none, "| obs=1,c")
	// 11: under min ISR is critical even during a restart and a reassignment.
	f(11, SigUnderMinISR, "0*30 2*7", ctx{true, true}, "UNDER_MIN_ISR@1:critical | obs=1,c")
	// 12: offline partitions on 2 consecutive samples: critical, about the cluster.
	f(12, SigOfflinePartitions, "0*10 4*2", none, "OFFLINE_PARTITIONS@c:critical | obs=1,c")
	// 13: on one sample only: not yet.
	f(13, SigOfflinePartitions, "0*10 4", none, "| obs=1,c")
	// 14: two positive samples around a gap are still consecutive polls that saw it.
	f(14, SigOfflinePartitions, "0*10 4 _ 4", none, "OFFLINE_PARTITIONS@c:critical | obs=1,c")
	// 15: newest missing: unknown; neither the broker nor the cluster is observed.
	f(15, SigOfflinePartitions, "4*10 _", none, "| obs=")
	// 16: offline log dir at the newest sample: critical.
	f(16, SigOfflineLogDirs, "0*10 1", none, "OFFLINE_LOG_DIR@1:critical | obs=1,c")
}

// TestBrokerCountersTable: ISR_FLAPPING and UNCLEAN_LEADER_ELECTION from
// counters, one sample a minute over 31 minutes.
func TestBrokerCountersTable(t *testing.T) {
	const step = time.Minute
	f := func(n int, s Signal, vs []float64, want string) {
		t.Helper()
		res := sweepOnce(t, clusterOf(step, nil, broker(1, step, map[Signal][]float64{s: vs})), nil)
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// bumps returns a counter over 31 minutes that rises by 1 at each listed minute.
	bumps := func(at ...int) []float64 {
		return gen(31, func(i int) float64 {
			c := 100.0
			for _, m := range at {
				if i >= m {
					c++
				}
			}
			return c
		})
	}
	// 1: no shrinks.
	f(1, SigIsrShrinks, bumps(), "| obs=1,c")
	// 2: shrinks in 3 distinct 5-minute windows: flapping.
	f(2, SigIsrShrinks, bumps(3, 12, 22), "ISR_FLAPPING@1:warning | obs=1,c")
	// 3: many shrinks but in only 2 windows: a single incident, not flapping.
	f(3, SigIsrShrinks, bumps(21, 22, 23, 27, 28), "| obs=1,c")
	// 4: a counter reset (broker restart) is not a shrink.
	f(4, SigIsrShrinks, append(vals("100*10 0*10 0*10"), 0), "| obs=1,c")
	// 5: shrinks in 3 windows, one of them across a gap in the counter.
	f(5, SigIsrShrinks, append(append(bumps(3, 12, 22)[:20], vals("_ _")...), bumps(3, 12, 22)[22:]...), "ISR_FLAPPING@1:warning | obs=1,c")
	// 6: no unclean elections.
	f(6, SigUncleanElections, bumps(), "| obs=1,c")
	// 7: one unclean election 5 minutes ago: critical.
	f(7, SigUncleanElections, bumps(25), "UNCLEAN_LEADER_ELECTION@1:critical | obs=1,c")
	// 8: one unclean election 20 minutes ago: outside the 10-minute window.
	f(8, SigUncleanElections, bumps(10), "| obs=1,c")
	// 9: the counter reset to 0 when the controller restarted: no election.
	f(9, SigUncleanElections, append(vals("3*25"), vals("0*6")...), "| obs=1,c")
	// 10: reset, then an election on the new count: critical.
	f(10, SigUncleanElections, append(vals("3*25"), vals("0*3 1*3")...), "UNCLEAN_LEADER_ELECTION@1:critical | obs=1,c")
}

// TestControllerAnomalyTable: three brokers' active controller counts, one
// sample every 10 s; the sum must be 1.
func TestControllerAnomalyTable(t *testing.T) {
	const step = 10 * time.Second
	f := func(n int, a, b, c string, want string) {
		t.Helper()
		in := clusterOf(step, nil,
			broker(1, step, map[Signal][]float64{SigActiveController: vals(a)}),
			broker(2, step, map[Signal][]float64{SigActiveController: vals(b)}),
			broker(3, step, map[Signal][]float64{SigActiveController: vals(c)}))
		res := sweepOnce(t, in, nil)
		checkCandidates(t, res)
		if got := render(res); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: exactly one controller.
	f(1, "1*20", "0*20", "0*20", "| obs=1,2,3,c")
	// 2: the controller moved from broker 1 to 2: still one.
	f(2, "1*10 0*10", "0*10 1*10", "0*20", "| obs=1,2,3,c")
	// 3: no controller for 60 s (7 samples): critical.
	f(3, "1*13 0*7", "0*20", "0*20", "CONTROLLER_ANOMALY@c:critical | obs=1,2,3,c")
	// 4: no controller for 30 s (an election): not yet.
	f(4, "1*16 0*4", "0*20", "0*20", "| obs=1,2,3,c")
	// 5: two controllers for 90 s: critical.
	f(5, "1*20", "0*10 1*10", "0*20", "CONTROLLER_ANOMALY@c:critical | obs=1,2,3,c")
	// 6: broker 3's newest sample missing: the sum is unknown; cluster and broker 3 held.
	f(6, "0*20", "0*20", "0*19 _", "| obs=1,2")
}

// TestBrokerUnreachableSummary checks the numbers a reader gets.
func TestBrokerUnreachableSummary(t *testing.T) {
	const step = 10 * time.Second
	res := sweepOnce(t, clusterOf(step, nil, broker(7, step, map[Signal][]float64{
		SigScrapeUp:        vals("1*10 0*19"),
		SigUnderReplicated: vals("0*10 _*19"),
	})), nil)
	var un, gap *Candidate
	for i, c := range res.Candidates {
		switch c.Kind {
		case KindBrokerUnreachable:
			un = &res.Candidates[i]
		case KindTelemetryGap:
			gap = &res.Candidates[i]
		}
	}
	if un == nil || gap == nil {
		t.Fatalf("want BROKER_UNREACHABLE and TELEMETRY_GAP, got %s", render(res))
	}
	if !strings.Contains(un.Summary, "Broker 7 has been unreachable for 3m: its metrics scrape has failed since 2027-01-15T08:01:40Z.") {
		t.Errorf("summary: %s", un.Summary)
	}
	if !strings.Contains(gap.Summary, "since 2027-01-15T08:01:40Z") || !strings.Contains(gap.Summary, "under_replicated_partitions") {
		t.Errorf("gap summary must say what is missing since when: %s", gap.Summary)
	}
	if c := un.Evidence[0]; c.Count != 19 || c.Max != 0 || c.Source.API != "scrape http://b1:7071/metrics" {
		t.Errorf("evidence: %+v", c)
	}
}

// TestControllerRunUnaligned: brokers scraped at different offsets; the sum
// is formed from each broker's newest sample at every time.
func TestControllerRunUnaligned(t *testing.T) {
	b1 := sig("a", 10*time.Second, vals("1*10 0*8")) // t = 0..170 s; 0 from 100 s
	b2 := sig("b", 10*time.Second, vals("0*18"))
	for i := range b2.Times {
		b2.Times[i] += 5000 // t = 5..175 s
	}
	since, newest, sum, ok := controllerRun([]SignalWindow{b1, b2}, 60_000)
	if !ok || sum != 0 || since != brokerT0+100_000 || newest != brokerT0+175_000 {
		t.Fatalf("since %d newest %d sum %v ok %v", since-brokerT0, newest-brokerT0, sum, ok)
	}
	b2.Values[17] = 1 // broker 2 took over at 175 s
	if _, _, _, ok := controllerRun([]SignalWindow{b1, b2}, 60_000); ok {
		t.Fatal("one controller at the newest time is no anomaly")
	}
}
