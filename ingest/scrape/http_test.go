package scrape

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestScrapeProfiles serves real exposition text of each naming style over
// HTTP and checks detection and mapping.
func TestScrapeProfiles(t *testing.T) {
	for _, c := range []struct {
		name   string
		style  genStyle
		ctype  string
		suffix bool
	}{
		{"mbean", genStyle{profile: ProfileMBean}, "text/plain; version=0.0.4; charset=utf-8", false},
		{"lowercase", genStyle{profile: ProfileLowercase}, "text/plain; version=0.0.4", false},
		{"lowercase-1x", genStyle{profile: ProfileLowercase, v1: true}, "text/plain; version=0.0.4; charset=utf-8", true},
		{"mbean-1x-openmetrics", genStyle{profile: ProfileMBean, v1: true}, "application/openmetrics-text; version=1.0.0; charset=utf-8", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			body, mapped := genExposition(c.style, benchLines, 1)
			var header http.Header
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				header = r.Header.Clone()
				w.Header().Set("Content-Type", c.ctype)
				_, _ = w.Write(body)
			}))
			defer srv.Close()
			res, err := Scrape(context.Background(), srv.Client(), Target{URL: srv.URL, BrokerID: 1, Timeout: 5 * time.Second}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Profile != c.style.profile || res.CounterTotalSuffix != c.suffix || len(res.Samples) != mapped ||
				res.Malformed != 0 || res.Lines != benchLines || res.Bytes != int64(len(body)) {
				t.Fatalf("profile %v suffix %v samples %d/%d malformed %d lines %d bytes %d problems %v",
					res.Profile, res.CounterTotalSuffix, len(res.Samples), mapped, res.Malformed, res.Lines, res.Bytes, res.Problems)
			}
			if !strings.HasPrefix(header.Get("Accept"), "text/plain;version=0.0.4") ||
				header.Get("X-Prometheus-Scrape-Timeout-Seconds") != "5" {
				t.Errorf("request headers %v", header)
			}
			for _, sig := range []Signal{BytesIn, LogSize, UnderReplicated, ActiveControllers, RequestLatencyP99,
				RequestLatencyP999, RequestCount, HandlerIdleCount, HandlerIdleRatio, NetworkIdle, FetcherLag} {
				if len(pick(res.Samples, sig, "", "")) == 0 && sig != LogSize && sig != FetcherLag {
					t.Errorf("no broker-wide %v", sig)
				}
				if sig == LogSize && len(pick(res.Samples, sig, "test-topic-0", "")) != genPartitions {
					t.Errorf("LogSize of test-topic-0: %d series", len(pick(res.Samples, sig, "test-topic-0", "")))
				}
			}
		})
	}
}

