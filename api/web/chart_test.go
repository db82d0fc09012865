package web

import (
	"strings"
	"testing"
	"time"
)

func TestChartBreaksAtGaps(t *testing.T) {
	t0 := time.UnixMilli(1_800_000_000_000)
	at := func(s int) int64 { return t0.Add(time.Duration(s) * time.Second).UnixMilli() }
	pts := []point{{T: at(0), V: 1}, {T: at(1), V: 2}, {T: at(2), Gap: true}, {T: at(3), V: 3}, {T: at(4), Gap: true}, {T: at(5), V: 4}, {T: at(6), V: 5}}
	c := newChart(pts, t0, t0.Add(6*time.Second), t0.Add(time.Second), t0.Add(5*time.Second), []level{{Name: "threshold", Value: 10, Kind: "threshold"}})
	if n := strings.Count(c.Path, "M"); n != 3 {
		t.Errorf("path %q: %d runs, want 3 (two gaps break the line)", c.Path, n)
	}
	if c.Dots == "" {
		t.Error("the lone sample between the gaps is not drawn")
	}
	if c.Samples != 5 || c.Gaps != 2 {
		t.Errorf("samples %d gaps %d, want 5 and 2", c.Samples, c.Gaps)
	}
	// The window covers seconds 1..5 of 0..6.
	w := c.PlotR - c.PlotL
	if got := (c.WinX - c.PlotL) / w; got < 0.16 || got > 0.17 {
		t.Errorf("window starts at %.3f of the plot, want 1/6", got)
	}
	if got := c.WinW / w; got < 0.66 || got > 0.67 {
		t.Errorf("window spans %.3f of the plot, want 4/6", got)
	}
	// The threshold is above every sample, so it sets the top.
	if len(c.Levels) != 1 || c.Levels[0].Y != c.YHiY || c.YHi != "10" || c.YLo != "1" {
		t.Errorf("levels %+v, y labels %s..%s", c.Levels, c.YLo, c.YHi)
	}
}
