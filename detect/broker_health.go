package detect

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Broker health and replication: BROKER_UNREACHABLE, UNDER_REPLICATED,
// UNDER_MIN_ISR, ISR_FLAPPING, UNCLEAN_LEADER_ELECTION, OFFLINE_LOG_DIR,
// OFFLINE_PARTITIONS and CONTROLLER_ANOMALY. Thresholds and their sources
// are documented on BrokerConfig.

func positive(v float64) bool { return v > 0 }
func isZero(v float64) bool   { return v == 0 }

// unreachable: BROKER_UNREACHABLE when scrape_up has been 0 (the scrape
// failed) or SigRegistered 0 (DescribeCluster does not list the broker) for
// UnreachableWarn (warning) or UnreachableCritical (critical). A gap in
// either series is unknown, not down: a broker whose scrape results are not
// recorded at all is a TELEMETRY_GAP instead. Registration needs the
// SigRegistered series; BrokerInput.Registered alone has no duration.
func (s *brokerSweep) unreachable(b *BrokerInput, subj Subject) {
	type cause struct {
		w             SignalWindow
		since, newest int64
		what, fact    string
	}
	var causes []cause
	held := int64(-1)
	for _, c := range []struct {
		sig        Signal
		what, fact string
	}{
		{SigScrapeUp, "its metrics scrape has failed", "scrape_failed_for"},
		{SigRegistered, "DescribeCluster has not listed it", "unregistered_for"},
	} {
		w, ok := b.Signals[c.sig]
		if !ok {
			continue
		}
		if since, newest, ok := runSince(w, isZero); ok {
			causes = append(causes, cause{w, since, newest, c.what, c.fact})
			held = max(held, newest-since)
		}
	}
	sev := SeverityWarning
	switch {
	case held >= s.cfg.UnreachableCritical.Milliseconds():
		sev = SeverityCritical
	case held < s.cfg.UnreachableWarn.Milliseconds():
		return
	}
	var ev []Citation
	var why []string
	facts := []Fact{{Name: "unreachable_for", Value: float64(held) / 1000, Unit: "s"}}
	for _, c := range causes {
		ev = append(ev, s.cite(c.w, c.since, "answers", c.what))
		why = append(why, fmt.Sprintf("%s since %s", c.what, stamp(c.since)))
		facts = append(facts, Fact{Name: c.fact, Value: float64(c.newest-c.since) / 1000, Unit: "s"})
	}
	facts = append(facts, cfgDur("unreachable_warn_after", s.cfg.UnreachableWarn), cfgDur("unreachable_critical_after", s.cfg.UnreachableCritical))
	s.add(KindBrokerUnreachable, sev, subj,
		fmt.Sprintf("Broker %d has been unreachable for %s: %s.", b.Broker, brief(held), strings.Join(why, " and ")),
		ev, facts)
}

// underReplicated: UNDER_REPLICATED when under_replicated_partitions > 0 for
// UnderReplicatedFor. Severity warning; info while the broker is Restarting
// (a rolling restart leaves followers catching up). While the cluster is
// Reassigning, moving replicas are expected to be under-replicated: a new
// finding is not raised, and one this detector raised at the previous sweep
// continues at info rather than looking recovered.
func (s *brokerSweep) underReplicated(b *BrokerInput, subj Subject) {
	w, ok := b.Signals[SigUnderReplicated]
	if !ok {
		return
	}
	since, newest, ok := runSince(w, positive)
	if !ok || newest-since < s.cfg.UnderReplicatedFor.Milliseconds() {
		return
	}
	fp := Fingerprint(KindUnderReplicated, subj)
	sev, why := SeverityWarning, "those partitions have fewer in-sync replicas than replicas, so one more failure can make them unavailable"
	switch {
	case s.in.Reassigning && !s.prev[fp]:
		return
	case s.in.Reassigning:
		sev, why = SeverityInfo, "a partition reassignment is in progress, which is expected to leave moving partitions under-replicated"
	case b.Restarting:
		sev, why = SeverityInfo, "the broker restarted within the window, so followers catching up are expected"
	}
	s.raised[fp] = true
	n := w.Values[len(w.Values)-1]
	c := s.cite(w, since, "partitions", "under-replicated partitions led by this broker")
	s.add(KindUnderReplicated, sev, subj,
		fmt.Sprintf("Broker %d has led %s for %s (since %s); %s.", b.Broker, plural(n, "under-replicated partition"), brief(newest-since), stamp(since), why),
		[]Citation{c},
		[]Fact{
			{Name: "under_replicated_partitions", Value: n, Unit: "partitions"},
			{Name: "max_under_replicated_partitions", Value: c.Max, Unit: "partitions"},
			{Name: "under_replicated_for", Value: float64(newest-since) / 1000, Unit: "s"},
			boolFact("reassigning", s.in.Reassigning), boolFact("restarting", b.Restarting),
			cfgDur("under_replicated_for", s.cfg.UnderReplicatedFor),
		})
}

