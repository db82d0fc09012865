package ingest

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"

	"github.com/kwitness/kwitness/state"
)

// testCA is a throw-away certificate authority with one server certificate
// for 127.0.0.1 / localhost.
type testCA struct {
	caPEM      []byte
	serverCert tls.Certificate
}

func newTestCA(t *testing.T) testCA {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kwitness test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "broker"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return testCA{
		caPEM:      pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		serverCert: tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
	}
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// secureCluster starts kfake with opts, commits one offset for group "billing"
// through a client speaking setup, and returns the seed addresses.
func secureCluster(t *testing.T, setup []kgo.Opt, opts ...kfake.Opt) []string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(2, "orders")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(append(setup, kgo.SeedBrokers(c.ListenAddrs()...))...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	os := kadm.Offsets{}
	os.AddOffset("orders", 0, 0, -1)
	if err := kadm.NewClient(cl).CommitAllOffsets(context.Background(), "billing", os); err != nil {
		t.Fatalf("setup commit: %v", err)
	}
	return c.ListenAddrs()
}

// checkSecure builds a poller for cfg, runs CheckAuth and, when that passes,
// one sweep; it returns CheckAuth's error and the sweep's report.
func checkSecure(t *testing.T, cfg Config) (error, SweepReport) {
	t.Helper()
	w, err := state.NewWindow(state.WindowConfig{Span: time.Minute, Points: 62, Recent: 8}, cfg.Cluster)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	p, err := New(cfg, w, slog.New(slog.NewTextHandler(&logs, nil)), metrics.NewSet(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	defer func() {
		for _, secret := range []string{"s3cret", "wrong-pass"} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("a secret was logged:\n%s", logs.String())
			}
		}
	}()
	if err := p.CheckAuth(context.Background()); err != nil {
		return err, SweepReport{}
	}
	return nil, p.Sweep(context.Background(), time.Now().Truncate(time.Second))
}

func secureConfig(brokers []string) Config {
	cfg := DefaultConfig()
	cfg.Brokers = brokers
	cfg.RequestTimeout = 5 * time.Second
	return cfg
}

// TestKafkaSASL: against kfake with SASL enabled, the right password
// collects the group's offsets; a wrong one is a start-up error naming the
// broker and the mechanism and never the password.
func TestKafkaSASL(t *testing.T) {
	for _, mech := range []string{MechPlain, MechScramSHA256, MechScramSHA512} {
		t.Run(mech, func(t *testing.T) {
			setup := kgo.SASL(mustMech(t, SASLConfig{Mechanism: mech, Username: "kw", PasswordEnv: "KW_TEST_PASS"}))
			brokers := secureCluster(t, []kgo.Opt{setup}, kfake.EnableSASL(), kfake.Superuser(mech, "kw", "s3cret"))

			cfg := secureConfig(brokers)
			cfg.SASL = SASLConfig{Mechanism: mech, Username: "kw", PasswordFile: writeFile(t, "pass", "s3cret\n")}
			err, rep := checkSecure(t, cfg)
			if err != nil {
				t.Fatalf("right password: %v", err)
			}
			if !rep.Ready || rep.Groups != 1 || rep.Partitions != 1 || len(rep.Errors) > 0 {
				t.Fatalf("right password: sweep %+v, want group billing's one partition collected", rep)
			}

			cfg.SASL.PasswordFile = writeFile(t, "pass", "wrong-pass\n")
			err, _ = checkSecure(t, cfg)
			if err == nil {
				t.Fatal("wrong password: CheckAuth passed")
			}
			for _, want := range []string{brokers[0], mech, `"kw"`} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("wrong password error %q does not name %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "wrong-pass") {
				t.Errorf("error %q contains the password", err)
			}
		})
	}
}

func mustMech(t *testing.T, c SASLConfig) sasl.Mechanism {
	t.Helper()
	t.Setenv("KW_TEST_PASS", "s3cret")
	m, err := c.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestKafkaTLS: against kfake speaking TLS, a client trusting the CA
// collects; one trusting only the system roots fails at start-up naming the
// broker and TLS.
func TestKafkaTLS(t *testing.T) {
	ca := newTestCA(t)
	server := &tls.Config{Certificates: []tls.Certificate{ca.serverCert}, MinVersion: tls.VersionTLS12}
	caFile := writeFile(t, "ca.pem", string(ca.caPEM))
	setupTLS, err := TLSConfig{Enabled: true, CAFile: caFile}.load()
	if err != nil {
		t.Fatal(err)
	}
	brokers := secureCluster(t, []kgo.Opt{kgo.DialTLSConfig(setupTLS)}, kfake.TLS(server))

	cfg := secureConfig(brokers)
	cfg.TLS = TLSConfig{Enabled: true, CAFile: caFile}
	err, rep := checkSecure(t, cfg)
	if err != nil {
		t.Fatalf("trusted CA: %v", err)
	}
	if !rep.Ready || rep.Partitions != 1 {
		t.Fatalf("trusted CA: sweep %+v, want one partition collected", rep)
	}

	cfg.TLS = TLSConfig{Enabled: true}
	err, _ = checkSecure(t, cfg)
	if err == nil || !strings.Contains(err.Error(), brokers[0]) || !strings.Contains(err.Error(), "TLS") {
		t.Fatalf("untrusted CA: error %v, want one naming %s and TLS", err, brokers[0])
	}
}

// TestOAuthTokenReread: the OAUTHBEARER token is read from its file at each
// authentication, so a rotated token is sent by the next connection.
func TestOAuthTokenReread(t *testing.T) {
	file := writeFile(t, "token", "tok-one\n")
	m, err := SASLConfig{Mechanism: MechOAuthBearer, TokenFile: file}.mechanism()
	if err != nil {
		t.Fatal(err)
	}
	first := func() string {
		_, msg, err := m.Authenticate(context.Background(), "broker:9092")
		if err != nil {
			t.Fatal(err)
		}
		return string(msg)
	}
	if got := first(); !strings.Contains(got, "auth=Bearer tok-one") {
		t.Fatalf("first message %q, want tok-one", got)
	}
	if err := os.WriteFile(file, []byte("tok-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := first(); !strings.Contains(got, "auth=Bearer tok-two") {
		t.Fatalf("after rotation %q, want tok-two", got)
	}
	os.Remove(file)
	if _, _, err := m.Authenticate(context.Background(), "b"); err == nil || !strings.Contains(err.Error(), "token_file") {
		t.Fatalf("missing file: %v, want an error naming token_file", err)
	}
}

// TestSecurityValidate: misconfigured TLS and SASL name their keys.
func TestSecurityValidate(t *testing.T) {
	f := func(c Config, want string) {
		t.Helper()
		err := c.Validate()
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("Validate() = %v, want %q", err, want)
		}
	}
	base := secureConfig([]string{"b:9092"})
	c := base
	c.SASL = SASLConfig{Mechanism: "GSSAPI"}
	f(c, "kafka.sasl.mechanism")
	c.SASL = SASLConfig{Mechanism: MechScramSHA256, Username: "u"}
	f(c, "kafka.sasl.password_file or kafka.sasl.password_env")
	c.SASL = SASLConfig{Mechanism: MechScramSHA256, Username: "u", PasswordFile: "a", PasswordEnv: "B"}
	f(c, "exactly one")
	c.SASL = SASLConfig{Mechanism: MechPlain, PasswordEnv: "B"}
	f(c, "kafka.sasl.username")
	c.SASL = SASLConfig{Mechanism: MechOAuthBearer, TokenEnv: "T"}
	f(c, "")
	c.SASL = SASLConfig{Username: "u"}
	f(c, "kafka.sasl.mechanism: required")
	c = base
	c.TLS = TLSConfig{CAFile: "x"}
	f(c, "kafka.tls.enabled")
	c.TLS = TLSConfig{Enabled: true, CertFile: "x"}
	f(c, "kafka.tls.cert_file and kafka.tls.key_file")
}
