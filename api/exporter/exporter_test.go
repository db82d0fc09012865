package exporter

import (
	"bytes"
	"io"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/state"
)

// fixture is a window of two groups over two topics with hand-set offsets.
type fixture struct {
	w    *state.Window
	f    *state.Findings
	topo *state.Topology
	at   time.Time
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	w, err := state.NewWindow(state.DefaultWindowConfig(), "c1")
	if err != nil {
		t.Fatal(err)
	}
	fx := &fixture{w: w, f: state.NewFindings(time.Hour, 100), at: time.UnixMilli(1_800_000_000_000)}
	fx.topo = w.BuildTopology([]state.GroupTopicSpec{
		{Group: "g1", Topic: "orders", Partitions: []int32{0, 1}},
		{Group: `g"2\`, Topic: "orders", Partitions: []int32{0, 1}},
		{Group: "g1", Topic: "audit", Partitions: []int32{0}},
	})
	return fx
}

// sweep publishes one sweep: end offsets per topic-partition, committed per
// group-topic-partition (missing keys are gaps), start offsets 5.
func (fx *fixture) sweep(ends map[string]int64, committed map[string]int64) {
	s := fx.w.Begin(fx.at)
	if fx.w.Snapshot().Sweeps == 0 {
		s.SetTopology(fx.topo)
		s.SetGroups(map[string]detect.GroupContext{
			"g1":     {Known: true, State: "Stable", Members: 3},
			`g"2\`:   {Known: true, State: "Empty"},
			"absent": {Known: true, State: "Dead"},
		})
	}
	for _, gt := range fx.topo.GroupTopics {
		for _, p := range gt.Parts {
			tp := gt.Topic + "/" + itoa(p.Partition)
			if e, ok := ends[tp]; ok {
				s.Set(p.Series[detect.ColEnd], e)
			}
			s.Set(p.Series[detect.ColStart], 5)
			if c, ok := committed[gt.Group+"/"+tp]; ok {
				s.Set(p.Series[detect.ColCommitted], c)
			}
		}
	}
	fx.w.Commit(s)
	fx.at = fx.at.Add(time.Second)
}

func itoa(p int32) string { return string(rune('0' + p)) }

func scrapeOf(t *testing.T, cfg Config, fx *fixture, log *slog.Logger) (map[string]*dto.MetricFamily, *Exporter) {
	t.Helper()
	set := metrics.NewSet()
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	e, err := New(cfg, fx.w, fx.f, log, set)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	set.WritePrometheus(&b)
	p := expfmt.NewTextParser(model.LegacyValidation)
	fams, err := p.TextToMetricFamilies(&b)
	if err != nil {
		t.Fatalf("exposition does not parse: %v\n%s", err, b.String())
	}
	return fams, e
}

// values renders a family as "label=value,... → v" lines, sorted.
func values(fams map[string]*dto.MetricFamily, name string) []string {
	var out []string
	f := fams[name]
	if f == nil {
		return nil
	}
	for _, m := range f.Metric {
		var ls []string
		for _, l := range m.Label {
			ls = append(ls, l.GetName()+"="+l.GetValue())
		}
		sort.Strings(ls)
		v := m.GetGauge().GetValue()
		if m.Counter != nil {
			v = m.GetCounter().GetValue()
		}
		out = append(out, strings.Join(ls, ",")+" → "+strconv.FormatFloat(v, 'g', -1, 64))
	}
	sort.Strings(out)
	return out
}

func check(t *testing.T, fams map[string]*dto.MetricFamily, name string, want ...string) {
	t.Helper()
	got := values(fams, name)
	sort.Strings(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got %q\nwant %q", name, got, want)
	}
}