// underMinISR: UNDER_MIN_ISR when under_min_isr_partitions > 0 for
// UnderMinISRFor, critical: producers with acks=all are refused
// (NOT_ENOUGH_REPLICAS). Not softened by restarts or reassignments: a
// rolling restart of a correctly sized cluster never drops below min ISR.
func (s *brokerSweep) underMinISR(b *BrokerInput, subj Subject) {
	w, ok := b.Signals[SigUnderMinISR]
	if !ok {
		return
	}
	since, newest, ok := runSince(w, positive)
	if !ok || newest-since < s.cfg.UnderMinISRFor.Milliseconds() {
		return
	}
	n := w.Values[len(w.Values)-1]
	s.add(KindUnderMinISR, SeverityCritical, subj,
		fmt.Sprintf("Broker %d has led %s below min.insync.replicas for %s (since %s): producers using acks=all cannot write to them.",
			b.Broker, plural(n, "partition"), brief(newest-since), stamp(since)),
		[]Citation{s.cite(w, since, "partitions", "partitions under min ISR led by this broker")},
		[]Fact{
			{Name: "under_min_isr_partitions", Value: n, Unit: "partitions"},
			{Name: "under_min_isr_for", Value: float64(newest-since) / 1000, Unit: "s"},
			cfgDur("under_min_isr_for", s.cfg.UnderMinISRFor),
		})
}

// isrFlapping: ISR_FLAPPING when the isr_shrinks counter increased (Increase,
// resets handled) in at least ISRFlapMinShrinking of the last ISRFlapBuckets
// buckets of ISRFlapBucket each, ending at the sweep. A bucket without two
// present samples is unknown and counts as not shrinking. Warning.
func (s *brokerSweep) isrFlapping(b *BrokerInput, subj Subject) {
	w, ok := b.Signals[SigIsrShrinks]
	if !ok || !newestPresent(w) {
		return
	}
	bucket := s.cfg.ISRFlapBucket.Milliseconds()
	shrinking, total := 0, 0.0
	for k := range s.cfg.ISRFlapBuckets {
		to := s.at - int64(k)*bucket
		if inc, _, ok := Increase(w, to-bucket, to); ok {
			total += inc
			if inc > 0 {
				shrinking++
			}
		}
	}
	if shrinking < s.cfg.ISRFlapMinShrinking {
		return
	}
	from := s.at - int64(s.cfg.ISRFlapBuckets)*bucket
	ev := []Citation{s.cite(w, from, "shrinks", "ISR shrink counter")}
	facts := []Fact{
		{Name: "shrinking_buckets", Value: float64(shrinking), Unit: "buckets"},
		{Name: "isr_shrinks", Value: total, Unit: "shrinks"},
	}
	if x, ok := b.Signals[SigIsrExpands]; ok {
		ev = append(ev, s.cite(x, from, "expands", "ISR expand counter"))
		if inc, _, ok := Increase(x, from, s.at); ok {
			facts = append(facts, Fact{Name: "isr_expands", Value: inc, Unit: "expands"})
		}
	}
	facts = append(facts, cfgDur("isr_flap_bucket", s.cfg.ISRFlapBucket),
		cfgFact("isr_flap_buckets", float64(s.cfg.ISRFlapBuckets), "buckets"),
		cfgFact("isr_flap_min_shrinking", float64(s.cfg.ISRFlapMinShrinking), "buckets"))
	s.add(KindISRFlapping, SeverityWarning, subj,
		fmt.Sprintf("Broker %d's ISRs shrank in %d of the last %d %s windows (%s): followers keep falling out of sync and rejoining.",
			b.Broker, shrinking, s.cfg.ISRFlapBuckets, brief(s.cfg.ISRFlapBucket.Milliseconds()), plural(total, "shrink")),
		ev, facts)
}

