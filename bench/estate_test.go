package bench

import (
	"fmt"
	"math/rand/v2"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// shape is how much a group consumes: topics topics of parts partitions each.
type shape struct{ topics, parts int }

// defaultShape (see doc.go): 10 topics of 50 partitions, so a group has 500
// group-partitions.
var defaultShape = shape{topics: 10, parts: 50}

// gp is the number of group-partitions of one group.
func (s shape) gp() int { return s.topics * s.parts }

const (
	privateShare    = 0.6     // share of group-topics reading a topic no other group reads
	sharedConsumers = 4       // average consumer groups per shared topic
	commitEvery     = 5000    // ms; the Kafka consumer's default auto.commit.interval.ms
	burstEvery      = 300_000 // ms; mean time between bursts on a bursty partition
)

// Producer and consumer behaviour of a group-partition.
type kind uint8

const (
	kindIdle    kind = iota // nothing produced; the consumer sits at the end offset
	kindSteady              // 100–5100 records/s ±10 %; the consumer keeps up
	kindBursty              // idle, bursts of 1k–51k records/s for 10–120 s; the consumer keeps up
	kindLagging             // steady producer; the consumer runs at 50–90 % of its rate
	numKinds
)

var kindNames = [numKinds]string{"idle", "steady", "bursty", "lagging"}

// topicPart is the producer side of one topic-partition: its log end and
// start offsets, shared by every group that consumes the topic.
type topicPart struct {
	end, start     int64
	seg            int64 // records per log segment; start moves by whole segments
	rate           int64 // steady records/s; 0 when idle or bursty
	burstRate      int64 // records/s of the current burst
	burstLeft      int64 // ms left in the current burst
	bursty         bool
	endID, startID uint32
}

// groupPart is the consumer side of one group-partition.
type groupPart struct {
	committed  int64
	lastCommit int64  // Unix ms of the last commit
	capacity   int64  // records/s the consumer processes; 0 keeps up with any rate
	tp         uint32 // index into estate.tps
	comID      uint32
}

// estate is a generated cluster: its watched group-topics, the state of every
// offset process, and the series ids of their window series.
type estate struct {
	rng      *rand.Rand
	shape    shape
	specs    []state.GroupTopicSpec
	contexts map[string]detect.GroupContext
	tps      []topicPart
	gps      []groupPart
	kinds    [numKinds]int // group-partitions per kind
	now      int64         // Unix ms of the last generated sweep
}

// newEstate generates an estate of n group-partitions (a multiple of 500) in
// the default shape from a fixed seed, its clock at start (Unix ms).
func newEstate(n int, start int64) *estate {
	return newShapedEstate(n/defaultShape.gp(), defaultShape, start)
}

// newShapedEstate generates groups groups of shape sh from a fixed seed, its
// clock at start (Unix ms).
func newShapedEstate(groups int, sh shape, start int64) *estate {
	n := groups * sh.gp()
	e := &estate{rng: rand.New(rand.NewPCG(42, uint64(n))), shape: sh, contexts: map[string]detect.GroupContext{}, now: start}
	gts := groups * sh.topics
	shared := max(1, int(float64(gts)*(1-privateShare)/sharedConsumers))
	topicKind := make([]kind, 0, gts)
	newTopic := func() int {
		t := len(topicKind)
		topicKind = append(topicKind, e.producerKind())
		for range sh.parts {
			e.tps = append(e.tps, e.newTopicPart(topicKind[t]))
		}
		return t
	}
	for range shared {
		newTopic()
	}
	for g := range groups {
		name := fmt.Sprintf("g-%05d", g)
		e.contexts[name] = detect.GroupContext{Known: true, State: "Stable", Members: 1 + e.rng.IntN(8), Generation: int32(1 + e.rng.IntN(50))}
		mine := map[int]bool{}
		for range sh.topics {
			t := e.pickTopic(mine, shared, newTopic)
			k := topicKind[t]
			if k == kindSteady && e.rng.IntN(9) == 0 { // 1/9 of 45 % ≈ 5 % of group-partitions
				k = kindLagging
			}
			e.addGroupTopic(name, t, k)
		}
	}
	return e
}

// producerKind draws a topic's producer: idle 40 %, steady 45 %, bursty 15 %
// (lagging consumers are then carved out of the steady topics' consumers).
func (e *estate) producerKind() kind {
	switch r := e.rng.IntN(100); {
	case r < 40:
		return kindIdle
	case r < 85:
		return kindSteady
	}
	return kindBursty
}

// pickTopic returns a private topic with probability privateShare, else a
// shared one the group does not read yet.
func (e *estate) pickTopic(mine map[int]bool, shared int, newTopic func() int) int {
	if e.rng.Float64() < privateShare || len(mine) >= shared {
		return newTopic()
	}
	for {
		if t := e.rng.IntN(shared); !mine[t] {
			mine[t] = true
			return t
		}
	}
}

func (e *estate) newTopicPart(k kind) topicPart {
	tp := topicPart{end: 1e6 + e.rng.Int64N(1e9), seg: 1e6, bursty: k == kindBursty}
	if k == kindSteady {
		tp.rate = 100 + e.rng.Int64N(5000)
		tp.seg = tp.rate * 600
	}
	tp.start = max(0, tp.end-2*tp.seg)
	return tp
}

func (e *estate) addGroupTopic(group string, t int, k kind) {
	spec := state.GroupTopicSpec{Group: group, Topic: fmt.Sprintf("t-%06d", t)}
	for p := range e.shape.parts {
		spec.Partitions = append(spec.Partitions, int32(p))
		i := t*e.shape.parts + p
		gp := groupPart{tp: uint32(i), committed: e.tps[i].end, lastCommit: e.now - e.rng.Int64N(commitEvery)}
		if k == kindLagging {
			gp.capacity = e.tps[i].rate * int64(50+e.rng.IntN(41)) / 100
		}
		e.gps = append(e.gps, gp)
	}
	e.specs = append(e.specs, spec)
	e.kinds[k] += e.shape.parts
}

// resolve looks up the window series ids of every offset process, after
// w.BuildTopology(e.specs) registered them.
func (e *estate) resolve(w *state.Window) error {
	gi := 0
	for _, s := range e.specs {
		for _, p := range s.Partitions {
			gp := &e.gps[gi]
			tp := &e.tps[gp.tp]
			ids := [3]uint32{}
			for m, key := range [3]state.SeriesKey{
				{Metric: state.MetricCommitted, Group: s.Group, Topic: s.Topic, Partition: p},
				{Metric: state.MetricEnd, Topic: s.Topic, Partition: p},
				{Metric: state.MetricStart, Topic: s.Topic, Partition: p},
			} {
				id, ok := w.Lookup(key)
				if !ok {
					return fmt.Errorf("bench: series %+v not registered", key)
				}
				ids[m] = id
			}
			gp.comID, tp.endID, tp.startID = ids[0], ids[1], ids[2]
			gi++
		}
	}
	return nil
}

// advance moves every process to time at (Unix ms).
func (e *estate) advance(at int64) {
	dt := at - e.now
	e.now = at
	for i := range e.tps {
		e.tps[i].advance(e.rng, dt)
	}
	for i := range e.gps {
		gp := &e.gps[i]
		if at-gp.lastCommit < commitEvery {
			continue
		}
		end := e.tps[gp.tp].end
		if gp.capacity > 0 {
			end = min(end, gp.committed+gp.capacity*(at-gp.lastCommit)/1000)
		}
		gp.committed, gp.lastCommit = max(gp.committed, end), at
	}
}

// advance produces dt ms worth of records.
func (tp *topicPart) advance(r *rand.Rand, dt int64) {
	switch {
	case tp.rate > 0:
		tp.end += tp.rate * dt * int64(90+r.IntN(21)) / 100_000
	case tp.bursty:
		if tp.burstLeft <= 0 && r.Int64N(burstEvery) < dt {
			tp.burstLeft, tp.burstRate = int64(10+r.IntN(111))*1000, int64(1000+r.IntN(50_000))
		}
		if tp.burstLeft > 0 {
			tp.end += tp.burstRate * min(dt, tp.burstLeft) / 1000
			tp.burstLeft -= dt
		}
	}
	if tp.end-tp.start > 3*tp.seg {
		tp.start += tp.seg
	}
}

// mix describes the estate's composition for the benchmark log.
func (e *estate) mix() string {
	s := fmt.Sprintf("%d group-partitions in %d group-topics over %d topic-partitions:",
		len(e.gps), len(e.specs), len(e.tps))
	for k, name := range kindNames {
		s += fmt.Sprintf(" %s %.1f%%", name, 100*float64(e.kinds[k])/float64(len(e.gps)))
	}
	return s
}