// TestScrapeNodeExporter scrapes the real node_exporter fixture over HTTP.
func TestScrapeNodeExporter(t *testing.T) {
	body := readFixture(t, "node-exporter-msk-broker.prom")
	srv := httptest.NewServer(serveText(body))
	defer srv.Close()
	res, err := Scrape(context.Background(), srv.Client(), Target{URL: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range res.Part(0) {
		if s.Signal == FilesystemAvail && s.Mount == "/kafka/datalogs" && s.Value != 1.002783698944e+12 {
			t.Fatalf("avail %v", s.Value)
		}
	}
	if res.Profile != ProfileNode || len(res.Part(0)) != 6 {
		t.Fatalf("profile %v, part 1: %s", res.Profile, renderAll(res.Part(0)))
	}
}

// TestScrapeGzipFixture serves the MSK jmx_exporter capture gzip-encoded, as
// an exporter answers Go's default Accept-Encoding, straight from the .gz file.
func TestScrapeGzipFixture(t *testing.T) {
	gz, err := os.ReadFile(filepath.Join(fixtureDir, "kafka-broker-jmx-exporter-0.12-msk.prom.gz"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Error("client did not offer gzip")
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(gz)
	}))
	defer srv.Close()
	res, err := Scrape(context.Background(), srv.Client(), Target{URL: srv.URL, BrokerID: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Bytes != 2_439_268 || res.Profile != ProfileMBean || len(res.Parts) != 2 {
		t.Fatalf("bytes %d profile %v parts %d", res.Bytes, res.Profile, len(res.Parts))
	}
	if s := one(t, res.Part(0), BytesIn, "", ""); s.Value != 5.7778761e7 {
		t.Fatalf("bytes in %v", s.Value)
	}
}

// TestScrapePartial: a body with some bad lines is a success with problems;
// the bad series are absent, not zero.
func TestScrapePartial(t *testing.T) {
	body := "kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} 7.0\n" +
		"kafka_server_ReplicaManager_Value{name=\"PartitionCount\",} 1.2.3\n" +
		"kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} 0.0\n" +
		"kafka_controller_KafkaController_Value{name=\"ActiveControllerCount\",} 1."
	srv := httptest.NewServer(serveText([]byte(body)))
	defer srv.Close()
	res, err := Scrape(context.Background(), srv.Client(), Target{URL: srv.URL}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := renderAll(res.Samples); got != "leader_count=7" || res.Malformed != 2 || res.Duplicates != 1 {
		t.Fatalf("samples %s malformed %d dups %d problems %v", got, res.Malformed, res.Duplicates, res.Problems)
	}
}

// TestScrapeFailures: each row is a misbehaving endpoint; every one must
// fail with a *ScrapeError naming the URL, the expected reason, and no samples.
func TestScrapeFailures(t *testing.T) {
	valid := "kafka_server_ReplicaManager_Value{name=\"LeaderCount\",} 7.0\n"
	big := strings.Repeat(valid[:len(valid)-1]+"   \n", 10<<20/len(valid)+1) // ≥ 10 MB, all valid
	release := make(chan struct{})
	defer close(release)
	block := func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}

	// timeout is the scrape timeout of the next rows: generous for the rows
	// that must fail for another reason (10 MB under -race on a loaded
	// machine can take seconds), 1 s for the rows that must time out.
	timeout := time.Minute
	f := func(name string, h http.HandlerFunc, opts Options, reason string, check func(error) bool) {
		t.Helper()
		srv := httptest.NewServer(h)
		defer srv.Close()
		target := Target{URL: srv.URL + "/metrics", BrokerID: 3, Timeout: timeout}
		res, err := Scrape(context.Background(), srv.Client(), target, opts)
		var se *ScrapeError
		if !errors.As(err, &se) || se.URL != target.URL || se.BrokerID != 3 ||
			!strings.HasPrefix(err.Error(), "scrape "+target.URL+": ") {
			t.Fatalf("%s: error %v (%T), want *ScrapeError for %s", name, err, err, target.URL)
		}
		if se.Reason() != reason || (check != nil && !check(err)) {
			t.Fatalf("%s: reason %q (%v), want %q", name, se.Reason(), err, reason)
		}
		if len(res.Samples) != 0 || res.Series != 0 {
			t.Fatalf("%s: failed scrape returned %d samples", name, len(res.Samples))
		}
	}
	text := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			_, _ = w.Write([]byte(body))
		}
	}
	as := func(target any) func(error) bool { return func(err error) bool { return errors.As(err, target) } }

	// 1. HTTP 500 with a valid-looking body: the status wins.
	var st *StatusError
	f("http 500", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(valid))
	}, Options{}, "status", func(err error) bool { return errors.As(err, &st) && st.Code == 500 })
	// 2. Wrong content type.
	f("json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kafka": 1}`))
	}, Options{}, "content_type", as(new(*ContentTypeError)))
	// 3. Missing content type (Go would sniff one unless the header is nil).
	f("no content type", func(w http.ResponseWriter, _ *http.Request) {
		w.Header()["Content-Type"] = nil
		_, _ = w.Write([]byte(valid))
	}, Options{}, "content_type", as(new(*ContentTypeError)))
	// 4. A 10 MB body over a 4 MiB limit, declared by Content-Length.
	var tl *TooLargeError
	f("10 MB declared", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(big)))
		_, _ = w.Write([]byte(big))
	}, Options{MaxBytes: 4 << 20}, "too_large",
		func(err error) bool { return errors.As(err, &tl) && tl.Size == int64(len(big)) })
	// 5. The same, streamed without Content-Length.
	f("10 MB chunked", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for i := 0; i < len(big); i += 1 << 20 {
			_, _ = w.Write([]byte(big[i:min(i+1<<20, len(big))]))
			w.(http.Flusher).Flush()
		}
	}, Options{MaxBytes: 4 << 20}, "too_large", func(err error) bool { return errors.As(err, &tl) && tl.Size == -1 })
	// 6. A 10 MB line of garbage within the byte limit: no sample at all.
	f("10 MB garbage line", text(strings.Repeat("x", 10<<20)), Options{}, "no_series", nil)
	// 7. A body that is not exposition text, served as text/plain.
	f("html as text", text("<html><body>Bad Gateway</body></html>\n"), Options{}, "no_series", nil)
	// 8. Too many series.
	f("cardinality", text(strings.Repeat("jvm_x 1\n", 50)), Options{MaxSeries: 20}, "cardinality",
		as(new(*CardinalityError)))
	// 9. No response headers before the timeout.
	timeout = time.Second
	f("timeout", block, Options{}, "timeout", func(err error) bool { return errors.Is(err, context.DeadlineExceeded) })
	// 10. Headers, then a body that stalls.
	f("stalled body", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte(valid))
		w.(http.Flusher).Flush()
		block(w, r)
	}, Options{}, "timeout", nil)
	timeout = time.Minute
	// 11. A gzip bomb: 10 MB of text in a few KB on the wire. The limit applies
	// after the transport's transparent decompression (compressed once here).
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, _ = zw.Write([]byte(big))
	_ = zw.Close()
	f("gzip bomb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		_, _ = w.Write(bomb.Bytes())
	}, Options{MaxBytes: 4 << 20}, "too_large", func(err error) bool { return errors.As(err, &tl) && tl.Size == -1 })
	// 12. Connection closed before the declared Content-Length.
	f("truncated body", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(len(valid)*10))
		_, _ = w.Write([]byte(valid))
	}, Options{}, "read", nil)
}

func TestScrapeUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	_, err := Scrape(context.Background(), nil, Target{URL: url, Timeout: time.Second}, Options{})
	var se *ScrapeError
	if !errors.As(err, &se) || se.Reason() != "connect" {
		t.Fatalf("closed port: %v", err)
	}
	_, err = Scrape(context.Background(), nil, Target{URL: "http://[::1]:namedport"}, Options{})
	if !errors.As(err, &se) || se.Reason() != "request" {
		t.Fatalf("bad URL: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = Scrape(ctx, nil, Target{URL: url}, Options{})
	if !errors.As(err, &se) || se.Reason() != "canceled" {
		t.Fatalf("canceled: %v", err)
	}
	_, err = Scrape(context.Background(), nil, Target{URL: url}, Options{MaxBytes: -1})
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "MaxBytes") {
		t.Fatalf("bad options: %v", err)
	}
}

// serveText serves body as jmx_exporter 0.x does.
func serveText(body []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		_, _ = w.Write(body)
	})
}
