package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// History is the store and the in-memory broker telemetry behind
// QuerySeries: offsets come from the store; broker series from the store
// and, for the sweeps not checkpointed yet, the telemetry window
// (store.ResolveTelemetry). The store is flushed before a query that reaches
// past the newest sweep known flushed, at most once per sweep, so that
// citations of a finding that just opened resolve.
type History struct {
	Store     *store.Store
	Telemetry *state.Telemetry // nil without scrape targets

	mu      sync.Mutex
	through time.Time // every sweep stamped at or before it was queued before the last flush
}

// flushFor flushes the store if a query up to to may need sweeps not yet
// flushed. newest is the window's newest sweep stamp, read before flushing:
// the poller queues each sweep for the store right after publishing it in
// the window, so a flush covers every sweep through newest (short of a query
// landing between those two steps of the poller).
func (h *History) flushFor(ctx context.Context, to, newest time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !to.After(h.through) || !newest.After(h.through) {
		return nil
	}
	if err := h.Store.Flush(ctx); err != nil {
		return err
	}
	h.through = newest
	return nil
}

// QuerySeries implements FindingsService.
func (s *Server) QuerySeries(ctx context.Context, req *pb.QuerySeriesRequest) (*pb.QuerySeriesResponse, error) {
	if err := s.checkLen("series", req.Series); err != nil {
		return nil, err
	}
	ref, err := ParseSeriesText(req.Series)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if !auth.FromContext(ctx).VisibleSeries(ref.Labels) {
		return nil, errOutOfScope(ctx, "series "+ref.String())
	}
	from, to, err := queryWindow(req, s.limits.MaxSeriesSpan)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if strings.HasPrefix(ref.Metric, "kafka_broker_") {
		return s.queryTelemetry(ctx, ref, from, to, req.Resolution)
	}
	key, err := s.seriesKey(ref)
	if err != nil {
		return nil, err
	}
	if s.history == nil || s.history.Store == nil {
		return nil, status.Error(codes.FailedPrecondition, "series history is off: kwitness runs without a data_dir")
	}
	if err := s.history.flushFor(ctx, to, s.newestSweep()); err != nil {
		return nil, status.Errorf(codes.Unavailable, "store flush: %v", err)
	}
	resp := &pb.QuerySeriesResponse{Series: seriesToProto(ref)}
	if req.Resolution == pb.Resolution_RESOLUTION_MINUTE {
		mins, err := s.history.Store.QueryMinutes(key, from, to)
		if err != nil {
			return nil, status.Errorf(codes.Internal, "query %s: %v", ref, err)
		}
		for _, m := range mins {
			resp.Minutes = append(resp.Minutes, &pb.MinuteSample{Time: timestamppb.New(time.UnixMilli(m.T)),
				First: m.First, Last: m.Last, Min: m.Min, Max: m.Max, Sum: m.Sum, Count: m.Count})
		}
		return resp, nil
	}
	pts, err := s.history.Store.Query(key, from, to)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "query %s: %v", ref, err)
	}
	for _, p := range pts {
		resp.Samples = append(resp.Samples, &pb.Sample{Time: timestamppb.New(time.UnixMilli(p.T)), Value: p.V, Gap: p.Gap})
	}
	return resp, nil
}

// seriesKey maps a reference to a stored key of this cluster.
func (s *Server) seriesKey(ref detect.SeriesRef) (state.SeriesKey, error) {
	if err := s.checkCluster(ref); err != nil {
		return state.SeriesKey{}, err
	}
	k, err := store.SeriesKeyOf(ref)
	if err != nil {
		return k, status.Error(codes.InvalidArgument, err.Error())
	}
	return k, nil
}

// checkCluster fails a reference labelled with another cluster.
func (s *Server) checkCluster(ref detect.SeriesRef) error {
	for _, l := range ref.Labels {
		if l.Name == "cluster" && l.Value != s.window.Cluster() {
			return status.Errorf(codes.NotFound, "series %s: this kwitness watches cluster %q", ref, s.window.Cluster())
		}
	}
	return nil
}

