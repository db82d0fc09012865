package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cenkalti/backoff/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// Status is the poller's health as /readyz reports it.
type Status struct {
	Ready     bool
	Reason    string    // why not ready; "" when ready
	LastSweep time.Time // stamp of the newest published sweep
	Sweeps    uint64
	Overruns  uint64
	Errors    []string // errors of the newest sweep, at most 10
}

// SweepReport says what one sweep did.
type SweepReport struct {
	At         time.Time
	Groups     int
	Partitions int // group-partitions with a committed offset
	Errors     []error
	Ready      bool // the sweep reached the cluster (group list and offsets)
}

// Poller runs sweeps against one cluster. Sweep and Run are called by one
// goroutine (the owner); Status is safe for concurrent use.
type Poller struct {
	cfg     Config
	log     *slog.Logger
	window  *state.Window
	client  *kgo.Client
	adm     *kadm.Client
	groupsF matcher
	topicsF matcher
	onSweep func(SweepReport)

	sweeps    uint64
	groups    map[string]bool                // groups listed and passing the filter
	contexts  map[string]detect.GroupContext // from DescribeGroups
	members   map[string]map[string]string   // group → member id → client-id@host, to see membership changes
	lastSweep time.Time
	specs     map[string][]state.GroupTopicSpec
	topo      *state.Topology // rebuilt only when specs change
	topoDirty bool
	logIDs    map[string]map[int32]state.PartRef // topic → partition → series ids, from topo
	index     partIndex                          // scratch for one topic's OffsetFetch answer
	listEnd   *kmsg.ListOffsetsRequest           // for logIDs, built when the topology changes
	listStart *kmsg.ListOffsetsRequest
	status    atomic.Pointer[Status]
	lastWhy   string

	sweepDur  *metrics.Histogram
	overruns  *metrics.Counter
	sweepsCtr *metrics.Counter
	set       *metrics.Set
}

// New connects a client for cfg, with its TLS and SASL settings; extra
// client options (e.g. hooks) are appended. onSweep, if non-nil, is called after each published sweep.
func New(cfg Config, w *state.Window, log *slog.Logger, set *metrics.Set, onSweep func(SweepReport), extra ...kgo.Opt) (*Poller, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	gf, _ := cfg.Groups.compile("kafka.groups")
	tf, _ := cfg.Topics.compile("kafka.topics")
	sec, err := cfg.clientOpts()
	if err != nil {
		return nil, err
	}
	opts := append([]kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ClientID(cfg.ClientID),
		kgo.RetryTimeout(cfg.RequestTimeout),
	}, append(sec, extra...)...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("ingest: kafka client for %v: %w", cfg.Brokers, err)
	}
	p := &Poller{
		cfg: cfg, log: log, window: w, client: cl, adm: kadm.NewClient(cl),
		groupsF: gf, topicsF: tf, onSweep: onSweep,
		groups: map[string]bool{}, contexts: map[string]detect.GroupContext{},
		members: map[string]map[string]string{}, specs: map[string][]state.GroupTopicSpec{},
		set:       set,
		sweepDur:  set.NewHistogram("kwitness_sweep_duration_seconds"),
		overruns:  set.NewCounter("kwitness_sweep_overruns_total"),
		sweepsCtr: set.NewCounter("kwitness_sweeps_total"),
	}
	set.NewGauge("kwitness_series", func() float64 { return float64(w.Snapshot().Series) })
	set.NewGauge("kwitness_window_bytes", func() float64 { return float64(w.Bytes()) })
	set.NewGauge("kwitness_series_reclaimed", func() float64 { return float64(w.Reclaimed()) })
	p.status.Store(&Status{Reason: "no sweep yet"})
	return p, nil
}

// Admin returns the poller's read-only admin client, for sharing with the
// broker poller.
func (p *Poller) Admin() *kadm.Client { return p.adm }

// Client returns the Kafka client behind Admin, for read requests kadm has
// no helper for.
func (p *Poller) Client() *kgo.Client { return p.client }

