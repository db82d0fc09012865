package scrape

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// fixtureDir holds the captured MSK expositions, their source and licence
// (testdata/README.md).
const fixtureDir = "testdata"

// readFixture returns a fixture's raw text, gunzipping .gz files. A missing
// or unreadable fixture fails the test.
func readFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := loadFixture(name)
	if err != nil {
		tb.Fatalf("fixture %s: %v", filepath.Join(fixtureDir, name), err)
	}
	return b
}

// TestFixturesIntact: the fixtures are the published files byte for byte
// (sha256 of the raw text, as testdata/README.md lists them).
func TestFixturesIntact(t *testing.T) {
	for name, want := range map[string]string{
		"kafka-broker-jmx-exporter-0.12-msk.prom.gz": "2e75a7e544dd69b9d379c81ec06f9eb66cd76e8e05d0493a24836fd55adefd89",
		"node-exporter-msk-broker.prom":              "67ba82710790967804344d3518e932b46aa9ba2f9870702c4d537c8261e9c920",
	} {
		if got := fmt.Sprintf("%x", sha256.Sum256(readFixture(t, name))); got != want {
			t.Errorf("%s: sha256 %s, want %s", name, got, want)
		}
	}
}

func loadFixture(name string) ([]byte, error) {
	f, err := os.Open(filepath.Join(fixtureDir, name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if filepath.Ext(name) == ".gz" {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, err
		}
		r = zr
	}
	return io.ReadAll(r)
}

// pick returns the samples of sig matching topic and request ("" = broker-wide / any request).
func pick(ss []Sample, sig Signal, topic, request string) []Sample {
	var out []Sample
	for _, s := range ss {
		if s.Signal == sig && s.Topic == topic && (request == "" || s.Request == request) {
			out = append(out, s)
		}
	}
	return out
}

// one returns the single sample of sig/topic/request, failing otherwise.
func one(t *testing.T, ss []Sample, sig Signal, topic, request string) Sample {
	t.Helper()
	got := pick(ss, sig, topic, request)
	if len(got) != 1 {
		t.Fatalf("%v topic=%q request=%q: %d samples, want 1: %+v", sig, topic, request, len(got), got)
	}
	return got[0]
}

func TestFixtureMSKJMX(t *testing.T) {
	body := readFixture(t, "kafka-broker-jmx-exporter-0.12-msk.prom.gz")
	res, err := Parse(bytes.NewReader(body), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Counts from testdata/README.md.
	if res.Lines != 25654 || res.Series != 19545+5155 || res.Malformed != 0 || res.Duplicates != 0 {
		t.Fatalf("lines=%d series=%d malformed=%d dups=%d problems=%v", res.Lines, res.Series, res.Malformed, res.Duplicates, res.Problems)
	}
	if res.Profile != ProfileMBean || res.CounterTotalSuffix {
		t.Fatalf("profile %v total-suffix %v, want mbean without", res.Profile, res.CounterTotalSuffix)
	}
	if len(res.Parts) != 2 || res.Parts[1].Line != 20012 {
		t.Fatalf("parts %+v, want 2 with the second at line 20012", res.Parts)
	}
	p1, p2 := res.Part(0), res.Part(1)

	f := func(ss []Sample, sig Signal, topic, request string, want float64) {
		t.Helper()
		s := one(t, ss, sig, topic, request)
		if s.Value != want {
			t.Errorf("%v topic=%q request=%q = %v, want %v (%s)", sig, topic, request, s.Value, want, s.Series)
		}
	}
	f(p1, BytesIn, "", "", 5.7778761e7)
	f(p1, MessagesIn, "", "", 340002)
	f(p1, BytesOut, "", "", 0)
	f(p1, UnderReplicated, "", "", 0)
	f(p1, UnderMinISR, "", "", 0)
	f(p1, OfflineReplicas, "", "", 0)
	f(p1, PartitionCount, "", "", 1386)
	f(p1, LeaderCount, "", "", 462)
	f(p1, ActiveControllers, "", "", 1)
	f(p1, OfflinePartitions, "", "", 0)
	f(p1, IsrExpands, "", "", 35)
	f(p1, IsrShrinks, "", "", 0)
	f(p1, UncleanLeaderElections, "", "", 0)
	f(p1, RequestLatencyP999, "", "Produce", 68.50700000000006)
	f(p1, RequestCount, "", "Produce", 281530)
	f(p1, HandlerIdleCount, "", "", 9.060629555646406e15)
	f(p1, HandlerIdleRatio, "", "", 0.9983647822165637)
	f(p1, NetworkIdle, "", "", 1.0042693205505544)
	f(p1, RequestQueueSize, "", "", 0)
	f(p1, OfflineLogDirs, "", "", 0)
	f(p1, RequestLatencyP99, "", "Produce", 35)

	bi := one(t, p1, BytesIn, "", "")
	if !bi.Counter || bi.Partition != -1 || bi.Series != `kafka_server_BrokerTopicMetrics_Count{name="BytesInPerSec",}` {
		t.Errorf("bytes in sample %+v", bi)
	}
	// Escaped quotes: logDirectory="\"/kafka/datalogs/logs\"".
	ld := one(t, p1, LogDirOffline, "", "")
	if ld.Mount != "/kafka/datalogs/logs" || ld.Value != 0 {
		t.Errorf("log dir sample %+v", ld)
	}

	var sizes []float64
	for _, s := range p1 {
		if s.Signal == LogSize {
			if s.Topic == "" || s.Partition < 0 || s.Counter {
				t.Fatalf("log size sample without topic/partition: %+v", s)
			}
			sizes = append(sizes, s.Value)
		}
	}
	if len(sizes) != 1386 {
		t.Fatalf("part 1 has %d LogSize series, want 1386", len(sizes))
	}
	slices.Sort(sizes)
	if med := (sizes[692] + sizes[693]) / 2; med != 113329 || sizes[0] != 0 || sizes[1385] != 566294 {
		t.Errorf("LogSize median %v range %v..%v, want 113329 in 0..566294", med, sizes[0], sizes[1385])
	}
	if n := len(pick(p1, UnderReplicated, "test-topic-4", "")); n != 90 {
		t.Errorf("per-partition UnderReplicated of test-topic-4: %d series, want 90", n)
	}

	// Part 2: a fresh, empty Kafka 2.2.1 broker.
	f(p2, PartitionCount, "", "", 0)
	f(p2, ActiveControllers, "", "", 1)
	f(p2, BytesIn, "", "", 0)
	if n := len(pick(p2, LogSize, "", "")); n != 0 {
		t.Errorf("part 2 has %d broker-wide LogSize samples", n)
	}
	for _, s := range res.Samples {
		if math.IsNaN(s.Value) || !s.Signal.Valid() {
			t.Fatalf("bad sample %+v", s)
		}
	}
}

func TestFixtureMSKNode(t *testing.T) {
	body := readFixture(t, "node-exporter-msk-broker.prom")
	res, err := Parse(bytes.NewReader(body), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Lines != 245 || res.Malformed != 0 || res.Profile != ProfileNode || len(res.Parts) != 2 || res.Parts[1].Line != 167 {
		t.Fatalf("lines=%d malformed=%d profile=%v parts=%+v problems=%v", res.Lines, res.Malformed, res.Profile, res.Parts, res.Problems)
	}
	mount := func(ss []Sample, sig Signal, m string) Sample {
		t.Helper()
		var got []Sample
		for _, s := range ss {
			if s.Signal == sig && s.Mount == m {
				got = append(got, s)
			}
		}
		if len(got) != 1 {
			t.Fatalf("%v mount %q: %d samples", sig, m, len(got))
		}
		return got[0]
	}
	p1, p2 := res.Part(0), res.Part(1)
	for _, c := range []struct {
		part []Sample
		sig  Signal
		m    string
		want float64
	}{
		{p1, FilesystemAvail, "/kafka/datalogs", 1.002783698944e+12},
		{p1, FilesystemSize, "/kafka/datalogs", 1.056755048448e+12},
		{p1, FilesystemReadonly, "/kafka/datalogs", 0},
		{p1, FilesystemAvail, "/kafka/applogs", 9.997303808e+10},
		{p1, FilesystemSize, "/kafka/applogs", 1.05554829312e+11},
		{p2, FilesystemAvail, "/kafka/datalogs", 1.002971455488e+12},
	} {
		if s := mount(c.part, c.sig, c.m); s.Value != c.want || s.Topic != "" || s.Partition != -1 {
			t.Errorf("%v %s = %+v, want %v", c.sig, c.m, s, c.want)
		}
	}
}
