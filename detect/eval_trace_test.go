// Trace-driven evaluation: TestEvalTrace. `make eval` runs it with
// KWITNESS_EVAL_OUT=docs/detection.md, and it writes its results between
// <!-- trace:begin --> and <!-- trace:end --> in that file.

package detect

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// The simulator models producers and consumers of Kafka topics in simulated
// time, 100 ms per step, and samples their offsets once per second the way
// the poller does (committed offsets from OffsetFetch, log end and start
// offsets from ListOffsets). The pure detectors, with production defaults,
// judge every sweep through a Book; the findings they open are scored
// against each scenario's ground truth.

const (
	simStepMs  = 100
	simSweepMs = 1000
	simEpoch   = int64(1_800_000_000_000)
)

// simTopic is one topic's producer.
type simTopic struct {
	name  string
	parts int
	// rate is the mean production of partition p at simulated second t,
	// records/s; each step draws ±20 % noise around it.
	rate       func(t float64, p int) float64
	txn        bool    // transactional: each batch ends with a commit or abort marker (KIP-98)
	compacted  bool    // the log start jumps as the cleaner removes old segments
	recreateAt float64 // > 0: deleted and recreated at this second

	end, start []int64
	carry      []float64
	marker     []bool // the newest offset is a transaction marker
}

// simGroup is one consumer group reading one topic.
type simGroup struct {
	name  string
	topic *simTopic
	// capacity is what the consumer can read of partition p at second t,
	// records/s; math.Inf(1) keeps up with anything.
	capacity    func(t float64, p int) float64
	commitEvery float64 // s between auto-commits
	jitter      float64 // relative jitter of each commit interval
	stopAt      float64 // > 0: stops consuming and committing at this second (stays a member)
	leave       bool    // with stopAt: its members leave too (no members)
	rebalances  []float64
	pause       float64 // s without consuming at each rebalance
	members     int
	noCommits   bool // never committed: absent from OffsetFetch

	pos, committed []int64
	nextCommit     float64
	gen            int32
	history        []MembershipChange
	pausedUntil    float64
}

// simExpect is one finding the scenario must produce.
type simExpect struct {
	kind  Kind
	group string // "" for a topic finding
	topic string // "" for a group finding
	from  float64
	// deadline: latest acceptable open time (s); computed by the scenario.
	deadline func(sc *simScenario) float64
	// earliest: smallest acceptable latency (s); a marginal condition must
	// not be reported before its long sustain.
	earliest float64
}

type simScenario struct {
	name    string
	what    string
	seconds float64
	topics  []*simTopic
	groups  []*simGroup
	expect  []simExpect
	seed    uint64

	// recorded columns, one sample per sweep
	times []int64
	com   map[*simGroup][][]int64
	end   map[*simTopic][][]int64
	start map[*simTopic][][]int64
	// commit sweeps per group (for deadlines)
	commitTimes map[*simGroup][]float64
}

// simRun is what one scenario produced.
type simRun struct {
	sc       *simScenario
	opened   []Finding
	matched  map[int]Finding // expectation index → finding
	falseAl  []Finding
	late     map[int]bool
	healthyH float64 // group-hours of healthy load
}

func (sc *simScenario) init() {
	for _, tp := range sc.topics {
		tp.end, tp.start = make([]int64, tp.parts), make([]int64, tp.parts)
		tp.carry, tp.marker = make([]float64, tp.parts), make([]bool, tp.parts)
		for p := range tp.parts {
			tp.end[p] = 1_000_000 + int64(p)*1000
			tp.start[p] = tp.end[p] - 500_000
		}
	}
	for _, g := range sc.groups {
		n := g.topic.parts
		g.pos, g.committed = make([]int64, n), make([]int64, n)
		copy(g.pos, g.topic.end)
		copy(g.committed, g.topic.end)
		g.gen = 1
		if g.members == 0 && !g.noCommits {
			g.members = 2
		}
	}
	sc.com, sc.end, sc.start = map[*simGroup][][]int64{}, map[*simTopic][][]int64{}, map[*simTopic][][]int64{}
	sc.commitTimes = map[*simGroup][]float64{}
}

