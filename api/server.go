// Package api serves findings over gRPC (kwitness.v1.FindingsService) and,
// through grpc-gateway, over REST on the HTTP listener together with
// /openapi.json, /metrics, /healthz and /readyz.
//
// Handlers are thin: they validate arguments, delegate to state and detect,
// and convert with the functions in compat.go. Every call is read-only.
package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/engine"
	"github.com/kwitness/kwitness/state/explain"
	"github.com/kwitness/kwitness/state/store"
)

// Page sizes of ListFindings.
const (
	DefaultPageSize = 100
	MaxPageSize     = 1000
)

// WatchBuffer is how many events a WatchFindings subscriber may fall behind
// before it is sent a MISSED event instead.
const WatchBuffer = 256

// Server implements FindingsService over the findings store and the window.
type Server struct {
	pb.UnimplementedFindingsServiceServer
	findings *state.Findings
	window   *state.Window
	lag      detect.LagConfig
	history  *engine.History // nil without a store and telemetry
	events   *state.Deploys  // nil: RecordEvent is unimplemented
	limits   auth.Limits
	// nil: Explain and DraftPlan are unimplemented and findings carry no owner.
	explainer *explain.Explainer
	bootstrap string     // --bootstrap-server of plan artifacts
	cache     protoCache // listed findings by revision
}

// NewServer returns a server; lag is the detector configuration GetGroupLag
// judges partitions with.
func NewServer(f *state.Findings, w *state.Window, lag detect.LagConfig) *Server {
	return &Server{findings: f, window: w, lag: lag, limits: auth.DefaultConfig().Limits}
}

// WithLimits replaces the default request limits (zero fields keep theirs).
func (s *Server) WithLimits(l auth.Limits) *Server {
	s.limits = l.WithDefaults()
	return s
}

// WithHistory makes QuerySeries read offsets from st (may be nil) and broker
// series from tel (may be nil).
func (s *Server) WithHistory(st *store.Store, tel *state.Telemetry) *Server {
	s.history = engine.NewHistory(s.window, st, tel)
	return s
}

// Register adds the service to a gRPC server.
func (s *Server) Register(g *grpc.Server) { pb.RegisterFindingsServiceServer(g, s) }

// ListFindings implements FindingsService. Findings of a response may be
// shared with other responses (see protoCache): callers must not modify them.
func (s *Server) ListFindings(ctx context.Context, req *pb.ListFindingsRequest) (*pb.ListFindingsResponse, error) {
	q, err := ParseFilter(FilterArgs{State: req.State, Kind: req.Kind, Severity: req.Severity, Group: req.Group, Topic: req.Topic, Broker: req.Broker})
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if err := checkView(req.View); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	q.Allow = scopeAllow(ctx)
	size := int(req.PageSize)
	switch {
	case size == 0:
		size = DefaultPageSize
	case size < 0 || size > MaxPageSize:
		return nil, status.Errorf(codes.InvalidArgument, "page_size %d: want 1..%d", size, MaxPageSize)
	}
	var after *detect.Finding
	if req.PageToken != "" {
		a, err := decodePageToken(req.PageToken)
		if err != nil {
			return nil, status.Error(codes.InvalidArgument, err.Error())
		}
		after = &a
	}
	page, total := s.findings.RevisedPage(q, after, size+1)
	resp := &pb.ListFindingsResponse{TotalSize: int32(total)}
	resp.Findings = s.listed(ctx, page[:min(size, len(page))], req.View)
	if len(page) > size {
		resp.NextPageToken = encodePageToken(*page[size-1].Finding)
	}
	return resp, nil
}

// checkLen refuses an argument longer than api.limits.max_filter_bytes.
func (s *Server) checkLen(name, v string) error {
	if len(v) > s.limits.MaxFilterBytes {
		return status.Errorf(codes.InvalidArgument, "%s: %d bytes, over the limit of %d (api.limits.max_filter_bytes)", name, len(v), s.limits.MaxFilterBytes)
	}
	return nil
}

// Page tokens are keyset positions: the opened time and id of the last
// finding returned, so pages stay stable while findings come and go.
func encodePageToken(f detect.Finding) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(f.OpenedAt.UnixNano(), 10) + "|" + f.ID))
}

func decodePageToken(tok string) (detect.Finding, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return detect.Finding{}, fmt.Errorf("page_token: not a token this server issued")
	}
	ns, id, ok := strings.Cut(string(raw), "|")
	n, err := strconv.ParseInt(ns, 10, 64)
	if !ok || err != nil || id == "" {
		return detect.Finding{}, fmt.Errorf("page_token: not a token this server issued")
	}
	return detect.Finding{ID: id, OpenedAt: time.Unix(0, n)}, nil
}

