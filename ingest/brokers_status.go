package ingest

import (
	"maps"
	"slices"
	"strings"
	"time"
)

// TelemetryStatus is the BrokerPoller's health for a status endpoint
// (/v1/status): what it lacks, and the newest outcome of every scrape
// target and admin request. Times are sweep stamps; zero means never.
type TelemetryStatus struct {
	Sweeps    uint64
	LastSweep time.Time
	// Capabilities is Capabilities() at the newest sweep.
	Capabilities map[string]string
	Targets      []TargetStatus // in configuration order
	Admin        AdminStatus
}

// TargetStatus is the newest outcome of one scrape target.
type TargetStatus struct {
	Broker      int32
	URL         string
	Kind        string // jmx or node
	LastScrape  time.Time
	LastSuccess time.Time
	// LastError is the newest scrape's error, "" when it succeeded; Reason
	// is its class (scrape.ScrapeError.Reason: timeout, connect, status,
	// cardinality, ...).
	LastError string
	Reason    string
	// Of the newest good scrape: the naming profile detected, sample lines,
	// lines skipped as malformed or duplicate (and the first of them), and
	// expositions in the body (only the first is used).
	Profile      string
	Series       int
	Malformed    int
	FirstProblem string
	Parts        int
}

// AdminStatus is the admin API's health: Up is false when the newest
// attempt of a request feeding the detectors (all but DescribeConfigs)
// failed outright; it is the admin_up series the detectors see.
type AdminStatus struct {
	Enabled  bool
	Up       bool
	Requests []AdminRequestStatus // by name
	// From the newest good DescribeCluster; zero without one.
	ClusterID    string  `json:",omitempty"`
	ControllerID *int32  `json:",omitempty"` // as the cluster reports it (KRaft: any broker)
	Members      []int32 // brokers counted as members, sorted; from DescribeCluster, else Metadata
	Fenced       []int32 `json:",omitempty"`
}

// AdminRequestStatus is the newest outcome of one admin request.
type AdminRequestStatus struct {
	Request     string // Req* names
	LastAttempt time.Time
	LastSuccess time.Time // the newest attempt with a usable (possibly partial) answer
	LastError   string    // "" when the newest attempt fully succeeded
	Unsupported bool      // the cluster does not support it (see Capabilities)
}

// Status returns the status published by the newest sweep. Safe for
// concurrent use; the result must not be modified.
func (p *BrokerPoller) Status() TelemetryStatus { return *p.status.Load() }

// publishStatus builds and publishes the status of the sweep at at.
func (p *BrokerPoller) publishStatus(at time.Time) {
	st := &TelemetryStatus{Sweeps: p.sweeps, LastSweep: at, Capabilities: p.Capabilities()}
	for i, t := range p.cfg.Targets {
		ts := &p.targets[i]
		st.Targets = append(st.Targets, TargetStatus{
			Broker: t.Broker, URL: t.URL, Kind: kindOf(t),
			LastScrape: ts.lastAttempt, LastSuccess: ts.lastSuccess, LastError: ts.lastErr, Reason: ts.reason,
			Profile: ts.profile, Series: ts.series, Malformed: ts.malformed, FirstProblem: ts.problem, Parts: ts.parts,
		})
	}
	st.Admin.Enabled = p.adm != nil
	p.adminMu.Lock()
	st.Admin.Up = p.adm != nil && p.adminUp() == 1
	st.Admin.Members = slices.Sorted(maps.Keys(p.admin.registered))
	if c := p.admin.cluster; c.Known {
		st.Admin.ClusterID, st.Admin.ControllerID, st.Admin.Fenced = c.ClusterID, &c.ControllerID, c.Fenced
	}
	for name, rs := range p.admin.reqs {
		st.Admin.Requests = append(st.Admin.Requests, AdminRequestStatus{
			Request: name, LastAttempt: rs.lastAttempt, LastSuccess: rs.lastSuccess, LastError: rs.lastErr, Unsupported: rs.unsupported,
		})
	}
	p.adminMu.Unlock()
	slices.SortFunc(st.Admin.Requests, func(a, b AdminRequestStatus) int { return strings.Compare(a.Request, b.Request) })
	p.status.Store(st)
}