func TestPartitionGranularity(t *testing.T) {
	fx := newFixture(t)
	// orders/0 grows 10/s; g1 is caught up on orders/0 one sweep ago and
	// reads nothing more; g"2\ has no committed offset on orders/1 (a gap).
	for i := range int64(4) {
		fx.sweep(map[string]int64{"orders/0": 100 + 10*i, "orders/1": 50, "audit/0": 7},
			map[string]int64{"g1/orders/0": 100, "g1/orders/1": 50, `g"2\/orders/0`: 90 + 10*i, "g1/audit/0": 7})
	}
	fams, _ := scrapeOf(t, Config{Granularity: Partition, MaxSeries: 1000}, fx, nil)
	check(t, fams, "kwitness_consumergroup_lag",
		"cluster=c1,group=g1,partition=0,topic=orders → 30", "cluster=c1,group=g1,partition=1,topic=orders → 0",
		`cluster=c1,group=g"2\,partition=0,topic=orders → 10`, "cluster=c1,group=g1,partition=0,topic=audit → 0")
	check(t, fams, "kwitness_consumergroup_committed_offset",
		"cluster=c1,group=g1,partition=0,topic=orders → 100", "cluster=c1,group=g1,partition=1,topic=orders → 50",
		`cluster=c1,group=g"2\,partition=0,topic=orders → 120`, "cluster=c1,group=g1,partition=0,topic=audit → 7")
	check(t, fams, "kwitness_partition_end_offset",
		"cluster=c1,partition=0,topic=orders → 130", "cluster=c1,partition=1,topic=orders → 50", "cluster=c1,partition=0,topic=audit → 7")
	check(t, fams, "kwitness_partition_start_offset",
		"cluster=c1,partition=0,topic=orders → 5", "cluster=c1,partition=1,topic=orders → 5", "cluster=c1,partition=0,topic=audit → 5")
	// g1 on orders/0 has not read offset 100, produced between the first
	// and second sweeps (3 s and 2 s ago): interpolated, 2.9 s.
	check(t, fams, "kwitness_consumergroup_lag_seconds",
		"cluster=c1,group=g1,partition=0,topic=orders → 2.9", "cluster=c1,group=g1,partition=1,topic=orders → 0",
		`cluster=c1,group=g"2\,partition=0,topic=orders → 0.9`, "cluster=c1,group=g1,partition=0,topic=audit → 0")
	check(t, fams, "kwitness_consumergroup_members", "cluster=c1,group=g1 → 3", `cluster=c1,group=g"2\ → 0`)
	check(t, fams, "kwitness_consumergroup_state", "cluster=c1,group=g1,state=Stable → 1", `cluster=c1,group=g"2\,state=Empty → 1`)
	check(t, fams, "kwitness_info", "cluster=c1 → 1")
	// Admitted series: g1/orders 3×2 + end and start 2×2, g"2\/orders 3×2,
	// g1/audit 3 + 2, two groups × 2.
	check(t, fams, "kwitness_exporter_series", " → 25")
	check(t, fams, "kwitness_exporter_series_dropped_total", " → 0")
}

// sweeps publishes four sweeps in which g"2\ never committed orders/1.
func (fx *fixture) fourSweeps() {
	for i := range int64(4) {
		fx.sweep(map[string]int64{"orders/0": 100 + 10*i, "orders/1": 50, "audit/0": 7},
			map[string]int64{"g1/orders/0": 100, "g1/orders/1": 40, `g"2\/orders/0`: 90 + 10*i, "g1/audit/0": 7})
	}
}

func TestAggregatesSkipGaps(t *testing.T) {
	fx := newFixture(t)
	fx.fourSweeps()
	fams, _ := scrapeOf(t, Config{Granularity: Topic, MaxSeries: 1000}, fx, nil)
	// g"2\ misses orders/1: its topic sum would understate the lag, so
	// there is none.
	check(t, fams, "kwitness_consumergroup_lag",
		"cluster=c1,group=g1,topic=orders → 40", "cluster=c1,group=g1,topic=audit → 0")
	// g1's orders/1 record 40 is older than the window (3 s): the maximum.
	check(t, fams, "kwitness_consumergroup_lag_seconds",
		"cluster=c1,group=g1,topic=orders → 3", "cluster=c1,group=g1,topic=audit → 0")
	if fams["kwitness_consumergroup_committed_offset"] != nil || fams["kwitness_partition_end_offset"] != nil {
		t.Error("offsets are partition-granularity families; topic granularity wrote them")
	}
	fams, _ = scrapeOf(t, Config{Granularity: Group, MaxSeries: 1000}, fx, nil)
	check(t, fams, "kwitness_consumergroup_lag", "cluster=c1,group=g1 → 40")
	check(t, fams, "kwitness_consumergroup_lag_seconds", "cluster=c1,group=g1 → 3")
}

