package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Admin-API collection of the BrokerPoller, at two cadences:
//
//   - every LogDirsInterval: DescribeLogDirs (all brokers), giving per log
//     dir used and, with KIP-827 (DescribeLogDirs v4, Kafka 3.3+), total
//     bytes;
//   - every MetadataInterval: DescribeCluster (with WithKafkaClient), giving
//     broker membership (fenced brokers are not members), the controller
//     and the cluster id; Metadata (all topics), giving partition health,
//     and membership when DescribeCluster is unavailable or failed; then
//     ListPartitionReassignments for
//     the topics Metadata listed, and DescribeConfigs for the topics seen
//     in telemetry or consumed (TopicConfigs).
//
// Partition health from Metadata: offline partitions (leader -1),
// cluster-wide, as offline_partitions{broker=-1, origin admin}; per leader
// the partitions whose ISR is smaller than their replica set, as
// under_replicated_partitions{broker, origin admin}, 0 for every broker
// listed that leads none; and per leader the partitions whose ISR is
// smaller than their topic's min.insync.replicas (from DescribeConfigs), as
// under_min_isr_partitions{broker, origin admin} — written only when the
// configs of every topic Metadata listed are known, since an unknown
// minimum must read as a gap, not as 0. These feed the detectors when the broker's JMX
// scrape does not export the signal (state.Telemetry.ClusterInput prefers
// the scraped series). Admin answers are held: every sweep re-writes the
// newest answer until the next poll, and a failed poll turns the series
// it feeds into gaps (log dirs of a broker whose shard failed, partition
// health and membership after a failed Metadata).
//
// Capabilities: a request the cluster does not support (UNSUPPORTED_VERSION,
// or a request key the broker does not advertise) is recorded once under
// its request name, logged once, and not counted as an error; collection
// goes on. Log dirs without KIP-827 totals, or with totals that contradict
// themselves (usable > total, as kfake reports), are recorded under
// CapLogDirCapacity; their used bytes fall back to Σ partition sizes and no
// total is written.

// Admin request names, as used in Capabilities, TelemetryStatus and the
// request label of kwitness_ingest_errors_total.
const (
	ReqMetadata                   = "Metadata"
	ReqDescribeCluster            = "DescribeCluster"
	ReqDescribeLogDirs            = "DescribeLogDirs"
	ReqListPartitionReassignments = "ListPartitionReassignments"
	ReqDescribeConfigs            = "DescribeConfigs"
)

// CapLogDirCapacity names the KIP-827 total and usable bytes of
// DescribeLogDirs in Capabilities.
const CapLogDirCapacity = "DescribeLogDirs.total_bytes"

// adminDue is when each admin cadence last ran. Admin collector only.
type adminDue struct {
	lastLogDir, lastMeta time.Time
}

