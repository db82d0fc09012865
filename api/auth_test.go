package api_test

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/api/mcp"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/explain"
)

// Tokens of the guarded fixture; the tokens file holds only their hashes.
const (
	tokTeamA   = "team-a-token-0123456789"
	tokAdmin   = "admin-token-0123456789"
	tokMetrics = "metrics-token-0123456789"
	tokListA   = "list-only-token-0123456789"
)

func sha(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// guarded is the API as kwitness serves it with auth on: a public gRPC
// server behind the guard's interceptors, the in-process server the REST
// gateway reaches, and the HTTP handler behind the guard's middleware.
type guarded struct {
	findings *state.Findings
	window   *state.Window
	client   pb.FindingsServiceClient
	url      string
	audit    string // audit log path
}

func newGuarded(t *testing.T, mutate func(*auth.Config)) *guarded {
	t.Helper()
	dir := t.TempDir()
	tokens := fmt.Sprintf(`tokens:
  - name: team-a
    sha256: %s
    scopes: ["group:team-a-*", "topic:team-a-*"]
  - name: ops
    sha256: %s
    scopes: [admin]
  - name: prometheus
    sha256: %s
    scopes: [metrics, "method:none"]
  - name: team-a-lister
    sha256: %s
    scopes: ["group:team-a-*", "topic:team-a-*", "method:List*", "method:Watch*"]
`, sha(tokTeamA), sha(tokAdmin), sha(tokMetrics), sha(tokListA))
	cfg := auth.DefaultConfig()
	cfg.TokensFile = filepath.Join(dir, "tokens.yaml")
	cfg.Audit.File = filepath.Join(dir, "audit.log")
	if err := os.WriteFile(cfg.TokensFile, []byte(tokens), 0o600); err != nil {
		t.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	guard, err := auth.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { guard.Close() })
	w, err := state.NewWindow(state.DefaultWindowConfig(), "test")
	if err != nil {
		t.Fatal(err)
	}
	g := &guarded{findings: state.NewFindings(time.Hour, 100), window: w, audit: cfg.Audit.File}
	fillTeams(t, w)
	events := state.NewDeploys(10)
	owners, err := detect.NewOwners(detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "team-b", Groups: []string{"team-b-*"}}}})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := explain.New(explain.Sources{Window: w, Findings: g.findings, Events: events, Owners: owners, Lag: detect.DefaultLagConfig()})
	if err != nil {
		t.Fatal(err)
	}
	srv := api.NewServer(g.findings, w, detect.DefaultLagConfig()).WithEvents(events).WithLimits(cfg.Limits).WithExplainer(ex, "k:9092")
	public := grpc.NewServer(guard.ServerOptions()...)
	internal := grpc.NewServer(guard.GatewayServerOptions()...)
	srv.Register(public)
	srv.Register(internal)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	inproc := bufconn.Listen(1 << 20)
	go public.Serve(lis)
	go internal.Serve(inproc)
	t.Cleanup(public.Stop)
	t.Cleanup(internal.Stop)
	conn, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	g.client = pb.NewFindingsServiceClient(conn)
	set := metrics.NewSet()
	set.NewCounter("kwitness_test_total").Inc()
	mcpCfg := mcp.DefaultConfig()
	h, closeGW, err := api.NewHTTPHandler(t.Context(), api.HTTPConfig{
		GRPCAddr: "passthrough:///gw",
		Dial: []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return inproc.DialContext(ctx) })},
		Guard: guard, Metrics: []*metrics.Set{set}, MCP: &mcpCfg,
		Ready:  func() (bool, string) { return true, "" },
		Status: func() any { return map[string]string{"cluster": "test"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(guard.Middleware(h))
	t.Cleanup(func() { hs.Close(); closeGW() })
	g.url = hs.URL
	g.seed()
	return g
}

// fillTeams writes 40 sweeps: team-a-app consumes team-a-orders and
// team-b-orders, team-b-app consumes team-b-orders.
func fillTeams(t *testing.T, w *state.Window) {
	t.Helper()
	specs := []state.GroupTopicSpec{
		{Group: "team-a-app", Topic: "team-a-orders", Partitions: []int32{0}},
		{Group: "team-a-app", Topic: "team-b-orders", Partitions: []int32{0}},
		{Group: "team-b-app", Topic: "team-b-orders", Partitions: []int32{0}},
	}
	topo := w.BuildTopology(specs)
	for i := range int64(40) {
		s := w.Begin(t0.Add(time.Duration(i) * time.Second))
		if i == 0 {
			s.SetTopology(topo)
		}
		for _, sp := range specs {
			c, _ := w.Lookup(state.SeriesKey{Metric: state.MetricCommitted, Group: sp.Group, Topic: sp.Topic})
			e, _ := w.Lookup(state.SeriesKey{Metric: state.MetricEnd, Topic: sp.Topic})
			s.Set(c, 1000+5*i)
			s.Set(e, 1000+20*i)
		}
		w.Commit(s)
	}
}

func cite(group, topic string) detect.Citation {
	return detect.Citation{Series: detect.SeriesRef{Metric: "kafka_consumergroup_committed_offset", Labels: []detect.Label{
		{Name: "cluster", Value: "test"}, {Name: "group", Value: group}, {Name: "partition", Value: "0"}, {Name: "topic", Value: topic}}},
		From: t0, To: t0.Add(time.Minute), Count: 60}
}

// seed opens: a team-a finding citing a team-b series, a team-b finding, a
// cluster-wide finding and a broker finding.
func (g *guarded) seed() {
	fa := finding("fa", detect.KindLagGrowing, detect.SeverityWarning, "team-a-app", "team-a-orders", -1, 4)
	fa.Evidence = []detect.Citation{cite("team-a-app", "team-a-orders"), cite("team-b-app", "team-b-orders")}
	fb := finding("fb", detect.KindLagGrowing, detect.SeverityWarning, "team-b-app", "team-b-orders", -1, 3)
	fb.Evidence = []detect.Citation{cite("team-b-app", "team-b-orders")}
	fc := finding("fc", detect.KindLagGrowing, detect.SeverityWarning, "", "", -1, 2)
	fd := finding("fd", detect.KindLagGrowing, detect.SeverityWarning, "", "", 1, 1)
	g.findings.Apply(t0.Add(5*time.Minute), opened(fa, fb, fc, fd))
}

func bearerCtx(ctx context.Context, tok string) context.Context {
	if tok == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
}

// rest does method path with the token and returns status and body.
func (g *guarded) rest(t *testing.T, method, path, tok, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, g.url+path, strings.NewReader(body))
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// call is one API call made over gRPC and over REST.
type call struct {
	method string // RPC name; every FindingsService method needs a row
	grpc   func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error)
	verb   string
	path   string
	body   string
}