// Close releases the client. Safe to call twice.
func (p *Poller) Close() { p.client.Close() }

// Status returns the newest status.
func (p *Poller) Status() Status { return *p.status.Load() }

// Run sweeps every PollInterval until ctx is done. Sweeps never overlap; an
// overrun is counted and the next sweep starts at once. After sweeps that
// could not reach the cluster the wait grows: see failureBackOff.
func (p *Poller) Run(ctx context.Context) {
	interval := p.cfg.PollInterval
	next := time.Now().Truncate(interval)
	failed := p.failureBackOff()
	for {
		rep := p.Sweep(ctx, next)
		if ctx.Err() != nil {
			return
		}
		wait := interval
		if rep.Ready {
			failed.Reset()
		} else {
			wait = min(failed.NextBackOff(), p.cfg.MaxBackoff)
		}
		next = next.Add(wait)
		if now := time.Now(); now.After(next) {
			p.overruns.Inc()
			next = now.Truncate(interval)
			if !next.After(rep.At) {
				next = rep.At.Add(interval)
			}
		}
		t := time.NewTimer(time.Until(next))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// failureBackOff returns the waits after consecutive failed sweeps: twice
// PollInterval, doubling per failure, each drawn within ±50 % so that many
// sidecars losing the same cluster do not retry in step; Run caps them at
// MaxBackoff.
func (p *Poller) failureBackOff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval: 2 * p.cfg.PollInterval, RandomizationFactor: 0.5,
		Multiplier: 2, MaxInterval: p.cfg.MaxBackoff,
	}
	b.Reset()
	return b
}

// Sweep polls the cluster once and publishes the sweep stamped at.
func (p *Poller) Sweep(ctx context.Context, at time.Time) SweepReport {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	rep := SweepReport{At: at}
	p.sweeps++

	listed := p.listGroups(ctx, &rep)
	p.describeGroups(ctx, at, &rep)
	groups := slices.Sorted(maps.Keys(p.groups))
	fetched := p.fetchOffsets(ctx, groups)
	offsetsOK := false
	for _, g := range groups {
		if p.collectGroup(ctx, g, fetched[g], &rep) {
			offsetsOK = true
		}
	}
	if p.topoDirty || p.topo == nil {
		p.rebuildTopology()
	}
	sweep := p.window.Begin(at)
	p.writeCommitted(sweep, fetched)
	p.writeGenerations(sweep)
	p.writeLogOffsets(ctx, sweep, &rep)
	sweep.SetTopology(p.topo)
	sweep.SetGroups(maps.Clone(p.contexts))
	p.window.Commit(sweep)
	p.lastSweep = at

	rep.Groups = len(groups)
	rep.Ready = listed && (offsetsOK || len(groups) == 0)
	p.sweepsCtr.Inc()
	p.sweepDur.UpdateDuration(start)
	p.setStatus(rep)
	if p.onSweep != nil {
		p.onSweep(rep)
	}
	return rep
}

// listGroups refreshes the set of watched groups. It returns false if the
// list could not be had from every broker; groups are then kept as they were,
// so that a failure never looks like groups disappearing.
func (p *Poller) listGroups(ctx context.Context, rep *SweepReport) bool {
	listed, err := p.adm.ListGroups(ctx)
	if err != nil {
		p.fail(rep, requestErrors("ListGroups", "", err)...)
		for g := range listed { // partial answers still add new groups
			if p.groupsF.match(g) {
				p.groups[g] = true
			}
		}
		return false
	}
	next := map[string]bool{}
	for g := range listed {
		if p.groupsF.match(g) {
			next[g] = true
		}
	}
	for g := range p.groups {
		if !next[g] {
			delete(p.contexts, g)
			delete(p.members, g)
			delete(p.specs, g)
			p.topoDirty = true
		}
	}
	p.groups = next
	return true
}

