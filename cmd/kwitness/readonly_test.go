package main

import (
	"encoding/binary"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readOnlyKeys are the Kafka requests kwitness may send: each reads, and
// each needs only the Describe or DescribeConfigs permissions the README's
// "Kafka permissions" lists. Anything else — Produce, Fetch, OffsetCommit,
// JoinGroup, SyncGroup, Heartbeat, LeaveGroup, CreateTopics, DeleteTopics,
// CreatePartitions, AlterConfigs, IncrementalAlterConfigs,
// AlterPartitionReassignments, ElectLeaders, DeleteRecords, OffsetDelete,
// DeleteGroups, InitProducerID, AddPartitionsToTxn, EndTxn, … — fails
// TestReadOnly.
var readOnlyKeys = map[kmsg.Key]bool{
	kmsg.ApiVersions:                true,
	kmsg.SASLHandshake:              true,
	kmsg.SASLAuthenticate:           true,
	kmsg.Metadata:                   true,
	kmsg.DescribeTopicPartitions:    true,
	kmsg.DescribeCluster:            true,
	kmsg.FindCoordinator:            true,
	kmsg.ListGroups:                 true,
	kmsg.DescribeGroups:             true,
	kmsg.ConsumerGroupDescribe:      true,
	kmsg.OffsetFetch:                true,
	kmsg.ListOffsets:                true,
	kmsg.DescribeConfigs:            true,
	kmsg.DescribeLogDirs:            true,
	kmsg.ListPartitionReassignments: true,
}

// demoClientIDs are the client ids of the demo's own scripted clients; they
// produce, consume and commit on purpose.
var demoClientIDs = []string{"demo-workload", "demo-layout"}

// TestReadOnly runs the whole demo — scripted workload, every scenario,
// broker telemetry, the store — while the embedded cluster's listeners
// record every request by client id. It fails on any request of kwitness's
// client outside readOnlyKeys, and on any client id that is neither
// kwitness's nor the demo's. It is not vacuous: it runs until the same
// recorder has seen every kind of read kwitness makes and the demo's
// writes.
func TestReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	rec := newWireRecorder()
	ctx := t.Context()
	wl, s := runDemoOn(ctx, t, []kfake.Opt{kfake.ListenFn(rec.listen)}, nil, nil)
	ours := DefaultConfig().Kafka.ClientID
	// Run through the whole script (stall, deploy, recovery, failover) and
	// until kwitness has sent every kind of read it makes and the demo its
	// writes.
	for deadline := wl.start.Add(4 * time.Minute); ; time.Sleep(time.Second) {
		missing := missingKeys(rec.snapshot(), ours)
		if len(missing) == 0 && time.Since(wl.start) > demoScriptEnd {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s the recorder has not seen: %v", time.Since(wl.start).Round(time.Second), missing)
		}
	}
	s.Stop() // every request kwitness sent has arrived

	got := rec.snapshot()
	for id, keys := range got {
		switch {
		case id == ours:
			for k, n := range keys {
				if !readOnlyKeys[k] {
					t.Errorf("kwitness sent %d %s request(s): not in the read-only set", n, k.Name())
				}
			}
		case !slices.Contains(demoClientIDs, id):
			t.Errorf("requests from unknown client id %q (%v): every kwitness client must use client id %q", id, keyNames(keys), ours)
		}
	}
	t.Logf("kwitness sent: %v", keyNames(got[ours]))
}

// demoScriptEnd is past the last scripted change of the demo workload.
var demoScriptEnd = max(demoRecoverAt, demoFailoverAt) + 10*time.Second

// missingKeys lists the reads of kwitness (client id ours) and the writes
// of the demo the recorder has not seen yet: the test is not vacuous only
// once it has seen them all.
func missingKeys(got map[string]map[kmsg.Key]int, ours string) []string {
	var missing []string
	for _, k := range []kmsg.Key{kmsg.Metadata, kmsg.ListGroups, kmsg.DescribeGroups, kmsg.OffsetFetch, kmsg.ListOffsets,
		kmsg.DescribeConfigs, kmsg.DescribeLogDirs, kmsg.FindCoordinator, kmsg.DescribeCluster, kmsg.ListPartitionReassignments} {
		if got[ours][k] == 0 {
			missing = append(missing, "kwitness "+k.Name())
		}
	}
	for _, k := range []kmsg.Key{kmsg.Produce, kmsg.OffsetCommit, kmsg.JoinGroup, kmsg.SyncGroup} {
		if got["demo-workload"][k] == 0 {
			missing = append(missing, "demo-workload "+k.Name())
		}
	}
	return missing
}

func keyNames(keys map[kmsg.Key]int) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(keys)) {
		out = append(out, fmt.Sprintf("%s×%d", k.Name(), keys[k]))
	}
	return out
}

// wireRecorder counts the requests arriving on the cluster's listeners by
// client id and API key, decoded from the request headers each connection
// reads (Kafka protocol: size, api key, api version, correlation id, client
// id as a nullable string).
type wireRecorder struct {
	mu   sync.Mutex
	seen map[string]map[kmsg.Key]int
}

func newWireRecorder() *wireRecorder { return &wireRecorder{seen: map[string]map[kmsg.Key]int{}} }

// listen is a kfake.ListenFn.
func (r *wireRecorder) listen(network, addr string) (net.Listener, error) {
	ln, err := net.Listen(network, addr)
	if err != nil {
		return nil, err
	}
	return recordingListener{ln, r}, nil
}

