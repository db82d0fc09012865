package api

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state/engine"
)

// QuerySeries implements FindingsService: it checks the request and the
// caller's scope, asks the engine's History, and translates the answer.
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
	h := s.history
	if h == nil { // no store and no telemetry: every question is answered "off"
		h = engine.NewHistory(s.window, nil, nil)
	}
	resp := &pb.QuerySeriesResponse{Series: seriesToProto(ref)}
	if req.Resolution == pb.Resolution_RESOLUTION_MINUTE {
		mins, err := h.Minutes(ctx, ref, from, to)
		if err != nil {
			return nil, queryStatus(err)
		}
		for _, m := range mins {
			resp.Minutes = append(resp.Minutes, &pb.MinuteSample{Time: timestamppb.New(time.UnixMilli(m.T)),
				First: m.First, Last: m.Last, Min: m.Min, Max: m.Max, Sum: m.Sum, Count: m.Count})
		}
		return resp, nil
	}
	smp, err := h.Samples(ctx, ref, from, to)
	if err != nil {
		return nil, queryStatus(err)
	}
	for _, p := range smp.Ints {
		resp.Samples = append(resp.Samples, &pb.Sample{Time: timestamppb.New(time.UnixMilli(p.T)), Value: p.V, Gap: p.Gap})
	}
	for _, p := range smp.Floats {
		resp.Samples = append(resp.Samples, &pb.Sample{Time: timestamppb.New(time.UnixMilli(p.T)), Gap: p.IsGap(), FloatValue: finite(p.V)})
	}
	return resp, nil
}

// queryStatus maps a History error to its status code.
func queryStatus(err error) error {
	var qe *engine.QueryError
	if !errors.As(err, &qe) {
		return status.Error(codes.Internal, err.Error())
	}
	code := map[engine.QueryCode]codes.Code{
		engine.QueryInvalid: codes.InvalidArgument, engine.QueryNotFound: codes.NotFound,
		engine.QueryOff: codes.FailedPrecondition, engine.QueryUnavailable: codes.Unavailable,
	}[qe.Code]
	return status.Error(code, qe.Error())
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
