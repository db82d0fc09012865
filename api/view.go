package api

import (
	"context"
	"fmt"
	"sync"

	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// checkView refuses a view this server does not know.
func checkView(v pb.FindingView) error {
	if _, ok := pb.FindingView_name[int32(v)]; !ok {
		return fmt.Errorf("view %d: want BASIC or FULL", v)
	}
	return nil
}

// viewFinding converts f as view asks: BASIC leaves out evidence and facts.
func (s *Server) viewFinding(f detect.Finding, view pb.FindingView) *pb.Finding {
	if view == pb.FindingView_FINDING_VIEW_BASIC {
		f.Evidence, f.Facts = nil, nil
	}
	return s.findingToProto(f)
}

// protoCache keeps the converted form of listed findings by revision, so a
// page of findings that did not change since the last call costs a map
// lookup each. Cached messages are shared between responses: the server
// and in-process callers treat responses as read-only.
type protoCache struct {
	mu sync.Mutex
	m  map[protoKey]protoEntry
}

type protoKey struct {
	id   string
	view pb.FindingView
}

type protoEntry struct {
	rev    uint64
	owners *detect.Owners // the owners the message was converted with
	msg    *pb.Finding
}

// listed returns the messages of the listed findings rs as the caller of
// ctx may see them in view: from the cache when a finding's revision and
// the owners are those it was converted with and the caller's scope cut
// nothing from it.
func (s *Server) listed(ctx context.Context, rs []state.Revised, view pb.FindingView) []*pb.Finding {
	var owners *detect.Owners
	if s.explainer != nil {
		owners = s.explainer.Owners()
	}
	out := make([]*pb.Finding, len(rs))
	c := &s.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, r := range rs {
		f, _ := ScopeFinding(ctx, *r.Finding) // the filter kept only visible subjects
		if len(f.Evidence) != len(r.Evidence) || len(f.Facts) != len(r.Facts) {
			out[i] = s.viewFinding(f, view) // cut for this caller: not shared
			continue
		}
		k := protoKey{r.ID, view}
		e, ok := c.m[k]
		if !ok || e.rev != r.Rev || e.owners != owners {
			e = protoEntry{r.Rev, owners, s.viewFinding(f, view)}
			if c.m == nil || len(c.m) >= maxCached {
				c.m = make(map[protoKey]protoEntry) // start over rather than track use
			}
			c.m[k] = e
		}
		out[i] = e.msg
	}
	return out
}

// maxCached bounds the cache, in messages: every finding of a 10 k
// findings store in both views, twice over. The cache holds the messages of
// findings listed since it last started over, so its size follows what
// callers list; it starts over when full rather than tracking use.
const maxCached = 40_000
