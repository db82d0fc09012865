package api_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/explain"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a real gRPC server over a loopback listener and a client of it.
type fixture struct {
	findings *state.Findings
	window   *state.Window
	addr     string
	events   *state.Deploys
	client   pb.FindingsServiceClient
}

func newFixture(t *testing.T, opts ...grpc.DialOption) *fixture {
	t.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "test")
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{findings: state.NewFindings(time.Hour, 100), window: w}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer()
	fx.events = state.NewDeploys(10)
	owners, err := detect.NewOwners(detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "orders-team", Contact: "#orders", Groups: []string{"g1"}, Topics: []string{"orders"}}},
		Runbooks: map[string]string{"CONSUMER_STALLED": "https://runbooks.example/stalled"}})
	if err != nil {
		t.Fatal(err)
	}
	ex, err := explain.New(explain.Sources{Window: fx.window, Findings: fx.findings, Events: fx.events, Owners: owners, Lag: detect.DefaultLagConfig()})
	if err != nil {
		t.Fatal(err)
	}
	api.NewServer(fx.findings, fx.window, detect.DefaultLagConfig()).WithEvents(fx.events).WithExplainer(ex, "b1:9092").Register(g)
	served := make(chan struct{})
	go func() { defer close(served); g.Serve(lis) }()
	t.Cleanup(func() { g.Stop(); <-served })
	fx.addr = lis.Addr().String()
	conn, err := grpc.NewClient(fx.addr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fx.client = pb.NewFindingsServiceClient(conn)
	return fx
}

// finding is a firing finding opened openedMin minutes after t0.
func finding(id string, k detect.Kind, sev detect.Severity, group, topic string, broker int32, openedMin float64) detect.Finding {
	opened := t0.Add(time.Duration(openedMin * float64(time.Minute)))
	return detect.Finding{
		ID: id, Fingerprint: "fp-" + id, Kind: k, Severity: sev, State: detect.StateFiring,
		Subject:  detect.Subject{Cluster: "test", Group: group, Topic: topic, Partitions: []int32{0}, Broker: broker},
		Summary:  "finding " + id,
		OpenedAt: opened, UpdatedAt: opened,
	}
}

func opened(fs ...detect.Finding) []detect.Event {
	evs := make([]detect.Event, len(fs))
	for i, f := range fs {
		evs[i] = detect.Event{Type: detect.EventOpened, Finding: f}
	}
	return evs
}

func resolved(f detect.Finding, at time.Time) detect.Event {
	f.State, f.ResolvedAt, f.UpdatedAt, f.Resolution = detect.StateResolved, at, at, detect.ResolvedRecovered
	return detect.Event{Type: detect.EventResolved, Finding: f}
}

// seed fills the store; newest opened first the order is a b c d e f g
// (e and f open at the same time and are ordered by id).
func (fx *fixture) seed() {
	all := []detect.Finding{
		finding("a", detect.KindLagGrowing, detect.SeverityWarning, "g1", "orders", -1, 10),
		finding("b", detect.KindConsumerStalled, detect.SeverityCritical, "g1", "payments", -1, 9),
		finding("c", detect.KindConsumerStopped, detect.SeverityWarning, "g2", "orders", -1, 8),
		finding("d", detect.KindOffsetRewind, detect.SeverityWarning, "g2", "audit", -1, 7),
		finding("f", detect.KindConsumerStalled, detect.SeverityCritical, "g3", "orders", 1, 6),
		finding("e", detect.KindLagGrowing, detect.SeverityInfo, "g3", "audit", 2, 6),
		finding("g", detect.KindLagGrowing, detect.SeverityWarning, "g1", "orders", -1, 5),
	}
	fx.findings.Apply(t0.Add(11*time.Minute), opened(all...))
	end := t0.Add(15 * time.Minute)
	fx.findings.Apply(end, []detect.Event{resolved(all[2], end), resolved(all[5], end)})
}

func ids(fs []*pb.Finding) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.Id
	}
	return out
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if s := status.Convert(err); s.Code() != code || !strings.Contains(s.Message(), msg) {
		t.Fatalf("got %v: %q; want %v naming %q", s.Code(), s.Message(), code, msg)
	}
}

