package web_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/api/web"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

type pbFinding = pb.Finding

// pages serves the pages over a real api.Server with two findings and no
// store, so offset citations cannot resolve.
func pages(t *testing.T, opt web.Options) *httptest.Server {
	t.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	f := state.NewFindings(time.Hour, 100)
	now := time.Now()
	cite := func(metric, note string) detect.Citation {
		return detect.Citation{Series: detect.SeriesRef{Metric: metric, Labels: []detect.Label{{Name: "broker", Value: "1"}, {Name: "cluster", Value: "c1"}}},
			From: now.Add(-time.Minute), To: now, First: 1, Last: 9, Min: 1, Max: 9, Note: note}
	}
	f.Apply(now, []detect.Event{
		{Type: detect.EventOpened, Finding: detect.Finding{ID: "lat-1", Kind: detect.KindLatencyRegression, Severity: detect.SeverityWarning, State: detect.StateFiring,
			Subject: detect.Subject{Cluster: "c1", Broker: 1}, Summary: `Broker 1's <Produce> latency`, OpenedAt: now.Add(-2 * time.Minute),
			Evidence: []detect.Citation{cite("kafka_broker_request_latency_ms", "Produce p99 latency"), cite("kafka_broker_request_latency_ms", "Fetch p99 latency")},
			Facts:    []detect.Fact{{Name: "threshold.Produce.p99", Value: 12, Unit: "ms"}, {Name: "baseline.Produce.p99", Value: 4, Unit: "ms"}, {Name: "group_state", Text: "Stable"}}}},
		{Type: detect.EventResolved, Finding: detect.Finding{ID: "lag-1", Kind: detect.KindLagGrowing, Severity: detect.SeverityCritical, State: detect.StateResolved,
			Subject: detect.Subject{Cluster: "c1", Group: "g", Topic: "t", Partitions: []int32{0, 1}, Broker: -1}, Summary: "lag grew",
			OpenedAt: now.Add(-time.Hour), ResolvedAt: now.Add(-time.Minute), Resolution: detect.ResolvedRecovered}},
	})
	opt.Cluster = "c1"
	p, err := web.New(api.NewServer(f, w, detect.DefaultLagConfig()), opt)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return srv
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestListPage(t *testing.T) {
	srv := pages(t, web.Options{Owner: func(*pbFinding) string { return "team-payments" }})
	code, body := get(t, srv.URL+"/")
	if code != http.StatusOK {
		t.Fatalf("GET /: %d", code)
	}
	for _, want := range []string{"1 firing", "1 recently resolved", `href="/findings/lat-1"`, `href="/findings/lag-1"`,
		"broker 1", "group g · topic t · partitions 0, 1", "team-payments", "resolved 1m ago", "&lt;Produce&gt;", `<svg class="spark"`, "/static/live.js"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET / lacks %q", want)
		}
	}
	if strings.Index(body, "lat-1") > strings.Index(body, "lag-1") {
		t.Error("the firing finding is not listed before the resolved one")
	}
	_, rows := get(t, srv.URL+"/?fragment=rows")
	if strings.Contains(rows, "<html") || strings.Count(rows, "<tr") != 2 {
		t.Errorf("fragment=rows: want the two rows only, got %q", rows)
	}
	if code, css := get(t, srv.URL+"/static/style.css"); code != http.StatusOK || !strings.Contains(css, "svg.chart") {
		t.Errorf("GET /static/style.css: %d", code)
	}
}

func TestFindingPage(t *testing.T) {
	srv := pages(t, web.Options{PlanURL: func(f *pbFinding) string { return "/plans/" + f.Id }})
	code, body := get(t, srv.URL+"/findings/lat-1")
	if code != http.StatusOK {
		t.Fatalf("GET /findings/lat-1: %d", code)
	}
	if n := strings.Count(body, `<svg class="chart"`); n != 2 {
		t.Errorf("charts: got %d, want one per citation (2)", n)
	}
	// The threshold and baseline of Produce are drawn on the Produce chart
	// only.
	if n := strings.Count(body, `class="level threshold"`); n != 1 {
		t.Errorf("threshold lines: got %d, want 1", n)
	}
	if n := strings.Count(body, `class="level baseline"`); n != 1 {
		t.Errorf("baseline lines: got %d, want 1", n)
	}
	for _, want := range []string{`href="/v1/findings/lat-1"`, `href="/plans/lat-1"`, "threshold Produce p99", "12 ms", "group state", "Stable", "opened", "samples JSON"} {
		if !strings.Contains(body, want) {
			t.Errorf("finding page lacks %q", want)
		}
	}
	if code, body := get(t, srv.URL+"/findings/nope"); code != http.StatusNotFound || !strings.Contains(body, "not found") {
		t.Errorf("GET /findings/nope: %d", code)
	}
}

// With a caller (auth.Guard's middleware), a page needs its method's scope
// and shows only what the caller's scopes show.
func TestPagesFollowScopes(t *testing.T) {
	srv := pages(t, web.Options{})
	as := func(scope auth.Scope) *httptest.Server {
		id := &auth.Identity{Name: "oncall", Scope: scope}
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			srv.Config.Handler.ServeHTTP(w, r.WithContext(auth.WithIdentity(r.Context(), id)))
		}))
		t.Cleanup(s.Close)
		return s
	}
	noList := as(auth.Scope{Methods: []string{"GetFinding"}, Groups: []string{"*"}, Topics: []string{"*"}, Brokers: []string{"*"}})
	if code, body := get(t, noList.URL+"/"); code != http.StatusForbidden || !strings.Contains(body, "ListFindings") {
		t.Errorf("GET / without ListFindings: %d %q", code, body)
	}
	if code, _ := get(t, noList.URL+"/findings/lat-1"); code != http.StatusOK {
		t.Errorf("GET /findings/lat-1 with GetFinding: %d", code)
	}
	groupG := as(auth.Scope{Groups: []string{"g"}, Topics: []string{"t"}})
	code, body := get(t, groupG.URL+"/")
	if code != http.StatusOK || !strings.Contains(body, "lag-1") || strings.Contains(body, "lat-1") {
		t.Errorf("GET / scoped to group g: %d; want lag-1 only", code)
	}
	if code, _ := get(t, groupG.URL+"/findings/lat-1"); code != http.StatusNotFound {
		t.Errorf("GET /findings/lat-1 outside the scope: %d, want 404", code)
	}
}
