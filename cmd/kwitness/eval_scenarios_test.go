//go:build eval

package main

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// topicSpec is a topic a scenario creates before the run.
type topicSpec struct {
	name       string
	partitions int32
	configs    map[string]string
}

// scenario is one scripted behaviour with its ground truth. Each scenario
// owns its topics and groups; a finding about them is scored against its
// expectations.
type scenario struct {
	name, what string
	topics     []topicSpec
	groups     []string
	// sameCause: kinds that, opened during the fault beside the expected
	// finding, are a second finding for the same cause ("extra"); any other
	// unexpected finding is a false alarm.
	sameCause []string
	// start launches the scenario's clients (goroutines owned by the env).
	start func(e *evalEnv) error
	// truth derives, after the run, the expected findings and the instant
	// the fault began (zero: healthy throughout) from the script and what
	// the observer measured.
	truth func(e *evalEnv) (exp []expectation, faultAt time.Time)
}

// expectation is one finding the scenario must produce.
type expectation struct {
	kind      string
	group     string // "" matches any
	topic     string
	partition int32 // -1 matches any
	from      time.Time
	deadline  time.Time
	optional  bool   // reported or not, neither counts
	target    string // how the deadline is derived
}

func (s *scenario) prepare(e *evalEnv) error {
	for _, t := range s.topics {
		if err := e.createTopic(t.name, t.partitions, t.configs); err != nil {
			return err
		}
	}
	return nil
}

func (s *scenario) run(e *evalEnv) error { return s.start(e) }

const (
	autoCommit = 5 * time.Second // the Kafka consumer's default auto.commit.interval.ms
	pollEvery  = time.Second     // kwitness's default poll interval
)

// stallDeadline is the CONSUMER_STALLED/STOPPED target: last commit
// + interval + max(¼ interval, 10 s) + 2 polls.
func stallDeadline(last time.Time, interval time.Duration) time.Time {
	return last.Add(interval + max(interval/4, 10*time.Second) + 2*pollEvery)
}

// firstCommit is the group's first commit at or after t, or t+5 s (one
// auto-commit) when the observer saw none.
func (e *evalEnv) firstCommit(group string, t time.Time) time.Time {
	if first := e.obs.truth(group).firstAdvanceAfter(t); !first.IsZero() {
		return first
	}
	return t.Add(autoCommit)
}

func evalScenarios() []*scenario {
	return []*scenario{
		steadyScenario(),
		lagFromStartScenario(),
		deployScenario(),
		stallScenario("stall-5s", autoCommit, 150*time.Second, actStall),
		stallScenario("stop-5s", autoCommit, 150*time.Second, actLeave),
		stallScenario("stall-60s", time.Minute, 270*time.Second, actStall),
		stallScenario("stop-60s", time.Minute, 270*time.Second, actLeave),
		burstyScenario("bursty-spikes", "10/s with 200/s spikes of 4 s every 60 s (8.8× the mean), the first at +56 s; consumer capped at 60/s", bursts(10, 200, 4*time.Second, time.Minute), 60),
		burstyScenario("bursty-long", "20/s with 150/s bursts of 30 s every 150 s (3.3× the mean), the first at +120 s; consumer capped at 60/s, clears in ~70 s", bursts(20, 150, 30*time.Second, 150*time.Second), 60),
		burstyScenario("bursty-onoff", "nothing, then 100/s for 10 s every 60 s (6× the mean), the first at +50 s; consumer capped at 40/s", bursts(0, 100, 10*time.Second, time.Minute), 40),
		burstyScenario("bursty-jitter", "a new rate every second, uniform 0–100/s (2× the mean); consumer capped at 70/s", jitter(), 70),
		slowCommitScenario("commit-60s", time.Minute),
		slowCommitScenario("commit-120s", 2*time.Minute),
		idleScenario(),
		txnScenario(),
		compactedScenario(),
		recreateScenario(),
		retentionScenario(),
		hotScenario("hot-10x", 10, time.Minute, 90*time.Second, "≤ 90 s after it starts"),
		// A marginal ratio: just above the default factor (rate > 3 × the
		// median); exactly 3× sits on the threshold.
		hotScenario("hot-3.5x", 3.5, 0, 10*time.Minute+45*time.Second, "hot_partition.sustain (10 m) + slow sweep (30 s) + open_after (5 s) + 10 s"),
		stormScenario(),
		rebalanceOnceScenario(),
	}
}

func one(name string, partitions int32, configs map[string]string) []topicSpec {
	return []topicSpec{{name: name, partitions: partitions, configs: configs}}
}

