package detect

import (
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// hotStep is the poll interval of the hot-partition windows: 100 sweeps
// span 16.5 minutes, just over the default 15-minute sustain.
const hotStep = 10_000

// hotParts builds one window per partition (partition i from ends[i]) of n
// sweeps hotStep apart; ends give the log end offset at sweep k.
func hotParts(n int, ends ...func(k int) int64) []EndWindow {
	parts := make([]EndWindow, len(ends))
	for i, end := range ends {
		parts[i] = EndWindow{Partition: int32(i), Series: uint32(i + 1)}
		for k := range n {
			parts[i].Times = append(parts[i].Times, tlT0+int64(k)*hotStep)
			parts[i].End = append(parts[i].End, end(k))
		}
	}
	return parts
}

// at produces perSec messages/s.
func at(perSec float64) func(int) int64 {
	return func(k int) int64 { return int64(perSec * float64(k) * hotStep / 1000) }
}

// switchAt produces r0/s before sweep from and r1/s after.
func switchAt(r0, r1 float64, from int) func(int) int64 {
	return func(k int) int64 {
		if k < from {
			return at(r0)(k)
		}
		return at(r0)(from) + at(r1)(k-from)
	}
}

// pulses appends n messages at once every 10 sweeps (100 s), at sweeps ≡ phase.
func pulses(n int64, phase int) func(int) int64 {
	return func(k int) int64 { return n * int64((k+10-phase)/10) }
}

// holes makes the sweeps k with drop(k) true a Gap.
func holes(drop func(k int) bool, end func(int) int64) func(int) int64 {
	return func(k int) int64 {
		if drop(k) {
			return Gap
		}
		return end(k)
	}
}

func TestHotPartitionsTable(t *testing.T) {
	cfg := DefaultHotConfig()
	cfg.FastFactor = math.Inf(1) // the long rule alone; TestHotPartitionsFast covers the fast one
	f := func(n int, name string, parts []EndWindow, want ...int32) {
		t.Helper()
		var got []int32
		for _, h := range HotPartitions("t", parts, nil, cfg) {
			got = append(got, h.Partition)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%d %s: hot %v, want %v", n, name, got, want)
		}
	}
	c10 := at(10)
	// 1: four partitions at 10/s each: balanced, none hot.
	f(1, "balanced", hotParts(100, c10, c10, c10, c10))
	// 2: partition 2 at 100/s against 10/s (10× the median) for the whole window.
	f(2, "hot", hotParts(100, c10, c10, at(100), c10), 2)
	// 3: partition 2 hot only for the last 5 minutes: not sustained.
	f(3, "recent burst", hotParts(100, c10, c10, switchAt(10, 100, 70), c10))
	// 4: near-idle topic, one partition at 0.5/s, median 0: below the 1/s floor.
	f(4, "near idle", hotParts(100, at(0.5), at(0), at(0), at(0)))
	// 5: one partition at 5/s, the rest idle (a single hot key): hot.
	f(5, "single key", hotParts(100, at(5), at(0), at(0), at(0)), 0)
	// 6: only 10 minutes of history: cannot be sustained for 15.
	f(6, "short history", hotParts(60, c10, c10, at(100), c10))
	// 7: two partitions: the median is their mean, so neither exceeds 3× it.
	f(7, "two partitions", hotParts(100, at(100), c10))
	// 8: exactly 3× the median: not above it.
	f(8, "exactly 3x", hotParts(100, at(30), c10, c10))
	// 9: just above 3×.
	f(9, "above 3x", hotParts(100, at(31), c10, c10), 0)
	// 10: bursty but balanced: 1000 messages every 100 s per partition, phases apart.
	f(10, "bursty balanced", hotParts(100, pulses(1000, 0), pulses(1000, 3), pulses(1000, 6), pulses(1000, 9)))
	// 11: bursty and skewed: partition 1 gets 10 000 per burst, the others 1000.
	f(11, "bursty hot", hotParts(100, pulses(1000, 0), pulses(10_000, 3), pulses(1000, 6), pulses(1000, 9)), 1)
	// 12: every third sample of the hot partition missing: still judged, still hot.
	f(12, "gaps", hotParts(100, c10, c10, holes(func(k int) bool { return k%3 == 1 }, at(100)), c10), 2)
	// 13: the hot partition's data missing for 6 minutes (a whole sub-window): not judged.
	f(13, "gap over a slice", hotParts(100, c10, c10, holes(func(k int) bool { return k >= 40 && k < 76 }, at(100)), c10))
	// 14: hot for the first 10 of the 15 minutes, normal since: no longer hot.
	f(14, "cooled down", hotParts(100, c10, c10, switchAt(100, 10, 70), c10))
	// 15: two hot partitions of eight, hottest first.
	f(15, "two of eight", hotParts(100, c10, c10, c10, at(100), c10, at(200), c10, c10), 5, 3)
	// 16: no partitions at all.
	f(16, "empty", nil)
	// 17: hot for the last 9 of the 15 minutes: the whole window's rate is above 3×, the first sub-window's is not.
	f(17, "most of the window", hotParts(100, c10, c10, switchAt(10, 100, 45), c10))
	// 18: the hot partition has only 30 s of data in the first sub-window: not judged there, so not hot.
	f(18, "thin sub-window", hotParts(100, c10, c10, holes(func(k int) bool { return k < 36 }, at(100)), c10))
}

// TestHotPartitionsFast: a partition far above the median (FastFactor) is
// hot after FastSustain; a burst shorter than it, or a marginal ratio, is
// not. One sweep per second.
func TestHotPartitionsFast(t *testing.T) {
	cfg := DefaultHotConfig()
	sec := func(n int, hot func(k int) int64) []EndWindow {
		ends := []func(int) int64{func(k int) int64 { return 100 * int64(k) }, func(k int) int64 { return 100 * int64(k) },
			hot, func(k int) int64 { return 100 * int64(k) }, func(k int) int64 { return 100 * int64(k) }}
		parts := make([]EndWindow, len(ends))
		for i, end := range ends {
			parts[i] = EndWindow{Partition: int32(i), Series: uint32(i + 1)}
			for k := range n {
				parts[i].Times = append(parts[i].Times, tlT0+int64(k)*1000)
				parts[i].End = append(parts[i].End, end(k))
			}
		}
		return parts
	}
	// from sweep `from` on, partition 2 produces factor × 100/s.
	from := func(from int, factor float64) func(int) int64 {
		return func(k int) int64 {
			if k < from {
				return 100 * int64(k)
			}
			return 100*int64(from) + int64(factor*100*float64(k-from))
		}
	}
	for _, c := range []struct {
		name string
		n    int
		end  func(int) int64
		hot  bool
	}{
		{"10× for the last 50 s", 300, from(250, 10), true},
		{"10× for the last 30 s (a burst)", 300, from(270, 10), false},
		{"5× for the last 5 minutes (marginal: the long sustain)", 300, from(0, 5), false},
		{"10× throughout a 50 s history", 50, from(0, 10), true},
	} {
		got := HotPartitions("t", sec(c.n, c.end), nil, cfg)
		if (len(got) == 1 && got[0].Partition == 2 && got[0].Fast) != c.hot || len(got) > 1 {
			t.Errorf("%s: hot %+v, want hot %v", c.name, got, c.hot)
		}
	}
}

// TestHotPartitionNumbers: the rate, median and ratio reported are the
// whole-window robust rates.
func TestHotPartitionNumbers(t *testing.T) {
	hot := HotPartitions("t", hotParts(100, at(10), at(12), at(120), at(8)), map[int32]string{2: "m"}, DefaultHotConfig())
	if len(hot) != 1 {
		t.Fatalf("want 1 hot partition, got %+v", hot)
	}
	h := hot[0]
	if math.Abs(h.Rate-120) > 1e-9 || math.Abs(h.Median-11) > 1e-9 || math.Abs(h.Ratio-120.0/11) > 1e-9 || h.Owner != "m" {
		t.Fatalf("got %+v, want rate 120, median 11, ratio 10.9, owner m", h)
	}
	if h.ToMs-h.FromMs != (15 * time.Minute).Milliseconds() {
		t.Fatalf("window %d ms, want the 15-minute sustain", h.ToMs-h.FromMs)
	}
}

// topicsView is a TopicView over fixed topics; series ids render as id="<n>".
type topicsView struct{ topics []TopicInput }

func (v *topicsView) EachTopic(fn func(*TopicInput)) {
	for i := range v.topics {
		fn(&v.topics[i])
	}
}

func (v *topicsView) SeriesRef(id uint32) SeriesRef {
	return SeriesRef{Metric: "kafka_log_end_offset", Labels: []Label{{Name: "id", Value: strings.Repeat("#", int(id))}}}
}

// TestHotDetectorCandidates: the candidate names the partition, its rate,
// the topic median and the member that owns it, cites the hot and a median
// partition's end offsets; a topic with an unjudged partition is present but
// not observed.
func TestHotDetectorCandidates(t *testing.T) {
	owners := map[int32]string{0: "app-0@h0", 1: "app-1@h1", 2: "app-1@h1", 3: "app-2@h2"}
	v := &topicsView{topics: []TopicInput{
		{Cluster: "c", Topic: "orders", Partitions: hotParts(100, at(10), at(100), at(200), at(10), at(10)), Owners: owners, OwnerGroup: "billing"},
		{Cluster: "c", Topic: "young", Partitions: hotParts(100, at(10), at(10), holes(func(k int) bool { return k < 50 }, at(10)))},
	}}
	d, err := NewHotDetector(DefaultHotConfig())
	if err != nil {
		t.Fatal(err)
	}
	res := d.Sweep(v)
	if len(res.Candidates) != 1 {
		t.Fatalf("want 1 candidate, got %+v", res.Candidates)
	}
	c := res.Candidates[0]
	if c.Kind != KindHotPartition || c.Severity != SeverityWarning || !slices.Equal(c.Subject.Partitions, []int32{1, 2}) || c.Subject.Topic != "orders" {
		t.Fatalf("got %s %v %+v", c.Kind, c.Severity, c.Subject)
	}
	for _, want := range []string{"Partition 2 of topic \"orders\" receives 200.0 messages/s, 20.0× the topic's median of 10.0/s", "partitions 1,2",
		"one consumer member of group \"billing\", app-1@h1, owns all of them"} {
		if !strings.Contains(c.Summary, want) {
			t.Errorf("summary %q lacks %q", c.Summary, want)
		}
	}
	notes := []string{"partition 2: 200.0 messages/s, 20.0× the topic median of 10.0/s; consumed by app-1@h1",
		"partition 1: 100.0 messages/s", "partition 0: a partition at the topic median"}
	if len(c.Evidence) != len(notes) {
		t.Fatalf("evidence %+v", c.Evidence)
	}
	for i, e := range c.Evidence {
		if !strings.Contains(e.Note, notes[i]) || e.Source.API != "ListOffsets(latest)" || math.Abs(e.Slope-[]float64{200, 100, 10}[i]) > 1e-9 {
			t.Errorf("evidence %d: %q slope %.1f from %s", i, e.Note, e.Slope, e.Source.API)
		}
	}
	owners[1] = "app-0@h0" // the hot partitions now have different owners
	c = d.Sweep(v).Candidates[0]
	if want := "; consumed by app-1@h1 of group \"billing\"."; !strings.HasSuffix(c.Summary, want) {
		t.Errorf("summary %q does not end in %q", c.Summary, want)
	}
	orders, young := Subject{Cluster: "c", Topic: "orders", Broker: -1}.Key(), Subject{Cluster: "c", Topic: "young", Broker: -1}.Key()
	if !res.Observed[orders] || !res.Present[young] || res.Observed[young] {
		t.Errorf("observed %v present %v", res.Observed, res.Present)
	}
}

func TestHotConfigValidate(t *testing.T) {
	if err := DefaultHotConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	f := func(mut func(*HotConfig), key string) {
		t.Helper()
		c := DefaultHotConfig()
		mut(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("want an error naming %s, got %v", key, err)
		}
		if _, err := NewHotDetector(c); err == nil {
			t.Errorf("NewHotDetector accepted an invalid %s", key)
		}
	}
	f(func(c *HotConfig) { c.Factor = 1 }, "hot_partition.factor")
	f(func(c *HotConfig) { c.MinRate = 0 }, "hot_partition.min_rate")
	f(func(c *HotConfig) { c.MinRate = math.NaN() }, "hot_partition.min_rate")
	f(func(c *HotConfig) { c.Sustain = 0 }, "hot_partition.sustain")
	f(func(c *HotConfig) { c.Slices = 0 }, "hot_partition.slices")
}

// TestHotFastOnDecimatedWindow: a window as the sidecar holds it — history
// every ~11.3 s, the 6 newest sweeps at 1 s — leaves some 15 s sub-windows
// of the fast rule with a single sample; each sub-window's rate reaches back
// to the sample before it, so a steady 10× partition is hot 60 s after it
// starts whatever the sampling phase.
func TestHotFastOnDecimatedWindow(t *testing.T) {
	cfg := DefaultHotConfig()
	for phase := int64(0); phase < 11_300; phase += 1_000 {
		var times []int64
		for ts := phase; ts < 600_000-6_000; ts += 11_300 {
			times = append(times, ts)
		}
		for ts := int64(600_000 - 6_000); ts <= 600_000; ts += 1_000 {
			times = append(times, ts)
		}
		parts := make([]EndWindow, 6)
		for i := range parts {
			parts[i] = EndWindow{Partition: int32(i), Series: uint32(i + 1)}
			for _, ts := range times {
				end := ts / 100 // 10/s
				if i == 0 && ts > 540_000 {
					end += (ts - 540_000) * 9 / 100 // 100/s for the last 60 s
				}
				parts[i].Times = append(parts[i].Times, tlT0+ts)
				parts[i].End = append(parts[i].End, end)
			}
		}
		hot := HotPartitions("t", parts, nil, cfg)
		if len(hot) != 1 || hot[0].Partition != 0 || !hot[0].Fast {
			t.Fatalf("phase %d ms: hot %+v, want partition 0 by the fast rule", phase, hot)
		}
	}
}
