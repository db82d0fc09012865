package detect

import (
	"fmt"
	"math"
	"time"
)

// BrokerDetector judges the brokers of one cluster at each sweep: broker
// health and replication (broker_health.go), disks (broker_disk.go), request
// handling (broker_requests.go) and the telemetry itself (broker_gap.go).
// Formulas and defaults are documented on BrokerConfig.
//
// Subjects: cluster-wide findings (OFFLINE_PARTITIONS, CONTROLLER_ANOMALY,
// the admin API's TELEMETRY_GAP) are about Subject{Cluster, Broker: -1};
// all others about Subject{Cluster, Broker: id}, one finding per kind and
// broker (the log dirs or requests involved are named in the summary and
// evidence).
//
// Every subject is Present at each sweep. It is Observed — judged with data,
// so that the Book may resolve its findings — only when its inputs are
// current (see brokerObserved and clusterObserved); otherwise the Book holds
// its findings: unknown, never resolved.
//
// Not safe for concurrent use; one goroutine owns it. Between sweeps it
// remembers only which UNDER_REPLICATED candidates it raised, so that a
// reassignment starting while one is raised does not make it look recovered.
type BrokerDetector struct {
	cfg       BrokerConfig
	s         brokerScratch
	raisedURP map[string]bool // fingerprints raised by the previous sweep
}

// NewBrokerDetector returns a detector with a validated config.
func NewBrokerDetector(cfg BrokerConfig) (*BrokerDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &BrokerDetector{cfg: cfg}, nil
}

// Config returns the detector's configuration.
func (d *BrokerDetector) Config() BrokerConfig { return d.cfg }

// brokerSweep is the state of one Sweep.
type brokerSweep struct {
	cfg    *BrokerConfig
	s      *brokerScratch
	in     *ClusterInput
	at     int64
	res    SweepResult
	prev   map[string]bool // UNDER_REPLICATED raised by the previous sweep
	raised map[string]bool // and by this one
}

// Sweep judges the cluster at in.At and returns the candidates of this
// sweep with the subjects it observed and the subjects that exist.
func (d *BrokerDetector) Sweep(in ClusterInput) SweepResult {
	s := &brokerSweep{cfg: &d.cfg, s: &d.s, in: &in, at: in.At, prev: d.raisedURP, raised: map[string]bool{},
		res: SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}}
	cluster := Subject{Cluster: in.Cluster, Broker: -1}
	s.res.Present[cluster.Key()] = true
	for i := range in.Brokers {
		b := &in.Brokers[i]
		subj := Subject{Cluster: in.Cluster, Broker: b.Broker}
		s.res.Present[subj.Key()] = true
		if s.brokerObserved(b) {
			s.res.Observed[subj.Key()] = true
		}
		s.judgeBroker(b, subj)
	}
	if s.clusterObserved() {
		s.res.Observed[cluster.Key()] = true
	}
	s.offlinePartitions(cluster)
	s.controllerAnomaly(cluster)
	s.adminGap(cluster)
	d.raisedURP = s.raised
	return s.res
}

func (s *brokerSweep) judgeBroker(b *BrokerInput, subj Subject) {
	s.unreachable(b, subj)
	s.scrapeGap(b, subj)
	s.underReplicated(b, subj)
	s.underMinISR(b, subj)
	s.isrFlapping(b, subj)
	s.uncleanElection(b, subj)
	s.offlineLogDir(b, subj)
	s.diskNearlyFull(b, subj)
	s.diskFillForecast(b, subj)
	s.handlerSaturation(b, subj)
	s.latencyRegression(b, subj)
}

// upNow reports whether an availability series (scrape_up, AdminUp) says
// the source answered at its newest entry, no older than StaleAfter. A
// series with no entries was never collected and counts as up: nothing
// depends on it.
func (s *brokerSweep) upNow(w SignalWindow) bool {
	if len(w.Times) == 0 {
		return true
	}
	n := len(w.Times) - 1
	return w.Values[n] == 1 && s.at-w.Times[n] <= s.cfg.StaleAfter.Milliseconds()
}

// brokerObserved: the admin API and the broker's scrape are up now, and
// no series the broker detectors judge has lost its data (newest entry a
// gap after present samples). A series that is all gaps was never exported
// and blocks nothing.
func (s *brokerSweep) brokerObserved(b *BrokerInput) bool {
	if !s.upNow(s.in.AdminUp) || !s.upNow(b.Signals[SigScrapeUp]) {
		return false
	}
	for _, w := range b.Signals {
		if lost(w) {
			return false
		}
	}
	for _, ld := range b.LogDirs {
		if lost(ld.Used) || lost(ld.Total) {
			return false
		}
	}
	for _, l := range b.Latency {
		if lost(l.P99) || lost(l.P999) {
			return false
		}
	}
	return true
}

// clusterObserved: the admin API is up now and every registered broker's
// scrape is up with current controller signals (CONTROLLER_ANOMALY and
// OFFLINE_PARTITIONS sum over brokers, so one silent broker makes them
// unknown). A broker DescribeCluster no longer lists does not count.
func (s *brokerSweep) clusterObserved() bool {
	if !s.upNow(s.in.AdminUp) {
		return false
	}
	for i := range s.in.Brokers {
		b := &s.in.Brokers[i]
		if !s.registeredNow(b) {
			continue
		}
		if !s.upNow(b.Signals[SigScrapeUp]) || lost(b.Signals[SigActiveController]) || lost(b.Signals[SigOfflinePartitions]) {
			return false
		}
	}
	return true
}

// registeredNow is the newest SigRegistered entry (a gap counts as
// registered: unknown must not excuse a broker), else BrokerInput.Registered
// when the admin API is collected at all, else true.
func (s *brokerSweep) registeredNow(b *BrokerInput) bool {
	if w, ok := b.Signals[SigRegistered]; ok && len(w.Values) > 0 {
		return w.Values[len(w.Values)-1] != 0
	}
	return b.Registered || len(s.in.AdminUp.Times) == 0
}

func (s *brokerSweep) add(k Kind, sev Severity, subj Subject, summary string, ev []Citation, facts []Fact) {
	s.res.Candidates = append(s.res.Candidates, Candidate{
		Fingerprint: Fingerprint(k, subj), Kind: k, Severity: sev, Subject: subj,
		Summary: summary, Evidence: ev, Facts: facts, At: time.UnixMilli(s.at),
	})
}

// cite summarises w over [from, s.at].
func (s *brokerSweep) cite(w SignalWindow, from int64, unit, note string) Citation {
	return s.s.cite(w, from, s.at, unit, s.at, note)
}

func cfgFact(key string, v float64, unit string) Fact {
	return Fact{Name: "config.broker." + key, Value: v, Unit: unit}
}

func cfgDur(key string, d time.Duration) Fact { return cfgFact(key, d.Seconds(), "s") }

// stamp renders Unix ms as an RFC 3339 UTC time.
func stamp(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

// bytesIEC renders a byte count with a binary unit, e.g. "1.5 GiB".
func bytesIEC(v float64) string {
	const units = "KMGTPE"
	switch {
	case math.Abs(v) < 10:
		return fmt.Sprintf("%.3g B", v) // slow rates: "0.167 B"
	case math.Abs(v) < 1024:
		return fmt.Sprintf("%.0f B", v)
	}
	i := -1
	for math.Abs(v) >= 1024 && i < len(units)-1 {
		v /= 1024
		i++
	}
	return fmt.Sprintf("%.1f %ciB", v, units[i])
}