func TestListFindingsFiltersAndArguments(t *testing.T) {
	fx := newFixture(t)
	fx.seed()
	f := func(req *pb.ListFindingsRequest, want ...string) {
		t.Helper()
		resp, err := fx.client.ListFindings(t.Context(), req)
		if err != nil {
			t.Fatalf("%v: %v", req, err)
		}
		if got := ids(resp.Findings); !slices.Equal(got, want) || resp.TotalSize != int32(len(want)) {
			t.Fatalf("%v: got %v (total %d), want %v", req, got, resp.TotalSize, want)
		}
	}
	b := func(v int32) *int32 { return &v }
	f(&pb.ListFindingsRequest{}, "a", "b", "c", "d", "e", "f", "g")
	f(&pb.ListFindingsRequest{State: "firing"}, "a", "b", "d", "f", "g")
	f(&pb.ListFindingsRequest{State: "RESOLVED"}, "c", "e") // case-insensitive
	f(&pb.ListFindingsRequest{Kind: "lag_growing"}, "a", "e", "g")
	f(&pb.ListFindingsRequest{Kind: "CONSUMER_STALLED"}, "b", "f")
	f(&pb.ListFindingsRequest{Severity: "warning"}, "a", "b", "c", "d", "f", "g") // a minimum: info e is left out
	f(&pb.ListFindingsRequest{Severity: "Critical"}, "b", "f")
	f(&pb.ListFindingsRequest{Severity: "info"}, "a", "b", "c", "d", "e", "f", "g")
	f(&pb.ListFindingsRequest{Group: "g1"}, "a", "b", "g")
	f(&pb.ListFindingsRequest{Topic: "orders"}, "a", "c", "f", "g")
	f(&pb.ListFindingsRequest{Broker: b(2)}, "e")
	f(&pb.ListFindingsRequest{Broker: b(0)}) // lag findings are about no broker
	f(&pb.ListFindingsRequest{State: "firing", Kind: "LAG_GROWING", Group: "g1"}, "a", "g")
	f(&pb.ListFindingsRequest{Group: "nope"})

	// Invalid arguments: InvalidArgument with a message naming the argument.
	bad := func(req *pb.ListFindingsRequest, msg string) {
		t.Helper()
		_, err := fx.client.ListFindings(t.Context(), req)
		wantCode(t, err, codes.InvalidArgument, msg)
	}
	tok := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	bad(&pb.ListFindingsRequest{State: "open"}, `state "open"`)
	bad(&pb.ListFindingsRequest{Kind: "LAG"}, `kind "LAG"`)
	bad(&pb.ListFindingsRequest{Severity: "high"}, `severity "high"`)
	bad(&pb.ListFindingsRequest{PageSize: 1001}, "page_size 1001")
	bad(&pb.ListFindingsRequest{PageSize: -1}, "page_size -1")
	bad(&pb.ListFindingsRequest{Broker: b(-1)}, "broker -1")
	bad(&pb.ListFindingsRequest{PageToken: "!!garbage!!"}, "page_token")
	bad(&pb.ListFindingsRequest{PageToken: tok("12|")}, "page_token")
	bad(&pb.ListFindingsRequest{PageToken: tok("soon|a")}, "page_token")
	bad(&pb.ListFindingsRequest{Group: strings.Repeat("g", 1000)}, "group")
}