func (g *guarded) calls() []call {
	from, to := timestamppb.New(t0), timestamppb.New(t0.Add(time.Minute))
	seriesB := cite("team-b-app", "team-b-orders").Series.String()
	seriesA := cite("team-a-app", "team-a-orders").Series.String()
	return []call{
		{"ListFindings", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.ListFindings(ctx, &pb.ListFindingsRequest{})
		}, "GET", "/v1/findings", ""},
		{"ListFindings", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.ListFindings(ctx, &pb.ListFindingsRequest{Group: "team-b-app"})
		}, "GET", "/v1/findings?group=team-b-app", ""},
		{"GetFinding", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.GetFinding(ctx, &pb.GetFindingRequest{Id: "fa"})
		}, "GET", "/v1/findings/fa", ""},
		{"GetFinding", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.GetFinding(ctx, &pb.GetFindingRequest{Id: "fb"})
		}, "GET", "/v1/findings/fb", ""},
		{"WatchFindings", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return g.watchOnce(ctx, c)
		}, "", "", ""},
		{"GetGroupLag", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.GetGroupLag(ctx, &pb.GetGroupLagRequest{Group: "team-a-app"})
		}, "GET", "/v1/groups/team-a-app/lag", ""},
		{"GetGroupLag", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.GetGroupLag(ctx, &pb.GetGroupLagRequest{Group: "team-b-app"})
		}, "GET", "/v1/groups/team-b-app/lag", ""},
		{"QuerySeries", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.QuerySeries(ctx, &pb.QuerySeriesRequest{Series: seriesB, From: from, To: to})
		}, "GET", "/v1/series?series=" + urlEscape(seriesB) + "&from=" + t0.Format(time.RFC3339) + "&to=" + t0.Add(time.Minute).Format(time.RFC3339), ""},
		{"QuerySeries", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.QuerySeries(ctx, &pb.QuerySeriesRequest{Series: seriesA, From: from, To: to})
		}, "GET", "/v1/series?series=" + urlEscape(seriesA) + "&from=" + t0.Format(time.RFC3339) + "&to=" + t0.Add(time.Minute).Format(time.RFC3339), ""},
		{"RecordEvent", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.RecordEvent(ctx, &pb.RecordEventRequest{Service: "svc", Group: "team-b-app"})
		}, "POST", "/v1/events", `{"service":"svc","group":"team-b-app"}`},
		{"RecordEvent", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.RecordEvent(ctx, &pb.RecordEventRequest{Service: "svc", Group: "team-a-app"})
		}, "POST", "/v1/events", `{"service":"svc","group":"team-a-app"}`},
		{"Explain", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.Explain(ctx, &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "team-a-app"}})
		}, "GET", "/v1/groups/team-a-app:explain", ""},
		{"Explain", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.Explain(ctx, &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "team-b-app"}})
		}, "GET", "/v1/groups/team-b-app:explain", ""},
		{"Explain", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.Explain(ctx, &pb.ExplainRequest{Subject: &pb.ExplainRequest_Topic{Topic: "team-b-orders"}})
		}, "GET", "/v1/topics/team-b-orders:explain", ""},
		{"DraftPlan", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.DraftPlan(ctx, &pb.DraftPlanRequest{Id: "fa"})
		}, "GET", "/v1/findings/fa/plan", ""},
		{"DraftPlan", func(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
			return c.DraftPlan(ctx, &pb.DraftPlanRequest{Id: "fb"})
		}, "GET", "/v1/findings/fb/plan", ""},
	}
}