// step advances every process by one step ending at second t.
func (sc *simScenario) step(rng *rand.Rand, t float64) {
	dt := float64(simStepMs) / 1000
	for _, tp := range sc.topics {
		if tp.recreateAt > 0 && t > tp.recreateAt && t-dt <= tp.recreateAt {
			for p := range tp.parts {
				tp.end[p], tp.start[p], tp.carry[p], tp.marker[p] = 0, 0, 0, false
			}
		}
		for p := range tp.parts {
			tp.carry[p] += tp.rate(t, p) * dt * (0.8 + 0.4*rng.Float64())
			n := int64(tp.carry[p])
			tp.carry[p] -= float64(n)
			if n == 0 {
				continue
			}
			tp.end[p] += n
			if tp.txn {
				tp.end[p]++ // the transaction's commit or abort marker
				tp.marker[p] = true
			}
			seg := int64(50_000)
			if tp.compacted {
				seg = 5_000
			}
			if tp.end[p]-tp.start[p] > 10*seg {
				tp.start[p] += seg
			}
		}
	}
	for _, g := range sc.groups {
		sc.stepGroup(rng, g, t, dt)
	}
}

func (sc *simScenario) stepGroup(rng *rand.Rand, g *simGroup, t, dt float64) {
	for _, at := range g.rebalances {
		if t > at && t-dt <= at {
			g.gen++
			atMs := simEpoch + int64(math.Ceil(at))*1000
			g.history = append(g.history, MembershipChange{AtMs: atMs, BeforeMs: atMs - 1000, From: g.gen - 1, To: g.gen,
				Joined: []string{fmt.Sprintf("c-%d@h", g.gen)}, Left: []string{fmt.Sprintf("c-%d@h", g.gen-1)}})
			g.pausedUntil = t + g.pause
		}
	}
	stopped := g.stopAt > 0 && t >= g.stopAt
	if stopped && g.leave {
		g.members = 0
	}
	tp := g.topic
	for p := range tp.parts {
		if tp.recreateAt > 0 && t > tp.recreateAt && t-dt <= tp.recreateAt {
			g.pos[p] = 0 // auto.offset.reset=earliest on the recreated topic
		}
		if stopped || t < g.pausedUntil || g.noCommits {
			continue
		}
		target := tp.end[p]
		if tp.marker[p] {
			target-- // a transaction marker is never consumed past
		}
		can := g.capacity(t, p) * dt
		if math.IsInf(can, 1) {
			g.pos[p] = max(g.pos[p], target)
		} else {
			g.pos[p] = max(g.pos[p], min(target, g.pos[p]+int64(can+rng.Float64())))
		}
	}
	if stopped || g.noCommits || t < g.nextCommit {
		return
	}
	copy(g.committed, g.pos)
	sc.commitTimes[g] = append(sc.commitTimes[g], t)
	g.nextCommit = t + g.commitEvery*(1+g.jitter*(2*rng.Float64()-1))
}

// sample records one sweep at second t.
func (sc *simScenario) sample(t float64) {
	sc.times = append(sc.times, simEpoch+int64(math.Round(t*1000)))
	for _, tp := range sc.topics {
		if sc.end[tp] == nil {
			sc.end[tp], sc.start[tp] = make([][]int64, tp.parts), make([][]int64, tp.parts)
		}
		for p := range tp.parts {
			sc.end[tp][p] = append(sc.end[tp][p], tp.end[p])
			sc.start[tp][p] = append(sc.start[tp][p], tp.start[p])
		}
	}
	for _, g := range sc.groups {
		if sc.com[g] == nil {
			sc.com[g] = make([][]int64, g.topic.parts)
		}
		for p := range g.topic.parts {
			sc.com[g][p] = append(sc.com[g][p], g.committed[p])
		}
	}
}

