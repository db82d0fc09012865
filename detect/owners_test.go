package detect

import (
	"strings"
	"testing"
)

func TestOwnersLookup(t *testing.T) {
	o, err := NewOwners(OwnersConfig{
		Rules: []OwnerRule{
			{Team: "payments", Contact: "#pay-oncall", Escalation: "pager:payments", Groups: []string{"fraud-*"}, Topics: []string{"payments"}},
			{Team: "platform", Brokers: []string{"[0-2]"}, Topics: []string{"*"}},
		},
		Runbooks: map[string]string{"LAG_GROWING": "https://runbooks.example/lag"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		s    Subject
		team string
		rule string
	}{
		{Subject{Group: "fraud-check", Topic: "payments", Broker: -1}, "payments", "group fraud-*"},
		{Subject{Group: "billing", Topic: "payments", Broker: -1}, "", ""}, // a group's owner only: never the topic's
		{Subject{Topic: "payments", Broker: -1}, "payments", "topic payments"},
		{Subject{Topic: "orders", Broker: -1}, "platform", "topic *"},
		{Subject{Broker: 2}, "platform", "broker [0-2]"},
		{Subject{Broker: 3}, "", ""},
		{Subject{Broker: -1}, "", ""},
	} {
		got := o.Of(tc.s)
		if got.Team != tc.team || got.Rule != tc.rule || got.Owned != (tc.team != "") {
			t.Errorf("Of(%+v) = %+v, want team %q rule %q", tc.s, got, tc.team, tc.rule)
		}
		if !got.Owned && !strings.HasPrefix(got.Note, "unowned: ") {
			t.Errorf("Of(%+v): unowned without saying so: %+v", tc.s, got)
		}
	}
	if got := o.Of(Subject{Group: "billing", Broker: -1}).Note; got != `unowned: no owners rule matches group "billing"` {
		t.Errorf("unowned note = %q", got)
	}
	if o.Runbook(KindLagGrowing) != "https://runbooks.example/lag" || o.Runbook(KindConsumerStalled) != "" {
		t.Error("runbook lookup")
	}
	var zero *Owners
	if zero.Of(Subject{Group: "g", Broker: -1}).Owned || zero.Runbook(KindLagGrowing) != "" {
		t.Error("nil Owners owns something")
	}
}

func TestOwnersValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg  OwnersConfig
		want string
	}{
		{OwnersConfig{Rules: []OwnerRule{{Groups: []string{"a"}}}}, "owners.rules[0].team: required"},
		{OwnersConfig{Rules: []OwnerRule{{Team: "t"}}}, "owners.rules[0]: needs at least one of groups, topics, brokers"},
		{OwnersConfig{Rules: []OwnerRule{{Team: "t", Topics: []string{"[a-"}}}}, "owners.rules[0].topics[0]"},
		{OwnersConfig{Runbooks: map[string]string{"NOPE": "https://x"}}, "owners.runbooks.NOPE: not a finding kind"},
		{OwnersConfig{Runbooks: map[string]string{"LAG_GROWING": "ftp://x"}}, "owners.runbooks.LAG_GROWING"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if err := DefaultOwnersConfig().Validate(); err != nil {
		t.Errorf("default: %v", err)
	}
}
