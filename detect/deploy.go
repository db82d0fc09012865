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
// Onset of the condition, for the worst partition:
//   - LAG_GROWING: the newest time at which lag was at its window minimum
//     before it grew (the start of the growth);
//   - CONSUMER_STALLED: the time since which the committed offset has not
//     moved while lag > 0.
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
	if r.Status == StatusStalled {
		return r.ToMs - r.StuckForMs
	}
	w := gt.Partitions[j].Window
	at, minLag := r.FromMs, int64(-1)
	for i, t := range w.Times {
		if t < r.FromMs || t > r.ToMs || w.Committed[i] == Gap || w.End[i] == Gap {
			continue
		}
		if l := lagOf(w.End[i], w.Committed[i]); minLag < 0 || l <= minLag {
			at, minLag = t, l
		}
	}
	return at
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