// next is when the next admin request is due.
func (d adminDue) next(cfg TelemetryConfig) time.Time {
	if d.lastLogDir.IsZero() || d.lastMeta.IsZero() {
		return time.Time{}
	}
	return minTime(d.lastLogDir.Add(cfg.LogDirsInterval), d.lastMeta.Add(cfg.MetadataInterval))
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// adminState is what the admin collection remembers; BrokerPoller.adminMu
// guards it. The collector holds the lock only to apply an answer, never
// across a request.
type adminState struct {
	registered map[int32]bool // members by the newest good DescribeCluster, else Metadata
	cluster    clusterFacts   // the newest good DescribeCluster answer
	leftAt     map[int32]time.Time
	metaOK     bool     // the newest Metadata poll answered
	memberOK   bool     // the newest membership poll (DescribeCluster, else Metadata) answered
	metaTopics []string // topics the newest good Metadata listed, for DescribeConfigs
	health     partitionHealth
	logDirs    kadm.DescribedAllLogDirs // newest answer, good shards only
	reassign   bool
	reqs       map[string]*requestState
}

func newAdminState() adminState {
	return adminState{registered: map[int32]bool{}, leftAt: map[int32]time.Time{}, reqs: map[string]*requestState{}}
}

// requestState is the newest outcome of one admin request.
type requestState struct {
	lastAttempt, lastSuccess time.Time
	lastErr                  string // "" when the newest attempt succeeded
	class                    string // Classify of lastErr
	unsupported              bool
}

// partitionHealth is what one Metadata answer says about partitions.
type partitionHealth struct {
	offline float64           // partitions without a leader, cluster-wide
	urp     map[int32]float64 // leader → partitions with |ISR| < |replicas|
	// leader → partitions with |ISR| < min.insync.replicas; nil unless the
	// minimum of every listed topic is known.
	underMinISR map[int32]float64
	// Balance, for the skew detectors (detect/skew.go).
	leaders      map[int32]float64 // leader → partitions it leads
	replicas     map[int32]float64 // broker → partition replicas it hosts
	nonPreferred map[int32]float64 // leader → partitions it leads whose replicas[0] is another broker
}

// runAdmin collects admin answers as they fall due until ctx is done. Run
// owns it.
func (p *BrokerPoller) runAdmin(ctx context.Context) {
	for {
		p.collectAdmin(ctx, time.Now())
		t := time.NewTimer(max(time.Until(p.adminDue.next(p.cfg)), 100*time.Millisecond))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// collectAdmin runs the admin requests that are due, within AdminTimeout.
func (p *BrokerPoller) collectAdmin(ctx context.Context, at time.Time) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.AdminTimeout)
	defer cancel()
	a := &p.adminDue
	if a.lastLogDir.IsZero() || at.Sub(a.lastLogDir) >= p.cfg.LogDirsInterval {
		a.lastLogDir = at
		p.collectLogDirs(ctx, at)
	}
	if !a.lastMeta.IsZero() && at.Sub(a.lastMeta) < p.cfg.MetadataInterval {
		return
	}
	a.lastMeta = at
	described := p.collectCluster(ctx, at)
	topics := p.collectMetadata(ctx, at, !described)
	p.collectReassignments(ctx, at, topics)
	p.collectTopicConfigs(ctx, at)
}

func (p *BrokerPoller) collectLogDirs(ctx context.Context, at time.Time) {
	dirs, err := p.adm.DescribeAllLogDirs(ctx, nil)
	p.adminMu.Lock()
	ok := p.adminResult(ReqDescribeLogDirs, at, err, len(dirs) > 0)
	p.admin.logDirs = nil
	if ok {
		p.admin.logDirs = dirs
	}
	p.adminMu.Unlock()
	if !ok {
		return
	}
	var why []string
	dirs.Each(func(d kadm.DescribedLogDir) {
		switch {
		case d.Err != nil:
		case d.TotalBytes < 0 || d.UsableBytes < 0:
			why = append(why, fmt.Sprintf("broker %d reports no total/usable bytes for %s (needs DescribeLogDirs v4, Kafka 3.3+)", d.Broker, d.Dir))
		case !sane(d):
			why = append(why, fmt.Sprintf("broker %d reports usable %d > total %d bytes for %s", d.Broker, d.UsableBytes, d.TotalBytes, d.Dir))
		}
	})
	if len(why) == 0 {
		p.clearCap(CapLogDirCapacity)
		return
	}
	slices.Sort(why)
	p.setCap(CapLogDirCapacity, strings.Join(why, "; ")+"; used bytes are Σ partition sizes, no capacity")
}

// sane reports whether d's KIP-827 totals can be used.
func sane(d kadm.DescribedLogDir) bool {
	return d.TotalBytes > 0 && d.UsableBytes >= 0 && d.UsableBytes <= d.TotalBytes
}

// clusterFacts is what DescribeCluster says besides membership.
type clusterFacts struct {
	Known        bool // DescribeCluster has answered
	ClusterID    string
	ControllerID int32   // as the cluster reports it; -1 when none
	Fenced       []int32 // brokers registered but fenced (KRaft), sorted
}

// collectCluster asks DescribeCluster for membership and the controller,
// and reports whether it answered. Without a Kafka client (WithKafkaClient)
// it reports false and asks nothing.
func (p *BrokerPoller) collectCluster(ctx context.Context, at time.Time) bool {
	if p.kcl == nil {
		return false
	}
	resp, err := kmsg.NewPtrDescribeClusterRequest().RequestWith(ctx, p.kcl)
	if err == nil && resp.ErrorCode != 0 {
		err = fmt.Errorf("DescribeCluster: %w", kerr.ErrorForCode(resp.ErrorCode))
	}
	p.adminMu.Lock()
	defer p.adminMu.Unlock()
	if !p.adminResult(ReqDescribeCluster, at, err, false) {
		p.admin.memberOK = false
		return false
	}
	p.admin.memberOK = true
	var members []int32
	facts := clusterFacts{Known: true, ClusterID: resp.ClusterID, ControllerID: resp.ControllerID}
	for _, b := range resp.Brokers {
		if b.IsFenced {
			facts.Fenced = append(facts.Fenced, b.NodeID)
			continue
		}
		members = append(members, b.NodeID)
	}
	slices.Sort(facts.Fenced)
	p.admin.cluster = facts
	p.updateMembership(at, members)
	return true
}

// collectMetadata refreshes partition health, and membership when
// membership is true; it returns the topics listed, or nil when Metadata
// failed.
func (p *BrokerPoller) collectMetadata(ctx context.Context, at time.Time, membership bool) kadm.TopicsSet {
	m, err := p.adm.Metadata(ctx)
	p.adminMu.Lock()
	defer p.adminMu.Unlock()
	p.admin.metaOK = p.adminResult(ReqMetadata, at, err, false)
	if membership {
		p.admin.memberOK = p.admin.metaOK
	}
	if !p.admin.metaOK {
		return nil
	}
	if membership {
		p.updateMembership(at, m.Brokers.NodeIDs())
	}
	p.admin.metaTopics = m.Topics.Names()
	p.admin.health = healthOf(m, p.TopicConfigs())
	if p.layout != nil {
		p.layout.ObserveMetadata(at, layoutOf(m))
	}
	return m.Topics.TopicsSet()
}

// healthOf counts offline partitions (leader -1); per leader, the
// under-replicated ones (|ISR| < |replicas|), the partitions led and those
// led by other than the preferred replica (replicas[0]); and per broker the
// replicas hosted. Topics with a topic-level error (being created or
// deleted) are skipped. Every listed broker gets an entry, so "leads none"
// is a 0, not a gap.
func healthOf(m kadm.Metadata, configs map[string]map[string]string) partitionHealth {
	h := partitionHealth{urp: map[int32]float64{}, leaders: map[int32]float64{}, replicas: map[int32]float64{}, nonPreferred: map[int32]float64{},
		underMinISR: map[int32]float64{}}
	for _, b := range m.Brokers {
		h.urp[b.NodeID], h.leaders[b.NodeID], h.replicas[b.NodeID], h.nonPreferred[b.NodeID] = 0, 0, 0, 0
		h.underMinISR[b.NodeID] = 0
	}
	for _, t := range m.Topics {
		if t.Err != nil {
			continue
		}
		minISR, known := minInsyncReplicas(configs[t.Topic])
		if !known {
			h.underMinISR = nil
		}
		for _, pd := range t.Partitions {
			for _, r := range pd.Replicas {
				h.replicas[r]++
			}
			if pd.Leader < 0 {
				h.offline++
				continue
			}
			h.leaders[pd.Leader]++
			if len(pd.Replicas) > 0 && pd.Replicas[0] != pd.Leader {
				h.nonPreferred[pd.Leader]++
			}
			if len(pd.ISR) < len(pd.Replicas) {
				h.urp[pd.Leader]++
			}
			if h.underMinISR != nil && len(pd.ISR) < minISR {
				h.underMinISR[pd.Leader]++
			}
		}
	}
	return h
}

// minInsyncReplicas is a topic's min.insync.replicas from its described
// configs, and whether it is known.
func minInsyncReplicas(cfg map[string]string) (int, bool) {
	v, ok := cfg["min.insync.replicas"]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n > 0
}

// collectReassignments asks about the topics Metadata listed (kadm sends
// nothing for an empty set). On failure the previous answer is held, so a
// reassignment in progress keeps suppressing under-replication noise.
func (p *BrokerPoller) collectReassignments(ctx context.Context, at time.Time, topics kadm.TopicsSet) {
	if len(topics) == 0 {
		return
	}
	ras, err := p.adm.ListPartitionReassignments(ctx, topics)
	p.adminMu.Lock()
	defer p.adminMu.Unlock()
	if p.adminResult(ReqListPartitionReassignments, at, err, false) {
		p.admin.reassign = len(ras) > 0
	} else if p.admin.reqs[ReqListPartitionReassignments].unsupported {
		p.admin.reassign = false
	}
}

// adminResult records the outcome of one admin request and reports whether
// its answer can be used (caller holds adminMu): err is nil, or partial is
// true (some shards answered; the failed ones are counted and their series
// become gaps). An unsupported request is recorded as a capability, once,
// and not counted as an error.
func (p *BrokerPoller) adminResult(request string, at time.Time, err error, partial bool) bool {
	rs := p.admin.reqs[request]
	if rs == nil {
		rs = &requestState{}
		p.admin.reqs[request] = rs
	}
	rs.lastAttempt = at
	if err == nil {
		rs.lastErr, rs.class, rs.unsupported, rs.lastSuccess = "", "", false, at
		p.clearCap(request)
		return true
	}
	if isUnsupported(err) {
		rs.unsupported = true
		p.setCap(request, err.Error())
	} else {
		rs.unsupported = false
		class := Classify(err)
		p.set.GetOrCreateCounter(fmt.Sprintf(`kwitness_ingest_errors_total{class=%q,request=%q}`, class, request)).Inc()
		if rs.class != class {
			p.log.Warn("telemetry: admin request failing", "request", request, "partial", partial, "err", err)
		}
		rs.class = class
	}
	rs.lastErr = err.Error()
	if partial {
		rs.lastSuccess = at
	}
	return partial
}

// isUnsupported: the broker answered UNSUPPORTED_VERSION, or kgo refused
// because the broker does not advertise the request key at all (kgo's
// error for that is unexported, so its text is matched).
func isUnsupported(err error) bool {
	return errors.Is(err, kerr.UnsupportedVersion) || strings.Contains(err.Error(), "broker is too old")
}

// setCap records a missing capability, logging only when it is new or its
// reason changes.
func (p *BrokerPoller) setCap(name, why string) {
	caps := *p.caps.Load()
	if caps[name] == why {
		return
	}
	if _, seen := caps[name]; !seen {
		p.log.Warn("telemetry: capability unavailable; collection goes on without it", "capability", name, "why", why)
	}
	next := maps.Clone(caps)
	next[name] = why
	p.caps.Store(&next)
}

func (p *BrokerPoller) clearCap(name string) {
	caps := *p.caps.Load()
	if _, ok := caps[name]; !ok {
		return
	}
	p.log.Info("telemetry: capability available", "capability", name)
	next := maps.Clone(caps)
	delete(next, name)
	p.caps.Store(&next)
}

// adminUp is 1 when the newest attempt of every admin request that feeds
// the detectors answered (in part, or as unsupported), 0 when one failed
// outright, NaN before any. DescribeConfigs does not count: topic configs
// are not a detector input yet, and clusters often deny them by ACL.
func (p *BrokerPoller) adminUp() float64 {
	if len(p.admin.reqs) == 0 {
		return math.NaN()
	}
	for name, rs := range p.admin.reqs {
		if name == ReqDescribeConfigs {
			continue
		}
		if rs.lastErr != "" && !rs.unsupported && rs.lastSuccess != rs.lastAttempt {
			return 0
		}
	}
	return 1
}

// updateMembership marks brokers that left, for the restart rule of
// brokerContexts.
func (p *BrokerPoller) updateMembership(at time.Time, members []int32) {
	now := map[int32]bool{}
	for _, id := range members {
		now[id] = true
	}
	for id := range p.admin.registered {
		if !now[id] {
			p.admin.leftAt[id] = at
		}
	}
	p.admin.registered = now
}

// brokerContexts lists the brokers of this sweep: scrape targets, the
// members, and the fenced brokers DescribeCluster listed. A broker is
// Registered when it is a member (or before membership was ever known),
// Restarting when it left and rejoined within the last 15 minutes.
func (p *BrokerPoller) brokerContexts(at time.Time) map[int32]state.BrokerContext {
	out := map[int32]state.BrokerContext{}
	for _, t := range p.cfg.Targets {
		c := out[t.Broker]
		if t.Kind != "node" {
			c.Source = t.URL
		}
		out[t.Broker] = c
	}
	for id := range p.admin.registered {
		out[id] = out[id]
	}
	for _, id := range p.admin.cluster.Fenced {
		out[id] = out[id] // known to the cluster, not a member: Registered false
	}
	for id, c := range out {
		c.Registered = len(p.admin.registered) == 0 || p.admin.registered[id]
		left, ok := p.admin.leftAt[id]
		c.Restarting = ok && p.admin.registered[id] && at.Sub(left) < 15*time.Minute
		out[id] = c
	}
	return out
}

// writeAdmin records the admin-derived series (see the comment at the top
// of this file).
func (p *BrokerPoller) writeAdmin(s *state.TelemetrySweep, brokers map[int32]state.BrokerContext) {
	if p.adm == nil {
		return
	}
	s.Set(state.TelemetryKey{Signal: detect.SigAdminUp, Broker: -1, Partition: -1}, p.adminUp())
	if p.admin.memberOK {
		for id, c := range brokers {
			s.Set(state.TelemetryKey{Signal: detect.SigRegistered, Broker: id, Partition: -1}, b2f(c.Registered))
		}
	}
	if p.admin.metaOK {
		s.Set(state.TelemetryKey{Signal: detect.SigOfflinePartitions, Broker: -1, Partition: -1, Origin: "admin"}, p.admin.health.offline)
		for id, n := range p.admin.health.urp {
			s.Set(state.TelemetryKey{Signal: detect.SigUnderReplicated, Broker: id, Partition: -1, Origin: "admin"}, n)
		}
		for id, n := range p.admin.health.underMinISR {
			s.Set(state.TelemetryKey{Signal: detect.SigUnderMinISR, Broker: id, Partition: -1, Origin: "admin"}, n)
		}
		p.writeBalance(s)
	}
	p.admin.logDirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		used := float64(d.Size())
		if sane(d) {
			used = float64(d.TotalBytes - d.UsableBytes)
			s.Set(state.TelemetryKey{Signal: detect.SigLogDirTotal, Broker: d.Broker, Partition: -1, Dir: d.Dir, Origin: "admin"}, float64(d.TotalBytes))
		}
		s.Set(state.TelemetryKey{Signal: detect.SigLogDirUsed, Broker: d.Broker, Partition: -1, Dir: d.Dir, Origin: "admin"}, used)
	})
}