// simView is a ConsumerView over the newest lag window of the recorded
// columns, every window loaded.
type simView struct {
	sc     *simScenario
	window int // samples per window
	gt     GroupTopic
}

func (v *simView) EachGroupTopic(fn func(gt *GroupTopic)) {
	n := len(v.sc.times)
	lo := max(0, n-v.window)
	for _, g := range v.sc.groups {
		if g.noCommits {
			continue
		}
		gt := &v.gt
		gt.Cluster, gt.Group, gt.Topic = "sim", g.name, g.topic.name
		gt.Context = GroupContext{Known: true, State: "Stable", Members: g.members, Generation: g.gen, History: g.history}
		if g.members == 0 {
			gt.Context.State = "Empty"
		}
		if len(g.history) > 0 {
			gt.Context.Change = g.history[len(g.history)-1]
		}
		gt.Partitions = gt.Partitions[:0]
		for p := range g.topic.parts {
			gt.Partitions = append(gt.Partitions, PartitionInput{Partition: int32(p), Series: [3]uint32{1, 2, 3},
				Window: PartitionWindow{Times: v.sc.times[lo:n], Committed: v.sc.com[g][p][lo:n],
					End: v.sc.end[g.topic][p][lo:n], Start: v.sc.start[g.topic][p][lo:n]}})
		}
		fn(gt)
	}
}

func (v *simView) SeriesRef(id uint32) SeriesRef { return SeriesRef{Metric: "sim"} }

// simTopics is a TopicView over the newest hot-partition window (Sustain
// plus a minute) of every topic's log end offsets.
type simTopics struct {
	sc     *simScenario
	window int
	in     TopicInput
}

func (v *simTopics) EachTopic(fn func(t *TopicInput)) {
	n := len(v.sc.times)
	lo := max(0, n-v.window)
	for _, tp := range v.sc.topics {
		in := &v.in
		in.Cluster, in.Topic, in.Partitions = "sim", tp.name, in.Partitions[:0]
		for p := range tp.parts {
			in.Partitions = append(in.Partitions, EndWindow{Partition: int32(p), Times: v.sc.times[lo:n], End: v.sc.end[tp][p][lo:n], Series: 2})
		}
		fn(in)
	}
}

func (v *simTopics) SeriesRef(id uint32) SeriesRef { return SeriesRef{Metric: "sim"} }

// simSlowEvery is the engine's cadence of the slow detectors
// (findings.slow_every).
const simSlowEvery = 30

// run drives the scenario through the detectors and the book.
func (sc *simScenario) run(t *testing.T) simRun {
	t.Helper()
	sc.init()
	rng := rand.New(rand.NewPCG(sc.seed, 99))
	lcfg := DefaultLagConfig()
	lag, err := NewLagDetector(lcfg)
	if err != nil {
		t.Fatal(err)
	}
	reb, _ := NewRebalanceDetector(DefaultRebalanceConfig())
	hcfg := simHotConfig()
	hot, _ := NewHotDetector(hcfg)
	topics := &simTopics{sc: sc, window: int((hcfg.Sustain + time.Minute) / time.Second)}
	book, _ := NewBook(DefaultBookConfig())
	view := &simView{sc: sc, window: int(lcfg.Window / time.Second)}
	run := simRun{sc: sc, matched: map[int]Finding{}, late: map[int]bool{}}
	steps := int(sc.seconds * 1000 / simStepMs)
	for i := 1; i <= steps; i++ {
		ts := float64(i*simStepMs) / 1000
		sc.step(rng, ts)
		if (i*simStepMs)%simSweepMs != 0 {
			continue
		}
		sc.sample(ts)
		now := time.UnixMilli(sc.times[len(sc.times)-1])
		var evs []Event
		evs = append(evs, book.Observe("lag", now, lag.Sweep(view))...)
		evs = append(evs, book.Observe("rebalance", now, reb.Sweep(view, now.UnixMilli()))...)
		if i*simStepMs%(simSlowEvery*1000) == 0 {
			evs = append(evs, book.Observe("hot", now, hot.Sweep(topics))...)
		}
		for _, ev := range evs {
			if ev.Type == EventOpened {
				run.opened = append(run.opened, ev.Finding)
			}
		}
	}
	sc.score(&run)
	return run
}

