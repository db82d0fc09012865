package auth

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// Config is the API's security: listener TLS, identities, audit and limits.
// It is the api section's part beside the listen addresses.
type Config struct {
	// TokensFile is the YAML file of identities (TokenFile), for bearer
	// tokens and client certificates alike; "" turns authentication off.
	TokensFile string      `yaml:"tokens_file"`
	TLS        ServerTLS   `yaml:"tls"`
	Audit      AuditConfig `yaml:"audit"`
	Limits     Limits      `yaml:"limits"`
	// Insecure allows listening on a non-loopback address without TLS and
	// authentication (a warning is logged at each start).
	Insecure bool `yaml:"insecure"`
}

// ServerTLS is the listeners' TLS. Certificate and key are re-read when
// either file changes, so a renewed certificate needs no restart.
type ServerTLS struct {
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ClientCAFile, if set, verifies client certificates signed by it; a
	// verified certificate whose common name has a cert_cn entry in the
	// tokens file authenticates without a bearer token.
	ClientCAFile string `yaml:"client_ca_file"`
}

// Limits bounds what one request may ask for. A zero field takes its
// default.
type Limits struct {
	MaxBodyBytes     int64         `yaml:"max_body_bytes"`     // HTTP request body; default 1 MiB
	MaxFilterBytes   int           `yaml:"max_filter_bytes"`   // one filter value or series reference; default 1024
	WatchesPerCaller int           `yaml:"watches_per_caller"` // open streams per token name (all callers when auth is off); default 64
	MaxSeriesSpan    time.Duration `yaml:"max_series_span"`    // one QuerySeries window; default 31 days
}

// DefaultConfig returns the defaults documented on Config and Limits.
func DefaultConfig() Config {
	return Config{
		Audit:  DefaultAuditConfig(),
		Limits: Limits{MaxBodyBytes: 1 << 20, MaxFilterBytes: 1024, WatchesPerCaller: 64, MaxSeriesSpan: 31 * 24 * time.Hour},
	}
}

// WithDefaults returns l with zero fields set to their defaults.
func (l Limits) WithDefaults() Limits {
	d := DefaultConfig().Limits
	if l.MaxBodyBytes == 0 {
		l.MaxBodyBytes = d.MaxBodyBytes
	}
	if l.MaxFilterBytes == 0 {
		l.MaxFilterBytes = d.MaxFilterBytes
	}
	if l.WatchesPerCaller == 0 {
		l.WatchesPerCaller = d.WatchesPerCaller
	}
	if l.MaxSeriesSpan == 0 {
		l.MaxSeriesSpan = d.MaxSeriesSpan
	}
	return l
}

// withDefaults returns c with zero limits and audit sizes set to their
// defaults.
func (c Config) withDefaults() Config {
	c.Limits = c.Limits.WithDefaults()
	if c.Audit.MaxSizeMB == 0 {
		c.Audit.MaxSizeMB = DefaultAuditConfig().MaxSizeMB
	}
	return c
}

// Enabled reports whether callers must authenticate.
func (c Config) Enabled() bool { return c.TokensFile != "" }

// TLSEnabled reports whether the listeners speak TLS.
func (c Config) TLSEnabled() bool { return c.TLS.CertFile != "" }

// Validate reports every invalid field by its YAML key under "api".
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		errs = append(errs, errors.New("api.tls.cert_file and api.tls.key_file: both or neither"))
	}
	if c.TLS.ClientCAFile != "" && (c.TLS.CertFile == "" || c.TokensFile == "") {
		errs = append(errs, errors.New("api.tls.client_ca_file: needs api.tls.cert_file, key_file and api.tokens_file (whose cert_cn entries give certificates their scopes)"))
	}
	if c.Limits.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("api.limits.max_body_bytes: must be ≥ 1024, got %d", c.Limits.MaxBodyBytes))
	}
	if c.Limits.MaxFilterBytes < 64 {
		errs = append(errs, fmt.Errorf("api.limits.max_filter_bytes: must be ≥ 64, got %d", c.Limits.MaxFilterBytes))
	}
	if c.Limits.WatchesPerCaller < 1 {
		errs = append(errs, fmt.Errorf("api.limits.watches_per_caller: must be ≥ 1, got %d", c.Limits.WatchesPerCaller))
	}
	if c.Limits.MaxSeriesSpan < time.Minute {
		errs = append(errs, fmt.Errorf("api.limits.max_series_span: must be ≥ 1m, got %s", c.Limits.MaxSeriesSpan))
	}
	errs = append(errs, c.Audit.Validate())
	return errors.Join(errs...)
}

// CheckListen enforces the listener rule: an address that is not loopback
// needs TLS and authentication, unless Insecure is set. flag names the
// command-line switch that sets Insecure, for the message.
func (c Config) CheckListen(flag string, addrs ...string) error {
	if c.Insecure || c.TLSEnabled() && c.Enabled() {
		return nil
	}
	for _, a := range addrs {
		if !Loopback(a) {
			return fmt.Errorf("api: refusing to listen on %s without TLS and authentication: set api.tls.cert_file/key_file and api.tokens_file, listen on 127.0.0.1, or pass %s to accept an open API", a, flag)
		}
	}
	return nil
}

// Loopback reports whether a listen address binds only loopback interfaces.
// An empty host or an unspecified address (0.0.0.0, ::) binds all of them.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}
