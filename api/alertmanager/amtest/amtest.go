// Package amtest runs a real Prometheus Alertmanager and a webhook receiver
// for tests. Only tests import it.
package amtest

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Binary is where Debian's prometheus-alertmanager installs Alertmanager.
const Binary = "/usr/bin/prometheus-alertmanager"

// Webhook is a receiver of Alertmanager Notifications (payload version 4).
type Webhook struct {
	URL string // where Alertmanager posts
	C   chan Notification
	srv *httptest.Server
}

// Notification is the webhook payload (version 4), the parts tests check.
type Notification struct {
	Status string `json:"status"`
	Alerts []struct {
		Status       string            `json:"status"`
		Labels       map[string]string `json:"labels"`
		Annotations  map[string]string `json:"annotations"`
		StartsAt     time.Time         `json:"startsAt"`
		EndsAt       time.Time         `json:"endsAt"`
		GeneratorURL string            `json:"generatorURL"`
	} `json:"alerts"`
}

// NewWebhook starts a receiver closed when the test ends.
func NewWebhook(t testing.TB) *Webhook {
	t.Helper()
	w := &Webhook{C: make(chan Notification, 100)}
	w.srv = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		var n Notification
		if err := json.NewDecoder(r.Body).Decode(&n); err != nil {
			t.Errorf("webhook: %v", err)
		}
		select {
		case w.C <- n:
		default:
		}
	}))
	w.URL = w.srv.URL
	t.Cleanup(w.srv.Close)
	return w
}

// Wait returns the first Notification with status, failing after d.
func (w *Webhook) Wait(t testing.TB, status string, d time.Duration) Notification {
	t.Helper()
	deadline := time.After(d)
	for {
		select {
		case n := <-w.C:
			if n.Status == status {
				return n
			}
		case <-deadline:
			t.Fatalf("webhook: no %s Notification within %s", status, d)
		}
	}
}

// Alertmanager is a real Alertmanager process on a loopback port.
type Alertmanager struct {
	t    testing.TB
	dir  string
	addr string
	cmd  *exec.Cmd
	done chan struct{}
}

// RequireEnv names the environment variable that, set to 1 (as .ci/run
// does), turns a missing Alertmanager binary from a skip into a failure.
const RequireEnv = "KWITNESS_REQUIRE_ALERTMANAGER"

// New prepares (but does not start) an Alertmanager whose only
// receiver is hook. When the binary is not installed it skips the test, or
// fails it if RequireEnv is 1.
func New(t testing.TB, hook string) *Alertmanager {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		if os.Getenv(RequireEnv) == "1" {
			t.Fatalf("%s not installed and %s=1: %v", Binary, RequireEnv, err)
		}
		t.Skipf("%s not installed (Debian package prometheus-alertmanager; CI installs it): %v", Binary, err)
	}
	am := &Alertmanager{t: t, dir: t.TempDir(), addr: freeAddr(t)}
	cfg := fmt.Sprintf(`global:
  resolve_timeout: 1m
route:
  receiver: hook
  group_by: [alertname, group]
  group_wait: 100ms
  group_interval: 200ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook)
	if err := os.WriteFile(filepath.Join(am.dir, "am.yml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(am.Stop)
	return am
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// URL is the base URL.
func (am *Alertmanager) URL() string { return "http://" + am.addr }

// Start runs the process and waits for /-/ready.
func (am *Alertmanager) Start() {
	t := am.t
	t.Helper()
	am.cmd = exec.Command(Binary,
		"--config.file="+filepath.Join(am.dir, "am.yml"),
		"--storage.path="+filepath.Join(am.dir, "data"),
		"--web.listen-address="+am.addr,
		"--cluster.listen-address=",
		"--log.level=warn")
	am.cmd.Stdout, am.cmd.Stderr = io.Discard, os.Stderr
	if err := am.cmd.Start(); err != nil {
		t.Fatalf("start alertmanager: %v", err)
	}
	am.done = make(chan struct{})
	go func() { am.cmd.Wait(); close(am.done) }()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(am.URL() + "/-/ready"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		select {
		case <-am.done:
			t.Fatal("alertmanager exited before ready")
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.Fatal("alertmanager not ready within 20s")
}

// Stop kills the process and waits for it. Safe to call twice.
func (am *Alertmanager) Stop() {
	if am.cmd == nil {
		return
	}
	am.cmd.Process.Kill()
	<-am.done
	am.cmd = nil
}

// Alerts returns GET /api/v2/alerts.
func (am *Alertmanager) Alerts() []map[string]any {
	am.t.Helper()
	resp, err := http.Get(am.URL() + "/api/v2/alerts")
	if err != nil {
		am.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		am.t.Fatal(err)
	}
	return out
}