// simSecond is the scenario second of a time.
func simSecond(at time.Time) float64 { return float64(at.UnixMilli()-simEpoch) / 1000 }

// score matches opened findings to expectations: the first finding of the
// expected kind and subject opened at or after the expected start.
func (sc *simScenario) score(run *simRun) {
	used := map[int]bool{}
	for i, x := range sc.expect {
		for k, f := range run.opened {
			if used[k] || f.Kind != x.kind || f.Subject.Group != x.group || f.Subject.Topic != x.topic || simSecond(f.OpenedAt) < x.from {
				continue
			}
			used[k], run.matched[i] = true, f
			run.late[i] = simSecond(f.OpenedAt) > x.deadline(sc) || simSecond(f.OpenedAt)-x.from < x.earliest
			break
		}
	}
	for k, f := range run.opened {
		if !used[k] {
			run.falseAl = append(run.falseAl, f)
		}
	}
	for _, g := range sc.groups {
		if g.noCommits {
			continue
		}
		healthy := sc.seconds
		for _, x := range sc.expect {
			if x.group == g.name {
				healthy = min(healthy, x.from)
			}
		}
		run.healthyH += healthy / 3600
	}
}

// lastCommitBefore is the newest commit of g at or before second t.
func (sc *simScenario) lastCommitBefore(g *simGroup, t float64) float64 {
	last := 0.0
	for _, c := range sc.commitTimes[g] {
		if c <= t {
			last = c
		}
	}
	return last
}

// stallDeadline is the stall target: last commit + learned interval +
// max(interval/4, 10 s) + 2 polls, the interval being the configured one
// at its longest jitter.
func stallDeadline(g *simGroup) func(sc *simScenario) float64 {
	return func(sc *simScenario) float64 {
		iv := g.commitEvery * (1 + g.jitter)
		// The sweep that sees a commit lags it by up to one poll.
		return math.Ceil(sc.lastCommitBefore(g, g.stopAt)) + iv + max(iv/4, 10) + 2
	}
}

func within(s float64) func(*simScenario) float64 {
	return func(sc *simScenario) float64 { return sc.expectFrom() + s }
}

func (sc *simScenario) expectFrom() float64 { return sc.expect[0].from }

func steady(r float64) func(float64, int) float64 { return func(float64, int) float64 { return r } }
func keepsUp() func(float64, int) float64         { return steady(math.Inf(1)) }

// burst is a production of mean base with a burst of factor × base for
// length seconds every period seconds, starting at phase.
func burst(base, factor, length, period, phase float64) func(float64, int) float64 {
	return func(t float64, p int) float64 {
		if t >= phase && math.Mod(t-phase, period) < length {
			return base * factor
		}
		return base
	}
}