func TestSeriesLimitCountsAndLogs(t *testing.T) {
	fx := newFixture(t)
	fx.fourSweeps()
	var logged bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logged, nil))
	// g1/orders costs 2 (group) + 6 + 4 = 12; the next group-topic does not fit.
	fams, e := scrapeOf(t, Config{Granularity: Partition, MaxSeries: 12}, fx, log)
	if n := len(values(fams, "kwitness_consumergroup_lag")); n != 2 {
		t.Errorf("lag series: got %d, want the 2 of the admitted group-topic", n)
	}
	// Not admitted: g"2\/orders 2 + 6, g1/audit 3 + 2.
	check(t, fams, "kwitness_exporter_series_dropped_total", " → 13")
	check(t, fams, "kwitness_exporter_series", " → 12")
	check(t, fams, "kwitness_exporter_series_limit", " → 12")
	if !strings.Contains(logged.String(), "exceed metrics.max_series") {
		t.Errorf("overrun not logged: %q", logged.String())
	}
	logged.Reset()
	e.WritePrometheus(io.Discard)
	if e.Dropped() != 26 {
		t.Errorf("dropped after two scrapes: got %d, want 26", e.Dropped())
	}
	if logged.Len() != 0 {
		t.Errorf("a continuing overrun is logged at most every %s: %q", LogEvery, logged.String())
	}
}

func TestFindingFiring(t *testing.T) {
	fx := newFixture(t)
	fx.fourSweeps()
	subj := detect.Subject{Cluster: "c1", Group: "g1", Topic: "orders", Partitions: []int32{0}, Broker: -1}
	firing := detect.Finding{ID: "a", Kind: detect.KindLagGrowing, Severity: detect.SeverityWarning, State: detect.StateFiring, Subject: subj, OpenedAt: fx.at}
	gone := detect.Finding{ID: "b", Kind: detect.KindConsumerStalled, Severity: detect.SeverityWarning, State: detect.StateResolved, Subject: subj, OpenedAt: fx.at.Add(-time.Minute), ResolvedAt: fx.at}
	broker := detect.Finding{ID: "c", Kind: detect.KindUnderReplicated, Severity: detect.SeverityCritical, State: detect.StateFiring, Subject: detect.Subject{Cluster: "c1", Broker: 2}, OpenedAt: fx.at}
	fx.f.Apply(fx.at, []detect.Event{{Type: detect.EventOpened, Finding: firing}, {Type: detect.EventResolved, Finding: gone}, {Type: detect.EventOpened, Finding: broker}})
	fams, _ := scrapeOf(t, DefaultConfig(), fx, nil)
	check(t, fams, "kwitness_finding_firing",
		"cluster=c1,group=g1,kind=LAG_GROWING,partition=0,severity=warning,topic=orders → 1",
		"cluster=c1,group=g1,kind=CONSUMER_STALLED,partition=0,severity=warning,topic=orders → 0",
		"broker=2,cluster=c1,kind=UNDER_REPLICATED,severity=critical → 1")
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	err := Config{Granularity: "broker", MaxSeries: 0}.Validate()
	if err == nil || !strings.Contains(err.Error(), "metrics.granularity") || !strings.Contains(err.Error(), "metrics.max_series") {
		t.Errorf("got %v, want both fields named", err)
	}
}
