package web

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// point is one raw sample: Unix ms and value; gap when the sweep had none.
type point struct {
	T   int64
	V   float64
	Gap bool
}

// level is a horizontal line drawn on a chart: a threshold or a baseline.
type level struct {
	Name  string
	Value float64
	Kind  string // "threshold" or "baseline": the CSS class
}

// chart is an inline SVG line chart of one series, its cited window shaded.
type chart struct {
	W, H          int     // viewBox size
	Path          string  // the series as SVG path data; a gap breaks the line
	Dots          string  // path data of isolated samples (a sample between gaps)
	WinX, WinW    float64 // the cited window's shaded rectangle
	Levels        []drawnLevel
	YLo, YHi      string  // y-axis labels: the lowest and highest value drawn
	YLoY, YHiY    float64 // their heights
	TLo, THi      string  // x-axis labels (UTC)
	PlotL, PlotR  float64
	PlotT, PlotB  float64
	PlotH, TickX  float64 // plot height; right edge of the y labels
	Samples, Gaps int
}

type drawnLevel struct {
	level
	Y     float64
	Label string
}

// Chart geometry, in viewBox units.
const (
	chartW, chartH = 640, 180
	padL, padR     = 64, 8
	padT, padB     = 8, 22
)

// newChart draws pts (time-ordered) over [from, to] with the window [wFrom,
// wTo] shaded and levels drawn; the y range covers samples and levels.
func newChart(pts []point, from, to, wFrom, wTo time.Time, levels []level) chart {
	c := chart{W: chartW, H: chartH, PlotL: padL, PlotR: chartW - padR, PlotT: padT, PlotB: chartH - padB, PlotH: chartH - padB - padT, TickX: padL - 4}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, p := range pts {
		if p.Gap {
			c.Gaps++
			continue
		}
		c.Samples++
		lo, hi = math.Min(lo, p.V), math.Max(hi, p.V)
	}
	for _, l := range levels {
		lo, hi = math.Min(lo, l.Value), math.Max(hi, l.Value)
	}
	if math.IsInf(lo, 1) {
		lo, hi = 0, 1
	}
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	vLo, vHi := lo, hi
	pad := (hi - lo) * 0.06 // keep the series off the axes
	lo, hi = lo-pad, hi+pad
	t0, t1 := from.UnixMilli(), to.UnixMilli()
	if t1 <= t0 {
		t1 = t0 + 1
	}
	x := func(t int64) float64 {
		return c.PlotL + float64(t-t0)/float64(t1-t0)*(c.PlotR-c.PlotL)
	}
	y := func(v float64) float64 {
		return c.PlotB - (v-lo)/(hi-lo)*(c.PlotB-c.PlotT)
	}
	c.WinX = clamp(x(wFrom.UnixMilli()), c.PlotL, c.PlotR)
	c.WinW = clamp(x(wTo.UnixMilli()), c.PlotL, c.PlotR) - c.WinX
	c.WinW = math.Max(c.WinW, 1)
	var path, dots strings.Builder
	run := 0 // samples in the current unbroken run
	for i, p := range pts {
		if p.Gap {
			if run == 1 {
				dot(&dots, x(pts[i-1].T), y(pts[i-1].V))
			}
			run = 0
			continue
		}
		cmd := "L"
		if run == 0 {
			cmd = "M"
		}
		path.WriteString(cmd + num(x(p.T)) + " " + num(y(p.V)) + " ")
		run++
	}
	if run == 1 {
		last := pts[len(pts)-1]
		dot(&dots, x(last.T), y(last.V))
	}
	c.Path, c.Dots = strings.TrimSpace(path.String()), strings.TrimSpace(dots.String())
	for _, l := range levels {
		c.Levels = append(c.Levels, drawnLevel{level: l, Y: y(l.Value), Label: l.Name + " " + human(l.Value)})
	}
	c.YLo, c.YHi = human(vLo), human(vHi)
	c.YLoY, c.YHiY = y(vLo), y(vHi)
	c.TLo, c.THi = from.UTC().Format(time.TimeOnly), to.UTC().Format(time.TimeOnly)
	return c
}

// dot draws a short horizontal stroke so a lone sample stays visible.
func dot(b *strings.Builder, x, y float64) {
	b.WriteString("M" + num(x-1.5) + " " + num(y) + " L" + num(x+1.5) + " " + num(y) + " ")
}

func clamp(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }

func num(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// human formats a value compactly: 1234567 → 1.23M.
func human(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return strconv.FormatFloat(v/1e9, 'f', 2, 64) + "G"
	case a >= 1e6:
		return strconv.FormatFloat(v/1e6, 'f', 2, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(v/1e3, 'f', 1, 64) + "k"
	case v == math.Trunc(v):
		return strconv.FormatFloat(v, 'f', 0, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// sparkline is a small SVG polyline of values on their own scale.
type sparkline struct {
	W, H   int
	Points string
}

func newSparkline(vs []float64) sparkline {
	s := sparkline{W: 120, H: 24}
	if len(vs) < 2 {
		return s
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vs {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	if hi == lo {
		hi = lo + 1
	}
	var b strings.Builder
	for i, v := range vs {
		px := float64(i) / float64(len(vs)-1) * float64(s.W-2)
		py := float64(s.H-2) - (v-lo)/(hi-lo)*float64(s.H-4)
		b.WriteString(num(px+1) + "," + num(py) + " ")
	}
	s.Points = strings.TrimSpace(b.String())
	return s
}