func simScenarios() []*simScenario {
	var out []*simScenario
	add := func(sc *simScenario) *simScenario { out = append(out, sc); return sc }

	{ // hours of healthy, noisy traffic
		tp := &simTopic{name: "orders", parts: 6, rate: func(t float64, p int) float64 {
			return 200 + 100*math.Sin(t/600+float64(p)) // slow diurnal-like drift
		}}
		add(&simScenario{name: "steady healthy", what: "3 h, 6 partitions, 100–300 records/s drifting, two groups committing every 5 s and 10 s (±20 %)",
			seconds: 3 * 3600, topics: []*simTopic{tp}, seed: 1, groups: []*simGroup{
				{name: "billing", topic: tp, capacity: steady(2000), commitEvery: 5, jitter: 0.2},
				{name: "audit", topic: tp, capacity: steady(800), commitEvery: 10, jitter: 0.2},
			}})
	}
	{
		tp := &simTopic{name: "clicks", parts: 4, rate: steady(500)}
		g := &simGroup{name: "slow-reader", topic: tp, capacity: steady(200), commitEvery: 5, jitter: 0.1}
		add(&simScenario{name: "lagging from the start", what: "a consumer reading 40 % of production (500/s per partition), 5 s commits",
			seconds: 300, topics: []*simTopic{tp}, groups: []*simGroup{g}, seed: 2,
			expect: []simExpect{{kind: KindLagGrowing, group: "slow-reader", topic: "clicks", from: 0, deadline: within(20)}}})
	}
	{
		tp := &simTopic{name: "payments", parts: 4, rate: steady(300)}
		g := &simGroup{name: "ledger", topic: tp, commitEvery: 5, jitter: 0.1, rebalances: []float64{600}, pause: 3,
			capacity: func(t float64, p int) float64 {
				if t >= 600 {
					return 150
				}
				return 1000
			}}
		add(&simScenario{name: "lag after a deploy", what: "10 min healthy, then a deploy (one rebalance) leaves the consumer at 50 % of production",
			seconds: 1200, topics: []*simTopic{tp}, groups: []*simGroup{g}, seed: 3,
			expect: []simExpect{{kind: KindLagGrowing, group: "ledger", topic: "payments", from: 600, deadline: within(30)}}})
	}
	for _, every := range []float64{5, 60} {
		for _, leave := range []bool{false, true} {
			tp := &simTopic{name: "events", parts: 3, rate: steady(100)}
			g := &simGroup{name: "worker", topic: tp, capacity: steady(1000), commitEvery: every, jitter: 0.05, stopAt: 900, leave: leave}
			kind, verb := KindConsumerStalled, "stalls (stays a member)"
			if leave {
				kind, verb = KindConsumerStopped, "stops (members leave)"
			}
			add(&simScenario{name: fmt.Sprintf("%s, %.0f s commits", strings.ToLower(strings.ReplaceAll(string(kind), "_", " ")), every),
				what:    fmt.Sprintf("commits every %.0f s for 15 min, then %s", every, verb),
				seconds: 1500, topics: []*simTopic{tp}, groups: []*simGroup{g}, seed: 4 + uint64(every),
				expect: []simExpect{{kind: kind, group: "worker", topic: "events", from: 900, deadline: stallDeadline(g)}}})
		}
	}
	for i, b := range []struct {
		name                                 string
		factor, length, period, capacityMult float64
	}{
		{"10× for 30 s every 6 min", 10, 30, 360, 2.5},
		{"5× for 10 s every minute", 5, 10, 60, 2},
		{"3× for 20 s every 2 min", 3, 20, 120, 1.6},
		{"10× for 5 s every 30 s", 10, 5, 30, 2.5},
	} {
		base := 200.0
		tp := &simTopic{name: "bursty", parts: 4, rate: burst(base, b.factor, b.length, b.period, 37)}
		mean := base * (b.period - b.length + b.factor*b.length) / b.period
		add(&simScenario{name: "bursty producer: " + b.name, what: fmt.Sprintf("mean %.0f records/s per partition; consumers with %.1f× the mean, 5 s and 60 s commits, clear every burst", mean, b.capacityMult),
			seconds: 2 * 3600, topics: []*simTopic{tp}, seed: 10 + uint64(i), groups: []*simGroup{
				{name: "fast", topic: tp, capacity: steady(b.capacityMult * mean), commitEvery: 5, jitter: 0.2},
				{name: "flink", topic: tp, capacity: steady(b.capacityMult * mean), commitEvery: 60, jitter: 0.05},
			}})
	}
	{ // on/off: idle between bursts, so no commit marks the quiet spells
		tp := &simTopic{name: "onoff", parts: 4, rate: func(t float64, p int) float64 {
			if math.Mod(t+7*float64(p), 60) >= 50 {
				return 300
			}
			return 0
		}}
		add(&simScenario{name: "on/off producer: 300/s for 10 s every minute, idle between", what: "mean 50 records/s per partition; consumers with 2.4× the mean, 5 s and 60 s commits, clear every burst",
			seconds: 2 * 3600, topics: []*simTopic{tp}, seed: 15, groups: []*simGroup{
				{name: "fast", topic: tp, capacity: steady(120), commitEvery: 5, jitter: 0.2},
				{name: "flink", topic: tp, capacity: steady(120), commitEvery: 60, jitter: 0.05},
			}})
	}
	{
		tp := &simTopic{name: "metrics", parts: 4, rate: steady(400)}
		var gs []*simGroup
		for _, every := range []float64{30, 60, 90, 120} {
			gs = append(gs, &simGroup{name: fmt.Sprintf("commit-%.0fs", every), topic: tp, capacity: steady(1200), commitEvery: every, jitter: 0.05})
		}
		add(&simScenario{name: "long commit intervals", what: "consumers keeping up that commit every 30, 60, 90 and 120 s (Connect, Flink, Spark checkpoints)",
			seconds: 2 * 3600, topics: []*simTopic{tp}, groups: gs, seed: 20})
	}
	{
		tp := &simTopic{name: "idle", parts: 3, rate: steady(0)}
		add(&simScenario{name: "idle topic", what: "nothing produced; a live group, a quiet group without members, and an absent group that never committed",
			seconds: 3600, topics: []*simTopic{tp}, seed: 21, groups: []*simGroup{
				{name: "live", topic: tp, capacity: keepsUp(), commitEvery: 5, jitter: 0.1},
				{name: "quiet", topic: tp, capacity: keepsUp(), commitEvery: 5, jitter: 0.1, stopAt: 1, leave: true},
				{name: "absent", topic: tp, capacity: keepsUp(), commitEvery: 5, noCommits: true},
			}})
	}
	{
		tp := &simTopic{name: "txn", parts: 4, txn: true}
		tp.rate = func(t float64, p int) float64 { // transactions in spurts, idle in between
			if math.Mod(t, 300) < 120 {
				return 50
			}
			return 0
		}
		add(&simScenario{name: "transactional producer", what: "transactions (each ending in a marker) for 2 min of every 5; the consumer keeps up, so end − committed ≥ 1 forever",
			seconds: 3600, topics: []*simTopic{tp}, seed: 22, groups: []*simGroup{
				{name: "read-committed", topic: tp, capacity: keepsUp(), commitEvery: 5, jitter: 0.1},
			}})
	}
	{
		tp := &simTopic{name: "changelog", parts: 4, compacted: true, rate: steady(150)}
		add(&simScenario{name: "compacted topic", what: "a compacted changelog (log start jumping often), consumer keeping up",
			seconds: 3600, topics: []*simTopic{tp}, seed: 23, groups: []*simGroup{
				{name: "state-store", topic: tp, capacity: steady(600), commitEvery: 5, jitter: 0.1},
			}})
	}
	{
		tp := &simTopic{name: "recreated", parts: 3, rate: steady(100), recreateAt: 600}
		add(&simScenario{name: "topic recreated", what: "the topic is deleted and recreated at 10 min; the group resets to the new log and keeps committing",
			seconds: 1500, topics: []*simTopic{tp}, seed: 24, groups: []*simGroup{
				{name: "mirror", topic: tp, capacity: steady(400), commitEvery: 5, jitter: 0.1},
			},
			expect: []simExpect{{kind: KindOffsetRewind, group: "mirror", topic: "recreated", from: 600, deadline: within(15)}}})
	}
	{
		tp := &simTopic{name: "jobs", parts: 6, rate: steady(200)}
		storm := []float64{}
		for t := 600.0; t < 1200; t += 60 {
			storm = append(storm, t)
		}
		add(&simScenario{name: "rebalance storm", what: "from 10 min the group rebalances every minute (3 s pause each); a second group rebalances once",
			seconds: 1800, topics: []*simTopic{tp}, seed: 25, groups: []*simGroup{
				{name: "flappy", topic: tp, capacity: steady(800), commitEvery: 5, jitter: 0.1, rebalances: storm, pause: 3},
				{name: "clean", topic: tp, capacity: steady(800), commitEvery: 5, jitter: 0.1, rebalances: []float64{900}, pause: 3},
			},
			expect: []simExpect{{kind: KindRebalanceStorm, group: "flappy", from: 720, deadline: within(15)}}})
	}
	for _, h := range []struct {
		name               string
		factor             float64
		earliest, deadline float64
	}{
		{"hot partition 10×", 10, 0, 90},
		{"hot partition 3.5× (marginal)", 3.5, simHotConfig().Sustain.Seconds() / 2, hotLongDeadline()},
	} {
		f := h.factor
		tp := &simTopic{name: "keyed", parts: 8, rate: func(t float64, p int) float64 {
			if p == 3 && t >= 600 {
				return 100 * f
			}
			return 100
		}}
		add(&simScenario{name: h.name, what: fmt.Sprintf("8 partitions at 100 records/s; from 10 min partition 3 receives %g× (the long rule's factor is 3×, the fast one's 8×)", f),
			seconds: 600 + hotLongDeadline() + 120, topics: []*simTopic{tp}, seed: 30 + uint64(f), groups: []*simGroup{
				{name: "indexer", topic: tp, capacity: steady(5000), commitEvery: 5, jitter: 0.1},
			},
			expect: []simExpect{{kind: KindHotPartition, topic: "keyed", from: 600, earliest: h.earliest, deadline: within(h.deadline)}}})
	}
	{
		tp := &simTopic{name: "balanced", parts: 8, rate: func(t float64, p int) float64 {
			return burst(100, 10, 30, 240, float64(p)*30)(t, p) // each partition bursts 10× for 30 s, in turn
		}}
		add(&simScenario{name: "balanced bursty topic", what: "8 partitions at 100 records/s, each bursting 10× for 30 s in turn (every 4 min)",
			seconds: 2 * 3600, topics: []*simTopic{tp}, seed: 40, groups: []*simGroup{
				{name: "indexer", topic: tp, capacity: steady(5000), commitEvery: 5, jitter: 0.1},
			}})
	}
	return out
}

