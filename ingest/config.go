// Package ingest polls a Kafka cluster for consumer-group and log offsets and
// writes each sweep into the detectors' window (state.Window).
//
// One Poller owns one franz-go client and sends only read requests:
// ListGroups, DescribeGroups, OffsetFetch (all groups in one request that the
// client splits per coordinator), ListOffsets (batched per partition leader), and the
// Metadata requests the client makes on its own. It never produces, commits,
// creates, deletes or alters anything.
//
// Sweeps never overlap: a sweep that overruns its interval is counted and the
// next one starts at once. Every sample of a sweep carries the sweep's one
// timestamp, snapped to the tick. A failed request leaves explicit gaps for
// the series behind it — never zeros — and the rest of the sweep is published.
package ingest

import (
	"errors"
	"fmt"
	"regexp"
	"time"
)

// Config configures a Poller. Start from DefaultConfig.
type Config struct {
	Cluster        string        `yaml:"cluster"`         // name used in series labels and findings
	Brokers        []string      `yaml:"brokers"`         // seed brokers, host:port
	ClientID       string        `yaml:"client_id"`       // default "kwitness"
	PollInterval   time.Duration `yaml:"poll_interval"`   // default 1s
	DescribeEvery  int           `yaml:"describe_every"`  // describe groups every N sweeps; default 10
	RequestTimeout time.Duration `yaml:"request_timeout"` // per sweep; default 10s
	MaxBackoff     time.Duration `yaml:"max_backoff"`     // longest wait after failed sweeps; default 30s
	Groups         Filter        `yaml:"groups"`
	Topics         Filter        `yaml:"topics"`
	TLS            TLSConfig     `yaml:"tls"`
	SASL           SASLConfig    `yaml:"sasl"`
}

// Filter selects names by regular expressions, each matched against the whole
// name. An empty Include matches everything; Exclude wins over Include.
type Filter struct {
	Include []string `yaml:"include"`
	Exclude []string `yaml:"exclude"`
}

// DefaultConfig returns the defaults documented on Config.
func DefaultConfig() Config {
	return Config{
		Cluster:        "default",
		ClientID:       "kwitness",
		PollInterval:   time.Second,
		DescribeEvery:  10,
		RequestTimeout: 10 * time.Second,
		MaxBackoff:     30 * time.Second,
	}
}

// Validate reports every invalid field by its YAML key.
func (c Config) Validate() error {
	var errs []error
	if c.Cluster == "" {
		errs = append(errs, errors.New("kafka.cluster: must not be empty"))
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: at least one host:port is required"))
	}
	if c.PollInterval < 100*time.Millisecond {
		errs = append(errs, fmt.Errorf("kafka.poll_interval: must be ≥ 100ms, got %s", c.PollInterval))
	}
	if c.DescribeEvery < 1 {
		errs = append(errs, fmt.Errorf("kafka.describe_every: must be ≥ 1 sweep, got %d", c.DescribeEvery))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("kafka.request_timeout: must be positive, got %s", c.RequestTimeout))
	}
	if c.MaxBackoff < c.PollInterval {
		errs = append(errs, fmt.Errorf("kafka.max_backoff: must be ≥ poll_interval, got %s", c.MaxBackoff))
	}
	errs = append(errs, c.TLS.Validate("kafka.tls"), c.SASL.Validate("kafka.sasl"))
	if _, err := c.Groups.compile("kafka.groups"); err != nil {
		errs = append(errs, err)
	}
	if _, err := c.Topics.compile("kafka.topics"); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// matcher is a compiled Filter.
type matcher struct {
	include, exclude []*regexp.Regexp
}

func (f Filter) compile(key string) (matcher, error) {
	var m matcher
	var errs []error
	add := func(dst *[]*regexp.Regexp, sub string, exprs []string) {
		for i, e := range exprs {
			re, err := regexp.Compile("^(?:" + e + ")$")
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.%s[%d]: bad regular expression %q: %w", key, sub, i, e, err))
				continue
			}
			*dst = append(*dst, re)
		}
	}
	add(&m.include, "include", f.Include)
	add(&m.exclude, "exclude", f.Exclude)
	return m, errors.Join(errs...)
}

// match reports whether name passes the filter.
func (m matcher) match(name string) bool {
	for _, re := range m.exclude {
		if re.MatchString(name) {
			return false
		}
	}
	if len(m.include) == 0 {
		return true
	}
	for _, re := range m.include {
		if re.MatchString(name) {
			return true
		}
	}
	return false
}
