package detect

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// KindRebalanceStorm: a consumer group's membership keeps changing.
const KindRebalanceStorm Kind = "REBALANCE_STORM"

// RebalanceConfig sets REBALANCE_STORM's threshold: at least MinChanges
// membership changes (generations) within Window. Defaults: 3 in 10m — a
// group that rebalances every few minutes spends much of its time not
// consuming (each rebalance stops the group for up to the rebalance
// timeout), which is what Burrow and the Kafka docs warn about; kwitness's
// own choice of numbers.
type RebalanceConfig struct {
	Window     time.Duration `yaml:"window"`
	MinChanges int           `yaml:"min_changes"`
}

// DefaultRebalanceConfig returns the defaults documented on RebalanceConfig.
func DefaultRebalanceConfig() RebalanceConfig {
	return RebalanceConfig{Window: 10 * time.Minute, MinChanges: 3}
}

// Validate reports invalid fields by YAML key.
func (c RebalanceConfig) Validate() error {
	var errs []error
	if c.Window <= 0 {
		errs = append(errs, fmt.Errorf("rebalance.window: must be positive, got %s", c.Window))
	}
	if c.MinChanges < 2 {
		errs = append(errs, fmt.Errorf("rebalance.min_changes: must be ≥ 2, got %d", c.MinChanges))
	}
	return errors.Join(errs...)
}

// RebalanceDetector judges each group once per sweep from its membership
// history (GroupContext.History). Not safe for concurrent use.
type RebalanceDetector struct{ cfg RebalanceConfig }

// NewRebalanceDetector returns a detector with a validated config.
func NewRebalanceDetector(cfg RebalanceConfig) (*RebalanceDetector, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &RebalanceDetector{cfg: cfg}, nil
}

// Sweep returns a REBALANCE_STORM candidate for each group with at least
// MinChanges membership changes in the window ending at its newest sweep.
func (d *RebalanceDetector) Sweep(v ConsumerView, nowMs int64) SweepResult {
	res := SweepResult{Observed: map[string]bool{}, Present: map[string]bool{}}
	seen := map[string]bool{}
	v.EachGroupTopic(func(gt *GroupTopic) {
		if seen[gt.Group] {
			return
		}
		seen[gt.Group] = true
		subj := Subject{Cluster: gt.Cluster, Group: gt.Group, Broker: -1}
		res.Present[subj.Key()] = true
		if !gt.Context.Known {
			return
		}
		res.Observed[subj.Key()] = true
		if c, ok := d.judge(v, gt, subj, nowMs); ok {
			res.Candidates = append(res.Candidates, c)
		}
	})
	return res
}

func (d *RebalanceDetector) judge(v ConsumerView, gt *GroupTopic, subj Subject, nowMs int64) (Candidate, bool) {
	from := nowMs - d.cfg.Window.Milliseconds()
	var in []MembershipChange
	for _, ch := range gt.Context.History {
		if ch.AtMs >= from && ch.AtMs <= nowMs {
			in = append(in, ch)
		}
	}
	if len(in) < d.cfg.MinChanges {
		return Candidate{}, false
	}
	first, last := in[0], in[len(in)-1]
	c := Candidate{
		Fingerprint: Fingerprint(KindRebalanceStorm, subj), Kind: KindRebalanceStorm, Severity: SeverityWarning,
		Subject: subj, At: time.UnixMilli(nowMs),
		Summary: fmt.Sprintf("Consumer group %q changed membership %d times in %s (generation %d→%d); each rebalance pauses consumption. Latest: %s.",
			gt.Group, len(in), secs(nowMs-first.AtMs), first.From, last.To, membersPhrase(last)),
		Facts: []Fact{
			{Name: "membership_changes", Value: float64(len(in)), Unit: "changes"},
			{Name: "changes_at", Text: changeTimes(in)},
			{Name: "config.rebalance.window", Value: d.cfg.Window.Seconds(), Unit: "s"},
			{Name: "config.rebalance.min_changes", Value: float64(d.cfg.MinChanges), Unit: "changes"},
		},
	}
	if last.HasSeries {
		c.Evidence = append(c.Evidence, Citation{
			Series: v.SeriesRef(last.GenerationID), From: time.UnixMilli(first.BeforeMs), To: time.UnixMilli(last.AtMs),
			First: float64(first.From), Last: float64(last.To), Min: float64(first.From), Max: float64(last.To),
			Slope: float64(last.To-first.From) / max(float64(last.AtMs-first.BeforeMs)/1000, 1), SlopeUnit: "generations/s",
			Count: 2, Source: Source{API: "DescribeGroups", SweepAt: time.UnixMilli(last.AtMs)},
			Note: "the group's observed generation before the first and after the latest change in the window",
		})
	}
	return c, true
}

func changeTimes(in []MembershipChange) string {
	ts := make([]string, len(in))
	for i, ch := range in {
		ts[i] = time.UnixMilli(ch.AtMs).UTC().Format(time.TimeOnly)
	}
	return strings.Join(ts, ", ")
}