// hotLongDeadline is the marginal hot partition's target: the long
// sustain, the slow cadence and a poll.
func hotLongDeadline() float64 {
	return simHotConfig().Sustain.Seconds() + simSlowEvery + 2
}

// simHotConfig is `kwitness run`'s default: the sustain capped at the
// default 10-minute window span.
func simHotConfig() HotConfig {
	c := DefaultHotConfig()
	c.Sustain = 10 * time.Minute
	return c
}

func TestEvalTrace(t *testing.T) {
	scs := simScenarios()
	runs := make([]simRun, len(scs))
	for i, sc := range scs {
		runs[i] = sc.run(t)
		r := runs[i]
		for k, x := range sc.expect {
			f, ok := r.matched[k]
			switch {
			case !ok:
				t.Errorf("%s: missed %s on %s/%s from %.0f s", sc.name, x.kind, x.group, x.topic, x.from)
			case r.late[k]:
				t.Errorf("%s: %s opened at %.0f s, want between %.0f s and %.0f s", sc.name, x.kind, simSecond(f.OpenedAt), x.from+x.earliest, x.deadline(sc))
			}
		}
		for _, f := range r.falseAl {
			t.Errorf("%s: false alarm %s on %s/%s at %.0f s: %s", sc.name, f.Kind, f.Subject.Group, f.Subject.Topic, simSecond(f.OpenedAt), f.Summary)
		}
	}
	md := evalMarkdown(runs)
	t.Log("\n" + md)
	if out := os.Getenv("KWITNESS_EVAL_OUT"); out != "" {
		if err := writeSection(out, "<!-- trace:begin -->", "<!-- trace:end -->", md); err != nil {
			t.Fatal(err)
		}
	}
}

