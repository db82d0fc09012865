package detect

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"slices"
	"strconv"
)

// Owners route findings to people: rules map group, topic and broker
// patterns to the team that answers for them, and finding kinds map to
// runbooks. kwitness never guesses an owner: a subject no rule matches is
// reported as unowned, saying which subject that was.
//
// Patterns are path.Match globs over the whole name ("fraud-*",
// "payments.?", "[0-2]" for broker ids, which match as decimal strings).
// Rules are tried in order; the first whose patterns match wins. A finding
// about a group is owned by the group's rule only (the consuming team
// answers for its lag, not the topic's producers); one about a topic
// without a group by the topic's rule; one about a broker by the broker's.

// OwnersConfig is the owners section of the configuration.
type OwnersConfig struct {
	Rules []OwnerRule `yaml:"rules"`
	// Runbooks maps a finding kind (e.g. LAG_GROWING) to its runbook URL.
	Runbooks map[string]string `yaml:"runbooks"`
}

// OwnerRule is one team and the subjects it owns.
type OwnerRule struct {
	Team       string   `yaml:"team"`
	Contact    string   `yaml:"contact"`    // e.g. "#payments-oncall", an email
	Escalation string   `yaml:"escalation"` // e.g. a pager service
	Groups     []string `yaml:"groups"`
	Topics     []string `yaml:"topics"`
	Brokers    []string `yaml:"brokers"`
}

// DefaultOwnersConfig owns nothing: every subject is reported unowned.
func DefaultOwnersConfig() OwnersConfig { return OwnersConfig{} }

// Limits that keep a configuration and its answers small.
const (
	maxOwnerRules   = 10000
	maxOwnerText    = 256
	maxRunbookBytes = 2048
)

// Validate reports invalid fields by YAML key.
func (c OwnersConfig) Validate() error {
	var errs []error
	if len(c.Rules) > maxOwnerRules {
		errs = append(errs, fmt.Errorf("owners.rules: at most %d, got %d", maxOwnerRules, len(c.Rules)))
	}
	for i, r := range c.Rules {
		key := fmt.Sprintf("owners.rules[%d]", i)
		if r.Team == "" {
			errs = append(errs, fmt.Errorf("%s.team: required", key))
		}
		for _, f := range [...]struct{ name, v string }{{"team", r.Team}, {"contact", r.Contact}, {"escalation", r.Escalation}} {
			if len(f.v) > maxOwnerText {
				errs = append(errs, fmt.Errorf("%s.%s: at most %d bytes", key, f.name, maxOwnerText))
			}
		}
		if len(r.Groups)+len(r.Topics)+len(r.Brokers) == 0 {
			errs = append(errs, fmt.Errorf("%s: needs at least one of groups, topics, brokers", key))
		}
		for _, f := range [...]struct {
			name string
			pats []string
		}{{"groups", r.Groups}, {"topics", r.Topics}, {"brokers", r.Brokers}} {
			for j, p := range f.pats {
				if _, err := path.Match(p, ""); err != nil || p == "" || len(p) > maxOwnerText {
					errs = append(errs, fmt.Errorf("%s.%s[%d]: %q is not a glob pattern (path.Match syntax, 1..%d bytes)", key, f.name, j, p, maxOwnerText))
				}
			}
		}
	}
	for _, kind := range slices.Sorted(maps.Keys(c.Runbooks)) {
		u := c.Runbooks[kind]
		if !KnownKind(Kind(kind)) {
			errs = append(errs, fmt.Errorf("owners.runbooks.%s: not a finding kind (want one of %v)", kind, KindNames()))
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" || len(u) > maxRunbookBytes {
			errs = append(errs, fmt.Errorf("owners.runbooks.%s: %q is not an http(s) URL", kind, u))
		}
	}
	return errors.Join(errs...)
}

// Owner is who answers for a subject. Owned is false when no rule matched;
// Note then says which subject that was.
type Owner struct {
	Owned      bool
	Team       string
	Contact    string
	Escalation string
	Rule       string // the pattern that matched, e.g. "group fraud-*"
	Note       string
}

// String names the owner for a sentence: "team payments (#pay-oncall)", or
// the unowned note.
func (o Owner) String() string {
	if !o.Owned {
		return o.Note
	}
	s := "team " + o.Team
	if o.Contact != "" {
		s += " (" + o.Contact + ")"
	}
	return s
}

// Owners looks owners and runbooks up. The zero value owns nothing. Safe
// for concurrent use (read-only after NewOwners).
type Owners struct {
	cfg OwnersConfig
}

// NewOwners validates cfg and returns its lookup.
func NewOwners(cfg OwnersConfig) (*Owners, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Owners{cfg: cfg}, nil
}

// Group returns the owner of a consumer group.
func (o *Owners) Group(g string) Owner {
	return o.find("group", g, func(r *OwnerRule) []string { return r.Groups })
}

// Topic returns the owner of a topic.
func (o *Owners) Topic(t string) Owner {
	return o.find("topic", t, func(r *OwnerRule) []string { return r.Topics })
}

// Broker returns the owner of a broker.
func (o *Owners) Broker(id int32) Owner {
	return o.find("broker", strconv.Itoa(int(id)), func(r *OwnerRule) []string { return r.Brokers })
}

// Of returns the owner of a finding's subject: its group's, else its
// topic's, else its broker's; a cluster-wide subject is unowned.
func (o *Owners) Of(s Subject) Owner {
	switch {
	case s.Group != "":
		return o.Group(s.Group)
	case s.Topic != "":
		return o.Topic(s.Topic)
	case s.Broker >= 0:
		return o.Broker(s.Broker)
	}
	return Owner{Note: "unowned: the subject is the whole cluster, which no owners rule covers"}
}

// Runbook returns the runbook URL of a kind, or "".
func (o *Owners) Runbook(k Kind) string {
	if o == nil {
		return ""
	}
	return o.cfg.Runbooks[string(k)]
}

func (o *Owners) find(what, name string, pats func(*OwnerRule) []string) Owner {
	if o != nil {
		for i := range o.cfg.Rules {
			r := &o.cfg.Rules[i]
			for _, p := range pats(r) {
				if ok, _ := path.Match(p, name); ok {
					return Owner{Owned: true, Team: r.Team, Contact: r.Contact, Escalation: r.Escalation, Rule: what + " " + p}
				}
			}
		}
	}
	return Owner{Note: fmt.Sprintf("unowned: no owners rule matches %s %q", what, name)}
}
