package detect

import (
	"math"
	"strings"
	"testing"
	"time"
)

// sweepSkew runs a fresh default SkewDetector, with cfg changes applied,
// and checks what every candidate must carry.
func sweepSkew(t *testing.T, in ClusterInput, tweak func(*SkewConfig)) SweepResult {
	t.Helper()
	cfg := DefaultSkewConfig()
	if tweak != nil {
		tweak(&cfg)
	}
	d, err := NewSkewDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := d.Sweep(in)
	checkCandidates(t, res)
	return res
}

// TestLeaderSkewTable: broker 1's non-preferred leaders and leader count,
// one sample a minute; broker 2 leads 10, all preferred. Default sustain 5m.
func TestLeaderSkewTable(t *testing.T) {
	f := func(n int, np, lc string, reassigning bool, want string) {
		t.Helper()
		in := clusterOf(time.Minute, nil,
			broker(1, time.Minute, map[Signal][]float64{SigNonPreferredLeaders: vals(np), SigLeaderCount: vals(lc)}),
			broker(2, time.Minute, map[Signal][]float64{SigNonPreferredLeaders: vals("0*6"), SigLeaderCount: vals("10*6")}))
		in.Reassigning = reassigning
		if got := render(sweepSkew(t, in, nil)); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: 2 of 10 (20 %) for 5 minutes: warning.
	f(1, "2*6", "10*6", false, "LEADER_SKEW@1:warning | obs=1,2")
	// 2: exactly 10 % is not above the limit.
	f(2, "1*6", "10*6", false, "| obs=1,2")
	// 3: 20 % for only 2 minutes: not sustained (Kafka's own rebalance check runs every 5).
	f(3, "0*3 2*3", "10*6", false, "| obs=1,2")
	// 4: the newest sample is a gap: not judged, and no broker is observed (the mean is incomplete).
	f(4, "2*5 _", "10*6", false, "| obs=")
	// 5: a broker leading nothing has no ratio.
	f(5, "0*6", "0*6", false, "| obs=1,2")
	// 6: during a reassignment the finding is info.
	f(6, "2*6", "10*6", true, "LEADER_SKEW@1:info | obs=1,2")
	// 7: a gap in the middle is spanned: still 5 minutes.
	f(7, "2*2 _ 2*3", "10*6", false, "LEADER_SKEW@1:warning | obs=1,2")
	// 8: leaders grew so the ratio fell to 10 % at the newest sample: recovered.
	f(8, "2*6", "10*5 20", false, "| obs=1,2")
}

// TestReplicaSkewTable: partition counts (replicas hosted) of brokers 1..n.
func TestReplicaSkewTable(t *testing.T) {
	f := func(n int, counts []float64, want string) {
		t.Helper()
		var bs []BrokerInput
		for i, c := range counts {
			bs = append(bs, broker(int32(i+1), time.Minute, map[Signal][]float64{SigPartitionCount: {c, c}}))
		}
		if got := render(sweepSkew(t, clusterOf(time.Minute, nil, bs...), nil)); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: mean 11.33, limit ⌈12.47⌉ = 13: 14 is skew.
	f(1, []float64{10, 10, 14}, "REPLICA_SKEW@3:warning | obs=1,2,3")
	// 2: 13 is at the rounded-up limit: not skew.
	f(2, []float64{10, 10, 13}, "| obs=1,2,3")
	// 3: 10 partitions on 3 brokers (4, 3, 3) cannot be spread better: not skew.
	f(3, []float64{4, 3, 3}, "| obs=1,2,3")
	// 4: one broker has nothing to compare with.
	f(4, []float64{40}, "| obs=1")
	// 5: two brokers, 30 vs 10: mean 20, limit 22.
	f(5, []float64{30, 10}, "REPLICA_SKEW@1:warning | obs=1,2")
}

// TestDiskSkewTable: Σ topic sizes per broker (two topics, half each), or
// log dir used bytes when some broker reports no topic sizes.
func TestDiskSkewTable(t *testing.T) {
	const gib = 1 << 30
	f := func(n int, sizes []float64, logDirs bool, want string) {
		t.Helper()
		var bs []BrokerInput
		for i, s := range sizes {
			b := broker(int32(i+1), time.Minute, map[Signal][]float64{SigPartitionCount: {1, 1}})
			if logDirs || i > 0 {
				b.LogDirs = []LogDir{{Path: "/data", Used: sig("log_dir_used_bytes", time.Minute, []float64{s, s})}}
			}
			if !logDirs {
				b.TopicSize = map[string]SignalWindow{
					"a": sig("topic_size_bytes", time.Minute, []float64{s / 2, s / 2}),
					"b": sig("topic_size_bytes", time.Minute, []float64{s / 2, s / 2}),
				}
			}
			bs = append(bs, b)
		}
		if got := render(sweepSkew(t, clusterOf(time.Minute, nil, bs...), nil)); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: 14 GiB against a mean of 11.33 (limit 12.47): skew.
	f(1, []float64{10 * gib, 10 * gib, 14 * gib}, false, "DISK_SKEW@3:warning | obs=1,2,3")
	// 2: 11.5 GiB is within 1.10 × the mean of 10.5 (11.55).
	f(2, []float64{10 * gib, 10 * gib, 11.5 * gib}, false, "| obs=1,2,3")
	// 3: the same proportions in MiB: below disk_min_mean, not worth moving.
	f(3, []float64{10 << 20, 10 << 20, 14 << 20}, false, "| obs=1,2,3")
	// 4: log dir used bytes when topic sizes are not scraped.
	f(4, []float64{14 * gib, 10 * gib, 10 * gib}, true, "DISK_SKEW@1:warning | obs=1,2,3")
}

// TestTrafficSkewTable: bytes-in counters one sample a minute for 30
// minutes (31 samples); each broker's rate in MiB/s per sample, as "r" for
// the whole window or "r1*k r2*m" (per-minute increments).
func TestTrafficSkewTable(t *testing.T) {
	const mib = 1 << 20
	counter := func(spec string) []float64 {
		incs := vals(spec)
		out := []float64{0}
		for _, r := range incs {
			out = append(out, out[len(out)-1]+r*mib*60)
		}
		return out
	}
	f := func(n int, specs []string, want string) {
		t.Helper()
		var bs []BrokerInput
		for i, s := range specs {
			bs = append(bs, broker(int32(i+1), time.Minute, map[Signal][]float64{SigBytesIn: counter(s)}))
		}
		if got := render(sweepSkew(t, clusterOf(time.Minute, nil, bs...), nil)); got != want {
			t.Errorf("%d: got %q, want %q", n, got, want)
		}
	}
	// 1: 3 MiB/s against a mean of 2.33: 29 % above, in every 10-minute window.
	f(1, []string{"2*30", "2*30", "3*30"}, "TRAFFIC_SKEW@3:warning | obs=1,2,3")
	// 2: 2.5 against 2.17 is 15 %: within 0.2.
	f(2, []string{"2*30", "2*30", "2.5*30"}, "| obs=1,2,3")
	// 3: the same skew at 0.3 MiB/s: the mean is below 1 MiB/s, not worth balancing.
	f(3, []string{"0.2*30", "0.2*30", "0.3*30"}, "| obs=1,2,3")
	// 4: a 10-minute burst on broker 3 skews one sub-window only: not sustained.
	f(4, []string{"2*30", "2*30", "2*20 4*10"}, "| obs=1,2,3")
	// 5: one broker starved (1 against 3, 3): it deviates 57 % below, and the
	// other two 29 % above the mean of 2.33 — all three are off balance.
	f(5, []string{"3*30", "3*30", "1*30"}, "TRAFFIC_SKEW@1:warning TRAFFIC_SKEW@2:warning TRAFFIC_SKEW@3:warning | obs=1,2,3")
	// 6: broker 3 silent for the last 15 minutes (newest entry a gap): no broker observed, no skew.
	f(6, []string{"2*30", "2*30", "2*15 _*15"}, "| obs=")
}

// TestTrafficSkewReset: a counter reset mid-window is not a traffic drop.
func TestTrafficSkewReset(t *testing.T) {
	up := gen(31, func(i int) float64 { return float64(i) * 2 * (1 << 20) * 60 })
	reset := gen(31, func(i int) float64 {
		if i >= 15 {
			return float64(i-15) * 2 * (1 << 20) * 60
		}
		return up[i] + 5e9
	})
	in := clusterOf(time.Minute, nil,
		broker(1, time.Minute, map[Signal][]float64{SigBytesIn: up}),
		broker(2, time.Minute, map[Signal][]float64{SigBytesIn: up}),
		broker(3, time.Minute, map[Signal][]float64{SigBytesIn: reset}))
	if got := render(sweepSkew(t, in, nil)); got != "| obs=1,2,3" {
		t.Errorf("got %q", got)
	}
}

// TestSkewEvidence: a candidate's facts carry the thresholds and the
// cluster mean, and the summary is one sentence.
func TestSkewEvidence(t *testing.T) {
	in := clusterOf(time.Minute, nil,
		broker(1, time.Minute, map[Signal][]float64{SigNonPreferredLeaders: vals("3*6"), SigLeaderCount: vals("10*6")}),
		broker(2, time.Minute, map[Signal][]float64{SigNonPreferredLeaders: vals("0*6"), SigLeaderCount: vals("20*6")}))
	res := sweepSkew(t, in, nil)
	if len(res.Candidates) != 1 {
		t.Fatalf("candidates %+v", res.Candidates)
	}
	c := res.Candidates[0]
	facts := map[string]float64{}
	for _, f := range c.Facts {
		facts[f.Name] = f.Value
	}
	for name, want := range map[string]float64{"non_preferred_ratio": 0.3, "cluster_mean_leaders": 15, "config.skew.leader_imbalance": 0.1, "config.skew.leader_sustain": 300} {
		if math.Abs(facts[name]-want) > 1e-9 {
			t.Errorf("fact %s = %v, want %v", name, facts[name], want)
		}
	}
	if strings.Count(c.Summary, ". ") != 0 || !strings.HasSuffix(c.Summary, ".") || len(c.Evidence) != 3 {
		t.Errorf("summary %q, %d citations", c.Summary, len(c.Evidence))
	}
}

// TestSkewConfigValidate: the defaults are valid, and errors name YAML keys.
func TestSkewConfigValidate(t *testing.T) {
	if err := DefaultSkewConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultSkewConfig()
	c.LeaderImbalance, c.BalanceThreshold, c.TrafficSustain, c.TrafficSlices = 1.5, 1, 0, 0
	err := c.Validate()
	for _, key := range []string{"skew.leader_imbalance", "skew.balance_threshold", "skew.traffic_sustain", "skew.traffic_slices"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v must name %s", err, key)
		}
	}
	if _, err := NewSkewDetector(c); err == nil {
		t.Error("NewSkewDetector must refuse an invalid config")
	}
	for _, k := range []Kind{KindLeaderSkew, KindReplicaSkew, KindDiskSkew, KindTrafficSkew} {
		if !KnownKind(k) {
			t.Errorf("%s not registered", k)
		}
	}
}
