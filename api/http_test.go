package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/kwitness/kwitness/api"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// httpFixture serves api.NewHTTPHandler, forwarding to a real gRPC server,
// with a readiness the test flips.
type httpFixture struct {
	*fixture
	url   string
	ready atomic.Bool
}

func newHTTPFixture(t *testing.T) *httpFixture {
	t.Helper()
	hf := &httpFixture{fixture: newFixture(t)}
	hf.seed()
	fillWindow(t, hf.window)
	set := metrics.NewSet()
	set.NewCounter("kwitness_test_sweeps_total").Add(3)
	h, closeGW, err := api.NewHTTPHandler(t.Context(), api.HTTPConfig{
		GRPCAddr: hf.addr,
		Metrics:  []*metrics.Set{set},
		Ready: func() (bool, string) {
			if hf.ready.Load() {
				return true, ""
			}
			return false, "no sweep yet"
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); closeGW() })
	hf.url = srv.URL
	return hf
}

// get returns the status, Content-Type and body of GET path.
func (hf *httpFixture) get(t *testing.T, path string) (int, string, []byte) {
	t.Helper()
	resp, err := http.Get(hf.url + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header.Get("Content-Type"), body
}

// getProto GETs path, wants 200 and decodes the JSON body into m.
func (hf *httpFixture) getProto(t *testing.T, path string, m proto.Message) {
	t.Helper()
	code, _, body := hf.get(t, path)
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	if err := protojson.Unmarshal(body, m); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, body)
	}
}

func TestHTTPFindings(t *testing.T) {
	hf := newHTTPFixture(t)
	f := func(path string, want ...string) {
		t.Helper()
		var resp pb.ListFindingsResponse
		hf.getProto(t, path, &resp)
		if got := ids(resp.Findings); !slices.Equal(got, want) {
			t.Fatalf("GET %s: %v, want %v", path, got, want)
		}
	}
	f("/v1/findings", "a", "b", "c", "d", "e", "f", "g")
	f("/v1/findings?state=firing", "a", "b", "d", "f", "g")
	f("/v1/findings?state=resolved&kind=lag_growing", "e")
	f("/v1/findings?group=g1&severity=critical", "b")
	f("/v1/findings?broker=2", "e")

	var page pb.ListFindingsResponse
	hf.getProto(t, "/v1/findings?pageSize=3", &page)
	if ids := ids(page.Findings); !slices.Equal(ids, []string{"a", "b", "c"}) || page.NextPageToken == "" || page.TotalSize != 7 {
		t.Fatalf("first page of 3: %v next %q total %d", ids, page.NextPageToken, page.TotalSize)
	}
	f("/v1/findings?pageSize=3&pageToken="+page.NextPageToken, "d", "e", "f")

	var one pb.GetFindingResponse
	hf.getProto(t, "/v1/findings/c", &one)
	if f := one.Finding; f.Id != "c" || f.State != pb.FindingState_FINDING_STATE_RESOLVED || f.Subject.GetGroup() != "g2" {
		t.Fatalf("GET /v1/findings/c: %v", f)
	}
	// The enum names, not numbers, are what REST clients see.
	if _, _, body := hf.get(t, "/v1/findings/c"); !strings.Contains(string(body), `"FINDING_STATE_RESOLVED"`) {
		t.Fatalf("finding JSON lacks the state name: %s", body)
	}
}

func TestHTTPGroupLag(t *testing.T) {
	hf := newHTTPFixture(t)
	var lag pb.GetGroupLagResponse
	hf.getProto(t, "/v1/groups/g1/lag", &lag)
	if lag.Group != "g1" || lag.TotalLag != 390 || len(lag.Partitions) != 3 {
		t.Fatalf("GET /v1/groups/g1/lag: %v", &lag)
	}
	if p := lag.Partitions[0]; p.Status != "LAG_GROWING" || len(p.Evidence) != 2 || p.Evidence[0].SourceApi != "OffsetFetch" {
		t.Fatalf("partition 0: %v", p)
	}
}