// uncleanElection: UNCLEAN_LEADER_ELECTION when the unclean_leader_elections
// counter increased (Increase, resets handled) within the last
// UncleanWindow. Critical: an out-of-sync replica became leader, and
// messages it had not replicated may be lost.
func (s *brokerSweep) uncleanElection(b *BrokerInput, subj Subject) {
	w, ok := b.Signals[SigUncleanElections]
	if !ok || !newestPresent(w) {
		return
	}
	from := s.at - s.cfg.UncleanWindow.Milliseconds()
	inc, _, ok := Increase(w, from, s.at)
	if !ok || inc <= 0 {
		return
	}
	s.add(KindUncleanLeaderElection, SeverityCritical, subj,
		fmt.Sprintf("Broker %d, as controller, made %s in the last %s: an out-of-sync replica became leader, and messages not replicated to it may be lost.",
			b.Broker, plural(inc, "unclean leader election"), brief(s.cfg.UncleanWindow.Milliseconds())),
		[]Citation{s.cite(w, from, "elections", "unclean leader election counter")},
		[]Fact{{Name: "unclean_elections", Value: inc, Unit: "elections"}, cfgDur("unclean_window", s.cfg.UncleanWindow)})
}

// offlineLogDir: OFFLINE_LOG_DIR when offline_log_dirs > 0 at the newest
// sample, critical: the partitions in that directory are offline on this
// broker.
func (s *brokerSweep) offlineLogDir(b *BrokerInput, subj Subject) {
	w, ok := b.Signals[SigOfflineLogDirs]
	if !ok {
		return
	}
	since, newest, ok := runSince(w, positive)
	if !ok {
		return
	}
	n := w.Values[len(w.Values)-1]
	s.add(KindOfflineLogDir, SeverityCritical, subj,
		fmt.Sprintf("Broker %d has had %s since %s: the replicas stored there are offline on this broker.", b.Broker, plural(n, "offline log directory"), stamp(since)),
		[]Citation{s.cite(w, since, "directories", "offline log directory count")},
		[]Fact{{Name: "offline_log_dirs", Value: n, Unit: "directories"}, {Name: "offline_for", Value: float64(newest-since) / 1000, Unit: "s"}})
}

// offlinePartitions: OFFLINE_PARTITIONS when a broker (the active
// controller) reports offline_partitions > 0 on its last OfflineSamples
// present samples, the newest entry present. Critical: those partitions
// have no leader and accept neither produce nor fetch.
func (s *brokerSweep) offlinePartitions(subj Subject) {
	var ev []Citation
	var who []string
	worst := 0.0
	buf := make([]float64, 0, s.cfg.OfflineSamples)
	for i := range s.in.Brokers {
		b := &s.in.Brokers[i]
		w, ok := b.Signals[SigOfflinePartitions]
		if !ok {
			continue
		}
		vals, from, ok := lastPresent(w, s.cfg.OfflineSamples, buf)
		if !ok || slices.ContainsFunc(vals, func(v float64) bool { return v <= 0 }) {
			continue
		}
		worst = max(worst, vals[0])
		who = append(who, strconv.Itoa(int(b.Broker)))
		ev = append(ev, s.cite(w, from, "partitions", fmt.Sprintf("offline partitions reported by broker %d", b.Broker)))
	}
	if len(ev) == 0 {
		return
	}
	s.add(KindOfflinePartitions, SeverityCritical, subj,
		fmt.Sprintf("Cluster %s has %s (no leader), reported by broker %s on %d consecutive samples: they accept neither produce nor fetch.",
			strconv.Quote(s.in.Cluster), plural(worst, "offline partition"), strings.Join(who, ", "), s.cfg.OfflineSamples),
		ev,
		[]Fact{{Name: "offline_partitions", Value: worst, Unit: "partitions"}, cfgFact("offline_partitions_samples", float64(s.cfg.OfflineSamples), "samples")})
}

