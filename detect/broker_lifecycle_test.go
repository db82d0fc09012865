package detect

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// drive sweeps in once per step from its first sample to its last, through
// a Book (open after 5 s, resolve after 30 s), and returns the events as
// "index kind@subject type" lines. mut, if set, may change each sweep's
// input.
func drive(t *testing.T, in ClusterInput, step time.Duration, mut func(k int, in *ClusterInput)) []string {
	t.Helper()
	d, err := NewBrokerDetector(DefaultBrokerConfig())
	if err != nil {
		t.Fatal(err)
	}
	book, err := NewBook(BookConfig{OpenAfter: 5 * time.Second, ResolveAfter: 30 * time.Second, UpdateEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for k := 0; brokerT0+int64(k)*step.Milliseconds() <= in.At; k++ {
		at := brokerT0 + int64(k)*step.Milliseconds()
		cut := upTo(in, at)
		if mut != nil {
			mut(k, &cut)
		}
		res := d.Sweep(cut)
		checkCandidates(t, res)
		for _, e := range book.Observe("broker", time.UnixMilli(at), res) {
			subj := "c"
			if e.Finding.Subject.Broker >= 0 {
				subj = fmt.Sprint(e.Finding.Subject.Broker)
			}
			line := fmt.Sprintf("%d %s@%s %s", k, e.Finding.Kind, subj, e.Type)
			if e.Type == EventResolved {
				line += ":" + e.Finding.Resolution
			}
			out = append(out, line)
		}
	}
	return out
}

// TestUnderReplicatedHeldThroughScrapeOutage: a firing UNDER_REPLICATED
// finding must survive a 10-minute scrape outage (its data is unknown, not
// recovered), and resolve only once the scrape is back and shows 0.
func TestUnderReplicatedHeldThroughScrapeOutage(t *testing.T) {
	const step = 10 * time.Second
	in := clusterOf(step, nil, broker(1, step, map[Signal][]float64{
		SigUnderReplicated: vals("0*3 3*60 _*60 3*10 0*10"),
		SigScrapeUp:        vals("1*63 0*60 1*20"),
	}))
	got := drive(t, in, step, nil)
	want := []string{
		"34 UNDER_REPLICATED@1 opened",   // 5 min after index 3, plus OpenAfter
		"81 TELEMETRY_GAP@1 opened",      // last answer at 62: silent 3 min at 80, opens a sweep later
		"82 BROKER_UNREACHABLE@1 opened", // failing from 63: 3 min at 81, opens a sweep later
		"126 BROKER_UNREACHABLE@1 resolved:recovered",
		"126 TELEMETRY_GAP@1 resolved:recovered",
		"136 UNDER_REPLICATED@1 resolved:recovered", // 0 from 133, 30 s later
	}
	if !slices.Equal(got, want) {
		t.Fatalf("events:\n got %q\nwant %q", got, want)
	}
}

// TestBrokerGapsNeitherOpenNorResolve: runs of missing samples (the scrape
// answers, the series is absent) must neither open a finding nor resolve
// one, for a broker, a log-dir and a cluster finding.
func TestBrokerGapsNeitherOpenNorResolve(t *testing.T) {
	const step = 10 * time.Second
	dir := func(used string) LogDir {
		return LogDir{Path: "/data", Used: sig("used", step, vals(used)), Total: sig("total", step, vals("100*100"))}
	}
	f := func(n int, urp, used, ctl string, want []string) {
		t.Helper()
		b := broker(1, step, map[Signal][]float64{SigUnderReplicated: vals(urp), SigActiveController: vals(ctl)})
		b.LogDirs = []LogDir{dir(used)}
		got := drive(t, clusterOf(step, nil, b), step, nil)
		if !slices.Equal(got, want) {
			t.Errorf("%d: events\n got %q\nwant %q", n, got, want)
		}
	}
	// 1: healthy, then ten minutes of gaps: nothing opens.
	f(1, "0*40 _*60", "50*40 _*60", "1*40 _*60", nil)
	// 2: unhealthy, then ten minutes of gaps: nothing resolves.
	f(2, "3*40 _*60", "97*40 _*60", "0*40 _*60", []string{
		"1 DISK_NEARLY_FULL@1 opened",
		"7 CONTROLLER_ANOMALY@c opened",
		"31 UNDER_REPLICATED@1 opened",
	})
	// 3: unhealthy, gaps, healthy again: resolved only after the data says so.
	f(3, "3*40 _*50 0*10", "97*40 _*50 50*10", "0*40 _*50 1*10", []string{
		"1 DISK_NEARLY_FULL@1 opened",
		"7 CONTROLLER_ANOMALY@c opened",
		"31 UNDER_REPLICATED@1 opened",
		"93 CONTROLLER_ANOMALY@c resolved:recovered",
		"93 DISK_NEARLY_FULL@1 resolved:recovered",
		"93 UNDER_REPLICATED@1 resolved:recovered",
	})
}

// TestUnderReplicatedIntoReassignment: an UNDER_REPLICATED finding raised
// before a reassignment starts continues at info (it does not look
// recovered); one that would start during the reassignment is not raised.
func TestUnderReplicatedIntoReassignment(t *testing.T) {
	const step = 10 * time.Second
	in := clusterOf(step, nil, broker(1, step, map[Signal][]float64{SigUnderReplicated: vals("3*60")}))
	d, _ := NewBrokerDetector(DefaultBrokerConfig())
	sev := func(res SweepResult) string {
		for _, c := range res.Candidates {
			if c.Kind == KindUnderReplicated {
				return c.Severity.String()
			}
		}
		return "none"
	}
	if got := sev(d.Sweep(in)); got != "warning" {
		t.Fatalf("before the reassignment: %s, want warning", got)
	}
	in.Reassigning = true
	if got := sev(d.Sweep(in)); got != "info" {
		t.Fatalf("raised, then reassigning: %s, want info", got)
	}
	fresh, _ := NewBrokerDetector(DefaultBrokerConfig())
	if got := sev(fresh.Sweep(in)); got != "none" {
		t.Fatalf("reassigning from the start: %s, want none", got)
	}
}