func healthy(*evalEnv) ([]expectation, time.Time) { return nil, time.Time{} }

func steadyScenario() *scenario {
	return &scenario{
		name: "steady", what: "100/s on 6 partitions, one member keeps up, commits every 5 s",
		topics: one("steady", 6, nil), groups: []string{"steady-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "steady", -1, constant(100))
			e.member("steady-g", []string{"steady"}, autoCommit, runAt(0))
			return nil
		},
		truth: healthy,
	}
}

func lagFromStartScenario() *scenario {
	return &scenario{
		name: "lag-start", what: "100/s produced, the consumer reads 40/s from the start, commits every 5 s",
		topics: one("lag-start", 3, nil), groups: []string{"lag-start-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "lag-start", -1, constant(100))
			e.member("lag-start-g", []string{"lag-start"}, autoCommit, runAt(40))
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			first := e.firstCommit("lag-start-g", e.t0)
			return []expectation{{kind: "LAG_GROWING", group: "lag-start-g", topic: "lag-start", partition: -1,
				from: first, deadline: first.Add(20 * time.Second), target: "≤ 20 s after the group's first commit"}}, first
		},
	}
}

const deployAt = 120 * time.Second

func deployScenario() *scenario {
	return &scenario{
		name: "deploy", what: "100/s; the member keeps up until +120 s, then is replaced (a rebalance) by one reading 40/s",
		topics: one("deploy", 3, nil), groups: []string{"deploy-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "deploy", -1, constant(100))
			e.member("deploy-g", []string{"deploy"}, autoCommit, until(deployAt, actLeave, runAt(0)))
			e.member("deploy-g", []string{"deploy"}, autoCommit, from(deployAt, runAt(40)))
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			first := e.firstCommit("deploy-g", e.at(deployAt+time.Second))
			return []expectation{{kind: "LAG_GROWING", group: "deploy-g", topic: "deploy", partition: -1,
				from: first, deadline: first.Add(20 * time.Second), target: "≤ 20 s after the new member's first commit"}}, e.at(deployAt)
		},
	}
}

// stallScenario: a member committing every interval keeps up until at,
// then stalls (stays a member) or leaves.
func stallScenario(name string, interval, at time.Duration, act memberAct) *scenario {
	kind, verb := "CONSUMER_STALLED", "stops consuming but stays in the group"
	if act == actLeave {
		kind, verb = "CONSUMER_STOPPED", "leaves the group"
	}
	group := name + "-g"
	return &scenario{
		name: name, what: "50/s, commits every " + interval.String() + "; at +" + at.String() + " the member " + verb,
		topics: one(name, 3, nil), groups: []string{group}, sameCause: []string{"LAG_GROWING", "CONSUMER_ASSIGNMENT_SKEW"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, name, -1, constant(50))
			e.member(group, []string{name}, interval, until(at, act, runAt(0)))
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			// The last commit is the group's last advance of the run: a
			// leaving member commits on its way out, and a stalled one's
			// auto-commit still commits, one interval later, what it
			// polled before it stopped consuming.
			last := e.obs.truth(group).lastAdvanceBefore(e.end)
			if last.IsZero() || e.at(at).After(e.end) {
				last = e.at(at) // not reached in this run: not due
			}
			return []expectation{{kind: kind, group: group, topic: name, partition: -1,
				from: e.at(at), deadline: stallDeadline(last, interval),
				target: "last commit + " + interval.String() + " + max(¼ interval, 10 s) + 2 polls"}}, e.at(at)
		},
	}
}

// jitter is a rate drawn uniformly from 0–100/s, new every second.
func jitter() rateFn {
	rng := rand.New(rand.NewPCG(1, 2))
	var last time.Duration = -1
	rate := 0.0
	return func(t time.Duration) float64 {
		if s := t.Truncate(time.Second); s != last {
			last, rate = s, rng.Float64()*100
		}
		return rate
	}
}

func burstyScenario(name, what string, rate rateFn, consume float64) *scenario {
	group := name + "-g"
	return &scenario{
		name: name, what: what + "; commits every 5 s",
		topics: one(name, 3, nil), groups: []string{group},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, name, -1, rate)
			e.member(group, []string{name}, autoCommit, runAt(consume))
			return nil
		},
		truth: healthy,
	}
}

func slowCommitScenario(name string, every time.Duration) *scenario {
	group := name + "-g"
	return &scenario{
		name: name, what: "30/s, the member keeps up and commits every " + every.String(),
		topics: one(name, 3, nil), groups: []string{group},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, name, -1, constant(30))
			e.member(group, []string{name}, every, runAt(0))
			return nil
		},
		truth: healthy,
	}
}