// controllerAnomaly: CONTROLLER_ANOMALY when Σ active_controller_count over
// the brokers that export it is ≠ 1 for ControllerFor. The sum is formed at
// every sample time of any broker from each broker's newest entry at or
// before it (no older than StaleAfter); a gap in any broker makes that sum a
// gap. Critical: with no controller, leader elections and metadata changes
// stall; with two, brokers may follow different controllers.
//
// Brokers that do not export the signal are left out; a KRaft cluster whose
// dedicated controllers are not scraped must not supply it for brokers, or
// the sum is always 0.
func (s *brokerSweep) controllerAnomaly(subj Subject) {
	var ids []int32
	var ws []SignalWindow
	for i := range s.in.Brokers {
		if w, ok := s.in.Brokers[i].Signals[SigActiveController]; ok && len(w.Times) > 0 {
			ids, ws = append(ids, s.in.Brokers[i].Broker), append(ws, w)
		}
	}
	stale := s.cfg.StaleAfter.Milliseconds()
	since, newest, n, ok := controllerRun(ws, stale)
	if !ok || newest-since < s.cfg.ControllerFor.Milliseconds() {
		return
	}
	facts := []Fact{{Name: "active_controllers", Value: n, Unit: "controllers"}, {Name: "anomaly_for", Value: float64(newest-since) / 1000, Unit: "s"}}
	var ev []Citation
	var claim []string
	for k, w := range ws {
		v := valueAt(w, newest, stale)
		facts = append(facts, Fact{Name: fmt.Sprintf("active_controller_count.broker.%d", ids[k]), Value: v})
		ev = append(ev, s.cite(w, since, "controllers", fmt.Sprintf("active controller count of broker %d", ids[k])))
		if v > 0 {
			claim = append(claim, strconv.Itoa(int(ids[k])))
		}
	}
	why := "no broker acts as controller, so leader elections and metadata changes stall"
	if n > 1 {
		why = "brokers " + strings.Join(claim, ", ") + " each claim to be the controller"
	}
	s.add(KindControllerAnomaly, SeverityCritical, subj,
		fmt.Sprintf("Cluster %s has had %s (summed over %s) for %s: %s.",
			strconv.Quote(s.in.Cluster), plural(n, "active controller"), plural(float64(len(ws)), "broker"), brief(newest-since), why),
		ev, append(facts, cfgDur("controller_for", s.cfg.ControllerFor)))
}

// plural renders "1 partition", "3 partitions", "2 offline log directories".
func plural(n float64, one string) string {
	if n == 1 {
		return "1 " + one
	}
	if many, ok := strings.CutSuffix(one, "y"); ok {
		return fmt.Sprintf("%.0f %sies", n, many)
	}
	return fmt.Sprintf("%.0f %ss", n, one)
}

// brief renders a duration in ms like secs, without zero trailing units:
// "45s", "5m", "1h35m", "2m30s".
func brief(ms int64) string {
	s := secs(ms)
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// controllerRun is runSince for the sum of the active controller counts,
// bad meaning ≠ 1. The sum at time t takes each window's entry at the
// largest time ≤ t (NaN if none or older than stale ms, and NaN propagates),
// at every time t any window has an entry. It walks back from the newest
// such time only while the run lasts, so a healthy cluster costs one step.
// sum is the newest sum.
func controllerRun(ws []SignalWindow, stale int64) (since, newest int64, sum float64, ok bool) {
	idx := make([]int, len(ws)) // per window: the entry at the largest time ≤ t
	t := int64(math.MinInt64)
	for k, w := range ws {
		idx[k] = len(w.Times) - 1
		t = max(t, w.Times[idx[k]])
	}
	for first := true; len(ws) > 0; first = false {
		v, next := 0.0, int64(math.MinInt64)
		for k, w := range ws {
			for idx[k] >= 0 && w.Times[idx[k]] > t {
				idx[k]--
			}
			j := idx[k]
			if j < 0 || t-w.Times[j] > stale {
				v = math.NaN()
			} else {
				v += w.Values[j]
			}
			if j >= 0 && w.Times[j] < t {
				next = max(next, w.Times[j])
			} else if j > 0 {
				next = max(next, w.Times[j-1])
			}
		}
		switch {
		case first && (math.IsNaN(v) || v == 1):
			return 0, 0, 0, false
		case first:
			since, newest, sum, ok = t, t, v, true
		case v == 1:
			return since, newest, sum, ok
		case !math.IsNaN(v):
			since = t
		}
		if next == math.MinInt64 {
			break
		}
		t = next
	}
	return since, newest, sum, ok
}

func boolFact(name string, v bool) Fact {
	return Fact{Name: name, Text: strconv.FormatBool(v)}
}
