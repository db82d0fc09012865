package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/oauth"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"
)

// TLSConfig is how kwitness's Kafka client speaks TLS. Files are PEM.
type TLSConfig struct {
	Enabled    bool   `yaml:"enabled"`
	CAFile     string `yaml:"ca_file"`     // "" trusts the system roots
	CertFile   string `yaml:"cert_file"`   // client certificate, with key_file
	KeyFile    string `yaml:"key_file"`    // client key, with cert_file
	ServerName string `yaml:"server_name"` // "" verifies each broker's host name
}

// SASL mechanisms kwitness can authenticate with (KIP-43, KIP-84, KIP-255).
const (
	MechPlain       = "PLAIN"
	MechScramSHA256 = "SCRAM-SHA-256"
	MechScramSHA512 = "SCRAM-SHA-512"
	MechOAuthBearer = "OAUTHBEARER"
)

// SASLConfig is how kwitness's Kafka client authenticates. Secrets never sit
// in the configuration or on the command line: the password (PLAIN, SCRAM)
// and the token (OAUTHBEARER) come from a file or an environment variable,
// read at every authentication, so a rotated file is used by the next
// connection. Secrets are never logged.
type SASLConfig struct {
	Mechanism    string `yaml:"mechanism"`     // "" (none), PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, OAUTHBEARER
	Username     string `yaml:"username"`      // PLAIN and SCRAM
	PasswordFile string `yaml:"password_file"` // PLAIN and SCRAM: file holding the password
	PasswordEnv  string `yaml:"password_env"`  // or: environment variable holding it
	TokenFile    string `yaml:"token_file"`    // OAUTHBEARER: file holding the bearer token
	TokenEnv     string `yaml:"token_env"`     // or: environment variable holding it
}

// Validate reports every invalid field by its YAML key under prefix (e.g.
// "kafka.sasl").
func (c SASLConfig) Validate(prefix string) error {
	var errs []error
	secretFile, secretEnv, what := c.PasswordFile, c.PasswordEnv, "password"
	switch c.Mechanism {
	case "":
		if c.Username != "" || c.PasswordFile != "" || c.PasswordEnv != "" || c.TokenFile != "" || c.TokenEnv != "" {
			errs = append(errs, fmt.Errorf("%s.mechanism: required when credentials are set (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER)", prefix))
		}
		return errors.Join(errs...)
	case MechPlain, MechScramSHA256, MechScramSHA512:
		if c.Username == "" {
			errs = append(errs, fmt.Errorf("%s.username: required for %s", prefix, c.Mechanism))
		}
		if c.TokenFile != "" || c.TokenEnv != "" {
			errs = append(errs, fmt.Errorf("%s.token_file and token_env: only for OAUTHBEARER, not %s", prefix, c.Mechanism))
		}
	case MechOAuthBearer:
		secretFile, secretEnv, what = c.TokenFile, c.TokenEnv, "token"
		if c.PasswordFile != "" || c.PasswordEnv != "" {
			errs = append(errs, fmt.Errorf("%s.password_file and password_env: not used by OAUTHBEARER (use token_file or token_env)", prefix))
		}
	default:
		return fmt.Errorf("%s.mechanism: %q is not PLAIN, SCRAM-SHA-256, SCRAM-SHA-512 or OAUTHBEARER", prefix, c.Mechanism)
	}
	if (secretFile == "") == (secretEnv == "") {
		errs = append(errs, fmt.Errorf("%s.%s_file or %s.%s_env: exactly one is required for %s", prefix, what, prefix, what, c.Mechanism))
	}
	return errors.Join(errs...)
}

// Validate reports every invalid field by its YAML key under prefix.
func (c TLSConfig) Validate(prefix string) error {
	if !c.Enabled && (c.CAFile != "" || c.CertFile != "" || c.KeyFile != "" || c.ServerName != "") {
		return fmt.Errorf("%s.enabled: files or server_name are set but TLS is not enabled", prefix)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return fmt.Errorf("%s.cert_file and %s.key_file: both or neither", prefix, prefix)
	}
	return nil
}