func idleScenario() *scenario {
	return &scenario{
		name: "idle", what: "three topics with 20 old records and no production: one with a live member, one whose group left (committed, no members), one with no group",
		topics: []topicSpec{{name: "idle-live", partitions: 3}, {name: "idle-quiet", partitions: 3}, {name: "idle-absent", partitions: 3}},
		groups: []string{"idle-live-g", "idle-quiet-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			for _, t := range []string{"idle-live", "idle-quiet", "idle-absent"} {
				if err := e.seed(p, t, 20); err != nil {
					return err
				}
			}
			e.member("idle-live-g", []string{"idle-live"}, autoCommit, runAt(0))
			e.member("idle-quiet-g", []string{"idle-quiet"}, autoCommit, until(30*time.Second, actLeave, runAt(0)))
			return nil
		},
		truth: healthy,
	}
}

func txnScenario() *scenario {
	return &scenario{
		name: "txn", what: "50/s in transactions of 10 records, every 4th aborted; a read_committed member keeps up (markers keep end − committed ≥ 1)",
		topics: one("txn", 3, nil), groups: []string{"txn-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer(kgo.TransactionalID("eval-txn"))
			if err != nil {
				return err
			}
			e.transactional(p, "txn", 50, 10, 4)
			e.member("txn-g", []string{"txn"}, autoCommit, runAt(0), kgo.FetchIsolationLevel(kgo.ReadCommitted()))
			return nil
		},
		truth: healthy,
	}
}

func compactedScenario() *scenario {
	return &scenario{
		name: "compacted", what: "cleanup.policy=compact, 50/s over 64 keys (compacted every 5 s); the member keeps up",
		topics: one("compacted", 3, map[string]string{"cleanup.policy": "compact"}), groups: []string{"compacted-g"},
		start: func(e *evalEnv) error {
			// kfake moves the log start to the first record compaction
			// keeps; Kafka's cleaner never moves it. A first record with a
			// key written once keeps the log start put, as on Kafka.
			first, err := e.producer(kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				return err
			}
			for part := range int32(3) {
				r := &kgo.Record{Topic: "compacted", Partition: part, Key: fmt.Appendf(nil, "first-%d", part), Value: []byte("first")}
				if err := first.ProduceSync(e.ctx, r).FirstErr(); err != nil {
					return fmt.Errorf("seed compacted: %w", err)
				}
			}
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "compacted", -1, constant(50))
			e.member("compacted-g", []string{"compacted"}, autoCommit, runAt(0))
			return nil
		},
		truth: healthy,
	}
}

const recreateAt = 180 * time.Second

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func recreateScenario() *scenario {
	return &scenario{
		name: "recreate", what: "50/s; at +180 s the topic is deleted and created again (Kafka drops the group's offsets with it); producer and consumer restart on the new topic, the group commits again from its start (its offsets rewind)",
		topics: one("recreate", 3, nil), groups: []string{"recreate-g"},
		start: func(e *evalEnv) error {
			// franz-go clients keep the deleted topic's id and stall on
			// the new topic, so the application restarts its clients, as
			// after an operator's reset.
			before, err := e.producer(kgo.DisableIdempotentWrite())
			if err != nil {
				return err
			}
			after, err := e.producer(kgo.DisableIdempotentWrite())
			if err != nil {
				return err
			}
			back := recreateAt + 4*time.Second
			e.produce(before, "recreate", -1, func(t time.Duration) float64 { return 50 * b2f(t < recreateAt) })
			e.produce(after, "recreate", -1, func(t time.Duration) float64 { return 50 * b2f(t >= back) })
			e.member("recreate-g", []string{"recreate"}, autoCommit, until(back, actLeave, runAt(0)))
			e.member("recreate-g", []string{"recreate"}, autoCommit, from(back+time.Second, runAt(0)))
			e.recreateTopic("recreate", 3, recreateAt)
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			// The rewind is true, so OFFSET_REWIND may be reported; lag,
			// stall or stop findings would be false.
			at := e.at(recreateAt)
			target := "optional; the harness saw no rewind"
			if rw := e.obs.truth("recreate-g").rewinds; len(rw) > 0 {
				target = "optional; the harness saw the committed offset rewind at +" + secs(rw[0].Sub(e.t0))
			}
			return []expectation{{kind: "OFFSET_REWIND", group: "recreate-g", topic: "recreate", partition: -1,
				from: at, deadline: at.Add(time.Minute), optional: true, target: target}}, at
		},
	}
}