// evalMarkdown renders the results: one row per scenario, then totals.
func evalMarkdown(runs []simRun) string {
	var b strings.Builder
	b.WriteString("### Trace-driven layer (`TestEvalTrace`, part of `make test`)\n\n")
	b.WriteString("Simulated producers and consumers (100 ms steps, offsets sampled every 1 s) drive the pure detectors with production defaults through a Book. Latency is from the fault's start to the finding's opening.\n\n")
	b.WriteString("| scenario | load | expected (kind, subject, from) | reported (latency, target) | false alarms | result |\n|---|---|---|---|---|---|\n")
	var expected, found, fas int
	var hours float64
	lat := map[Kind][]float64{}
	for _, r := range runs {
		var exp, rep []string
		ok := len(r.falseAl) == 0
		for i, x := range r.sc.expect {
			expected++
			subj := strings.Trim(x.group+"/"+x.topic, "/")
			exp = append(exp, fmt.Sprintf("%s %s from %.0f s", x.kind, subj, x.from))
			f, m := r.matched[i]
			if !m {
				rep = append(rep, "missed")
				ok = false
				continue
			}
			found++
			l := simSecond(f.OpenedAt) - x.from
			lat[x.kind] = append(lat[x.kind], l)
			target := fmt.Sprintf("≤ %.0f s", x.deadline(r.sc)-x.from)
			if x.earliest > 0 {
				target = fmt.Sprintf("%.0f–%.0f s", x.earliest, x.deadline(r.sc)-x.from)
			}
			rep = append(rep, fmt.Sprintf("%s after %.0f s (%s)", x.kind, l, target))
			ok = ok && !r.late[i]
		}
		var fa []string
		for _, f := range r.falseAl {
			fa = append(fa, fmt.Sprintf("%s %s/%s at %.0f s", f.Kind, f.Subject.Group, f.Subject.Topic, simSecond(f.OpenedAt)))
		}
		fas += len(r.falseAl)
		hours += r.healthyH
		res := "pass"
		if !ok {
			res = "**FAIL**"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", r.sc.name, r.sc.what, orNone(exp), orNone(rep), orNone(fa), res)
	}
	recall := 1.0
	if expected > 0 {
		recall = float64(found) / float64(expected)
	}
	fmt.Fprintf(&b, "\nTotals: recall %d/%d (%.0f %%); %d false alarms in %.1f group-hours of healthy load (%.2f per hour).\n\n",
		found, expected, 100*recall, fas, hours, float64(fas)/max(hours, 1e-9))
	b.WriteString("| kind | findings | latency p50 | latency p95 |\n|---|---|---|---|\n")
	kinds := make([]Kind, 0, len(lat))
	for k := range lat {
		kinds = append(kinds, k)
	}
	slices.SortFunc(kinds, func(a, b Kind) int { return cmp.Compare(a, b) })
	for _, k := range kinds {
		ls := lat[k]
		slices.Sort(ls)
		fmt.Fprintf(&b, "| %s | %d | %.0f s | %.0f s |\n", k, len(ls), quantile(ls, 0.5), quantile(ls, 0.95))
	}
	return b.String()
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, "; ")
}

// quantile of sorted xs, nearest rank.
func quantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	return xs[max(0, int(math.Ceil(q*float64(len(xs))))-1)]
}

// writeSection replaces the text between begin and end in the file at path
// with body, creating the file (with both markers) when it is missing.
func writeSection(path, begin, end, body string) error {
	old, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		if s != "" && !strings.HasSuffix(s, "\n") {
			s += "\n"
		}
		s += begin + "\n" + end + "\n"
		i, j = strings.Index(s, begin), strings.Index(s, end)
	}
	s = s[:i+len(begin)] + "\n" + body + s[j:]
	return os.WriteFile(path, []byte(s), 0o644)
}