// queryTelemetry answers for a broker series with its raw samples: stored,
// then the window's newest. Broker telemetry has no minute rollups.
func (s *Server) queryTelemetry(ctx context.Context, ref detect.SeriesRef, from, to time.Time, res pb.Resolution) (*pb.QuerySeriesResponse, error) {
	if res == pb.Resolution_RESOLUTION_MINUTE {
		return nil, status.Errorf(codes.InvalidArgument, "series %s: broker telemetry is kept raw only; ask for raw samples", ref)
	}
	if err := s.checkCluster(ref); err != nil {
		return nil, err
	}
	if s.history == nil || s.history.Store == nil && s.history.Telemetry == nil {
		return nil, status.Errorf(codes.NotFound, "series %s: no broker telemetry is configured", ref)
	}
	if s.history.Store != nil {
		// A store that cannot flush (a full disk) still answers what it holds,
		// and ResolveTelemetry falls back to the window when it cannot read.
		if err := s.history.flushFor(ctx, to, s.newestSweep()); err != nil && !errors.Is(err, store.ErrUnavailable) {
			return nil, status.Errorf(codes.Unavailable, "store flush: %v", err)
		}
	}
	pts, ok, err := store.ResolveTelemetry(s.history.Store, s.history.Telemetry, ref, from, to)
	switch {
	case err != nil:
		return nil, status.Errorf(codes.Internal, "query %s: %v", ref, err)
	case !ok:
		return nil, status.Errorf(codes.NotFound, "series %s: not a broker series of this kwitness", ref)
	}
	resp := &pb.QuerySeriesResponse{Series: seriesToProto(ref)}
	for _, p := range pts {
		resp.Samples = append(resp.Samples, &pb.Sample{Time: timestamppb.New(time.UnixMilli(p.T)), Gap: p.IsGap(), FloatValue: finite(p.V)})
	}
	return resp, nil
}

func queryWindow(req *pb.QuerySeriesRequest, maxSpan time.Duration) (from, to time.Time, err error) {
	if req.From == nil || req.To == nil {
		return from, to, errors.New("from and to: both required (RFC 3339 in REST)")
	}
	from, to = req.From.AsTime(), req.To.AsTime()
	switch {
	case to.Before(from):
		return from, to, fmt.Errorf("to %s is before from %s", to.Format(time.RFC3339), from.Format(time.RFC3339))
	case to.Sub(from) > maxSpan:
		return from, to, fmt.Errorf("window %s exceeds %s (api.limits.max_series_span)", to.Sub(from), maxSpan)
	}
	return from, to, nil
}

// ParseSeriesText parses a series in the Prometheus notation citations use:
// name{label="value",...}, values quoted as Go/Prometheus strings, labels
// sorted by name. It is the inverse of detect.SeriesRef.String.
func ParseSeriesText(s string) (detect.SeriesRef, error) {
	var ref detect.SeriesRef
	open := strings.IndexByte(s, '{')
	if open <= 0 || !strings.HasSuffix(s, "}") {
		return ref, fmt.Errorf("series %q: want name{label=\"value\",...}", trunc(s))
	}
	ref.Metric = s[:open]
	if !validName(ref.Metric) {
		return ref, fmt.Errorf("series %q: bad metric name", trunc(s))
	}
	rest := s[open+1 : len(s)-1]
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq <= 0 || !validName(rest[:eq]) || eq+1 >= len(rest) || rest[eq+1] != '"' {
			return ref, fmt.Errorf("series %q: bad label at %q", trunc(s), trunc(rest))
		}
		name := rest[:eq]
		val, err := strconv.QuotedPrefix(rest[eq+1:])
		if err != nil {
			return ref, fmt.Errorf("series %q: label %s: unterminated or bad quoted value", trunc(s), name)
		}
		v, _ := strconv.Unquote(val)
		if n := len(ref.Labels); n > 0 && ref.Labels[n-1].Name >= name {
			return ref, fmt.Errorf("series %q: labels must be sorted and unique (%s after %s)", trunc(s), name, ref.Labels[n-1].Name)
		}
		ref.Labels = append(ref.Labels, detect.Label{Name: name, Value: v})
		rest = rest[eq+1+len(val):]
		if rest != "" {
			if rest[0] != ',' || len(rest) == 1 {
				return ref, fmt.Errorf("series %q: want ',' between labels", trunc(s))
			}
			rest = rest[1:]
		}
	}
	return ref, nil
}

func validName(n string) bool {
	for i, c := range n {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return n != ""
}

func trunc(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// newestSweep is the stamp of the window's newest sweep.
func (s *Server) newestSweep() time.Time { return time.UnixMilli(s.window.Snapshot().At) }