func (r *wireRecorder) record(clientID string, key int16) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.seen[clientID] == nil {
		r.seen[clientID] = map[kmsg.Key]int{}
	}
	r.seen[clientID][kmsg.Key(key)]++
}

func (r *wireRecorder) snapshot() map[string]map[kmsg.Key]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]map[kmsg.Key]int{}
	for id, keys := range r.seen {
		out[id] = maps.Clone(keys)
	}
	return out
}

type recordingListener struct {
	net.Listener
	r *wireRecorder
}

func (l recordingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &recordingConn{Conn: c, scan: requestScanner{emit: l.r.record}}, nil
}

type recordingConn struct {
	net.Conn
	scan requestScanner // fed by Read, which one goroutine calls
}

func (c *recordingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.scan.feed(p[:n])
	return n, err
}

// requestScanner decodes request headers from a connection's byte stream,
// however it is split into reads, and emits each request's client id and
// API key.
type requestScanner struct {
	emit func(clientID string, key int16)
	head []byte // the start of the current request, until its header is complete
	skip int    // bytes of the current request's body still to pass over
	bad  bool   // the stream is not Kafka requests; stop decoding
}

// headerLen is size, api key, api version, correlation id and client id
// length, in bytes.
const headerLen = 4 + 2 + 2 + 4 + 2

func (s *requestScanner) feed(p []byte) {
	for len(p) > 0 && !s.bad {
		if s.skip > 0 {
			n := min(s.skip, len(p))
			s.skip, p = s.skip-n, p[n:]
			continue
		}
		s.head = append(s.head, p...)
		p = nil
		for s.parse() {
		}
	}
}

// parse emits the request at the start of head if its header is complete,
// drops it from head and reports whether another may follow in head.
func (s *requestScanner) parse() bool {
	if len(s.head) < headerLen {
		return false
	}
	size := int(int32(binary.BigEndian.Uint32(s.head)))
	idLen := int(int16(binary.BigEndian.Uint16(s.head[12:])))
	if size < headerLen-4+max(idLen, 0) {
		s.bad, s.head = true, nil
		return false
	}
	if len(s.head) < headerLen+max(idLen, 0) {
		return false
	}
	id := string(s.head[headerLen : headerLen+max(idLen, 0)])
	s.emit(id, int16(binary.BigEndian.Uint16(s.head[4:])))
	total := 4 + size
	if len(s.head) < total {
		s.skip, s.head = total-len(s.head), s.head[:0]
		return false
	}
	s.head = s.head[total:]
	return true
}

// TestRequestScanner: requests split across reads anywhere are decoded
// the same as whole ones.
func TestRequestScanner(t *testing.T) {
	var stream []byte
	var want []string
	for _, r := range []struct {
		key  kmsg.Key
		id   string
		body int
	}{{kmsg.Metadata, "kwitness", 0}, {kmsg.Produce, "", 300}, {kmsg.OffsetCommit, "demo-workload", 20}, {kmsg.ListOffsets, "kwitness", 1}, {kmsg.ApiVersions, "kwitness", 0}} {
		stream = appendRequest(stream, int16(r.key), r.id, make([]byte, r.body))
		want = append(want, fmt.Sprintf("%s/%s", r.id, r.key.Name()))
	}
	for chunk := 1; chunk <= len(stream); chunk++ {
		var got []string
		s := requestScanner{emit: func(id string, key int16) { got = append(got, fmt.Sprintf("%s/%s", id, kmsg.Key(key).Name())) }}
		for p := stream; len(p) > 0; p = p[min(chunk, len(p)):] {
			s.feed(p[:min(chunk, len(p))])
		}
		if !slices.Equal(got, want) {
			t.Fatalf("reads of %d bytes: got %v, want %v", chunk, got, want)
		}
	}
}

// appendRequest frames one request with a v0 header and body.
func appendRequest(b []byte, key int16, clientID string, body []byte) []byte {
	size := 2 + 2 + 4 + 2 + len(clientID) + len(body)
	b = binary.BigEndian.AppendUint32(b, uint32(size))
	b = binary.BigEndian.AppendUint16(b, uint16(key))
	b = binary.BigEndian.AppendUint16(b, 0)
	b = binary.BigEndian.AppendUint32(b, 7)
	b = binary.BigEndian.AppendUint16(b, uint16(len(clientID)))
	b = append(b, clientID...)
	return append(b, body...)
}

// FuzzRequestScanner: on any byte stream, split anywhere into two reads,
// the scanner emits exactly what it emits for the stream in one read, and
// never panics.
func FuzzRequestScanner(f *testing.F) {
	f.Add(appendRequest(appendRequest(nil, int16(kmsg.Produce), "demo-workload", make([]byte, 40)), int16(kmsg.Metadata), "kwitness", nil), 17)
	f.Add(append(appendRequest(nil, int16(kmsg.ListOffsets), "", nil), 0, 0, 0, 20, 0, 3, 0, 0, 0, 0, 0, 1, 0xff, 0xff), 5)
	f.Fuzz(func(t *testing.T, stream []byte, cut int) {
		scan := func(reads ...[]byte) []string {
			var got []string
			s := requestScanner{emit: func(id string, key int16) { got = append(got, fmt.Sprintf("%q/%d", id, key)) }}
			for _, r := range reads {
				s.feed(r)
			}
			return got
		}
		cut = min(max(cut, 0), len(stream))
		if whole, split := scan(stream), scan(stream[:cut], stream[cut:]); !slices.Equal(whole, split) {
			t.Fatalf("split at %d: %v, whole: %v", cut, split, whole)
		}
	})
}