// clientOpts returns the client options for TLS and SASL; it reads the CA
// and client certificate now and checks that the secret can be read.
func (c Config) clientOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	if c.TLS.Enabled {
		tc, err := c.TLS.load()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		m, err := c.SASL.mechanism()
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func (c TLSConfig) load() (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.ServerName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.ca_file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("kafka.tls.ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	if c.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("kafka.tls.cert_file/key_file: %w", err)
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
}

// mechanism builds the SASL mechanism; its secret is read at every
// authentication.
func (c SASLConfig) mechanism() (sasl.Mechanism, error) {
	secret := c.password
	if c.Mechanism == MechOAuthBearer {
		secret = c.token
	}
	if _, err := secret(); err != nil { // fail at start-up, not at the first connection
		return nil, err
	}
	switch c.Mechanism {
	case MechPlain:
		return plain.Plain(func(context.Context) (plain.Auth, error) {
			p, err := secret()
			return plain.Auth{User: c.Username, Pass: p}, err
		}), nil
	case MechScramSHA256, MechScramSHA512:
		fn := func(context.Context) (scram.Auth, error) {
			p, err := secret()
			return scram.Auth{User: c.Username, Pass: p}, err
		}
		if c.Mechanism == MechScramSHA256 {
			return scram.Sha256(fn), nil
		}
		return scram.Sha512(fn), nil
	case MechOAuthBearer:
		return oauth.Oauth(func(context.Context) (oauth.Auth, error) {
			t, err := secret()
			return oauth.Auth{Token: t}, err
		}), nil
	}
	return nil, fmt.Errorf("kafka.sasl.mechanism: %q is not supported", c.Mechanism)
}

func (c SASLConfig) password() (string, error) {
	return readSecret("kafka.sasl.password", c.PasswordFile, c.PasswordEnv)
}

func (c SASLConfig) token() (string, error) {
	return readSecret("kafka.sasl.token", c.TokenFile, c.TokenEnv)
}

// readSecret reads a secret from file (one trailing newline dropped) or from
// the environment variable env. Errors name the file or variable, never the
// secret.
func readSecret(key, file, env string) (string, error) {
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok || v == "" {
			return "", fmt.Errorf("%s_env: environment variable %s is unset or empty", key, env)
		}
		return v, nil
	}
	raw, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s_file: %w", key, err)
	}
	v := strings.TrimSuffix(strings.TrimSuffix(string(raw), "\n"), "\r")
	if v == "" {
		return "", fmt.Errorf("%s_file %s: empty", key, file)
	}
	return v, nil
}

// CheckAuth connects to the seed brokers one at a time until one answers. An
// authentication failure (SASL or TLS) is returned as an error naming the
// broker and the mechanism, so a wrong password stops kwitness at start-up
// instead of leaving it sweeping gaps. Brokers that are only unreachable are
// not an error here: ingest records gaps until they come up.
func (p *Poller) CheckAuth(ctx context.Context) error {
	if !p.cfg.TLS.Enabled && p.cfg.SASL.Mechanism == "" {
		return nil
	}
	for _, seed := range p.cfg.Brokers {
		err := p.pingSeed(ctx, seed)
		if p.closedDuringSASL(err) {
			err = p.pingSeed(ctx, seed) // once more: a broker restarting also closes connections
		}
		if err == nil {
			return nil
		}
		if p.closedDuringSASL(err) {
			err = fmt.Errorf("the broker closed the connection during authentication (wrong credentials, or a mechanism it does not enable): %w", err)
		}
		if isAuth(err) || isTLS(err) || p.closedDuringSASL(err) {
			return fmt.Errorf("kafka: authenticate to broker %s with %s: %w", seed, p.cfg.authName(), err)
		}
		p.log.Warn("kafka: seed broker did not answer at start-up", "broker", seed, "err", err)
	}
	return nil
}

func (p *Poller) pingSeed(ctx context.Context, seed string) error {
	opts, err := p.cfg.clientOpts()
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(opts, kgo.SeedBrokers(seed), kgo.ClientID(p.cfg.ClientID), kgo.RetryTimeout(time.Second))...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	return cl.Ping(ctx)
}

// closedDuringSASL reports whether err is the connection closing before any
// response with SASL configured: brokers that reject credentials without an
// error code (and clients of a SASL listener without SASL) see this.
func (p *Poller) closedDuringSASL(err error) bool {
	var first *kgo.ErrFirstReadEOF
	return p.cfg.SASL.Mechanism != "" && (errors.Is(err, io.EOF) || errors.As(err, &first))
}

// authName names how kwitness authenticates, e.g. "SASL SCRAM-SHA-256 over TLS".
func (c Config) authName() string {
	var parts []string
	if c.SASL.Mechanism != "" {
		m := "SASL " + c.SASL.Mechanism
		if c.SASL.Username != "" {
			m += fmt.Sprintf(" as user %q", c.SASL.Username)
		}
		parts = append(parts, m)
	}
	if c.TLS.Enabled {
		parts = append(parts, "TLS")
	}
	return strings.Join(parts, " over ")
}

func isTLS(err error) bool {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	var ce x509.CertificateInvalidError
	var re *tls.RecordHeaderError
	var ae tls.AlertError
	return errors.As(err, &ue) || errors.As(err, &he) || errors.As(err, &ce) || errors.As(err, &re) || errors.As(err, &ae)
}
