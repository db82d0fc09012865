package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/kwitness/kwitness/ingest"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 (its own CA)
// and its key into dir and returns the paths and a pool trusting it.
func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kwitness"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600)
	c, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(c)
	return certFile, keyFile, pool
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSecureSidecar: kwitness against a SCRAM-only kfake with TLS and
// tokens on its listeners. A wrong password stops start-up naming broker
// and mechanism; the right one starts, and both listeners speak TLS and
// answer only a known token (/readyz stays open).
func TestSecureSidecar(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.EnableSASL(), kfake.Superuser(ingest.MechScramSHA256, "kw", "s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	const token = "team-token-0123456789"
	sum := sha256.Sum256([]byte(token))
	tokens := filepath.Join(dir, "tokens.yaml")
	os.WriteFile(tokens, []byte("tokens:\n  - name: ops\n    sha256: "+hex.EncodeToString(sum[:])+"\n    scopes: [admin]\n"), 0o600)
	pw := filepath.Join(dir, "pw")

	cfg := DefaultConfig()
	cfg.DataDir = ""
	cfg.Kafka.Cluster, cfg.Kafka.Brokers = "sec", c.ListenAddrs()
	cfg.Kafka.SASL = ingest.SASLConfig{Mechanism: ingest.MechScramSHA256, Username: "kw", PasswordFile: pw}
	cfg.API.GRPCListen, cfg.API.HTTPListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.API.TokensFile, cfg.API.TLS.CertFile, cfg.API.TLS.KeyFile = tokens, certFile, keyFile
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	os.WriteFile(pw, []byte("wrong"), 0o600)
	if _, err := startSidecar(t.Context(), cfg, log, nil); err == nil || !strings.Contains(err.Error(), c.ListenAddrs()[0]) || !strings.Contains(err.Error(), "SCRAM-SHA-256") {
		t.Fatalf("wrong password: %v, want a start-up error naming the broker and SCRAM-SHA-256", err)
	}
	os.WriteFile(pw, []byte("s3cret"), 0o600)
	s, err := startSidecar(t.Context(), cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	get := func(path, tok string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", "https://"+s.HTTPAddr+path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := get("/v1/findings", token); code != http.StatusOK {
		t.Errorf("REST with the token: %d", code)
	}
	if code := get("/v1/findings", ""); code != http.StatusUnauthorized {
		t.Errorf("REST without a token: %d, want 401", code)
	}
	if code := get("/readyz", ""); code == http.StatusUnauthorized {
		t.Errorf("/readyz: 401, want open")
	}
	conn, err := grpc.NewClient(s.GRPCAddr, grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{RootCAs: pool})))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cl := pb.NewFindingsServiceClient(conn)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "authorization", "Bearer "+token)
	if _, err := cl.ListFindings(ctx, &pb.ListFindingsRequest{}); err != nil {
		t.Errorf("gRPC over TLS with the token: %v", err)
	}
	if _, err := cl.ListFindings(t.Context(), &pb.ListFindingsRequest{}); status.Code(err) != codes.Unauthenticated {
		t.Errorf("gRPC without a token: %v, want Unauthenticated", err)
	}
	// The findings command speaks TLS with the CA and sends the token from
	// its file.
	caFile := filepath.Join(dir, "ca.pem")
	os.WriteFile(caFile, mustRead(t, certFile), 0o600)
	tokFile := filepath.Join(dir, "token")
	os.WriteFile(tokFile, []byte(token+"\n"), 0o600)
	var out bytes.Buffer
	if err := cmdFindings(t.Context(), []string{"--addr", s.GRPCAddr, "--ca-file", caFile, "--token-file", tokFile}, &out); err != nil || !strings.Contains(out.String(), "no findings") {
		t.Errorf("kwitness findings over TLS with a token: %v %q", err, out.String())
	}
	if err := cmdFindings(t.Context(), []string{"--addr", s.GRPCAddr, "--ca-file", caFile}, &out); status.Code(errors.Unwrap(err)) != codes.Unauthenticated {
		t.Errorf("kwitness findings without a token: %v, want Unauthenticated", err)
	}
	for _, secret := range []string{"s3cret", token} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("a secret was logged:\n%s", logs.String())
		}
	}
}
