package detect

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// TELEMETRY_GAP: kwitness's own inputs went silent. A broker's scrape
// (scrape_up) or the admin API (ClusterInput.AdminUp) has had no good answer
// (an entry equal to 1) for GapAfter. The finding says what is missing since
// when. It is the visible half of a rule the Sweep applies from the first
// missing sample on: subjects whose inputs are not current stay Present but
// not Observed (see brokerObserved, clusterObserved), so the Book neither
// resolves nor opens their findings on missing data. Warning.

// silence reports how long the availability series w has had no good
// answer at s.at: since is the first entry after the newest good one (the
// first entry of the window if none was good, the good one itself if nothing
// was recorded after it), and silent is s.at minus the newest good entry's
// time (minus the window's first time if none was good). ok is false when w
// has no entries: the source is not collected.
func (s *brokerSweep) silence(w SignalWindow) (lastGood, since, silent int64, ok bool) {
	if len(w.Times) == 0 {
		return 0, 0, 0, false
	}
	good := -1
	for i := len(w.Values) - 1; i >= 0; i-- {
		if w.Values[i] == 1 {
			good = i
			break
		}
	}
	switch {
	case good < 0:
		return 0, w.Times[0], s.at - w.Times[0], true
	case good == len(w.Times)-1:
		return w.Times[good], w.Times[good], s.at - w.Times[good], true
	}
	return w.Times[good], w.Times[good+1], s.at - w.Times[good], true
}

// failing describes the newest entry of an availability series.
func failing(w SignalWindow) string {
	v := w.Values[len(w.Values)-1]
	switch {
	case v == 0:
		return "the source answers with errors"
	case math.IsNaN(v):
		return "no attempts are recorded"
	}
	return "no answer is recorded"
}

// scrapeGap: TELEMETRY_GAP about one broker's metrics scrape.
func (s *brokerSweep) scrapeGap(b *BrokerInput, subj Subject) {
	up, ok := b.Signals[SigScrapeUp]
	if !ok {
		return
	}
	lastGood, since, silent, ok := s.silence(up)
	if !ok || silent < s.cfg.GapAfter.Milliseconds() {
		return
	}
	missing := missingSignals(b, up.Source, lastGood)
	what := "the broker's scraped signals are"
	if len(missing) > 0 {
		what = strings.Join(missing, ", ") + " are"
	}
	s.add(KindTelemetryGap, SeverityWarning, subj,
		fmt.Sprintf("No metrics from broker %d's scrape (%s) since %s, %s ago (%s): %s unknown, so findings that depend on them are held, neither opened nor resolved.",
			b.Broker, up.Source, stamp(since), brief(silent), failing(up), what),
		[]Citation{s.cite(up, citeFrom(lastGood, since), "answers", "scrape availability (1 answered, 0 failed)")},
		s.gapFacts(since, silent, len(missing)))
}

// adminGap: TELEMETRY_GAP about the cluster's admin API.
func (s *brokerSweep) adminGap(subj Subject) {
	up := s.in.AdminUp
	lastGood, since, silent, ok := s.silence(up)
	if !ok || silent < s.cfg.GapAfter.Milliseconds() {
		return
	}
	s.add(KindTelemetryGap, SeverityWarning, subj,
		fmt.Sprintf("No answer from cluster %s's admin API (%s) since %s, %s ago (%s): broker membership, log-dir capacity and reassignments are unknown, so findings that depend on them are held, neither opened nor resolved.",
			strconv.Quote(s.in.Cluster), up.Source, stamp(since), brief(silent), failing(up)),
		[]Citation{s.cite(up, citeFrom(lastGood, since), "answers", "admin API availability (1 answered, 0 failed)")},
		s.gapFacts(since, silent, 0))
}

// citeFrom starts a gap's citation at the last good answer, if any.
func citeFrom(lastGood, since int64) int64 {
	if lastGood > 0 {
		return lastGood
	}
	return since
}

func (s *brokerSweep) gapFacts(since, silent int64, missing int) []Fact {
	f := []Fact{
		{Name: "missing_since", Text: stamp(since)},
		{Name: "silent_for", Value: float64(silent) / 1000, Unit: "s"},
	}
	if missing > 0 {
		f = append(f, Fact{Name: "signals_missing", Value: float64(missing), Unit: "signals"})
	}
	return append(f, cfgDur("gap_after", s.cfg.GapAfter), cfgDur("stale_after", s.cfg.StaleAfter))
}

// missingSignals names, sorted, the broker's series from source (all but
// the availability ones if source is empty) with no present sample after
// lastGood.
func missingSignals(b *BrokerInput, source string, lastGood int64) []string {
	quiet := func(w SignalWindow) bool {
		_, t := w.Last()
		return (source == "" || w.Source == source) && t <= lastGood
	}
	var out []string
	for sig, w := range b.Signals {
		if sig != SigScrapeUp && sig != SigRegistered && quiet(w) {
			out = append(out, string(sig))
		}
	}
	slices.Sort(out)
	for _, l := range b.Latency {
		if quiet(l.P99) {
			out = append(out, "request latency ("+l.Request+")")
		}
	}
	for _, d := range b.LogDirs {
		if quiet(d.Used) {
			out = append(out, "log dir usage ("+d.Path+")")
		}
	}
	return out
}
