package detect

import (
	"fmt"
	"strings"
	"time"
)

// Deploy correlation: when LAG_GROWING or CONSUMER_STALLED is seen within
// LagConfig.DeployWindow after the group's membership changed (a rebalance,
// which is what a deploy of a consumer looks like from Kafka), the finding
// says so — "lag began 40s after generation 17→18 (joined …, left …)" — and
// cites the group's generation series across the change next to the offsets.
//
// Onset of the condition, for the worst partition, is Onset's: the start
// of the rise for LAG_GROWING, the committed offset's last move for
// CONSUMER_STALLED.
//
// The change correlates when it happened no later than the onset plus one
// describe interval of slack (DeploySlack, default 15s: membership is only
// observed every few sweeps) and no earlier than DeployWindow before it.

// DeployEvent is a deploy (or other change) a user's pipeline reported
// (POST /v1/events), correlated with the lag of Group like a membership
// change is.
type DeployEvent struct {
	ID      string
	Service string
	Version string
	Group   string
	AtMs    int64
	Labels  map[string]string
}

// SetDeploys gives the detector the reported deploy events by group for the
// next sweeps (nil clears them). The map must not be modified afterwards.
func (d *LagDetector) SetDeploys(byGroup map[string][]DeployEvent) { d.deploys = byGroup }

// correlateDeploy adds the membership change, and any reported deploy event,
// to c when it precedes the onset.
func (d *LagDetector) correlateDeploy(v ConsumerView, gt *GroupTopic, j int, c *Candidate) {
	onset := d.onset(gt, j)
	d.correlateEvents(gt.Group, onset, c)
	ch := gt.Context.Change
	if ch.AtMs == 0 {
		return
	}
	delta := onset - ch.AtMs
	if delta < -d.cfg.DeploySlack.Milliseconds() || delta > d.cfg.DeployWindow.Milliseconds() {
		return
	}
	what := "the condition"
	if c.Kind == KindLagGrowing {
		what = "lag"
	} else if c.Kind == KindConsumerStalled {
		what = "the stall"
	}
	rel := fmt.Sprintf("%s after", secs(max(delta, 0)))
	if delta < 0 {
		rel = "around"
	}
	c.Summary = strings.TrimSuffix(c.Summary, ".") + fmt.Sprintf("; %s began %s generation %d→%d (%s).",
		what, rel, ch.From, ch.To, membersPhrase(ch))
	c.Facts = append(c.Facts,
		Fact{Name: "deploy.onset_after_change", Value: float64(delta) / 1000, Unit: "s"},
		Fact{Name: "deploy.generation", Text: fmt.Sprintf("%d→%d", ch.From, ch.To)},
		Fact{Name: "deploy.changed_at", Text: time.UnixMilli(ch.AtMs).UTC().Format(time.RFC3339)},
		Fact{Name: "deploy.members", Text: membersPhrase(ch)},
		Fact{Name: "config.lag.deploy_window", Value: d.cfg.DeployWindow.Seconds(), Unit: "s"},
	)
	if ch.HasSeries {
		c.Evidence = append(c.Evidence, Citation{
			Series: v.SeriesRef(ch.GenerationID),
			From:   time.UnixMilli(ch.BeforeMs), To: time.UnixMilli(ch.AtMs),
			First: float64(ch.From), Last: float64(ch.To), Min: float64(min(ch.From, ch.To)), Max: float64(max(ch.From, ch.To)),
			SlopeUnit: "generations/s", Count: 2,
			Source: Source{API: "DescribeGroups", SweepAt: time.UnixMilli(ch.AtMs)},
			Note:   "the group's membership changed here (a rebalance, e.g. a deploy)",
		})
	}
}

// onset returns when the condition of partition j began (Unix ms).
func (d *LagDetector) onset(gt *GroupTopic, j int) int64 {
	r := d.results[j]
	w := gt.Partitions[j].Window
	if i, ok := Onset(w, r, d.cfg.Window); ok {
		return w.Times[i]
	}
	return r.FromMs
}

