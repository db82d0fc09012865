package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/kwitness/kwitness/api/auth"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state/explain"
)

// Byte budget of an Explain answer, as JSON.
const (
	DefaultExplainBytes = 32 << 10
	MinExplainBytes     = 1 << 10
	MaxExplainBytes     = 1 << 20
)

// WithExplainer serves Explain and DraftPlan from e; bootstrap is the
// --bootstrap-server value plan artifacts carry.
func (s *Server) WithExplainer(e *explain.Explainer, bootstrap string) *Server {
	s.explainer, s.bootstrap = e, bootstrap
	return s
}

// Explain implements FindingsService.
func (s *Server) Explain(ctx context.Context, req *pb.ExplainRequest) (*pb.ExplainResponse, error) {
	if s.explainer == nil {
		return nil, status.Error(codes.Unimplemented, "explain is not enabled")
	}
	r, budget, err := explainRequest(req)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if !subjectVisible(ctx, r) {
		return nil, errOutOfScope(ctx, subjectName(r))
	}
	r.TopicVisible = topicFilter(ctx)
	r.PartitionRows = rowsThatFit(r, budget)
	b, ok, err := s.explainer.Explain(r)
	if err != nil {
		return nil, status.Error(codes.InvalidArgument, err.Error())
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "%s: kwitness knows nothing of it (not watched, filtered out, or gone)", subjectName(r))
	}
	scopeBundle(ctx, &b)
	resp := BundleToProto(b, subjectKey(r))
	if n := partitionRows(b); r.PageSize > r.PartitionRows && n == r.PartitionRows && partitionsMore(b) {
		resp.Budget = &pb.Budget{Cut: true, Notes: []string{fmt.Sprintf("partitions: the page holds at most %d rows, the most %d bytes can hold; next_page_token continues", n, budget)}}
	}
	FitBudget(resp, budget, subjectKey(r))
	return resp, nil
}

// emptyRowBytes is the JSON size of an empty partition row of a group's
// and of a topic's bundle: every field is written (EmitUnpopulated), so no
// row is smaller.
var emptyRowBytes = sync.OnceValues(func() (int, int) {
	return jsonSize(&pb.PartitionLag{}), jsonSize(&pb.TopicPartitionState{})
})

// rowsThatFit is the most partition rows of r's subject a budget of
// budget bytes can hold.
func rowsThatFit(r explain.Request, budget int) int {
	group, topic := emptyRowBytes()
	switch {
	case r.Group != "":
		return max(1, budget/group)
	case r.Topic != "":
		return max(1, budget/topic)
	}
	return 0
}

func partitionRows(b explain.Bundle) int {
	switch {
	case b.Group != nil:
		return len(b.Group.Partitions)
	case b.Topic != nil:
		return len(b.Topic.Partitions)
	}
	return 0
}

func partitionsMore(b explain.Bundle) bool {
	switch {
	case b.Group != nil:
		return b.Group.PartitionsPage.More
	case b.Topic != nil:
		return b.Topic.PartitionsPage.More
	}
	return false
}

// DraftPlan implements FindingsService.
func (s *Server) DraftPlan(ctx context.Context, req *pb.DraftPlanRequest) (*pb.DraftPlanResponse, error) {
	if s.explainer == nil {
		return nil, status.Error(codes.Unimplemented, "plans are not enabled")
	}
	if req.Id == "" {
		return nil, status.Error(codes.InvalidArgument, "id: required")
	}
	visible := func(topic string) bool { return auth.Allows(ctx, auth.Topic, topic) }
	p, f, ok := s.explainer.Plan(req.Id, s.bootstrap, visible)
	if ok {
		// One outside the caller's scope is not found either. A plan for a
		// visible finding is drafted from the caller's topics only (a
		// reassignment never names another team's partitions); its notes
		// say when topics were left out.
		f, ok = ScopeFinding(ctx, f)
	}
	if !ok {
		return nil, status.Errorf(codes.NotFound, "finding %q: not found (resolved findings are kept for a limited time)", req.Id)
	}
	out := &pb.DraftPlanResponse{Header: p.Header, Finding: s.findingToProto(f), Notes: p.Notes}
	for _, pr := range p.Proposals {
		out.Proposals = append(out.Proposals, proposalToProto(pr))
	}
	return out, nil
}

// explainRequest validates req; errors name the field.
func explainRequest(req *pb.ExplainRequest) (explain.Request, int, error) {
	r := explain.Request{Broker: -1, PageSize: int(req.PageSize)}
	switch sub := req.Subject.(type) {
	case *pb.ExplainRequest_Group:
		r.Group = sub.Group
	case *pb.ExplainRequest_Topic:
		r.Topic = sub.Topic
	case *pb.ExplainRequest_Broker:
		if sub.Broker < 0 {
			return r, 0, fmt.Errorf("broker %d: must be ≥ 0", sub.Broker)
		}
		r.Broker = sub.Broker
	}
	if r.Group == "" && r.Topic == "" && r.Broker < 0 {
		return r, 0, fmt.Errorf("subject: one of group, topic, broker is required")
	}
	if r.PageSize < 0 || r.PageSize > explain.MaxPageSize {
		return r, 0, fmt.Errorf("page_size %d: want 1..%d", r.PageSize, explain.MaxPageSize)
	}
	if r.PageSize == 0 {
		r.PageSize = explain.DefaultPageSize
	}
	budget := int(req.MaxBytes)
	switch {
	case budget == 0:
		budget = DefaultExplainBytes
	case budget < MinExplainBytes || budget > MaxExplainBytes:
		return r, 0, fmt.Errorf("max_bytes %d: want %d..%d", budget, MinExplainBytes, MaxExplainBytes)
	}
	if req.PageToken != "" {
		sec, off, key, err := decodeExplainToken(req.PageToken)
		if err != nil {
			return r, 0, err
		}
		if key != subjectKey(r) {
			return r, 0, fmt.Errorf("page_token: issued for another subject")
		}
		r.Section, r.Offset = sec, off
	}
	return r, budget, nil
}

// subjectKey identifies a request's subject inside page tokens.
func subjectKey(r explain.Request) string {
	switch {
	case r.Group != "":
		return "g:" + r.Group
	case r.Topic != "":
		return "t:" + r.Topic
	}
	return "b:" + strconv.Itoa(int(r.Broker))
}

func subjectName(r explain.Request) string {
	switch {
	case r.Group != "":
		return fmt.Sprintf("group %q", r.Group)
	case r.Topic != "":
		return fmt.Sprintf("topic %q", r.Topic)
	}
	return fmt.Sprintf("broker %d", r.Broker)
}

// Explain page tokens name the list, where it continues and the subject:
// base64url("section|offset|subject key").
func encodeExplainToken(sec explain.Section, offset int, key string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(string(sec) + "|" + strconv.Itoa(offset) + "|" + key))
}

func decodeExplainToken(tok string) (explain.Section, int, string, error) {
	bad := fmt.Errorf("page_token: not a token this server issued")
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return "", 0, "", bad
	}
	sec, rest, ok1 := strings.Cut(string(raw), "|")
	off, key, ok2 := strings.Cut(rest, "|")
	n, err := strconv.Atoi(off)
	s := explain.Section(sec)
	if !ok1 || !ok2 || err != nil || n < 0 || s == explain.SectionAll || !explain.KnownSection(s) || key == "" {
		return "", 0, "", bad
	}
	return s, n, key, nil
}
