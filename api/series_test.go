package api

import (
	"context"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

func TestParseSeriesText(t *testing.T) {
	ok := func(n int, in string, want detect.SeriesRef) {
		t.Helper()
		got, err := ParseSeriesText(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%d: ParseSeriesText(%q) = %+v, %v; want %+v", n, in, got, err, want)
		}
	}
	bad := func(n int, in, wantErr string) {
		t.Helper()
		if _, err := ParseSeriesText(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%d: ParseSeriesText(%q) error %v, want one containing %q", n, in, err, wantErr)
		}
	}
	ok(1, `m{}`, detect.SeriesRef{Metric: "m"})
	ok(2, `kafka_consumergroup_committed_offset{cluster="c",group="g",partition="0",topic="t"}`, detect.SeriesRef{
		Metric: "kafka_consumergroup_committed_offset",
		Labels: []detect.Label{{Name: "cluster", Value: "c"}, {Name: "group", Value: "g"}, {Name: "partition", Value: "0"}, {Name: "topic", Value: "t"}},
	})
	ok(3, `m{group="a\"b,c}"}`, detect.SeriesRef{Metric: "m", Labels: []detect.Label{{Name: "group", Value: `a"b,c}`}}}) // quotes and braces in a group id
	bad(4, `m`, "want name{")
	bad(5, `{a="b"}`, "want name{")
	bad(6, `m{a=b}`, "bad label")
	bad(7, `m{a="b}`, "unterminated")
	bad(8, `m{b="1",a="2"}`, "sorted")
	bad(9, `m{a="1" b="2"}`, "','")
	bad(10, `m{a="1",}`, "','")
	bad(11, `9m{}`, "bad metric name")
}

// FuzzParseSeriesText: parsing never panics; whatever parses renders back
// (SeriesRef.String) to text that parses to the same reference.
func FuzzParseSeriesText(f *testing.F) {
	for _, s := range []string{`m{}`, `a{b="c",d="e\n"}`, `m{group="a\"b"}`, `m{a="1",}`, `{`, `m{a=""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseSeriesText(s)
		if err != nil {
			return
		}
		again, err := ParseSeriesText(ref.String())
		if err != nil || !reflect.DeepEqual(again, ref) {
			t.Fatalf("round trip of %q: %q → %+v, %v", s, ref.String(), again, err)
		}
	})
}

// memStore opens a store in memory that checkpoints only when asked (a
// query flushes), closed when the test ends.
func memStore(t *testing.T) *store.Store {
	t.Helper()
	cfg := store.DefaultConfig()
	cfg.FS, cfg.FlushInterval, cfg.Queue = vfs.NewMem(), time.Hour, 512
	st, err := store.Open("db", cfg, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// TestQuerySeriesBroker: a broker series resolves to its raw samples from
// the store long after the telemetry window decimated or dropped them,
// including the sweeps appended since the last checkpoint (the query
// flushes); other clusters, minute resolution and unknown series are
// refused.
func TestQuerySeriesBroker(t *testing.T) {
	st := memStore(t)
	win, _ := state.NewWindow(state.DefaultWindowConfig(), "c1")
	tel, _ := state.NewTelemetry(state.WindowConfig{Span: time.Minute, Points: 6, Recent: 4}, "c1")
	k := state.TelemetryKey{Signal: detect.SigLogDirUsed, Broker: 2, Partition: -1, Dir: "/data", Origin: "admin"}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for n := range 300 {
		sw := tel.Begin(start.Add(time.Duration(n) * time.Second))
		if n%10 != 4 { // every tenth sweep the answer is missing
			sw.Set(k, 1e9+float64(n)*4096)
		}
		tel.Commit(sw)
		if !st.AppendTelemetry(tel) {
			t.Fatal("sweep dropped")
		}
	}
	srv := NewServer(state.NewFindings(time.Hour, 10), win, detect.DefaultLagConfig()).WithHistory(st, tel)
	query := func(series string, res pb.Resolution) (*pb.QuerySeriesResponse, error) {
		return srv.QuerySeries(context.Background(), &pb.QuerySeriesRequest{Series: series, Resolution: res,
			From: timestamppb.New(start), To: timestamppb.New(start.Add(299 * time.Second))})
	}
	resp, err := query(tel.Ref(k).String(), pb.Resolution_RESOLUTION_UNSPECIFIED)
	if err != nil || len(resp.Samples) != 300 {
		t.Fatalf("%d samples, %v; want all 300 sweeps", len(resp.GetSamples()), err)
	}
	for n, s := range resp.Samples {
		if s.Time.AsTime() != start.Add(time.Duration(n)*time.Second) || s.Gap != (n%10 == 4) || !s.Gap && s.FloatValue != 1e9+float64(n)*4096 {
			t.Fatalf("sample %d: %v", n, s)
		}
	}
	other := tel.Ref(k)
	other.Labels[1].Value = "c2"
	for _, c := range []struct {
		series string
		res    pb.Resolution
		code   codes.Code
	}{
		{other.String(), pb.Resolution_RESOLUTION_RAW, codes.NotFound},
		{tel.Ref(k).String(), pb.Resolution_RESOLUTION_MINUTE, codes.InvalidArgument},
		{`kafka_broker_log_dir_used_bytes{broker="3",cluster="c1",dir="/data",origin="admin"}`, pb.Resolution_RESOLUTION_RAW, codes.NotFound},
	} {
		if _, err := query(c.series, c.res); status.Code(err) != c.code {
			t.Fatalf("%s (%s): %v, want %s", c.series, c.res, err, c.code)
		}
	}
}

// TestQuerySeriesMinutes: minute rollups of an offset series through
// QuerySeries. The end offset is 1000 + 10n at sweep n (one a second from
// a minute boundary), absent when n%30 == 29. By hand, minute m holds the
// 58 sweeps 60m … 60m+58 but 60m+29: first 1000+600m, last 1580+600m, sum
// 74820 + 34800m (59 × 1000 + 10 × (59 × 60m + 1711), less the absent
// 1000 + 10 × (60m+29)).
func TestQuerySeriesMinutes(t *testing.T) {
	st := memStore(t)
	win, _ := state.NewWindow(state.DefaultWindowConfig(), "c1")
	key := state.SeriesKey{Metric: state.MetricEnd, Topic: "t", Partition: 0}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for n := range 180 {
		sw := win.Begin(start.Add(time.Duration(n) * time.Second))
		if n%30 != 29 {
			sw.Set(win.Register(key), 1000+10*int64(n))
		}
		win.Commit(sw)
		if !st.AppendWindow(win) {
			t.Fatal("sweep dropped")
		}
	}
	srv := NewServer(state.NewFindings(time.Hour, 10), win, detect.DefaultLagConfig()).WithHistory(st, nil)
	resp, err := srv.QuerySeries(context.Background(), &pb.QuerySeriesRequest{Series: win.RefOf(key).String(),
		Resolution: pb.Resolution_RESOLUTION_MINUTE, From: timestamppb.New(start), To: timestamppb.New(start.Add(179 * time.Second))})
	if err != nil || len(resp.Minutes) != 3 || len(resp.Samples) != 0 {
		t.Fatalf("%d minutes, %d samples, %v; want 3 minutes", len(resp.GetMinutes()), len(resp.GetSamples()), err)
	}
	for m, got := range resp.Minutes {
		want := &pb.MinuteSample{Time: timestamppb.New(start.Add(time.Duration(m) * time.Minute)),
			First: 1000 + 600*int64(m), Last: 1580 + 600*int64(m), Min: 1000 + 600*int64(m), Max: 1580 + 600*int64(m),
			Sum: 74820 + 34800*int64(m), Count: 58}
		if !proto.Equal(got, want) {
			t.Fatalf("minute %d: %v, want %v", m, got, want)
		}
	}
}
