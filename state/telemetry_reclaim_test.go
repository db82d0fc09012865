package state

import (
	"fmt"
	"log/slog"
	"math"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kwitness/kwitness/detect"
)

// TestTelemetryReclaimsIdleSeries: 100 topics each report a size for 5
// sweeps and then vanish, over 400 sweeps. Idle series are released and
// their ids reused, so the id space stays near the series set within two
// spans; the cluster input never shows a released series; and the store,
// following the reuse, keeps each topic's samples under its own key.
func TestTelemetryReclaimsIdleSeries(t *testing.T) {
	tel, err := NewTelemetry(WindowConfig{Span: 10 * time.Second, Points: 4, Recent: 3}, "c1")
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultStoreConfig()
	cfg.FS, cfg.Queue = vfs.NewMem(), 512
	st, err := Open("data", cfg, slog.New(slog.DiscardHandler), metrics.NewSet())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	key := func(topic int) TelemetryKey {
		return TelemetryKey{Signal: detect.SigTopicSize, Broker: 1, Topic: fmt.Sprintf("t%03d", topic), Partition: -1}
	}
	up := TelemetryKey{Signal: detect.SigScrapeUp, Broker: 1, Partition: -1}
	const t0 = 1_800_000_000_000
	for k := range 400 {
		sw := tel.Begin(time.UnixMilli(t0 + int64(k)*1000))
		sw.Set(up, 1)
		if topic := k / 4; topic < 100 {
			sw.Set(key(topic), float64(1000*topic+k))
		}
		tel.Commit(sw)
		if !st.AppendTelemetry(tel) {
			t.Fatalf("sweep %d dropped", k)
		}
		if bs := tel.ClusterInput().Brokers; len(bs) != 1 || bs[0].Broker != 1 {
			t.Fatalf("sweep %d: cluster input lists brokers %v; a released series (zero key) must not show", k, brokerIDsOf(bs))
		}
	}
	if n := tel.catalog.len(); n > 20 {
		t.Fatalf("id space %d after 100 topics came and went; want it bounded", n)
	}
	if tel.reclaim.released == 0 {
		t.Fatal("nothing released")
	}
	if err := st.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, topic := range []int{0, 37, 99} {
		pts, err := st.QueryTelemetry(key(topic), time.UnixMilli(t0), time.UnixMilli(t0+400_000))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, p := range pts {
			if math.IsNaN(p.V) {
				continue
			}
			if want := float64(1000*topic + 4*topic + n); p.V != want {
				t.Fatalf("topic %d sample %d = %v, want %v: another series' value", topic, n, p.V, want)
			}
			n++
		}
		if n != 4 {
			t.Fatalf("topic %d has %d stored samples, want 4", topic, n)
		}
	}
}

func brokerIDsOf(bs []detect.BrokerInput) []int32 {
	var ids []int32
	for _, b := range bs {
		ids = append(ids, b.Broker)
	}
	return ids
}