// watchOnce opens a watch, opens a team-b and then a team-a finding and
// returns the first event delivered.
func (g *guarded) watchOnce(ctx context.Context, c pb.FindingsServiceClient) (proto.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	stream, err := c.WatchFindings(ctx, &pb.WatchFindingsRequest{})
	if err != nil {
		return nil, err
	}
	if _, err := stream.Header(); err != nil {
		return nil, err
	}
	g.openPair()
	return stream.Recv()
}

var watchSeq int

// openPair opens a fresh team-b finding, then a fresh team-a one.
func (g *guarded) openPair() {
	watchSeq++
	b := finding(fmt.Sprintf("wb%d", watchSeq), detect.KindConsumerStalled, detect.SeverityWarning, "team-b-app", "team-b-orders", -1, float64(10+watchSeq))
	a := finding(fmt.Sprintf("wa%d", watchSeq), detect.KindConsumerStalled, detect.SeverityWarning, "team-a-app", "team-a-orders", -1, float64(10+watchSeq))
	a.Evidence = []detect.Citation{cite("team-b-app", "team-b-orders")}
	g.findings.Apply(t0.Add(time.Duration(20+watchSeq)*time.Minute), opened(b))
	g.findings.Apply(t0.Add(time.Duration(20+watchSeq)*time.Minute), opened(a))
}

func urlEscape(s string) string {
	r := strings.NewReplacer("{", "%7B", "}", "%7D", `"`, "%22", "=", "%3D", ",", "%2C")
	return r.Replace(s)
}

