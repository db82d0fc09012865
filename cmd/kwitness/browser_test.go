package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserPath finds Debian's chromium (or another Chrome) for the browser
// test. Missing, it fails the test in CI (CI=true) and skips it elsewhere,
// saying so either way.
func browserPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no headless browser: install Debian's chromium (apt-get install -y chromium; .ci/run does) to run the findings-page browser test"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// screenshotDir is docs/ when KWITNESS_SCREENSHOTS=docs (to refresh the
// README's screenshots), else a temporary directory.
func screenshotDir(t *testing.T) string {
	if os.Getenv("KWITNESS_SCREENSHOTS") == "docs" {
		return "../../docs"
	}
	return t.TempDir()
}

// restFinding is the part of the REST finding JSON the test reads.
type restFinding struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Evidence []struct {
		Series struct {
			Text string `json:"text"`
		} `json:"series"`
	} `json:"evidence"`
}

func firingOverREST(t *testing.T, addr string) []restFinding {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/findings?state=firing&pageSize=1000")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Findings []restFinding `json:"findings"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Findings
}

// drawn is one citation figure as the browser laid it out.
type drawn struct {
	Series string  `json:"series"`
	Path   int     `json:"path"`
	Width  float64 `json:"width"`
}

// findingPage loads a finding's page and returns its drawn charts, the
// errors it shows and a screenshot.
func findingPage(t *testing.T, bctx context.Context, url string) ([]drawn, []string, []byte) {
	t.Helper()
	if err := chromedp.Do(bctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(`figure.citation svg.chart`))); err != nil {
		t.Fatalf("finding page: %v", err)
	}
	charts, err := chromedp.Run(bctx, chromedp.Evaluate[[]drawn](`Array.from(document.querySelectorAll("figure.citation")).map(fig => ({
		series: fig.querySelector("figcaption code").textContent,
		path: ((fig.querySelector("svg.chart path.series") || {getAttribute: () => ""}).getAttribute("d") || "").length,
		width: fig.querySelector("svg.chart").getBoundingClientRect().width}))`))
	if err != nil {
		t.Fatalf("finding page: %v", err)
	}
	errs, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("figure.citation .error")).map(e => e.textContent)`))
	if err != nil {
		t.Fatalf("finding page: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("finding page screenshot: %v", err)
	}
	return charts, errs, shot
}

func findingOverREST(t *testing.T, addr, id string) restFinding {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/v1/findings/" + id)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct {
		Finding restFinding `json:"finding"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out.Finding
}

func evidenceText(f restFinding) string {
	var b strings.Builder
	for _, c := range f.Evidence {
		b.WriteString(c.Series.Text + "\n")
	}
	return b.String()
}

// TestPagesInBrowser opens the findings pages of a demo run in headless
// chromium: the list shows the demo's findings and follows the watch
// stream; a finding's page draws one chart per citation from its samples.
func TestPagesInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	chrome := browserPath(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	opened := newOpenedLog()
	wl, s := runDemo(ctx, t, nil, opened.notify)
	opened.waitAny(t, wl.start, 100*time.Second, fraudCheckLag...)
	opened.waitAll(t, wl.start, 100*time.Second, "CONSUMER_STALLED audit", "UNDER_REPLICATED ", "LEADER_SKEW ")

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx, append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.WindowSize(1280, 1000))...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	base := "http://" + s.HTTPAddr
	dir := screenshotDir(t)

	// The list: every finding firing before the page loads is on it.
	firing := firingOverREST(t, s.HTTPAddr)
	if err := chromedp.Do(bctx, chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.CSS(`tbody#findings tr.finding`))); err != nil {
		t.Fatalf("list page: %v", err)
	}
	ids, err := chromedp.Run(bctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("tbody#findings tr.finding")).map(r => r.dataset.id)`))
	if err != nil {
		t.Fatalf("list page: %v", err)
	}
	// With JavaScript, the list follows the watch stream.
	if live, err := chromedp.Run(bctx, chromedp.Poll[bool](`!document.getElementById("live").hidden`, chromedp.WithPollingTimeout(60*time.Second))); err != nil || !live {
		t.Errorf("list page never connected to the watch stream: %v", err)
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("list page screenshot: %v", err)
	}
	for _, f := range firing {
		if !slices.Contains(ids, f.ID) {
			t.Errorf("list page lacks firing finding %s %s", f.Kind, f.ID)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "findings-list.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}

	// A finding with the most citations: one drawn chart each.
	slices.SortStableFunc(firing, func(a, b restFinding) int { return len(b.Evidence) - len(a.Evidence) })
	f := firing[0]
	if len(f.Evidence) < 2 {
		t.Fatalf("no demo finding cites two series: %+v", firing)
	}
	// A lag finding's evidence follows its worst partitions, so the
	// citations are read before and after the page: the page is checked
	// against them when they did not change meanwhile.
	var charts []drawn
	var errs []string
	for attempt := 0; ; attempt++ {
		before := findingOverREST(t, s.HTTPAddr, f.ID)
		charts, errs, shot = findingPage(t, bctx, base+"/findings/"+f.ID)
		f = findingOverREST(t, s.HTTPAddr, f.ID)
		if evidenceText(before) == evidenceText(f) || attempt == 4 {
			break
		}
	}
	if len(charts) != len(f.Evidence) {
		t.Fatalf("finding %s %s: %d charts, want one per citation (%d)", f.Kind, f.ID, len(charts), len(f.Evidence))
	}
	for i, c := range charts {
		if c.Series != f.Evidence[i].Series.Text || c.Path == 0 || c.Width < 100 {
			t.Errorf("chart %d: %+v; want %s drawn from its samples", i, c, f.Evidence[i].Series.Text)
		}
	}
	if len(errs) > 0 {
		t.Errorf("finding page: citations without samples: %s", strings.Join(errs, "; "))
	}
	if err := os.WriteFile(filepath.Join(dir, "finding.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d findings listed; %s %s drawn with %d charts; screenshots in %s", len(ids), f.Kind, f.ID, len(charts), dir)
}
