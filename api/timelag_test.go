package api_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// TestGetGroupLagRefinesFromStore: 500 records are produced in one burst
// between sweeps 22 and 23 of 60 (one a second), and the consumer stops at
// offset 1200, inside the burst. By the newest sweep the burst is older
// than the recent ring, so the window alone brackets the record by a whole
// 10 s history step. With the store, GetGroupLag reads the raw end offsets
// of that step and dates the record within the one second it was produced
// in: 36–37 s before the newest sweep.
func TestGetGroupLagRefinesFromStore(t *testing.T) {
	cfg := state.WindowConfig{Span: time.Minute, Points: 8, Recent: 4} // a 10 s history step
	w, err := state.NewWindow(cfg, "test")
	if err != nil {
		t.Fatal(err)
	}
	scfg := store.DefaultConfig()
	scfg.FS = vfs.NewMem()
	scfg.Queue = 64 // the test hands sweeps over faster than a poller would
	st, err := store.Open("data", scfg, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	topo := w.BuildTopology([]state.GroupTopicSpec{{Group: "g", Topic: "t", Partitions: []int32{0}}})
	com, _ := w.Lookup(state.SeriesKey{Metric: state.MetricCommitted, Group: "g", Topic: "t", Partition: 0})
	end, _ := w.Lookup(state.SeriesKey{Metric: state.MetricEnd, Topic: "t", Partition: 0})
	for i := range int64(60) {
		s := w.Begin(t0.Add(time.Duration(i) * time.Second))
		if i == 0 {
			s.SetTopology(topo)
			s.SetGroups(map[string]detect.GroupContext{"g": {Known: true, State: "Stable", Members: 1, Generation: 1}})
		}
		e := int64(1000)
		if i >= 23 {
			e = 1500
		}
		s.Set(end, e)
		s.Set(com, min(e, 1200))
		w.Commit(s)
		if !st.AppendWindow(w) {
			t.Fatalf("sweep %d: store hand-off dropped", i)
		}
	}
	req := &pb.GetGroupLagRequest{Group: "g"}
	lagOf := func(srv *api.Server) *pb.PartitionLag {
		t.Helper()
		resp, err := srv.GetGroupLag(t.Context(), req)
		if err != nil {
			t.Fatal(err)
		}
		return resp.Partitions[0]
	}
	coarse := lagOf(api.NewServer(state.NewFindings(time.Hour, 10), w, detect.DefaultLagConfig()))
	if coarse.GetTimeLagHighSeconds()-coarse.GetTimeLagLowSeconds() < 5 {
		t.Fatalf("window-only bracket [%v, %v] s: the test needs a decimated step around the burst",
			coarse.GetTimeLagLowSeconds(), coarse.GetTimeLagHighSeconds())
	}
	fine := lagOf(api.NewServer(state.NewFindings(time.Hour, 10), w, detect.DefaultLagConfig()).WithHistory(st, nil))
	if fine.TimeLagMethod != detect.TimeLagInterpolated || fine.GetTimeLagLowSeconds() != 36 || fine.GetTimeLagHighSeconds() != 37 ||
		fine.GetTimeLagSeconds() < 36 || fine.GetTimeLagSeconds() > 37 {
		t.Fatalf("with the store: %v s in [%v, %v] by %q; want within [36, 37] (window alone: %v s in [%v, %v])",
			fine.GetTimeLagSeconds(), fine.GetTimeLagLowSeconds(), fine.GetTimeLagHighSeconds(), fine.TimeLagMethod,
			coarse.GetTimeLagSeconds(), coarse.GetTimeLagLowSeconds(), coarse.GetTimeLagHighSeconds())
	}
}