// TestScopedTokenNeverSeesOtherTeams: over every method of FindingsService,
// on gRPC and REST, the team-a-* token never sees a team-b name; a team-a
// finding citing a team-b series has the citation cut and says so; the
// admin token sees team-b.
func TestScopedTokenNeverSeesOtherTeams(t *testing.T) {
	g := newGuarded(t, nil)
	covered := map[string]bool{}
	for _, c := range g.calls() {
		covered[c.method] = true
		resp, err := c.grpc(bearerCtx(t.Context(), tokTeamA), g.client)
		text := status.Convert(err).Message()
		if resp != nil {
			text += protojson.Format(resp)
		}
		if strings.Contains(text, "team-b") && !strings.Contains(status.Convert(err).Message(), "outside the scopes") {
			t.Errorf("gRPC %s as team-a shows team-b: %s", c.method, text)
		}
		if c.path != "" {
			code, body := g.rest(t, c.verb, c.path, tokTeamA, c.body)
			if strings.Contains(body, "team-b") && code != http.StatusForbidden {
				t.Errorf("REST %s %s as team-a (%d) shows team-b: %s", c.verb, c.path, code, body)
			}
		}
	}
	for _, m := range pb.FindingsService_ServiceDesc.Methods {
		if !covered[m.MethodName] {
			t.Errorf("method %s has no row in calls(): add one proving a scoped token sees only its subjects", m.MethodName)
		}
	}
	for _, s := range pb.FindingsService_ServiceDesc.Streams {
		if !covered[s.StreamName] {
			t.Errorf("stream %s has no row in calls()", s.StreamName)
		}
	}

	// What team-a does see.
	ctx := bearerCtx(t.Context(), tokTeamA)
	list, err := g.client.ListFindings(ctx, &pb.ListFindingsRequest{Kind: string(detect.KindLagGrowing)})
	if err != nil || !slices.Equal(ids(list.Findings), []string{"fa"}) || list.TotalSize != 1 {
		t.Fatalf("team-a list: %v %v, want only fa", ids(list.GetFindings()), err)
	}
	fa := list.Findings[0]
	if len(fa.Evidence) != 1 || !slices.ContainsFunc(fa.Facts, func(f *pb.Fact) bool { return f.Name == api.WithheldFact && f.Value == 1 }) {
		t.Fatalf("team-a's finding: evidence %v facts %v, want the team-b citation cut and a withheld fact", fa.Evidence, fa.Facts)
	}
	lag, err := g.client.GetGroupLag(ctx, &pb.GetGroupLagRequest{Group: "team-a-app"})
	if err != nil || len(lag.Partitions) != 1 || lag.Partitions[0].Topic != "team-a-orders" {
		t.Fatalf("team-a lag: %v %v, want the team-a-orders row only", lag, err)
	}
	_, err = g.client.GetFinding(ctx, &pb.GetFindingRequest{Id: "fb"})
	wantCode(t, err, codes.NotFound, `"fb"`)
	_, err = g.client.GetGroupLag(ctx, &pb.GetGroupLagRequest{Group: "team-b-app"})
	wantCode(t, err, codes.PermissionDenied, "outside the scopes")

	// The admin sees everything, citations included.
	admin := bearerCtx(t.Context(), tokAdmin)
	list, err = g.client.ListFindings(admin, &pb.ListFindingsRequest{})
	if err != nil || len(list.Findings) < 4 {
		t.Fatalf("admin list: %v %v, want every finding", ids(list.GetFindings()), err)
	}
	one, err := g.client.GetFinding(admin, &pb.GetFindingRequest{Id: "fa"})
	if err != nil || len(one.Finding.Evidence) != 2 {
		t.Fatalf("admin fa: %v %v, want both citations", one, err)
	}
	// A token limited to List* methods is refused the others.
	_, err = g.client.GetFinding(bearerCtx(t.Context(), tokListA), &pb.GetFindingRequest{Id: "fa"})
	wantCode(t, err, codes.PermissionDenied, "GetFinding")
}

// TestRESTWatchScoped: the REST watch stream delivers team-a's event, with
// the team-b citation cut, and no team-b event.
func TestRESTWatchScoped(t *testing.T) {
	g := newGuarded(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	// The gateway sends the response headers with the first event: open
	// pairs until team-a's event arrives.
	done := make(chan struct{})
	defer func() { cancel(); <-done }()
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				g.openPair()
			}
		}
	}()
	req, _ := http.NewRequestWithContext(ctx, "GET", g.url+"/v1/findings:watch", nil)
	req.Header.Set("Authorization", "Bearer "+tokTeamA)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("watch: %d", resp.StatusCode)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		close(lines)
	}()
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("watch stream ended")
			}
			if strings.Contains(l, "team-b") {
				t.Fatalf("watch as team-a shows team-b: %s", l)
			}
			if strings.Contains(l, "team-a-app") {
				if !strings.Contains(l, api.WithheldFact) {
					t.Fatalf("team-a event lacks the withheld fact: %s", l)
				}
				return
			}
		case <-ctx.Done():
			t.Fatal("no team-a event on the REST watch")
		}
	}
}