// GetFinding implements FindingsService.
func (s *Server) GetFinding(ctx context.Context, req *pb.GetFindingRequest) (*pb.GetFindingResponse, error) {
	if req.Id == "" {
		return nil, status.Error(codes.InvalidArgument, "id: required")
	}
	if err := checkView(req.View); err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	f, ok := s.findings.Get(req.Id)
	if ok {
		f, ok = ScopeFinding(ctx, f) // one outside the caller's scope is not found either
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "finding %q: not found (resolved findings are kept for a limited time)", req.Id)
	}
	return &pb.GetFindingResponse{Finding: s.viewFinding(f, req.View)}, nil
}

// WatchFindings implements FindingsService. It never blocks the publisher:
// events beyond WatchBuffer are dropped and announced by a MISSED event at
// the point of the stream where they were dropped. MISSED counts dropped
// events before filtering.
func (s *Server) WatchFindings(req *pb.WatchFindingsRequest, stream grpc.ServerStreamingServer[pb.WatchFindingsResponse]) error {
	q, err := ParseFilter(FilterArgs{State: req.State, Kind: req.Kind, Severity: req.Severity, Group: req.Group, Topic: req.Topic, Broker: req.Broker})
	if err != nil {
		return status.Error(codes.InvalidArgument, err.Error())
	}
	ctx := stream.Context()
	q.Allow = scopeAllow(ctx)
	sub := s.findings.Subscribe(WatchBuffer)
	defer sub.Close()
	// The header tells the client it is subscribed: every event applied from
	// now on is delivered or counted as missed.
	if err := stream.SendHeader(nil); err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case d := <-sub.C:
			if err := s.sendDelivery(ctx, stream, q, d.Event, d.Missed); err != nil {
				return err
			}
			if len(sub.C) > 0 {
				continue
			}
			if err := s.sendDelivery(ctx, stream, q, detect.Event{}, sub.TakeMissed()); err != nil {
				return err
			}
		}
	}
}

// sendDelivery sends a MISSED event when missed > 0, else ev if it matches q.
func (s *Server) sendDelivery(ctx context.Context, stream grpc.ServerStreamingServer[pb.WatchFindingsResponse], q state.FindingFilter, ev detect.Event, missed uint64) error {
	switch {
	case missed > 0:
		return stream.Send(&pb.WatchFindingsResponse{Type: pb.EventType_EVENT_TYPE_MISSED, Missed: missed})
	case ev.Type != 0 && q.Match(&ev.Finding):
		ev.Finding, _ = ScopeFinding(ctx, ev.Finding)
		return stream.Send(&pb.WatchFindingsResponse{Type: pb.EventType(ev.Type), Finding: s.findingToProto(ev.Finding)})
	}
	return nil
}

// GetGroupLag implements FindingsService.
func (s *Server) GetGroupLag(ctx context.Context, req *pb.GetGroupLagRequest) (*pb.GetGroupLagResponse, error) {
	if req.Group == "" {
		return nil, status.Error(codes.InvalidArgument, "group: required")
	}
	if err := s.checkLen("group", req.Group); err != nil {
		return nil, err
	}
	if !auth.Allows(ctx, auth.Group, req.Group) {
		return nil, errOutOfScope(ctx, fmt.Sprintf("group %q", req.Group))
	}
	d, err := detect.NewLagDetector(s.lag)
	if err != nil {
		return nil, status.Error(codes.Internal, err.Error())
	}
	v := s.window.View()
	resp := &pb.GetGroupLagResponse{Cluster: s.window.Cluster(), Group: req.Group, SweepTime: timestamppb.New(v.At())}
	found := false
	v.GroupTopics(req.Group, func(gt *detect.GroupTopic) {
		found = true
		if !auth.Allows(ctx, auth.Topic, gt.Topic) {
			auth.Withheld(ctx, len(gt.Partitions)) // rows of a topic outside the caller's scope
			return
		}
		resp.GroupState, resp.Members = gt.Context.State, int32(gt.Context.Members)
		for j, r := range d.GroupLagOf(v, gt) {
			var ev []detect.Citation // an UNKNOWN partition has no judged window to cite
			if r.Status != detect.StatusUnknown {
				ev, _ = ScopeCitations(ctx, d.Citations(v, gt, j, r.Status))
			}
			tl := s.history.TimeLag(ctx, gt, j)
			resp.Partitions = append(resp.Partitions, partitionLagToProto(gt.Topic, gt.Partitions[j].Partition, r, tl, ev))
			if r.Lag != detect.Gap {
				resp.TotalLag += r.Lag
			}
		}
	})
	if !found {
		return nil, status.Errorf(codes.NotFound, "group %q: not watched (no committed offsets seen, filtered out, or gone)", req.Group)
	}
	return resp, nil
}