// describeGroups refreshes group contexts every DescribeEvery sweeps and at
// once for groups never described.
func (p *Poller) describeGroups(ctx context.Context, at time.Time, rep *SweepReport) {
	var todo []string
	refresh := p.sweeps%uint64(p.cfg.DescribeEvery) == 1 || p.cfg.DescribeEvery == 1
	for g := range p.groups {
		if _, ok := p.contexts[g]; refresh || !ok {
			todo = append(todo, g)
		}
	}
	if len(todo) == 0 {
		return
	}
	described, err := p.adm.DescribeGroups(ctx, todo...)
	if err != nil && len(described) == 0 {
		p.fail(rep, requestErrors("DescribeGroups", "", err)...)
		return
	}
	for _, g := range todo {
		d, ok := described[g]
		if !ok {
			continue
		}
		if d.Err != nil {
			p.fail(rep, &RequestError{Request: "DescribeGroups", Subject: fmt.Sprintf("group %q", g), Broker: brokerName(d.Coordinator), Err: d.Err})
			continue
		}
		p.contexts[g] = p.contextOf(d, at)
	}
}

// contextOf turns a described group into a GroupContext. Classic groups do
// not expose their generation through DescribeGroups, so Generation counts
// the membership changes kwitness has observed (starting at 1), and Change
// records the latest one: when, and who joined and left.
func (p *Poller) contextOf(d kadm.DescribedGroup, at time.Time) detect.GroupContext {
	members := map[string]string{} // member id → client-id@host
	var owners map[string]map[int32]string
	for _, m := range d.Members {
		who := m.ClientID + "@" + strings.TrimPrefix(m.ClientHost, "/")
		members[m.MemberID] = who
		if a, ok := m.Assigned.AsConsumer(); ok {
			owners = addOwner(owners, a, who)
		}
	}
	prev, known := p.contexts[d.Group]
	ctx := detect.GroupContext{Known: true, State: d.State, Members: len(d.Members), Generation: 1, Change: prev.Change, Owners: owners}
	if known {
		ctx.Generation = prev.Generation
		if old := p.members[d.Group]; !maps.Equal(old, members) {
			ctx.Generation++
			ctx.Change = detect.MembershipChange{AtMs: at.UnixMilli(), BeforeMs: p.lastSweep.UnixMilli(), From: prev.Generation, To: ctx.Generation}
			ctx.Change.Joined, ctx.Change.Left = memberDiff(old, members), memberDiff(members, old)
		}
	}

	p.members[d.Group] = members
	id := p.window.Register(state.SeriesKey{Metric: state.MetricGeneration, Group: d.Group, Partition: -1})
	ctx.Change.GenerationID, ctx.Change.HasSeries = id, true
	ctx.History = prev.History
	if ctx.Change.AtMs == at.UnixMilli() {
		// A new slice each time: published contexts are shared with readers.
		ctx.History = append(slices.Clone(prev.History[max(0, len(prev.History)-maxHistory+1):]), ctx.Change)
	}
	return ctx
}

// addOwner records that member who owns the partitions of assignment a.
func addOwner(owners map[string]map[int32]string, a *kmsg.ConsumerMemberAssignment, who string) map[string]map[int32]string {
	if owners == nil {
		owners = map[string]map[int32]string{}
	}
	for _, t := range a.Topics {
		if owners[t.Topic] == nil {
			owners[t.Topic] = map[int32]string{}
		}
		for _, p := range t.Partitions {
			owners[t.Topic][p] = who
		}
	}
	return owners
}

// maxHistory bounds the membership changes kept per group.
const maxHistory = 32

// memberDiff lists the members of b not in a, sorted.
func memberDiff(a, b map[string]string) []string {
	var out []string
	for id, who := range b {
		if _, ok := a[id]; !ok {
			out = append(out, who)
		}
	}
	sort.Strings(out)
	return out
}

// writeGenerations records each described group's generation in this sweep.
func (p *Poller) writeGenerations(s *state.Sweep) {
	for _, ctx := range p.contexts {
		if ctx.Change.HasSeries {
			s.Set(ctx.Change.GenerationID, int64(ctx.Generation))
		}
	}
}

