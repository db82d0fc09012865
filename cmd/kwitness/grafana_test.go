package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// dashboard is the part of a Grafana dashboard JSON the test reads.
type dashboard struct {
	Templating struct {
		List []struct {
			Name  string          `json:"name"`
			Type  string          `json:"type"`
			Query json.RawMessage `json:"query"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

type panel struct {
	Title   string `json:"title"`
	Type    string `json:"type"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // a collapsed row's panels
}

var (
	kwitnessMetric = regexp.MustCompile(`\bkwitness_[a-zA-Z0-9_]+\b`)
	typeLine       = regexp.MustCompile(`(?m)^# TYPE (\S+) `)
)

// TestGrafanaDashboard loads docs/grafana/kwitness.json and checks that
// every panel query and variable names only metrics a running kwitness
// (with a store) exports on /metrics, and that the cluster and group
// variables exist.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana/kwitness.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		t.Fatalf("docs/grafana/kwitness.json: %v", err)
	}

	// What kwitness exports: a sidecar with a store, one group committed.
	ctx := t.Context()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "orders"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	offs := kadm.Offsets{}
	offs.AddOffset("orders", 0, 0, -1)
	if err := kadm.NewClient(cl).CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Kafka.Cluster, cfg.Kafka.Brokers = "it", c.ListenAddrs()
	cfg.Kafka.PollInterval = 200 * time.Millisecond
	cfg.DataDir = t.TempDir()
	cfg.API = APIConfig{GRPCListen: "127.0.0.1:0", HTTPListen: "127.0.0.1:0"}
	s, err := startSidecar(ctx, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	fams := waitScrape(t, s.HTTPAddr, func(fams map[string]*dto.MetricFamily) bool {
		return len(sampleMap(fams, "kwitness_consumergroup_lag")) > 0
	})
	// Exported: every family with samples, and every family declared with
	// a TYPE line (a family may have no samples yet, e.g. no finding fires).
	exported := map[string]bool{}
	for name := range fams {
		exported[name] = true
	}
	resp, err := http.Get("http://" + s.HTTPAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range typeLine.FindAllStringSubmatch(string(body), -1) {
		exported[m[1]] = true
	}

	check := func(where, expr string) {
		names := kwitnessMetric.FindAllString(expr, -1)
		if len(names) == 0 {
			t.Errorf("%s: query %q names no kwitness metric", where, expr)
		}
		for _, n := range names {
			if !exported[n] {
				t.Errorf("%s: query %q names %s, which kwitness does not export", where, expr, n)
			}
		}
	}
	vars := map[string]bool{}
	for _, v := range d.Templating.List {
		vars[v.Name] = true
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var s string
			if json.Unmarshal(v.Query, &s) != nil {
				t.Fatalf("variable %s: query is neither a string nor an object: %s", v.Name, v.Query)
			}
			q.Query = s
		}
		check("variable "+v.Name, q.Query)
	}
	if !vars["cluster"] || !vars["group"] {
		t.Errorf("variables: %v; want cluster and group", vars)
	}
	n := 0
	var walk func(ps []panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			n++
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				check("panel "+p.Title, tg.Expr)
				if !strings.Contains(tg.Expr, "$cluster") {
					t.Errorf("panel %q: query %q does not follow the cluster variable", p.Title, tg.Expr)
				}
			}
		}
	}
	walk(d.Panels)
	if n < 8 {
		t.Errorf("%d panels; want lag, time lag, findings, sweep and store panels", n)
	}
}
