package bench

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/kwitness/kwitness/detect"
)

// Wire shape of a sweep, as kwitness's client sends it: OffsetFetch v9 (the
// newest version naming topics; v8+ batches many groups in one request) with
// one request per group coordinator asking for all of each group's offsets,
// and ListOffsets v8 with one request per partition leader and timestamp
// (latest, then earliest).
const (
	brokers            = 3
	offsetFetchVersion = 9
	listOffsetsVersion = 8
	// Per request: size, api key and version, correlation id, client id
	// "kwitness", tags; per response: size, correlation id, tags.
	frameBytes = 4 + 2 + 2 + 4 + 2 + len("kwitness") + 1 + 4 + 4 + 1
)

// BenchmarkDecodeSweep measures the client side of one full lag sweep of the
// estate: decode every OffsetFetch and ListOffsets response of the sweep
// (kmsg ReadFrom into a fresh response, as the client does) and turn it into
// samples, written by pre-resolved id into a flat value column reset to gaps
// first, as state.Window's Begin and Sweep.Set do. Publishing into the rings
// and detecting is BenchmarkSweep. The response bytes are encoded once, before
// timing. One iteration is one sweep; a sample is one group-partition.
//
// Metrics:
//   - ns/sample, cpu-ns/sample, allocs/sample: decode + convert, per
//     group-partition.
//   - MB/sweep: bytes on the wire for the sweep, requests and responses with
//     their frames (target ≤ 25 MB at 1 M group-partitions).
//   - ofMB/sweep, loMB/sweep: the OffsetFetch and ListOffsets shares.
//   - wireB/gp: wire bytes of the sweep per group-partition.
func BenchmarkDecodeSweep(b *testing.B) {
	for _, c := range []struct {
		groups int
		shape  shape
	}{
		{2000, defaultShape},                  // 1 M group-partitions, 500 per group
		{20_000, shape{topics: 1, parts: 50}}, // 1 M group-partitions, 50 per group
	} {
		b.Run(fmt.Sprintf("groups=%d/partitions=%d", c.groups, c.shape.gp()), func(b *testing.B) {
			benchDecodeSweep(b, newShapedEstate(c.groups, c.shape, t0))
		})
	}
}

func benchDecodeSweep(b *testing.B, e *estate) {
	w, want := encodeSweep(e)
	ix := newIDIndex(e)
	vals := make([]int64, len(e.gps)+2*len(e.tps))
	n := len(e.gps)
	b.Log(e.mix())
	var cpu time.Duration
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	for b.Loop() {
		start := cpuTime()
		set, err := w.decode(ix, vals)
		cpu += cpuTime() - start
		if err != nil || set != want {
			b.Fatalf("decoded %d of %d values: %v", set, want, err)
		}
	}
	runtime.ReadMemStats(&after)
	samples := float64(b.N * n)
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/samples, "ns/sample")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/samples, "cpu-ns/sample")
	}
	b.ReportMetric(float64(after.Mallocs-before.Mallocs)/samples, "allocs/sample")
	b.ReportMetric(float64(w.offsetFetchBytes+w.listOffsetsBytes)/1e6, "MB/sweep")
	b.ReportMetric(float64(w.offsetFetchBytes)/1e6, "ofMB/sweep")
	b.ReportMetric(float64(w.listOffsetsBytes)/1e6, "loMB/sweep")
	b.ReportMetric(float64(w.offsetFetchBytes+w.listOffsetsBytes)/float64(n), "wireB/gp")
}

// wireSweep is one sweep's responses as bytes, and the bytes it took on the
// wire (requests and responses, framed).
type wireSweep struct {
	offsetFetch      [][]byte // response bodies, one per coordinator
	listOffsets      [][]byte // response bodies, one per leader: latest, then earliest
	offsetFetchBytes int
	listOffsetsBytes int
}

// idIndex resolves decoded responses to value ids: a group-topic's or a
// topic's partitions have consecutive ids, so one map lookup per topic of a
// response finds the base id and the partition number adds to it.
// Committed offsets take ids [0, gps); end offsets [gps, gps+tps); start
// offsets [gps+tps, gps+2*tps).
type idIndex struct {
	committed map[string]map[string]uint32 // group → topic → id of partition 0
	end       map[string]uint32            // topic → end-offset id of partition 0
	starts    uint32                       // add to an end-offset id for the start-offset id
	parts     int32
}

func newIDIndex(e *estate) *idIndex {
	ix := &idIndex{committed: map[string]map[string]uint32{}, end: map[string]uint32{},
		starts: uint32(len(e.tps)), parts: int32(e.shape.parts)}
	for i, s := range e.specs {
		if ix.committed[s.Group] == nil {
			ix.committed[s.Group] = map[string]uint32{}
		}
		base := i * e.shape.parts
		ix.committed[s.Group][s.Topic] = uint32(base)
		ix.end[s.Topic] = uint32(len(e.gps)) + e.gps[base].tp
	}
	return ix
}