// collectGroup records which topics and partitions group g has committed
// offsets for. On error the group's previous specs are kept (its series
// become gaps, not gone). It reports whether the fetch succeeded. A steady
// group's specs are compared in place and not rebuilt.
func (p *Poller) collectGroup(ctx context.Context, g string, r groupOffsets, rep *SweepReport) bool {
	if r.Err != nil {
		errs := requestErrors("OffsetFetch", fmt.Sprintf("group %q", g), r.Err)
		if re := (*RequestError)(nil); len(errs) == 1 && errors.As(errs[0], &re) && re.Broker == "" {
			re.Broker = p.coordinatorOf(ctx, g)
		}
		p.fail(rep, errs...)
		return false
	}
	prev := p.specs[g]
	same, n := true, 0 // whether the topics so far equal prev[:n]
	for i := range r.Topics {
		t := &r.Topics[i]
		if !p.topicsF.match(t.Topic) {
			continue
		}
		k := 0
		for j := range t.Partitions {
			if committedAt(&t.Partitions[j]) {
				k++
			}
		}
		if k == 0 {
			continue
		}
		same = same && n < len(prev) && prev[n].Topic == t.Topic && p.samePartitions(prev[n].Partitions, k, t.Partitions)
		n++
		rep.Partitions += k
	}
	if same && n == len(prev) {
		return true
	}
	p.specs[g] = specsOf(g, r, p.topicsF)
	p.topoDirty = true
	return true
}

// samePartitions reports whether the k partitions of parts with a committed
// offset are exactly want (sorted, distinct).
func (p *Poller) samePartitions(want []int32, k int, parts []kmsg.OffsetFetchResponseGroupTopicPartition) bool {
	if k != len(want) {
		return false
	}
	p.index.load(parts)
	defer p.index.clear()
	for _, w := range want {
		if o := p.index.find(w); o == nil || !committedAt(o) {
			return false
		}
	}
	return true
}

// specsOf lists the topics of r that pass the filter with their partitions
// that have a committed offset, sorted.
func specsOf(g string, r groupOffsets, topics matcher) []state.GroupTopicSpec {
	var specs []state.GroupTopicSpec
	for _, t := range r.Topics {
		if !topics.match(t.Topic) {
			continue
		}
		var parts []int32
		for j := range t.Partitions {
			if committedAt(&t.Partitions[j]) {
				parts = append(parts, t.Partitions[j].Partition)
			}
		}
		if len(parts) > 0 {
			slices.Sort(parts)
			specs = append(specs, state.GroupTopicSpec{Group: g, Topic: t.Topic, Partitions: slices.Compact(parts)})
		}
	}
	return specs
}

// coordinatorOf names group g's coordinator for error messages, or "".
func (p *Poller) coordinatorOf(ctx context.Context, g string) string {
	c := p.adm.FindGroupCoordinators(ctx, g)[g]
	if c.Err != nil {
		return ""
	}
	return fmt.Sprintf("broker %d (%s:%d)", c.NodeID, c.Host, c.Port)
}

func (p *Poller) allSpecs() []state.GroupTopicSpec {
	var all []state.GroupTopicSpec
	for _, g := range slices.Sorted(maps.Keys(p.specs)) {
		all = append(all, p.specs[g]...)
	}
	return all
}

// rebuildTopology registers the series of the current specs and indexes the
// log offset series by topic-partition. Called only when specs change, so a
// steady estate costs no series lookups per sweep.
func (p *Poller) rebuildTopology() {
	p.topo = p.window.BuildTopology(p.allSpecs())
	p.logIDs = map[string]map[int32]state.PartRef{}
	for _, e := range p.topo.GroupTopics {
		m := p.logIDs[e.Topic]
		if m == nil {
			m = map[int32]state.PartRef{}
			p.logIDs[e.Topic] = m
		}
		for _, pr := range e.Parts {
			m[pr.Partition] = pr
		}
	}
	p.listEnd, p.listStart = nil, nil
	p.topoDirty = false
}

