package api

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// Limits on a reported event.
const (
	maxEventLabels = 32
	maxEventText   = 256
	maxEventSkew   = 5 * time.Minute // how far in the future an event time may be
)

// WithEvents makes RecordEvent store events in e.
func (s *Server) WithEvents(e *state.Deploys) *Server {
	s.events = e
	return s
}

// RecordEvent implements FindingsService: it validates and stores a deploy
// event; the lag detector correlates it with the group's lag.
func (s *Server) RecordEvent(ctx context.Context, req *pb.RecordEventRequest) (*pb.RecordEventResponse, error) {
	if s.events == nil {
		return nil, status.Error(codes.Unimplemented, "events are not enabled")
	}
	ev, err := eventFromProto(req, time.Now())
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if !auth.Allows(ctx, auth.Group, ev.Group) {
		return nil, errOutOfScope(ctx, fmt.Sprintf("event for group %q", ev.Group))
	}
	return &pb.RecordEventResponse{Id: s.events.Add(ev), Group: ev.Group}, nil
}

// eventFromProto validates a reported event; errors name the field.
func eventFromProto(req *pb.RecordEventRequest, now time.Time) (detect.DeployEvent, error) {
	ev := detect.DeployEvent{Service: req.Service, Version: req.Version, Group: req.Group, Labels: req.Labels, AtMs: now.UnixMilli()}
	switch {
	case req.Service == "":
		return ev, fmt.Errorf("service: required")
	case len(req.Service) > maxEventText || len(req.Version) > maxEventText || len(req.Group) > maxEventText:
		return ev, fmt.Errorf("service, version and group: at most %d bytes each", maxEventText)
	case len(req.Labels) > maxEventLabels:
		return ev, fmt.Errorf("labels: at most %d, got %d", maxEventLabels, len(req.Labels))
	}
	for k, v := range req.Labels {
		if k == "" || len(k) > maxEventText || len(v) > maxEventText {
			return ev, fmt.Errorf("labels[%q]: names must be non-empty and names and values at most %d bytes", k, maxEventText)
		}
	}
	if req.Time != nil {
		if err := req.Time.CheckValid(); err != nil {
			return ev, fmt.Errorf("time: %v", err)
		}
		t := req.Time.AsTime()
		if t.After(now.Add(maxEventSkew)) {
			return ev, fmt.Errorf("time %s: more than %s in the future", t.Format(time.RFC3339), maxEventSkew)
		}
		ev.AtMs = t.UnixMilli()
	}
	if ev.Group == "" {
		ev.Group = req.Labels["group"]
	}
	if ev.Group == "" {
		ev.Group = req.Service
	}
	return ev, nil
}
