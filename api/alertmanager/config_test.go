package alertmanager

import (
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"go.yaml.in/yaml/v3"

	"github.com/kwitness/kwitness/detect"
)

// TestHTTPConfig: the Alertmanager client is built from Prometheus'
// http_config decoded strictly from YAML: it verifies the server with
// tls_config.ca_file and sends basic auth with the password read from
// password_file, so no secret sits in kwitness.yaml; an unknown key fails.
func TestHTTPConfig(t *testing.T) {
	var mu sync.Mutex
	var user, pass string
	var ok bool
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		user, pass, ok = r.BasicAuth()
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	pw := filepath.Join(dir, "pw")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	raw := "urls: [" + srv.URL + "]\nhttp_config:\n  tls_config:\n    ca_file: " + ca + "\n  basic_auth:\n    username: kw\n    password_file: " + pw + "\n"
	cfg := testConfig()
	dec := yaml.NewDecoder(strings.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	p := startPusher(t, cfg, metrics.NewSet())
	p.Observe(detect.Event{Type: detect.EventOpened, Finding: lagFinding("billing", 0)})
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		u, pw, got := user, pass, ok
		mu.Unlock()
		if got {
			if u != "kw" || pw != "s3cret" {
				t.Fatalf("basic auth %q/%q, want kw and the password file's content", u, pw)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no authenticated push over TLS")
		}
		time.Sleep(20 * time.Millisecond)
	}

	bad := "http_config:\n  bearer_tokn_file: x\n"
	dec = yaml.NewDecoder(strings.NewReader(bad))
	dec.KnownFields(true)
	c := DefaultConfig()
	if err := dec.Decode(&c); err == nil || !strings.Contains(err.Error(), "bearer_tokn_file") {
		t.Fatalf("unknown http_config key: %v, want an error naming it", err)
	}
}