// writeCommitted sets the committed offsets of every watched group-partition
// whose group fetch succeeded; the rest stay gaps.
func (p *Poller) writeCommitted(s *state.Sweep, fetched map[string]groupOffsets) {
	for _, e := range p.topo.GroupTopics {
		r, ok := fetched[e.Group]
		if !ok || r.Err != nil {
			continue
		}
		p.index.load(r.topic(e.Topic))
		for _, pr := range e.Parts {
			if o := p.index.find(pr.Partition); o != nil && committedAt(o) {
				s.Set(pr.Series[detect.ColCommitted], o.Offset)
			}
		}
		p.index.clear()
	}
}

// writeLogOffsets lists the start and end offsets of every consumed
// topic-partition.
func (p *Poller) writeLogOffsets(ctx context.Context, s *state.Sweep, rep *SweepReport) {
	if len(p.logIDs) == 0 {
		return
	}
	if p.listEnd == nil {
		p.listEnd = listRequest(p.logIDs, -1, p.cfg.RequestTimeout)
		p.listStart = listRequest(p.logIDs, -2, p.cfg.RequestTimeout)
	}
	for _, lst := range []struct {
		col  detect.Column
		name string
		req  *kmsg.ListOffsetsRequest
	}{
		{detect.ColEnd, "ListOffsets(latest)", p.listEnd},
		{detect.ColStart, "ListOffsets(earliest)", p.listStart},
	} {
		var errs []error
		p.fail(rep, p.listOffsets(ctx, lst.name, lst.req, func(topic string, o *kmsg.ListOffsetsResponseTopicPartition) {
			if o.ErrorCode != 0 {
				if len(errs) < 3 {
					err := authErr(o.ErrorCode)
					if err == nil {
						err = kerr.ErrorForCode(o.ErrorCode)
					}
					errs = append(errs, &RequestError{Request: lst.name, Subject: fmt.Sprintf("topic %q partition %d", topic, o.Partition), Err: err})
				}
				return
			}
			if pr, ok := p.logIDs[topic][o.Partition]; ok && o.Offset >= 0 {
				s.Set(pr.Series[lst.col], o.Offset)
			}
		})...)
		p.fail(rep, errs...)
	}
}

// fail records request errors in the report and the error counters.
func (p *Poller) fail(rep *SweepReport, errs ...error) {
	for _, err := range errs {
		rep.Errors = append(rep.Errors, err)
		req := "unknown"
		var re *RequestError
		if errors.As(err, &re) {
			req = re.Request
		}
		p.set.GetOrCreateCounter(fmt.Sprintf(`kwitness_ingest_errors_total{class=%q,request=%q}`, Classify(err), req)).Inc()
	}
}

// setStatus publishes the status and logs only when readiness or its reason
// changes, never once per sweep.
func (p *Poller) setStatus(rep SweepReport) {
	st := &Status{Ready: rep.Ready, LastSweep: rep.At, Sweeps: p.sweeps, Overruns: p.overruns.Get()}
	for i, err := range rep.Errors {
		if i == 10 {
			break
		}
		st.Errors = append(st.Errors, err.Error())
	}
	if !rep.Ready {
		st.Reason = "cannot reach the cluster"
		if len(rep.Errors) > 0 {
			st.Reason += ": " + rep.Errors[0].Error()
		}
	}
	p.status.Store(st)
	why := st.Reason
	if rep.Ready && len(rep.Errors) > 0 {
		why = "partial: " + rep.Errors[0].Error()
	}
	if why == p.lastWhy {
		return
	}
	p.lastWhy = why
	switch {
	case why == "":
		p.log.Info("ingest: sweeping", "cluster", p.cfg.Cluster, "groups", rep.Groups, "partitions", rep.Partitions)
	case rep.Ready:
		p.log.Warn("ingest: partial sweep", "cluster", p.cfg.Cluster, "errors", len(rep.Errors), "first", rep.Errors[0].Error())
	default:
		p.log.Error("ingest: not ready", "cluster", p.cfg.Cluster, "reason", why)
	}
}
