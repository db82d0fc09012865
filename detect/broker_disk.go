package detect

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
)

// Disks: DISK_NEARLY_FULL and DISK_FILL_FORECAST, per broker log dir (one
// finding per broker and kind, headed by its worst log dir). A log dir is
// judged only when the newest entries of both its Used and Total series are
// present and Total > 0. Thresholds and sources are on BrokerConfig.

// usage returns the newest used and total bytes of a log dir.
func usage(ld *LogDir) (used, total float64, ok bool) {
	if !newestPresent(ld.Used) || !newestPresent(ld.Total) {
		return 0, 0, false
	}
	used, total = ld.Used.Values[len(ld.Used.Values)-1], ld.Total.Values[len(ld.Total.Values)-1]
	return used, total, total > 0
}

// diskNearlyFull: DISK_NEARLY_FULL when free = (total − used) / total of a
// log dir is below DiskFreeWarn (warning) or DiskFreeCritical (critical).
func (s *brokerSweep) diskNearlyFull(b *BrokerInput, subj Subject) {
	type dir struct {
		ld                *LogDir
		used, total, free float64
	}
	var hit []dir
	for i := range b.LogDirs {
		ld := &b.LogDirs[i]
		used, total, ok := usage(ld)
		if free := (total - used) / total; ok && free < s.cfg.DiskFreeWarn {
			hit = append(hit, dir{ld, used, total, free})
		}
	}
	if len(hit) == 0 {
		return
	}
	slices.SortStableFunc(hit, func(x, y dir) int { return cmp.Compare(x.free, y.free) })
	w := hit[0]
	sev, limit := SeverityWarning, s.cfg.DiskFreeWarn
	if w.free < s.cfg.DiskFreeCritical {
		sev, limit = SeverityCritical, s.cfg.DiskFreeCritical
	}
	from := s.at - s.cfg.FillMinSpan.Milliseconds()
	var ev []Citation
	for _, d := range hit {
		ev = append(ev,
			s.cite(d.ld.Used, from, "bytes", fmt.Sprintf("used bytes of %s: %.1f%% free", d.ld.Path, 100*d.free)),
			s.cite(d.ld.Total, from, "bytes", "total bytes of "+d.ld.Path))
	}
	more := ""
	if len(hit) > 1 {
		more = fmt.Sprintf("; %d log dirs are below %.0f%% free", len(hit), 100*s.cfg.DiskFreeWarn)
	}
	s.add(KindDiskNearlyFull, sev, subj,
		fmt.Sprintf("Broker %d's log dir %s has %.1f%% free (%s of %s), below %.0f%%%s: a full log dir goes offline with its replicas.",
			b.Broker, w.ld.Path, 100*w.free, bytesIEC(w.total-w.used), bytesIEC(w.total), 100*limit, more),
		ev,
		[]Fact{
			{Name: "free_ratio", Value: w.free},
			{Name: "free_bytes", Value: w.total - w.used, Unit: "bytes"},
			{Name: "used_bytes", Value: w.used, Unit: "bytes"},
			{Name: "total_bytes", Value: w.total, Unit: "bytes"},
			{Name: "log_dir", Text: w.ld.Path},
			{Name: "log_dirs_affected", Value: float64(len(hit)), Unit: "log dirs"},
			cfgFact("disk_free_warn", s.cfg.DiskFreeWarn, ""),
			cfgFact("disk_free_critical", s.cfg.DiskFreeCritical, ""),
		})
}

// fillForecast is one log dir's time-to-full estimate.
type fillForecast struct {
	ld          *LogDir
	used, total float64
	slope       float64 // bytes/s, robust
	ttf         float64 // seconds
	from, to    int64   // the fitted samples, Unix ms
	points      int
}

// forecastFill fits the used bytes of ld over the last FillWindow. ok is
// false when the dir is not judged or does not fill: fewer than two points,
// a span under FillMinSpan, or a flat or shrinking trend (robust slope ≤ 0
// or last ≤ first).
func (s *brokerSweep) forecastFill(ld *LogDir) (fillForecast, bool) {
	f := fillForecast{ld: ld}
	var ok bool
	if f.used, f.total, ok = usage(ld); !ok {
		return f, false
	}
	xs, ys := s.s.xs[:0], s.s.ys[:0]
	for i, t := range ld.Used.Times {
		if v := ld.Used.Values[i]; t >= s.at-s.cfg.FillWindow.Milliseconds() && t <= s.at && !math.IsNaN(v) {
			if len(xs) == 0 {
				f.from = t
			}
			f.to = t
			xs, ys = append(xs, float64(t-f.from)/1000), append(ys, v)
		}
	}
	s.s.xs, s.s.ys, f.points = xs, ys, len(xs)
	if f.points < 2 || f.to-f.from < s.cfg.FillMinSpan.Milliseconds() || ys[len(ys)-1] <= ys[0] {
		return f, false
	}
	f.slope, ok, s.s.buf = RobustSlope(xs, ys, s.s.buf)
	if !ok || !(f.slope > 0) {
		return f, false
	}
	f.ttf = max(0, f.total-f.used) / f.slope
	return f, true
}

