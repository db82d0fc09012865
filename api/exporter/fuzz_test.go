package exporter

import (
	"bytes"
	"io"
	"log/slog"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/VictoriaMetrics/metrics"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// FuzzExposition: whatever a group, topic or group state is called, the
// exposition parses with Prometheus's own parser and the labels read back
// are the names.
func FuzzExposition(f *testing.F) {
	f.Add("g", "t", "Stable")
	f.Add(`a"b\c`, "x\ny", "Preparing\\Rebalance")
	f.Add("ünïcode ✓", "{}", "")
	f.Fuzz(func(t *testing.T, group, topic, st string) {
		if !utf8.ValidString(group) || !utf8.ValidString(topic) || !utf8.ValidString(st) || group == "" || topic == "" {
			t.Skip()
		}
		w, err := state.NewWindow(state.DefaultWindowConfig(), "c")
		if err != nil {
			t.Fatal(err)
		}
		topo := w.BuildTopology([]state.GroupTopicSpec{{Group: group, Topic: topic, Partitions: []int32{0}}})
		s := w.Begin(time.UnixMilli(1_800_000_000_000))
		s.SetTopology(topo)
		s.SetGroups(map[string]detect.GroupContext{group: {Known: true, State: st, Members: 1}})
		p := topo.GroupTopics[0].Parts[0]
		s.Set(p.Series[detect.ColCommitted], 3)
		s.Set(p.Series[detect.ColEnd], 5)
		s.Set(p.Series[detect.ColStart], 0)
		w.Commit(s)
		set := metrics.NewSet()
		if _, err := New(Config{Granularity: Partition, MaxSeries: 100}, w, state.NewFindings(time.Hour, 10), slog.New(slog.NewTextHandler(io.Discard, nil)), set); err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		set.WritePrometheus(&b)
		parser := expfmt.NewTextParser(model.UTF8Validation)
		fams, err := parser.TextToMetricFamilies(bytes.NewReader(b.Bytes()))
		if err != nil {
			t.Fatalf("exposition does not parse: %v\n%s", err, b.String())
		}
		lag := fams["kwitness_consumergroup_lag"]
		if lag == nil || len(lag.Metric) != 1 || lag.Metric[0].GetGauge().GetValue() != 2 {
			t.Fatalf("lag: %v", lag)
		}
		got := map[string]string{}
		for _, l := range lag.Metric[0].Label {
			got[l.GetName()] = l.GetValue()
		}
		if got["group"] != group || got["topic"] != topic {
			t.Errorf("labels read back %q, want group %q topic %q", got, group, topic)
		}
	})
}
