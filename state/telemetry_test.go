package state

import (
	"math"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// TestClusterInputOrigins: when one signal of a broker comes from several
// origins (JMX scrape "", Metadata "admin", node_exporter "node"),
// ClusterInput picks one per the rules on ClusterInput. Each row writes
// three sweeps of series and checks which value and source the detectors
// get.
func TestClusterInputOrigins(t *testing.T) {
	nan := math.NaN()
	type series struct {
		k    TelemetryKey
		vals [3]float64
	}
	key := func(sig detect.Signal, broker int32, origin string) TelemetryKey {
		return TelemetryKey{Signal: sig, Broker: broker, Partition: -1, Origin: origin}
	}
	dir := func(sig detect.Signal, broker int32, path, origin string) TelemetryKey {
		return TelemetryKey{Signal: sig, Broker: broker, Partition: -1, Dir: path, Origin: origin}
	}
	build := func(t *testing.T, ss []series) detect.ClusterInput {
		t.Helper()
		tel, err := NewTelemetry(WindowConfig{Span: time.Minute, Points: 8, Recent: 4}, "c")
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			s := tel.Begin(time.UnixMilli(1_800_000_000_000 + int64(i)*10_000))
			for _, x := range ss {
				s.Set(x.k, x.vals[i])
			}
			s.SetBrokers(map[int32]BrokerContext{1: {Registered: true, Source: "http://b1/metrics"}, 2: {Registered: true}})
			tel.Commit(s)
		}
		return tel.ClusterInput()
	}
	sigOf := func(t *testing.T, in detect.ClusterInput, broker int32, sig detect.Signal) (float64, string, bool) {
		t.Helper()
		for _, b := range in.Brokers {
			if b.Broker == broker {
				w, ok := b.Signals[sig]
				v, _ := w.Last()
				return v, w.Source, ok
			}
		}
		t.Fatalf("broker %d missing", broker)
		return 0, "", false
	}
	f := func(n int, ss []series, broker int32, sig detect.Signal, wantV float64, wantSrc string) {
		t.Helper()
		in := build(t, ss)
		v, src, ok := sigOf(t, in, broker, sig)
		switch {
		case math.IsNaN(wantV) && ok:
			t.Errorf("%d: broker %d %s = %g from %q, want absent", n, broker, sig, v, src)
		case !math.IsNaN(wantV) && (v != wantV || src != wantSrc):
			t.Errorf("%d: broker %d %s = %g from %q, want %g from %q", n, broker, sig, v, src, wantV, wantSrc)
		}
	}
	up := detect.SigScrapeUp
	urp := detect.SigUnderReplicated
	off := detect.SigOfflinePartitions
	// 1: the JMX scrape_up decides, whatever the node_exporter says (and in either registration order).
	f(1, []series{{key(up, 1, "node"), [3]float64{1, 1, 1}}, {key(up, 1, ""), [3]float64{1, 0, 0}}}, 1, up, 0, "scrape http://b1/metrics")
	f(2, []series{{key(up, 1, ""), [3]float64{1, 0, 0}}, {key(up, 1, "node"), [3]float64{1, 1, 1}}}, 1, up, 0, "scrape http://b1/metrics")
	// 3: a broker with only a node_exporter target: its scrape_up is used.
	f(3, []series{{key(up, 2, "node"), [3]float64{1, 1, 0}}}, 2, up, 0, "scrape node_exporter")
	// 4: scraped URP with data wins over Metadata's, even when its newest entry is a gap (unknown, not replaced).
	f(4, []series{{key(urp, 1, "admin"), [3]float64{3, 3, 3}}, {key(urp, 1, ""), [3]float64{0, 0, nan}}}, 1, urp, 0, "scrape http://b1/metrics")
	// 5: a scraped URP series with no data at all gives way to Metadata's.
	f(5, []series{{key(urp, 1, ""), [3]float64{nan, nan, nan}}, {key(urp, 1, "admin"), [3]float64{3, 3, 3}}}, 1, urp, 3, "Metadata")
	// 6: Metadata's cluster-wide offline count goes to the lowest broker...
	f(6, []series{{key(off, -1, "admin"), [3]float64{0, 2, 2}}, {key(urp, 2, "admin"), [3]float64{0, 0, 0}}}, 1, off, 2, "Metadata")
	f(7, []series{{key(off, -1, "admin"), [3]float64{0, 2, 2}}}, 2, off, nan, "")
	// 8: ...unless a broker exports the scraped count (the controller's 0 wins; no broker gets the admin one).
	f(8, []series{{key(off, -1, "admin"), [3]float64{2, 2, 2}}, {key(off, 2, ""), [3]float64{0, 0, 0}}}, 1, off, nan, "")
	f(9, []series{{key(off, -1, "admin"), [3]float64{2, 2, 2}}, {key(off, 2, ""), [3]float64{0, 0, 0}}}, 2, off, 0, "scrape")

	// Log dirs: used and total from one origin.
	d := func(n int, ss []series, wantUsed, wantTotal float64, wantSrc string) {
		t.Helper()
		in := build(t, ss)
		b := in.Brokers[0]
		if len(b.LogDirs) != 1 {
			t.Fatalf("%d: log dirs %+v", n, b.LogDirs)
		}
		used, _ := b.LogDirs[0].Used.Last()
		total, _ := b.LogDirs[0].Total.Last()
		if used != wantUsed || !(total == wantTotal || math.IsNaN(total) && math.IsNaN(wantTotal)) || b.LogDirs[0].Used.Source != wantSrc {
			t.Errorf("%d: used %g total %g from %q, want %g %g from %q", n, used, total, b.LogDirs[0].Used.Source, wantUsed, wantTotal, wantSrc)
		}
	}
	used, total := detect.SigLogDirUsed, detect.SigLogDirTotal
	// 10: KIP-827 totals win over node_exporter for the same path.
	d(10, []series{
		{dir(used, 1, "/data", "node"), [3]float64{5, 5, 5}}, {dir(total, 1, "/data", "node"), [3]float64{10, 10, 10}},
		{dir(used, 1, "/data", "admin"), [3]float64{6, 6, 6}}, {dir(total, 1, "/data", "admin"), [3]float64{12, 12, 12}},
	}, 6, 12, "DescribeLogDirs")
	// 11: without KIP-827 totals, node_exporter's used and total (never admin used with node total).
	d(11, []series{
		{dir(used, 1, "/data", "admin"), [3]float64{1, 1, 1}},
		{dir(used, 1, "/data", "node"), [3]float64{5, 5, 5}}, {dir(total, 1, "/data", "node"), [3]float64{10, 10, 10}},
	}, 5, 10, "scrape node_exporter")
	// 12: admin used alone is still reported (no total: the disk detectors skip it).
	d(12, []series{{dir(used, 1, "/data", "admin"), [3]float64{1, 1, 1}}}, 1, nan, "DescribeLogDirs")
}