// diskFillForecast: DISK_FILL_FORECAST when a log dir's time to full =
// (total − used) / robust slope of used bytes is under FillWithinWarn
// (warning) or FillWithinCritical (critical). The evidence names the
// FillTopTopics topics whose size on this broker grew most over the fitted
// span (last − first present size, TopicSize), with their growth.
func (s *brokerSweep) diskFillForecast(b *BrokerInput, subj Subject) {
	var hit []fillForecast
	for i := range b.LogDirs {
		if f, ok := s.forecastFill(&b.LogDirs[i]); ok && f.ttf < s.cfg.FillWithinWarn.Seconds() {
			hit = append(hit, f)
		}
	}
	if len(hit) == 0 {
		return
	}
	slices.SortStableFunc(hit, func(x, y fillForecast) int { return cmp.Compare(x.ttf, y.ttf) })
	w := hit[0]
	sev := SeverityWarning
	if w.ttf < s.cfg.FillWithinCritical.Seconds() {
		sev = SeverityCritical
	}
	var ev []Citation
	for _, f := range hit {
		ev = append(ev, s.cite(f.ld.Used, f.from, "bytes",
			fmt.Sprintf("used bytes of %s: full in %s at %s/s", f.ld.Path, brief(int64(f.ttf*1000)), bytesIEC(f.slope))))
	}
	ev = append(ev, s.cite(w.ld.Total, w.from, "bytes", "total bytes of "+w.ld.Path))
	facts := []Fact{
		{Name: "time_to_full", Value: w.ttf, Unit: "s"},
		{Name: "fill_rate", Value: w.slope, Unit: "bytes/s"},
		{Name: "free_bytes", Value: max(0, w.total-w.used), Unit: "bytes"},
		{Name: "used_bytes", Value: w.used, Unit: "bytes"},
		{Name: "total_bytes", Value: w.total, Unit: "bytes"},
		{Name: "fit_span", Value: float64(w.to-w.from) / 1000, Unit: "s"},
		{Name: "fit_points", Value: float64(w.points), Unit: "samples"},
		{Name: "log_dir", Text: w.ld.Path},
		{Name: "log_dirs_affected", Value: float64(len(hit)), Unit: "log dirs"},
	}
	grew := s.topGrowers(b, w.from)
	var names []string
	for _, g := range grew {
		ev = append(ev, s.cite(b.TopicSize[g.topic], w.from, "bytes", fmt.Sprintf("topic %s grew by %s on this broker", g.topic, bytesIEC(g.growth))))
		facts = append(facts, Fact{Name: "topic_growth." + g.topic, Value: g.growth, Unit: "bytes"})
		names = append(names, fmt.Sprintf("%s (+%s)", g.topic, bytesIEC(g.growth)))
	}
	facts = append(facts, cfgDur("fill_within_warn", s.cfg.FillWithinWarn), cfgDur("fill_within_critical", s.cfg.FillWithinCritical),
		cfgDur("fill_window", s.cfg.FillWindow), cfgDur("fill_min_span", s.cfg.FillMinSpan))
	top := ""
	if len(names) > 0 {
		top = "; grew most: " + strings.Join(names, ", ")
	}
	s.add(KindDiskFillForecast, sev, subj,
		fmt.Sprintf("Broker %d's log dir %s will be full in about %s at its current growth of %s/s (robust fit over %s), with %s of %s free%s.",
			b.Broker, w.ld.Path, brief(int64(w.ttf*1000)), bytesIEC(w.slope), brief(w.to-w.from), bytesIEC(max(0, w.total-w.used)), bytesIEC(w.total), top),
		ev, facts)
}

type topicGrowth struct {
	topic  string
	growth float64 // bytes
}

// topGrowers returns up to FillTopTopics topics whose size grew most in
// [from, s.at], largest first; ties by name.
func (s *brokerSweep) topGrowers(b *BrokerInput, from int64) []topicGrowth {
	var out []topicGrowth
	for topic, w := range b.TopicSize {
		first, last := math.NaN(), math.NaN()
		for i, t := range w.Times {
			if v := w.Values[i]; t >= from && t <= s.at && !math.IsNaN(v) {
				if math.IsNaN(first) {
					first = v
				}
				last = v
			}
		}
		if g := last - first; g > 0 {
			out = append(out, topicGrowth{topic, g})
		}
	}
	slices.SortFunc(out, func(x, y topicGrowth) int {
		return cmp.Or(cmp.Compare(y.growth, x.growth), strings.Compare(x.topic, y.topic))
	})
	return out[:min(len(out), s.cfg.FillTopTopics)]
}