// Onset returns the index in w of the sample at which partition lag's
// condition began, judged over the newest window of w (the span the lag
// verdict reads). It is the one onset definition: findings correlate
// deploys with it and Explain dates its timeline by it.
//   - A stall or stop began at the committed offset's last move.
//   - Growth began at the newest sample whose lag was within a tenth of the
//     rise above the window minimum (at least one message), so jitter
//     before the growth does not date it early.
//
// ok is false when no sample has both offsets, or the onset is the newest
// sample (nothing has happened since).
func Onset(w PartitionWindow, lag PartitionLag, window time.Duration) (int, bool) {
	n := len(w.Times)
	if n < 2 || lag.Lag == Gap {
		return 0, false
	}
	from := w.Times[n-1] - window.Milliseconds()
	lagAt := func(i int) (int64, bool) {
		if w.Times[i] < from || w.Committed[i] == Gap || w.End[i] == Gap {
			return 0, false
		}
		return lagOf(w.End[i], w.Committed[i]), true
	}
	minLag := int64(-1)
	for i := range w.Times {
		if l, ok := lagAt(i); ok && (minLag < 0 || l < minLag) {
			minLag = l
		}
	}
	if minLag < 0 {
		return 0, false
	}
	near := minLag + max(1, (lag.Lag-minLag)/10)
	at := -1
	for i := n - 1; i >= 0; i-- {
		if l, ok := lagAt(i); ok && l <= near {
			at = i
			break
		}
	}
	if lag.Status == StatusStalled || lag.Status == StatusStopped {
		last := w.Committed[n-1]
		for i := n - 1; i >= 0 && w.Times[i] >= from; i-- {
			if c := w.Committed[i]; c != Gap && c != last {
				break
			}
			if w.Committed[i] != Gap {
				at = i
			}
		}
	}
	return at, at >= 0 && at < n-1
}

func membersPhrase(ch MembershipChange) string {
	var parts []string
	if len(ch.Joined) > 0 {
		parts = append(parts, "joined "+listOf(ch.Joined))
	}
	if len(ch.Left) > 0 {
		parts = append(parts, "left "+listOf(ch.Left))
	}
	if len(parts) == 0 {
		return "members changed"
	}
	return "members changed: " + strings.Join(parts, "; ")
}

func listOf(xs []string) string {
	if len(xs) > 3 {
		return strings.Join(xs[:3], ", ") + fmt.Sprintf(" and %d more", len(xs)-3)
	}
	return strings.Join(xs, ", ")
}

// correlateEvents names the newest reported deploy of group that precedes
// the onset within the deploy window (or follows it within the slack).
func (d *LagDetector) correlateEvents(group string, onset int64, c *Candidate) {
	var hit *DeployEvent
	for i := range d.deploys[group] {
		ev := &d.deploys[group][i]
		delta := onset - ev.AtMs
		if delta >= -d.cfg.DeploySlack.Milliseconds() && delta <= d.cfg.DeployWindow.Milliseconds() {
			hit = ev
		}
	}
	if hit == nil {
		return
	}
	delta := onset - hit.AtMs
	what := "lag"
	if c.Kind == KindConsumerStalled {
		what = "the stall"
	}
	rel := secs(max(delta, 0)) + " after"
	if delta < 0 {
		rel = "around"
	}
	name := hit.Service
	if hit.Version != "" {
		name += " " + hit.Version
	}
	c.Summary = strings.TrimSuffix(c.Summary, ".") + fmt.Sprintf("; %s began %s the reported deploy of %s (event %s).", what, rel, name, hit.ID)
	c.Facts = append(c.Facts,
		Fact{Name: "deploy_event.id", Text: hit.ID},
		Fact{Name: "deploy_event.service", Text: name},
		Fact{Name: "deploy_event.at", Text: time.UnixMilli(hit.AtMs).UTC().Format(time.RFC3339)},
		Fact{Name: "deploy_event.onset_after", Value: float64(delta) / 1000, Unit: "s"},
	)
}
