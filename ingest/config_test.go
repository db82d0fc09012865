package ingest

import (
	"strings"
	"testing"
	"time"
)

func TestFilterMatch(t *testing.T) {
	f := func(n int, flt Filter, name string, want bool) {
		t.Helper()
		m, err := flt.compile("k")
		if err != nil {
			t.Fatalf("%d: %v", n, err)
		}
		if got := m.match(name); got != want {
			t.Errorf("%d: match(%q) = %v, want %v", n, name, got, want)
		}
	}
	f(1, Filter{}, "anything", true)                                                        // empty filter matches all
	f(2, Filter{Include: []string{"pay.*"}}, "payments", true)                              //
	f(3, Filter{Include: []string{"pay"}}, "payments", false)                               // whole-name match, not substring
	f(4, Filter{Include: []string{"pay.*"}, Exclude: []string{".*-dlq"}}, "pay-dlq", false) // exclude wins
	f(5, Filter{Exclude: []string{"__.*"}}, "__consumer_offsets", false)                    //
	f(6, Filter{Include: []string{"a|b"}}, "b", true)                                       // alternation is grouped
	f(7, Filter{Include: []string{"a|b"}}, "ab", false)                                     //
}

func TestConfigValidate(t *testing.T) {
	ok := DefaultConfig()
	ok.Brokers = []string{"localhost:9092"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("defaults with brokers: %v", err)
	}
	f := func(n int, mut func(*Config), wantKey string) {
		t.Helper()
		c := ok
		mut(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), wantKey) {
			t.Errorf("%d: error %v, want one naming %s", n, err, wantKey)
		}
	}
	f(1, func(c *Config) { c.Brokers = nil }, "kafka.brokers")
	f(2, func(c *Config) { c.PollInterval = 10 * time.Millisecond }, "kafka.poll_interval")
	f(3, func(c *Config) { c.Groups.Include = []string{"("} }, "kafka.groups.include[0]")
	f(4, func(c *Config) { c.Topics.Exclude = []string{"ok", "[z-a]"} }, "kafka.topics.exclude[1]")
	f(5, func(c *Config) { c.DescribeEvery = 0 }, "kafka.describe_every")
	f(6, func(c *Config) { c.Cluster = "" }, "kafka.cluster")
	f(7, func(c *Config) { c.MaxBackoff = time.Millisecond }, "kafka.max_backoff")
}