// walk lists every page of req and returns the ids in the order received.
func (fx *fixture) walk(t *testing.T, req *pb.ListFindingsRequest, between func(page int)) (got []string, pages int) {
	t.Helper()
	for {
		resp, err := fx.client.ListFindings(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		if len(resp.Findings) > int(req.PageSize) {
			t.Fatalf("page %d has %d findings, page_size is %d", pages, len(resp.Findings), req.PageSize)
		}
		got, pages = append(got, ids(resp.Findings)...), pages+1
		if resp.NextPageToken == "" {
			return got, pages
		}
		if between != nil {
			between(pages)
		}
		req.PageToken = resp.NextPageToken
	}
}

func TestListFindingsPagination(t *testing.T) {
	fx := newFixture(t)
	fx.seed()
	got, pages := fx.walk(t, &pb.ListFindingsRequest{PageSize: 2}, nil)
	if want := []string{"a", "b", "c", "d", "e", "f", "g"}; !slices.Equal(got, want) || pages != 4 {
		t.Fatalf("page_size 2 walked %v in %d pages, want %v in 4", got, pages, want)
	}
	got, _ = fx.walk(t, &pb.ListFindingsRequest{PageSize: 2, State: "firing"}, nil)
	if want := []string{"a", "b", "d", "f", "g"}; !slices.Equal(got, want) {
		t.Fatalf("filtered walk %v, want %v", got, want)
	}

	// After the first page [a b]: one finding opens newer than everything
	// (before the cursor: not listed), one opens between c and d (listed in
	// its place), and the cursor's own finding b is resolved and pruned.
	got, _ = fx.walk(t, &pb.ListFindingsRequest{PageSize: 2}, func(page int) {
		if page != 1 {
			return
		}
		fx.findings.Apply(t0.Add(20*time.Minute), opened(
			finding("new1", detect.KindLagGrowing, detect.SeverityWarning, "g9", "t", -1, 11),
			finding("new2", detect.KindLagGrowing, detect.SeverityWarning, "g9", "t", -1, 7.5)))
		b, _ := fx.findings.Get("b") // resolved long enough ago to be pruned at once
		fx.findings.Apply(t0.Add(20*time.Minute), []detect.Event{resolved(b, t0.Add(-2*time.Hour))})
	})
	if want := []string{"a", "b", "c", "new2", "d", "e", "f", "g"}; !slices.Equal(got, want) {
		t.Fatalf("walk with changes between pages: %v, want %v", got, want)
	}
}

func TestGetFinding(t *testing.T) {
	fx := newFixture(t)
	fx.seed()
	resp, err := fx.client.GetFinding(t.Context(), &pb.GetFindingRequest{Id: "c"})
	if err != nil {
		t.Fatal(err)
	}
	f := resp.Finding
	if f.Id != "c" || f.Kind != "CONSUMER_STOPPED" || f.State != pb.FindingState_FINDING_STATE_RESOLVED ||
		f.Severity != pb.Severity_SEVERITY_WARNING || f.Subject.Group != "g2" || f.Subject.Broker != -1 ||
		f.Resolution != detect.ResolvedRecovered || !f.ResolvedAt.AsTime().Equal(t0.Add(15*time.Minute)) ||
		!f.OpenedAt.AsTime().Equal(t0.Add(8*time.Minute)) {
		t.Fatalf("GetFinding(c) = %v", f)
	}
	_, err = fx.client.GetFinding(t.Context(), &pb.GetFindingRequest{Id: "zzz"})
	wantCode(t, err, codes.NotFound, `"zzz"`)
	_, err = fx.client.GetFinding(t.Context(), &pb.GetFindingRequest{})
	wantCode(t, err, codes.InvalidArgument, "id")
}

// fillWindow commits 40 sweeps one second apart. Group g1 reads topic orders:
// partition 0 falls 10 messages/s behind (LAG_GROWING, lag 390 at the end),
// partition 1 keeps up (OK), partition 2 has no sample in the newest sweep
// (UNKNOWN). Group g2 reads partition 0 of the same topic.
func fillWindow(t *testing.T, w *state.Window) {
	t.Helper()
	topo := w.BuildTopology([]state.GroupTopicSpec{
		{Group: "g1", Topic: "orders", Partitions: []int32{0, 1, 2}},
		{Group: "g2", Topic: "orders", Partitions: []int32{0}},
	})
	id := func(m state.Metric, group string, p int32) uint32 {
		id, ok := w.Lookup(state.SeriesKey{Metric: m, Group: group, Topic: "orders", Partition: p})
		if !ok {
			t.Fatalf("series %v %s %d not registered", m, group, p)
		}
		return id
	}
	for i := range int64(40) {
		s := w.Begin(t0.Add(time.Duration(i) * time.Second))
		if i == 0 {
			s.SetTopology(topo)
			s.SetGroups(map[string]detect.GroupContext{"g1": {Known: true, State: "Stable", Members: 2, Generation: 7}})
		}
		s.Set(id(state.MetricCommitted, "g1", 0), 1000+10*i)
		s.Set(id(state.MetricEnd, "", 0), 1000+20*i)
		s.Set(id(state.MetricCommitted, "g1", 1), 500+5*i)
		s.Set(id(state.MetricEnd, "", 1), 500+5*i)
		if i < 39 {
			s.Set(id(state.MetricCommitted, "g1", 2), 100)
			s.Set(id(state.MetricEnd, "", 2), 100)
		}
		s.Set(id(state.MetricCommitted, "g2", 0), 1000)
		w.Commit(s)
	}
}

func TestGetGroupLag(t *testing.T) {
	fx := newFixture(t)
	fillWindow(t, fx.window)
	resp, err := fx.client.GetGroupLag(t.Context(), &pb.GetGroupLagRequest{Group: "g1"})
	if err != nil {
		t.Fatal(err)
	}
	last := t0.Add(39 * time.Second)
	if resp.Cluster != "test" || resp.Group != "g1" || resp.GroupState != "Stable" || resp.Members != 2 ||
		resp.TotalLag != 390 || !resp.SweepTime.AsTime().Equal(last) || len(resp.Partitions) != 3 {
		t.Fatalf("GetGroupLag(g1) header = %v", resp)
	}
	row := func(i int, part int32, committed, end, lag int64, st string) {
		t.Helper()
		p := resp.Partitions[i]
		if p.Topic != "orders" || p.Partition != part || p.CommittedOffset != committed || p.EndOffset != end || p.Lag != lag || p.Status != st {
			t.Fatalf("row %d = %v; want orders/%d committed %d end %d lag %d %s", i, p, part, committed, end, lag, st)
		}
		for _, c := range p.Evidence {
			if c.From.AsTime().Before(t0) || !c.To.AsTime().Equal(last) || c.Count < 2 {
				t.Fatalf("row %d cites %s over [%v, %v] with %d samples; want samples within the sweeps",
					i, c.Series.Text, c.From.AsTime(), c.To.AsTime(), c.Count)
			}
		}
	}
	row(0, 0, 1390, 1780, 390, "LAG_GROWING")
	// Offset 1390 was produced when the end offset passed 1391, 19.55 s
	// after the first sweep: 19.45 s before the newest.
	if p := resp.Partitions[0]; p.TimeLagMethod != "interpolated" || p.GetTimeLagSeconds() < 19 || p.GetTimeLagSeconds() > 20 ||
		p.GetTimeLagLowSeconds() > p.GetTimeLagSeconds() || p.GetTimeLagHighSeconds() < p.GetTimeLagSeconds() {
		t.Fatalf("time lag of partition 0: %v s [%v, %v] by %q", p.GetTimeLagSeconds(), p.GetTimeLagLowSeconds(), p.GetTimeLagHighSeconds(), p.TimeLagMethod)
	}
	if p := resp.Partitions[1]; p.TimeLagSeconds == nil || p.GetTimeLagSeconds() != 0 {
		t.Fatalf("a caught-up partition is 0 s behind, got %v (%s)", p.TimeLagSeconds, p.TimeLagMethod)
	}
	if p := resp.Partitions[2]; p.TimeLagSeconds != nil || p.TimeLagLowSeconds != nil || p.TimeLagHighSeconds != nil || p.TimeLagMethod != "unknown" {
		t.Fatalf("an unknown time lag has no value, got %v [%v, %v] (%s)", p.TimeLagSeconds, p.TimeLagLowSeconds, p.TimeLagHighSeconds, p.TimeLagMethod)
	}
	row(1, 1, 695, 695, 0, "OK")
	row(2, 2, -1, -1, -1, "UNKNOWN")
	if p := resp.Partitions[0]; p.LagGrowthRate < 9.9 || p.LagGrowthRate > 10.1 || p.CatchUpSeconds != nil {
		t.Fatalf("partition 0 grows at %v messages/s, catch-up %v; want 10 and never", p.LagGrowthRate, p.CatchUpSeconds)
	}
	cite := func(c *pb.Citation, text, source string, first, last float64) {
		t.Helper()
		if c.Series.Text != text || c.SourceApi != source || c.First != first || c.Last != last || c.Series.Metric != strings.Split(text, "{")[0] {
			t.Fatalf("citation %v; want %s from %s, %v → %v", c, text, source, first, last)
		}
	}
	ev := resp.Partitions[0].Evidence
	if len(ev) != 2 {
		t.Fatalf("partition 0 has %d citations, want committed and end offsets", len(ev))
	}
	cite(ev[0], `kafka_consumergroup_committed_offset{cluster="test",group="g1",partition="0",topic="orders"}`, "OffsetFetch", 1000, 1390)
	cite(ev[1], `kafka_partition_log_end_offset{cluster="test",partition="0",topic="orders"}`, "ListOffsets(latest)", 1000, 1780)
	if n := len(resp.Partitions[2].Evidence); n != 0 {
		t.Fatalf("UNKNOWN partition cites %d series; it was not judged", n)
	}

	_, err = fx.client.GetGroupLag(t.Context(), &pb.GetGroupLagRequest{Group: "nope"})
	wantCode(t, err, codes.NotFound, `"nope"`)
	_, err = fx.client.GetGroupLag(t.Context(), &pb.GetGroupLagRequest{})
	wantCode(t, err, codes.InvalidArgument, "group")
}

// watch opens a stream and waits for its header: the server sends it once
// subscribed, so every event applied afterwards is delivered or counted.
func (fx *fixture) watch(t *testing.T, req *pb.WatchFindingsRequest) grpc.ServerStreamingClient[pb.WatchFindingsResponse] {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	stream, err := fx.client.WatchFindings(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Header(); err != nil {
		t.Fatal(err)
	}
	return stream
}

func TestWatchFindingsOrder(t *testing.T) {
	fx := newFixture(t)
	stream := fx.watch(t, &pb.WatchFindingsRequest{Group: "g1"})
	x1 := finding("x1", detect.KindLagGrowing, detect.SeverityWarning, "g1", "t", -1, 1)
	x1u := x1
	x1u.Severity = detect.SeverityCritical
	x2 := finding("x2", detect.KindOffsetRewind, detect.SeverityWarning, "g1", "t", -1, 3)
	fx.findings.Apply(t0, opened(x1, finding("y1", detect.KindLagGrowing, detect.SeverityWarning, "g2", "t", -1, 1)))
	fx.findings.Apply(t0, []detect.Event{{Type: detect.EventUpdated, Finding: x1u}})
	fx.findings.Apply(t0, append([]detect.Event{resolved(x1u, t0.Add(2*time.Minute))}, opened(x2)...))
	want := []string{"OPENED x1", "UPDATED x1", "RESOLVED x1", "OPENED x2"} // y1 is in group g2
	for i, w := range want {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.TrimPrefix(ev.Type.String(), "EVENT_TYPE_") + " " + ev.Finding.GetId(); got != w {
			t.Fatalf("event %d = %q, want %q", i, got, w)
		}
	}

	bad, err := fx.client.WatchFindings(t.Context(), &pb.WatchFindingsRequest{Severity: "loud"})
	if err == nil {
		_, err = bad.Recv()
	}
	wantCode(t, err, codes.InvalidArgument, `severity "loud"`)
}

// A subscriber that does not read falls behind by far more than WatchBuffer.
// Small fixed flow-control windows make the server's Send block early, so
// the subscription's buffer fills. Apply must still return, and the stream
// must account for every event: each one is either received, in order, or
// counted by a MISSED event at the position where it was dropped.
func TestWatchFindingsSlowSubscriber(t *testing.T) {
	fx := newFixture(t, grpc.WithInitialWindowSize(64<<10), grpc.WithInitialConnWindowSize(64<<10))
	stream := fx.watch(t, &pb.WatchFindingsRequest{})

	n := 10 * api.WatchBuffer
	evs := make([]detect.Event, n)
	for i := range evs {
		f := finding(fmt.Sprintf("e%05d", i), detect.KindLagGrowing, detect.SeverityWarning, "g", "t", -1, 1)
		f.Summary = strings.Repeat("x", 4096)
		evs[i] = detect.Event{Type: detect.EventOpened, Finding: f}
	}
	done := make(chan struct{})
	go func() { defer close(done); fx.findings.Apply(t0, evs) }()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Apply blocked on a subscriber that does not read")
	}

	pos, missed := 0, uint64(0)
	for pos < n {
		ev, err := stream.Recv()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", pos, n, err)
		}
		if ev.Type == pb.EventType_EVENT_TYPE_MISSED {
			if ev.Missed == 0 {
				t.Fatal("MISSED event without a count")
			}
			pos, missed = pos+int(ev.Missed), missed+ev.Missed
			continue
		}
		if want := fmt.Sprintf("e%05d", pos); ev.Finding.GetId() != want {
			t.Fatalf("received %s where %s was due (%d missed so far)", ev.Finding.GetId(), want, missed)
		}
		pos++
	}
	if pos != n || missed == 0 {
		t.Fatalf("accounted for %d of %d events, %d missed; want all, some missed", pos, n, missed)
	}
}
