package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// ErrUnknownSeries is returned by queries for a series the store never saw.
var ErrUnknownSeries = errors.New("state: unknown series")

// registry maps the series keys of one stream to store ids (sids). Sids are
// dense, start at 0, are assigned in first-seen order and never reused; each
// is persisted under its stream's series kind before any chunk that uses it
// is written. Safe for concurrent use: the writer goroutine assigns, queries
// look up.
type registry[K comparable] struct {
	ks  keyspace
	enc func(dst []byte, k K, created int64) []byte
	dec func(b []byte) (K, int64, error)
	mu  struct {
		sync.RWMutex
		ids     map[K]uint32
		keys    []K
		created []int64 // Unix ms the series was first seen, by sid
	}
}

func newRegistry[K comparable](ks keyspace, enc func([]byte, K, int64) []byte, dec func([]byte) (K, int64, error)) *registry[K] {
	r := &registry[K]{ks: ks, enc: enc, dec: dec}
	r.mu.ids = map[K]uint32{}
	return r
}

// load reads every registry entry. Entries must be dense from sid 0.
func (r *registry[K]) load(db *pebble.DB) error {
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: []byte{r.ks.series}, UpperBound: []byte{r.ks.series + 1}})
	if err != nil {
		return err
	}
	defer it.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for it.First(); it.Valid(); it.Next() {
		if len(it.Key()) != 5 {
			return fmt.Errorf("series registry: bad key %x", it.Key())
		}
		sid := be32(it.Key(), 1)
		k, created, err := r.dec(it.Value())
		if err != nil {
			return fmt.Errorf("series registry entry %c%d: %w", r.ks.series, sid, err)
		}
		// A hole (an entry lost with a failed write) stays unmapped, so its
		// sid is never reused.
		var zero K
		for len(r.mu.keys) <= int(sid) {
			r.mu.keys = append(r.mu.keys, zero)
			r.mu.created = append(r.mu.created, 0)
		}
		r.mu.ids[k] = sid
		r.mu.keys[sid], r.mu.created[sid] = k, created
	}
	return it.Error()
}

// assign returns the sid of k, registering it as first seen at at (Unix ms)
// when new. The writer persists new entries (writer.appendRegistry).
func (r *registry[K]) assign(k K, at int64) uint32 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if sid, ok := r.mu.ids[k]; ok {
		return sid
	}
	sid := uint32(len(r.mu.keys))
	r.mu.ids[k] = sid
	r.mu.keys = append(r.mu.keys, k)
	r.mu.created = append(r.mu.created, at)
	return sid
}

// entry returns the encoded registry entry of sid, which must exist.
func (r *registry[K]) entry(sid uint32) []byte {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.enc(nil, r.mu.keys[sid], r.mu.created[sid])
}

// lookup returns the sid of k and when it was first seen.
func (r *registry[K]) lookup(k K) (uint32, int64, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	sid, ok := r.mu.ids[k]
	if !ok {
		return 0, 0, false
	}
	return sid, r.mu.created[sid], true
}

// snapshot returns the keys by sid. The slice is shared: callers must not
// modify it, and it only ever grows (appends never change existing entries).
func (r *registry[K]) snapshot() []K {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.mu.keys[:len(r.mu.keys):len(r.mu.keys)]
}

func (r *registry[K]) len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.mu.keys)
}

// appendRegistryValue encodes a registry entry:
//
//	metric(1) created(varint ms) len(uvarint) group len(uvarint) topic partition(varint)
func appendRegistryValue(dst []byte, k state.SeriesKey, created int64) []byte {
	dst = append(dst, byte(k.Metric))
	dst = binary.AppendVarint(dst, created)
	dst = binary.AppendUvarint(dst, uint64(len(k.Group)))
	dst = append(dst, k.Group...)
	dst = binary.AppendUvarint(dst, uint64(len(k.Topic)))
	dst = append(dst, k.Topic...)
	return binary.AppendVarint(dst, int64(k.Partition))
}

func decodeRegistryValue(b []byte) (state.SeriesKey, int64, error) {
	var k state.SeriesKey
	bad := errors.New("malformed registry entry")
	if len(b) < 1 || !state.Metric(b[0]).Valid() {
		return k, 0, bad
	}
	k.Metric = state.Metric(b[0])
	created, n := binary.Varint(b[1:])
	if n <= 0 {
		return k, 0, bad
	}
	b = b[1+n:]
	var ok bool
	if k.Group, b, ok = readString(b); !ok {
		return k, 0, bad
	}
	if k.Topic, b, ok = readString(b); !ok {
		return k, 0, bad
	}
	p, n := binary.Varint(b)
	if n <= 0 || n != len(b) || p != int64(int32(p)) {
		return k, 0, bad
	}
	k.Partition = int32(p)
	return k, created, nil
}

func readString(b []byte) (string, []byte, bool) {
	l, n := binary.Uvarint(b)
	if n <= 0 || uint64(len(b)-n) < l {
		return "", nil, false
	}
	return string(b[n : n+int(l)]), b[n+int(l):], true
}

// SeriesKeyOf parses the series reference a citation gives (Window.RefOf)
// back into a key. The cluster label is not part of the key: a store holds
// one cluster.
func SeriesKeyOf(ref detect.SeriesRef) (state.SeriesKey, error) {
	m, ok := state.MetricByName(ref.Metric)
	if !ok {
		return state.SeriesKey{}, fmt.Errorf("state: series %s: unknown metric %q", ref, ref.Metric)
	}
	k := state.SeriesKey{Metric: m}
	if m == state.MetricGeneration {
		k.Partition = -1
		for _, l := range ref.Labels {
			if l.Name == "group" {
				k.Group = l.Value
			}
		}
		if k.Group == "" {
			return k, fmt.Errorf("state: series %s: no group label", ref)
		}
		return k, nil
	}
	i := slices.IndexFunc(ref.Labels, func(l detect.Label) bool { return l.Name == "partition" })
	if i < 0 {
		return k, fmt.Errorf("state: series %s: no partition label", ref)
	}
	p, err := strconv.ParseInt(ref.Labels[i].Value, 10, 32)
	if err != nil {
		return k, fmt.Errorf("state: series %s: partition: %w", ref, err)
	}
	k.Partition = int32(p)
	for _, l := range ref.Labels {
		switch l.Name {
		case "group":
			k.Group = l.Value
		case "topic":
			k.Topic = l.Value
		}
	}
	if (k.Group == "") != (m != state.MetricCommitted) {
		return k, fmt.Errorf("state: series %s: group label must be present exactly for %s", ref, state.MetricCommitted)
	}
	return k, nil
}
