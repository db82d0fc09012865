package bench

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/explain"
)

// BenchmarkExplain calls Explain for a group with 1,000 partitions (one
// topic) in the default window (10 minutes, one sweep every 2 s, so the
// history ring is full): every partition lags, half of them growing after
// a reported deploy and a rebalance, with 50 findings on the group and its
// topic and 200 layout changes. Each call is the handler as gRPC runs it —
// the bundle read from the window, converted to protobuf and fitted to the
// default 32 KiB budget (JSON) — timed on its own; no network.
//
// page_size=10 is the default answer; page_size=500 asks for more than
// the budget holds, so every call also cuts lists to fit (FitBudget's
// rounds of measuring).
//
// Metrics: p50-ms and p99-ms per call (target p99 ≤ 5 ms), cpu-ms/call
// (the process's CPU time over the timed calls, GC included), json-bytes
// of the answer (must be ≤ the 32 KiB budget, checked on every call).
func BenchmarkExplain(b *testing.B) {
	const parts, callsPerIter = 1000, 50
	var srv *api.Server
	for _, pageSize := range []int32{10, 500} {
		b.Run(fmt.Sprintf("partitions=%d/page_size=%d", parts, pageSize), func(b *testing.B) {
			if srv == nil {
				srv = explainServer(b, parts)
			}
			req := &pb.ExplainRequest{Subject: &pb.ExplainRequest_Group{Group: "fraud"}, PageSize: pageSize}
			size, cut := 0, false
			call := func() {
				resp, err := srv.Explain(b.Context(), req)
				if err != nil {
					b.Fatal(err)
				}
				if resp.Budget.Bytes > resp.Budget.MaxBytes || len(resp.Narrative) == 0 {
					b.Fatalf("answer of %d bytes over its budget %d (or no narrative)", resp.Budget.Bytes, resp.Budget.MaxBytes)
				}
				size, cut = int(resp.Budget.Bytes), resp.Budget.Cut
			}
			for range 5 {
				call()
			}
			if cut != (pageSize > 10) {
				b.Fatalf("page_size %d: budget cut %v", pageSize, cut)
			}
			var durs []time.Duration
			b.ReportAllocs()
			cpu0 := cpuTime()
			for b.Loop() {
				for range callsPerIter {
					start := time.Now()
					call()
					durs = append(durs, time.Since(start))
				}
			}
			cpu := cpuTime() - cpu0
			slices.Sort(durs)
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(durs)), "cpu-ms/call")
			b.ReportMetric(quantileMs(durs, 0.50), "p50-ms")
			b.ReportMetric(quantileMs(durs, 0.99), "p99-ms")
			b.ReportMetric(float64(size), "json-bytes")
			resp, _ := srv.Explain(b.Context(), req)
			if js, _ := (protojson.MarshalOptions{EmitUnpopulated: true}).Marshal(resp); len(js) > api.DefaultExplainBytes {
				b.Fatalf("the answer as the gateway writes it is %d bytes, over the %d budget", len(js), api.DefaultExplainBytes)
			}
		})
	}
}