const retentionMs = 120_000

func retentionScenario() *scenario {
	return &scenario{
		name: "retention", what: "retention.ms=120000 (enforced by the broker every 5 s), 60/s produced, the consumer reads 30/s and commits every 5 s",
		topics: one("retention", 3, map[string]string{"retention.ms": "120000"}), groups: []string{"retention-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "retention", -1, constant(60))
			e.member("retention-g", []string{"retention"}, autoCommit, runAt(30))
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			gt := e.obs.truth("retention-g")
			first := e.firstCommit("retention-g", e.t0)
			exp := []expectation{{kind: "LAG_GROWING", group: "retention-g", topic: "retention", partition: -1,
				from: first, deadline: first.Add(20 * time.Second), target: "≤ 20 s after the group's first commit"}}
			lost := gt.lostAt
			if lost.IsZero() {
				lost = e.end.Add(time.Hour) // not lost in this run: not due
			}
			lead := max(30*time.Second, retentionMs*time.Millisecond/3)
			exp = append(exp,
				expectation{kind: "RETENTION_RISK", group: "retention-g", topic: "retention", partition: -1,
					from: first, deadline: lost.Add(-lead), target: "≥ max(30 s, retention.ms/3) = 40 s before the committed offset fell below the log start"},
				expectation{kind: "DATA_SKIPPED", group: "retention-g", topic: "retention", partition: -1,
					from: lost, deadline: lost.Add(10 * time.Second), target: "≤ 10 s after the committed offset fell below the log start"})
			return exp, first
		},
	}
}

// hotScenario: 6 partitions at 10/s each; from at on, partition 0 takes
// factor × that.
func hotScenario(name string, factor float64, at, within time.Duration, target string) *scenario {
	group := name + "-g"
	return &scenario{
		name: name, what: "6 partitions at 10/s; partition 0 at " + trimFloat(factor) + "× from +" + at.String() + "; the member keeps up",
		topics: one(name, 6, nil), groups: []string{group},
		start: func(e *evalEnv) error {
			p, err := e.producer(kgo.RecordPartitioner(kgo.ManualPartitioner()))
			if err != nil {
				return err
			}
			for part := range int32(6) {
				rate := constant(10)
				if part == 0 {
					rate = func(t time.Duration) float64 {
						if t >= at {
							return 10 * factor
						}
						return 10
					}
				}
				e.produce(p, name, part, rate)
			}
			e.member(group, []string{name}, autoCommit, runAt(0))
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			return []expectation{{kind: "HOT_PARTITION", topic: name, partition: 0,
				from: e.at(at), deadline: e.at(at + within), target: target}}, e.at(at)
		},
	}
}

const stormFrom = time.Minute

func stormScenario() *scenario {
	return &scenario{
		name: "storm", what: "20/s; a stable member plus, from +60 s, a member that joins, consumes 8 s and leaves, over and over",
		topics: one("storm", 3, nil), groups: []string{"storm-g"}, sameCause: []string{"LAG_GROWING", "CONSUMER_ASSIGNMENT_SKEW"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "storm", -1, constant(20))
			e.member("storm-g", []string{"storm"}, autoCommit, runAt(0))
			for i := time.Duration(0); stormFrom+16*time.Second*i < evalRunFor; i++ {
				at := stormFrom + 16*time.Second*i
				e.member("storm-g", []string{"storm"}, autoCommit, from(at, until(at+8*time.Second, actLeave, runAt(0))))
			}
			return nil
		},
		truth: func(e *evalEnv) ([]expectation, time.Time) {
			at := e.at(stormFrom)
			return []expectation{{kind: "REBALANCE_STORM", group: "storm-g", partition: -1,
				from: at, deadline: at.Add(time.Minute), target: "≤ 60 s after rebalances start every 8 s (harness target)"}}, at
		},
	}
}

func rebalanceOnceScenario() *scenario {
	return &scenario{
		name: "rebalance-once", what: "20/s; two members keep up, one leaves cleanly at +120 s (one rebalance)",
		topics: one("rebalance-once", 3, nil), groups: []string{"rebalance-once-g"},
		start: func(e *evalEnv) error {
			p, err := e.producer()
			if err != nil {
				return err
			}
			e.produce(p, "rebalance-once", -1, constant(20))
			e.member("rebalance-once-g", []string{"rebalance-once"}, autoCommit, runAt(0))
			e.member("rebalance-once-g", []string{"rebalance-once"}, autoCommit, until(2*time.Minute, actLeave, runAt(0)))
			return nil
		},
		truth: healthy,
	}
}
