package state

import (
	"testing"

	"github.com/kwitness/kwitness/detect"
)

// FuzzTelemetryKeyOf parses arbitrary broker references (a metric and up
// to three labels, as a citation or a QuerySeries request gives them).
// Invariants: no input makes it panic; a reference that parses renders
// (Telemetry.Ref) to one that parses to the same key.
func FuzzTelemetryKeyOf(f *testing.F) {
	f.Add("kafka_broker_scrape_up", "broker", "1", "origin", "node", "cluster", "c")
	f.Add("kafka_broker_topic_size_bytes", "broker", "-1", "topic", "t", "partition", "3")
	f.Add("kafka_broker_x", "partition", "3", "broker", "+2", "dir", "/d")
	tel, _ := NewTelemetry(DefaultWindowConfig(), "c")
	f.Fuzz(func(t *testing.T, metric, n1, v1, n2, v2, n3, v3 string) {
		ref := detect.SeriesRef{Metric: metric, Labels: []detect.Label{{Name: n1, Value: v1}, {Name: n2, Value: v2}, {Name: n3, Value: v3}}}
		k, err := TelemetryKeyOf(ref)
		if err != nil {
			return
		}
		if k2, err := TelemetryKeyOf(tel.Ref(k)); err != nil || k2 != k {
			t.Fatalf("%s → %+v → %s → %+v, %v", ref, k, tel.Ref(k), k2, err)
		}
	})
}
