package state

import (
	"strconv"
	"sync"

	"github.com/kwitness/kwitness/detect"
)

// Deploys keeps the most recent deploy events users pushed (POST /v1/events),
// bounded, for correlation with lag. Safe for concurrent use.
type Deploys struct {
	max int
	mu  struct {
		sync.Mutex
		seq  uint64
		list []detect.DeployEvent // oldest first
	}
}

// NewDeploys keeps at most max deploy events.
func NewDeploys(max int) *Deploys { return &Deploys{max: max} }

// Add records an event and returns its id.
func (e *Deploys) Add(ev detect.DeployEvent) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mu.seq++
	ev.ID = "ev-" + strconv.FormatUint(e.mu.seq, 10)
	e.mu.list = append(e.mu.list, ev)
	if len(e.mu.list) > e.max {
		e.mu.list = append([]detect.DeployEvent(nil), e.mu.list[len(e.mu.list)-e.max:]...)
	}
	return ev.ID
}

// ByGroup returns the events at or after sinceMs, by group, oldest first.
func (e *Deploys) ByGroup(sinceMs int64) map[string][]detect.DeployEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := map[string][]detect.DeployEvent{}
	for _, ev := range e.mu.list {
		if ev.AtMs >= sinceMs {
			out[ev.Group] = append(out[ev.Group], ev)
		}
	}
	return out
}