// explainServer fills a window with one group of parts partitions over a
// full default span and returns a server that explains it.
func explainServer(b *testing.B, parts int) *api.Server {
	b.Helper()
	cfg := state.DefaultWindowConfig()
	w, err := state.NewWindow(cfg, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ps := make([]int32, parts)
	for i := range ps {
		ps[i] = int32(i)
	}
	topo := w.BuildTopology([]state.GroupTopicSpec{{Group: "fraud", Topic: "payments", Partitions: ps}})
	gen := w.Register(state.SeriesKey{Metric: state.MetricGeneration, Group: "fraud"})
	ids := make([][3]uint32, parts)
	for i, p := range topo.GroupTopics[0].Parts {
		ids[i] = p.Series
	}
	const step = 2 * time.Second
	sweeps := int(cfg.Span / step)
	changeAt := sweeps / 2
	owners := map[string]map[int32]string{"payments": {}}
	for _, p := range ps {
		owners["payments"][p] = fmt.Sprintf("fraud-%d@10.0.0.%d", p%8, p%8)
	}
	ms := func(i int) int64 { return t0 + int64(i)*step.Milliseconds() }
	change := detect.MembershipChange{AtMs: ms(changeAt), BeforeMs: ms(changeAt - 1), From: 4, To: 5, Joined: []string{"fraud-0@10.0.0.9"},
		Left: []string{"fraud-0@10.0.0.0"}, GenerationID: gen, HasSeries: true}
	for i := range sweeps {
		s := w.Begin(time.UnixMilli(ms(i)))
		switch i {
		case 0:
			s.SetTopology(topo)
			s.SetGroups(map[string]detect.GroupContext{"fraud": {Known: true, State: "Stable", Members: 8, Generation: 4, Owners: owners}})
		case changeAt:
			s.SetGroups(map[string]detect.GroupContext{"fraud": {Known: true, State: "Stable", Members: 8, Generation: 5, Change: change,
				History: []detect.MembershipChange{change}, Owners: owners}})
		}
		g := int64(4)
		if i >= changeAt {
			g = 5
		}
		s.Set(gen, g)
		for j, id := range ids {
			end := int64(i) * 100
			com := end - int64(j%50)
			if j%2 == 0 && i > changeAt {
				com = int64(changeAt)*100 + int64(i-changeAt)*60 // slower after the deploy
			}
			s.Set(id[detect.ColCommitted], com)
			s.Set(id[detect.ColEnd], end)
			s.Set(id[detect.ColStart], 0)
		}
		w.Commit(s)
	}
	findings := state.NewFindings(time.Hour, 1000)
	var evs []detect.Event
	for i := range 50 {
		f := detect.Finding{ID: fmt.Sprintf("f%02d", i), Kind: detect.KindLagGrowing, Severity: detect.SeverityWarning, State: detect.StateFiring,
			Subject:  detect.Subject{Cluster: "bench", Group: "fraud", Topic: "payments", Partitions: []int32{int32(i)}, Broker: -1},
			Summary:  "fraud is behind on payments: lag grew after the deploy of fraud v2 (event ev-1).",
			OpenedAt: time.UnixMilli(ms(changeAt + i%10)), Evidence: []detect.Citation{{Series: w.Ref(ids[i][detect.ColCommitted])}}}
		if i%5 == 0 {
			f.Subject.Group = ""
			f.Kind = detect.KindHotPartition
		}
		evs = append(evs, detect.Event{Type: detect.EventOpened, Finding: f})
	}
	findings.Apply(time.UnixMilli(ms(sweeps-1)), evs)
	events := state.NewDeploys(10)
	events.Add(detect.DeployEvent{Service: "fraud", Version: "v2", Group: "fraud", AtMs: ms(changeAt) - 1000})
	layout := state.NewLayout(1000)
	assign := func(shift int) map[string][]detect.PartitionAssignment {
		out := make([]detect.PartitionAssignment, parts)
		for j := range out {
			out[j] = detect.PartitionAssignment{Partition: int32(j), Leader: int32((j + shift) % 3), Replicas: []int32{int32(j % 3), int32((j + 1) % 3)}}
		}
		return map[string][]detect.PartitionAssignment{"payments": out}
	}
	layout.ObserveMetadata(time.UnixMilli(ms(changeAt)), assign(0))
	for k := range 2 { // 200 leader moves
		l := assign(0)
		for j := range 100 {
			l["payments"][j*7%parts].Leader = int32(k + 1)
		}
		layout.ObserveMetadata(time.UnixMilli(ms(changeAt+10+k)), l)
	}
	o, err := detect.NewOwners(detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "risk", Contact: "#risk", Groups: []string{"fraud*"}, Topics: []string{"payments"}}}})
	if err != nil {
		b.Fatal(err)
	}
	lag := detect.DefaultLagConfig()
	ex, err := explain.New(explain.Sources{Window: w, Findings: findings, Events: events, Layout: layout, Owners: o, Lag: lag})
	if err != nil {
		b.Fatal(err)
	}
	return api.NewServer(findings, w, lag).WithExplainer(ex, "k1:9092,k2:9092")
}