func TestHTTPErrors(t *testing.T) {
	hf := newHTTPFixture(t)
	f := func(path string, code int, msg string) {
		t.Helper()
		got, ctype, body := hf.get(t, path)
		var st struct{ Message string }
		if err := json.Unmarshal(body, &st); err != nil || got != code || !strings.Contains(st.Message, msg) || ctype != "application/json" {
			t.Fatalf("GET %s: %d %s %s; want %d with a JSON message naming %q", path, got, ctype, body, code, msg)
		}
	}
	f("/v1/findings?state=open", http.StatusBadRequest, `state "open"`)
	f("/v1/findings?kind=LAG", http.StatusBadRequest, `kind "LAG"`)
	f("/v1/findings?severity=high", http.StatusBadRequest, `severity "high"`)
	f("/v1/findings?pageSize=1001", http.StatusBadRequest, "page_size 1001")
	f("/v1/findings?broker=-3", http.StatusBadRequest, "broker -3")
	f("/v1/findings?pageToken=garbage!", http.StatusBadRequest, "page_token")
	f("/v1/findings/nope", http.StatusNotFound, `"nope"`)
	f("/v1/groups/nope/lag", http.StatusNotFound, `"nope"`)
}

func TestHTTPOpenAPI(t *testing.T) {
	hf := newHTTPFixture(t)
	code, ctype, body := hf.get(t, "/openapi.json")
	var doc struct {
		Swagger string
		Paths   map[string]json.RawMessage
	}
	if err := json.Unmarshal(body, &doc); err != nil || code != http.StatusOK || ctype != "application/json" {
		t.Fatalf("GET /openapi.json: %d %s: %v", code, ctype, err)
	}
	for _, p := range []string{"/v1/findings", "/v1/findings/{id}", "/v1/groups/{group}/lag"} {
		if _, ok := doc.Paths[p]; !ok {
			t.Errorf("openapi.json (swagger %q) lacks path %s", doc.Swagger, p)
		}
	}
}

// sampleLine is one sample of the Prometheus text format: name, optional
// labels, a value and an optional timestamp.
var sampleLine = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^}]*\})? [-+]?([0-9.]+([eE][-+]?[0-9]+)?|NaN|Inf)( -?[0-9]+)?$`)

func TestHTTPMetrics(t *testing.T) {
	hf := newHTTPFixture(t)
	code, ctype, body := hf.get(t, "/metrics")
	if code != http.StatusOK || !strings.HasPrefix(ctype, "text/plain") {
		t.Fatalf("GET /metrics: %d %s", code, ctype)
	}
	lines := strings.Split(strings.TrimSpace(string(body)), "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "# ") && !sampleLine.MatchString(l) {
			t.Fatalf("line %d is not Prometheus text: %q", i+1, l)
		}
	}
	for _, want := range []string{"kwitness_test_sweeps_total 3", "go_goroutines "} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
}

func TestHTTPHealthAndReadiness(t *testing.T) {
	hf := newHTTPFixture(t)
	if code, _, body := hf.get(t, "/healthz"); code != http.StatusOK || string(body) != "ok\n" {
		t.Fatalf("GET /healthz: %d %q", code, body)
	}
	f := func(code int, ready bool, reason string) {
		t.Helper()
		got, ctype, body := hf.get(t, "/readyz")
		var r struct {
			Ready  bool
			Reason string
		}
		if err := json.Unmarshal(body, &r); err != nil || got != code || ctype != "application/json" || r.Ready != ready || r.Reason != reason {
			t.Fatalf("GET /readyz: %d %s %s; want %d ready=%v reason %q", got, ctype, body, code, ready, reason)
		}
	}
	f(http.StatusServiceUnavailable, false, "no sweep yet")
	hf.ready.Store(true)
	f(http.StatusOK, true, "")
	hf.ready.Store(false)
	f(http.StatusServiceUnavailable, false, "no sweep yet")
}

// TestHTTPRecordEvent: POST /v1/events stores a deploy event for its group;
// a bad one is a 400 naming the field.
func TestHTTPRecordEvent(t *testing.T) {
	hf := newHTTPFixture(t)
	post := func(body string) (int, string) {
		resp, err := http.Post(hf.url+"/v1/events", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := post(`{"service":"fraud-check","version":"1.4.2","time":"2026-11-25T10:00:00Z","labels":{"team":"risk"}}`)
	if code != http.StatusOK || !strings.Contains(body, `"group":"fraud-check"`) {
		t.Fatalf("POST /v1/events: %d %s", code, body)
	}
	evs := hf.events.ByGroup(0)["fraud-check"]
	if len(evs) != 1 || evs[0].Version != "1.4.2" || evs[0].Labels["team"] != "risk" || evs[0].AtMs != time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC).UnixMilli() {
		t.Fatalf("stored %+v", evs)
	}
	if code, body := post(`{"version":"1"}`); code != http.StatusBadRequest || !strings.Contains(body, "service") {
		t.Fatalf("missing service: %d %s", code, body)
	}
}