// writeBalance records, per broker, the partitions led and hosted and the
// partitions led by other than their preferred replica, from the newest
// Metadata answer (held like partition health).
func (p *BrokerPoller) writeBalance(s *state.TelemetrySweep) {
	for _, c := range []struct {
		sig detect.Signal
		m   map[int32]float64
	}{
		{detect.SigLeaderCount, p.admin.health.leaders},
		{detect.SigPartitionCount, p.admin.health.replicas},
		{detect.SigNonPreferredLeaders, p.admin.health.nonPreferred},
	} {
		for id, n := range c.m {
			s.Set(state.TelemetryKey{Signal: c.sig, Broker: id, Partition: -1, Origin: "admin"}, n)
		}
	}
}

func b2f(v bool) float64 {
	if v {
		return 1
	}
	return 0
}

// layoutOf is the partition layout of a Metadata answer: topic →
// partitions ascending, with replicas (preferred first), ISR and leader.
// Topics with a topic-level error are left out.
func layoutOf(m kadm.Metadata) map[string][]detect.PartitionAssignment {
	out := make(map[string][]detect.PartitionAssignment, len(m.Topics))
	for _, t := range m.Topics {
		if t.Err != nil {
			continue
		}
		ps := make([]detect.PartitionAssignment, 0, len(t.Partitions))
		for _, pd := range t.Partitions {
			ps = append(ps, detect.PartitionAssignment{Partition: pd.Partition, Leader: pd.Leader,
				Replicas: slices.Clone(pd.Replicas), ISR: slices.Clone(pd.ISR), SizeBytes: math.NaN()})
		}
		slices.SortFunc(ps, func(a, b detect.PartitionAssignment) int { return cmp.Compare(a.Partition, b.Partition) })
		out[t.Topic] = ps
	}
	return out
}