// TestUnauthenticatedEverySurface: without a credential, or with a wrong
// one, every method is Unauthenticated on gRPC and 401 on HTTP (REST,
// /metrics, /v1/status, /openapi.json); /healthz and /readyz stay open;
// /metrics needs the metrics scope and /v1/status the admin scope.
func TestUnauthenticatedEverySurface(t *testing.T) {
	g := newGuarded(t, nil)
	for _, tok := range []string{"", "not-a-token"} {
		for _, c := range g.calls() {
			_, err := c.grpc(bearerCtx(t.Context(), tok), g.client)
			if status.Code(err) != codes.Unauthenticated {
				t.Errorf("gRPC %s with %q: %v, want Unauthenticated", c.method, tok, err)
			}
			if c.path != "" {
				if code, _ := g.rest(t, c.verb, c.path, tok, c.body); code != http.StatusUnauthorized {
					t.Errorf("REST %s %s with %q: %d, want 401", c.verb, c.path, tok, code)
				}
			}
		}
		for _, p := range []string{"/v1/findings:watch", "/metrics", "/v1/status", "/openapi.json", "/mcp", "/anything"} {
			if code, body := g.rest(t, "GET", p, tok, ""); code != http.StatusUnauthorized || strings.Contains(body, "not-a-token") {
				t.Errorf("GET %s with %q: %d %s, want 401 without the token echoed", p, tok, code, body)
			}
		}
	}
	for _, p := range []string{"/healthz", "/readyz"} {
		if code, _ := g.rest(t, "GET", p, "", ""); code != http.StatusOK {
			t.Errorf("GET %s: %d, want open", p, code)
		}
	}
	for _, c := range []struct {
		path, tok string
		code      int
	}{
		{"/metrics", tokTeamA, http.StatusForbidden},
		{"/metrics", tokMetrics, http.StatusOK},
		{"/metrics", tokAdmin, http.StatusOK},
		{"/v1/status", tokTeamA, http.StatusForbidden},
		{"/v1/status", tokAdmin, http.StatusOK},
		{"/openapi.json", tokTeamA, http.StatusOK},
	} {
		if code, _ := g.rest(t, "GET", c.path, c.tok, ""); code != c.code {
			t.Errorf("GET %s: %d, want %d", c.path, code, c.code)
		}
	}
	// The metrics token has no API method.
	_, err := g.client.ListFindings(bearerCtx(t.Context(), tokMetrics), &pb.ListFindingsRequest{})
	wantCode(t, err, codes.PermissionDenied, "ListFindings")
}

