package alertmanager

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/prometheus/common/config"

	"github.com/kwitness/kwitness/detect"
)

// Config is the `alertmanager:` section of kwitness.yaml. An empty URLs list
// disables pushing.
type Config struct {
	// URLs are the base URLs of every Alertmanager of the HA cluster, e.g.
	// http://am-0:9093. Each receives every alert (never a load balancer).
	URLs []string `yaml:"urls"`
	// ResendInterval is how often every active alert is re-sent; firing
	// alerts carry endsAt = now + 4 × ResendInterval. Default 1m, as
	// Prometheus' --rules.alert.resend-delay.
	ResendInterval time.Duration `yaml:"resend_interval"`
	// ResolvedResendFor is how long a resolved alert keeps being re-sent, in
	// case an Alertmanager restarted. Default 15m (Prometheus' value).
	ResolvedResendFor time.Duration `yaml:"resolved_resend_for"`
	// MinSeverity is the least severe finding pushed: info, warning or
	// critical. Default warning.
	MinSeverity string `yaml:"min_severity"`
	// ExternalURL is kwitness' own base URL, used for generatorURL
	// (ExternalURL + "/findings/" + id, the finding's page). Optional.
	ExternalURL string `yaml:"external_url"`
	// RunbookURL is a template for runbook_url: "{kind}" is replaced by the
	// finding kind, e.g. https://runbooks.example/kafka/{kind}. Optional.
	RunbookURL string `yaml:"runbook_url"`
	// HTTP is how kwitness reaches every Alertmanager: TLS (tls_config:
	// ca_file, cert_file, key_file, server_name), basic_auth (password_file),
	// authorization (credentials_file) or bearer_token_file, oauth2,
	// proxy_url — Prometheus' own http_config, so secrets are read from
	// files and the keys are those of prometheus.yml.
	HTTP config.HTTPClientConfig `yaml:"http_config"`
	// QueueSize bounds the alerts waiting per Alertmanager; when full, new
	// alerts are dropped and counted (the next resend repairs it). Default 10000.
	QueueSize int `yaml:"queue_size"`
	// Timeout bounds one POST. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults; URLs is empty (pushing disabled).
func DefaultConfig() Config {
	return Config{
		ResendInterval:    time.Minute,
		ResolvedResendFor: 15 * time.Minute,
		MinSeverity:       "warning",
		QueueSize:         10000,
		Timeout:           10 * time.Second,
		HTTP:              config.DefaultHTTPClientConfig,
	}
}

// Enabled reports whether any Alertmanager is configured.
func (c Config) Enabled() bool { return len(c.URLs) > 0 }

// Validate checks every field, naming its YAML key.
func (c Config) Validate() error {
	var errs []error
	for i, u := range c.URLs {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, fmt.Errorf("alertmanager.urls[%d]: %q is not an http(s) URL", i, u))
		}
	}
	if c.ResendInterval <= 0 {
		errs = append(errs, fmt.Errorf("alertmanager.resend_interval: must be positive, got %s", c.ResendInterval))
	}
	if c.ResolvedResendFor < 0 {
		errs = append(errs, fmt.Errorf("alertmanager.resolved_resend_for: must be ≥ 0, got %s", c.ResolvedResendFor))
	}
	if _, err := detect.ParseSeverity(c.MinSeverity); err != nil {
		errs = append(errs, fmt.Errorf("alertmanager.min_severity: %w", err))
	}
	if c.ExternalURL != "" {
		if p, err := url.Parse(c.ExternalURL); err != nil || p.Scheme == "" || p.Host == "" {
			errs = append(errs, fmt.Errorf("alertmanager.external_url: %q is not an absolute URL", c.ExternalURL))
		}
	}
	if err := c.HTTP.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("alertmanager.http_config: %w", err))
	}
	if c.QueueSize <= 0 {
		errs = append(errs, fmt.Errorf("alertmanager.queue_size: must be positive, got %d", c.QueueSize))
	}
	if c.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("alertmanager.timeout: must be positive, got %s", c.Timeout))
	}
	return errors.Join(errs...)
}

// httpClient builds the client shared by every target from the
// http_config; credential files are re-read as Prometheus does.
func (c Config) httpClient() (*http.Client, error) {
	cl, err := config.NewClientFromConfig(c.HTTP, "alertmanager")
	if err != nil {
		return nil, fmt.Errorf("alertmanager.http_config: %w", err)
	}
	cl.Timeout = c.Timeout
	return cl, nil
}