// encodeSweep encodes the estate's current offsets as the responses of one
// sweep: groups spread over the coordinators and the consumed
// topic-partitions over the leaders, round robin. It also returns how many
// values the sweep sets.
func encodeSweep(e *estate) (*wireSweep, int) {
	w := &wireSweep{}
	fetches := make([]kmsg.OffsetFetchResponse, brokers)
	fetchReqs := make([]kmsg.OffsetFetchRequest, brokers)
	for c := range fetches {
		fetches[c].Version, fetchReqs[c].Version = offsetFetchVersion, offsetFetchVersion
	}
	empty := "" // the metadata Kafka consumers commit
	consumed := map[string]int{}
	var topics []string // consumed topics, in order of first appearance
	groups, gi := 0, 0
	var rg *kmsg.OffsetFetchResponseGroup
	for _, s := range e.specs { // a group's topics are consecutive
		if rg == nil || rg.Group != s.Group {
			c := groups % brokers
			groups++
			fetches[c].Groups = append(fetches[c].Groups, kmsg.NewOffsetFetchResponseGroup())
			rg = &fetches[c].Groups[len(fetches[c].Groups)-1]
			rg.Group = s.Group
			rq := kmsg.NewOffsetFetchRequestGroup()
			rq.Group = s.Group // Topics nil: all of the group's offsets
			fetchReqs[c].Groups = append(fetchReqs[c].Groups, rq)
		}
		if _, ok := consumed[s.Topic]; !ok {
			consumed[s.Topic] = int(e.gps[gi].tp)
			topics = append(topics, s.Topic)
		}
		t := kmsg.NewOffsetFetchResponseGroupTopic()
		t.Topic = s.Topic
		for _, p := range s.Partitions {
			rp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch, rp.Metadata = p, e.gps[gi].committed, 7, &empty
			t.Partitions = append(t.Partitions, rp)
			gi++
		}
		rg.Topics = append(rg.Topics, t)
	}
	for c := range fetches {
		body := fetches[c].AppendTo(nil)
		w.offsetFetch = append(w.offsetFetch, body)
		w.offsetFetchBytes += len(body) + len(fetchReqs[c].AppendTo(nil)) + frameBytes
	}
	for _, ts := range []int64{-1, -2} { // latest, earliest
		for l := range brokers {
			resp, req := e.listOffsets(topics, consumed, l, ts)
			body := resp.AppendTo(nil)
			w.listOffsets = append(w.listOffsets, body)
			w.listOffsetsBytes += len(body) + len(req.AppendTo(nil)) + frameBytes
		}
	}
	return w, len(e.gps) + 2*len(topics)*e.shape.parts
}

// listOffsets returns leader l's ListOffsets request and response for
// timestamp ts (-1 latest, -2 earliest) over topics; first maps a topic to
// the index of its partition 0 in e.tps.
func (e *estate) listOffsets(topics []string, first map[string]int, l int, ts int64) (*kmsg.ListOffsetsResponse, *kmsg.ListOffsetsRequest) {
	resp, req := kmsg.NewPtrListOffsetsResponse(), kmsg.NewPtrListOffsetsRequest()
	resp.Version, req.Version = listOffsetsVersion, listOffsetsVersion
	for _, topic := range topics {
		rt, qt := kmsg.NewListOffsetsResponseTopic(), kmsg.NewListOffsetsRequestTopic()
		rt.Topic, qt.Topic = topic, topic
		for p := range e.shape.parts {
			i := first[topic] + p
			if i%brokers != l {
				continue
			}
			rp, qp := kmsg.NewListOffsetsResponseTopicPartition(), kmsg.NewListOffsetsRequestTopicPartition()
			rp.Partition, rp.LeaderEpoch, rp.Offset = int32(p), 7, e.tps[i].end
			if ts == -2 {
				rp.Offset = e.tps[i].start
			}
			qp.Partition, qp.CurrentLeaderEpoch, qp.Timestamp = int32(p), 7, ts
			rt.Partitions = append(rt.Partitions, rp)
			qt.Partitions = append(qt.Partitions, qp)
		}
		resp.Topics = append(resp.Topics, rt)
		req.Topics = append(req.Topics, qt)
	}
	return resp, req
}

// decode turns every response of the sweep into values and returns how many
// it set.
func (w *wireSweep) decode(ix *idIndex, vals []int64) (int, error) {
	for i := range vals {
		vals[i] = detect.Gap
	}
	set := 0
	for _, body := range w.offsetFetch {
		resp := kmsg.OffsetFetchResponse{Version: offsetFetchVersion}
		if err := resp.ReadFrom(body); err != nil {
			return set, fmt.Errorf("bench: decode OffsetFetch: %w", err)
		}
		for gi := range resp.Groups {
			g := &resp.Groups[gi]
			topics := ix.committed[g.Group]
			if g.ErrorCode != 0 || topics == nil {
				continue
			}
			for ti := range g.Topics {
				t := &g.Topics[ti]
				base, ok := topics[t.Topic]
				if !ok {
					continue
				}
				for _, p := range t.Partitions {
					if p.ErrorCode != 0 || p.Offset < 0 || p.Partition < 0 || p.Partition >= ix.parts {
						continue
					}
					vals[base+uint32(p.Partition)] = p.Offset
					set++
				}
			}
		}
	}
	for i, body := range w.listOffsets {
		resp := kmsg.ListOffsetsResponse{Version: listOffsetsVersion}
		if err := resp.ReadFrom(body); err != nil {
			return set, fmt.Errorf("bench: decode ListOffsets: %w", err)
		}
		shift := uint32(0)
		if i >= brokers { // the earliest-offset responses follow the latest
			shift = ix.starts
		}
		for ti := range resp.Topics {
			t := &resp.Topics[ti]
			base, ok := ix.end[t.Topic]
			if !ok {
				continue
			}
			for _, p := range t.Partitions {
				if p.ErrorCode != 0 || p.Offset < 0 || p.Partition < 0 || p.Partition >= ix.parts {
					continue
				}
				vals[base+shift+uint32(p.Partition)] = p.Offset
				set++
			}
		}
	}
	return set, nil
}