// TestAuditLog: each call writes one JSON line with the caller's name,
// method, filter, result count, status and duration, and never a token.
func TestAuditLog(t *testing.T) {
	g := newGuarded(t, nil)
	ctx := bearerCtx(t.Context(), tokTeamA)
	if _, err := g.client.ListFindings(ctx, &pb.ListFindingsRequest{Group: "team-a-app"}); err != nil {
		t.Fatal(err)
	}
	g.client.GetFinding(ctx, &pb.GetFindingRequest{Id: "fb"})
	g.rest(t, "GET", "/v1/findings/fa", tokTeamA, "")
	g.rest(t, "GET", "/metrics", tokMetrics, "")
	g.rest(t, "GET", "/v1/findings", "not-a-token", "")
	raw, err := os.ReadFile(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{tokTeamA, tokAdmin, tokMetrics, "not-a-token", sha(tokTeamA)} {
		if strings.Contains(string(raw), tok) {
			t.Fatalf("audit log holds a token or its hash:\n%s", raw)
		}
	}
	var got []auth.AuditLine
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var a auth.AuditLine
		if err := json.Unmarshal([]byte(l), &a); err != nil {
			t.Fatalf("audit line %q: %v", l, err)
		}
		got = append(got, a)
	}
	want := []auth.AuditLine{
		{Caller: "team-a", Surface: "grpc", Method: "ListFindings", Filter: "group=team-a-app", Results: 1, Withheld: 1, Status: "OK"},
		{Caller: "team-a", Surface: "grpc", Method: "GetFinding", Filter: "id=fb", Results: 0, Status: "NotFound"},
		{Caller: "team-a", Surface: "rest", Method: "GetFinding", Filter: "id=fa", Results: 1, Withheld: 1, Status: "OK"},
		{Caller: "prometheus", Surface: "http", Method: "GET /metrics", Status: "200"},
		{Caller: "", Surface: "http", Method: "GET /v1/findings", Status: "401"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d audit lines, want %d:\n%s", len(got), len(want), raw)
	}
	for i, w := range want {
		a := got[i]
		if a.Time.IsZero() || a.DurationMS < 0 {
			t.Errorf("line %d: no time or duration: %+v", i, a)
		}
		a.Time, a.DurationMS = time.Time{}, 0
		if a != w {
			t.Errorf("line %d: %+v, want %+v", i, a, w)
		}
	}
}

// TestLimits: oversize and malformed input is refused with its limit
// named, before it is read whole.
func TestLimits(t *testing.T) {
	g := newGuarded(t, func(c *auth.Config) { c.Limits.WatchesPerCaller = 2 })
	big := strings.Repeat("x", 20<<20)
	code, body := g.rest(t, "POST", "/v1/events", tokAdmin, big)
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "max_body_bytes") {
		t.Errorf("20 MB POST /v1/events: %d %s, want 413 naming the limit", code, body)
	}
	// A body of unknown length is cut at the limit too.
	req, _ := http.NewRequest("POST", g.url+"/v1/events", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Authorization", "Bearer "+tokAdmin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 20 MB POST: %d, want 413", resp.StatusCode)
	}
	for _, p := range []string{"/v1/findings?group=%ff", "/v1/findings?topic=a%c3", "/v1/findings/%ff%fe"} {
		if code, body := g.rest(t, "GET", p, tokAdmin, ""); code != http.StatusBadRequest || !strings.Contains(body, "UTF-8") {
			t.Errorf("GET %s: %d %s, want 400 naming UTF-8", p, code, body)
		}
	}
	if code, body := g.rest(t, "GET", "/v1/findings?group="+strings.Repeat("g", 2000), tokAdmin, ""); code != http.StatusBadRequest || !strings.Contains(body, "limit") {
		t.Errorf("2000-byte group filter: %d %s, want 400 naming the limit", code, body)
	}
	if code, body := g.rest(t, "GET", "/v1/findings?pageSize=5000", tokAdmin, ""); code != http.StatusBadRequest || !strings.Contains(body, "1000") {
		t.Errorf("pageSize 5000: %d %s, want 400 naming 1000", code, body)
	}
	span := "/v1/series?series=" + urlEscape(cite("team-a-app", "team-a-orders").Series.String()) + "&from=2020-01-01T00:00:00Z&to=2026-01-01T00:00:00Z"
	if code, body := g.rest(t, "GET", span, tokAdmin, ""); code != http.StatusBadRequest || !strings.Contains(body, "max_series_span") {
		t.Errorf("6-year series span: %d %s, want 400 naming max_series_span", code, body)
	}
	// Watch streams per caller.
	ctx, cancel := context.WithCancel(bearerCtx(t.Context(), tokAdmin))
	defer cancel()
	for range 2 {
		s, err := g.client.WatchFindings(ctx, &pb.WatchFindingsRequest{})
		if err == nil {
			_, err = s.Header()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := g.client.WatchFindings(ctx, &pb.WatchFindingsRequest{})
	if err == nil {
		_, err = s.Recv()
	}
	wantCode(t, err, codes.ResourceExhausted, "watches_per_caller")
	code, body = g.rest(t, "GET", "/v1/findings:watch", tokAdmin, "")
	if code != http.StatusTooManyRequests || !strings.Contains(body, "watches_per_caller") {
		t.Errorf("third REST watch: %d %s, want 429 naming the limit", code, body)
	}
}
