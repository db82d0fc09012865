package store

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/detect"
)

// SaveFindings persists finding events (synced): opened and updated findings
// are stored under their id as JSON, resolved ones are deleted. So the store
// always holds exactly the firing findings, which LoadFiring returns on the
// next start (detect.Book.Restore takes them back). While the store is
// failing it returns an error (ErrUnavailable, wrapped, once Pebble is
// closed) and saves nothing: the caller retries later. A finding that does
// not encode as JSON is logged and skipped, since no retry could save it.
func (s *Store) SaveFindings(events []detect.Event) error {
	if len(events) == 0 {
		return nil
	}
	err := s.update(func() error { return s.saveFindingsLocked(events) })
	if err != nil {
		return fmt.Errorf("state: save findings in %s: %w", s.dir, err)
	}
	return nil
}

func (s *Store) saveFindingsLocked(events []detect.Event) error {
	b := s.mu.db.NewBatch()
	for _, ev := range events {
		key := findingKey(ev.Finding.ID)
		if ev.Type == detect.EventResolved || ev.Finding.State != detect.StateFiring {
			_ = b.Delete(key, nil)
			continue
		}
		v, err := json.Marshal(ev.Finding)
		if err != nil { // cannot succeed on a retry: skip it, keep the rest
			s.log.Error("store: finding not saved: it does not encode", "id", ev.Finding.ID, "kind", ev.Finding.Kind, "err", err)
			continue
		}
		_ = b.Set(key, v, nil)
	}
	return s.commit("findings", b, pebble.Sync)
}

// LoadFiring returns the persisted firing findings, by fingerprint. An entry
// that does not decode is skipped, counted as corrupt and logged.
func (s *Store) LoadFiring() (out []detect.Finding, err error) {
	err = s.read(func() error {
		out, err = s.loadFiringLocked()
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("state: load findings from %s: %w", s.dir, err)
	}
	return out, nil
}

func (s *Store) loadFiringLocked() ([]detect.Finding, error) {
	it, err := s.mu.db.NewIter(&pebble.IterOptions{LowerBound: []byte{kindFinding}, UpperBound: []byte{kindFinding + 1}})
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []detect.Finding
	for it.First(); it.Valid(); it.Next() {
		var f detect.Finding
		if err := json.Unmarshal(it.Value(), &f); err != nil {
			s.chunkCorrupt(it.Key(), err)
			continue
		}
		if f.State == detect.StateFiring {
			out = append(out, f)
		}
	}
	if err := it.Error(); err != nil {
		return nil, err
	}
	slices.SortFunc(out, func(a, b detect.Finding) int { return strings.Compare(a.Fingerprint, b.Fingerprint) })
	return out, nil
}
