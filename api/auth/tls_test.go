package auth

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testPKI is a throw-away CA that issues server and client certificates.
type testPKI struct {
	ca    *x509.Certificate
	key   *ecdsa.PrivateKey
	caPEM []byte
	pool  *x509.CertPool
}

func newPKI(t *testing.T) *testPKI {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(der)
	p := &testPKI{ca: ca, key: key, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	return p
}

// issue returns PEM certificate and key for cn.
func (p *testPKI) issue(t *testing.T, cn string, serial int64, usage x509.ExtKeyUsage) (certPEM, keyPEM []byte) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, p.ca, &key.PublicKey, p.key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd})
}

func write(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestTLSListener: the HTTP listener speaks TLS with the configured
// certificate and picks up a renewed one without a restart; a verified
// client certificate with a cert_cn entry authenticates without a token;
// without either the call is 401.
func TestTLSListener(t *testing.T) {
	dir := t.TempDir()
	pki := newPKI(t)
	cfg := DefaultConfig()
	cfg.TLS = ServerTLS{CertFile: filepath.Join(dir, "cert.pem"), KeyFile: filepath.Join(dir, "key.pem"), ClientCAFile: filepath.Join(dir, "ca.pem")}
	cfg.TokensFile = filepath.Join(dir, "tokens.yaml")
	c, k := pki.issue(t, "server-1", 10, x509.ExtKeyUsageServerAuth)
	write(t, cfg.TLS.CertFile, c)
	write(t, cfg.TLS.KeyFile, k)
	write(t, cfg.TLS.ClientCAFile, pki.caPEM)
	write(t, cfg.TokensFile, []byte("tokens:\n  - name: team-c\n    cert_cn: team-c.example\n    scopes: [\"group:team-c-*\"]\n"))
	g, err := New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{TLSConfig: g.TLSConfig(), ErrorLog: log.New(io.Discard, "", 0),
		Handler: g.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, FromContext(r.Context()).Name)
		}))}
	served := make(chan struct{})
	go func() { defer close(served); srv.ServeTLS(lis, "", "") }()
	defer func() { srv.Close(); <-served }()
	url := "https://" + lis.Addr().String()

	cc, ck := pki.issue(t, "team-c.example", 20, x509.ExtKeyUsageClientAuth)
	clientCert, err := tls.X509KeyPair(cc, ck)
	if err != nil {
		t.Fatal(err)
	}
	get := func(certs ...tls.Certificate) (int, string, string) {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pki.pool, Certificates: certs}}
		defer tr.CloseIdleConnections()
		resp, err := (&http.Client{Transport: tr}).Get(url + "/v1/findings")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), resp.TLS.PeerCertificates[0].Subject.CommonName
	}
	if code, body, cn := get(clientCert); code != http.StatusOK || body != "team-c" || cn != "server-1" {
		t.Fatalf("with a client certificate: %d %q from %s, want 200 team-c from server-1", code, body, cn)
	}
	if code, _, _ := get(); code != http.StatusUnauthorized {
		t.Fatalf("without a credential: %d, want 401", code)
	}

	c, k = pki.issue(t, "server-2", 11, x509.ExtKeyUsageServerAuth)
	write(t, cfg.TLS.KeyFile, k)
	write(t, cfg.TLS.CertFile, c)
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, cn := get(clientCert)
		if cn == "server-2" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serving %s after the certificate files changed", cn)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestTokensReload: a changed tokens file is used without a restart; a
// broken one keeps the previous tokens in force.
func TestTokensReload(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tokens.yaml")
	write(t, path, []byte("tokens:\n  - name: one\n    sha256: "+hash("tok-1")+"\n    scopes: [admin]\n"))
	var reported []error
	src, err := newTokenSource(path, func(err error) { reported = append(reported, err) })
	if err != nil {
		t.Fatal(err)
	}
	if src.get().ByToken("tok-1") == nil {
		t.Fatal("tok-1 not accepted")
	}
	write(t, path, []byte("tokens:\n  - name: two\n    sha256: "+hash("tok-2")+"\n    scopes: [admin]\n"))
	src.mu.checked = time.Time{} // the next get checks the file
	if toks := src.get(); toks.ByToken("tok-2") == nil || toks.ByToken("tok-1") != nil {
		t.Fatal("the rewritten file was not used")
	}
	write(t, path, []byte("tokens: [broken"))
	src.mu.checked = time.Time{}
	if src.get().ByToken("tok-2") == nil || len(reported) != 1 {
		t.Fatalf("a broken file: reported %v; want the previous tokens kept and one report", reported)
	}
}
