// Package web serves the findings pages for people on call:
//
//	GET /                 firing and recently resolved findings: severity, subject,
//	                      owner, age and a sparkline of the main citation
//	GET /findings/{id}    one finding: summary, facts, timeline and one chart per
//	                      citation, drawn from the raw samples the citation
//	                      resolves to, with links to the JSON and the plan
//	GET /static/...       the embedded stylesheet and script
//
// Pages are rendered on the server with html/template and inline SVG from
// embedded assets: no build step, no CDN, readable without JavaScript. With
// JavaScript, the list follows the watch stream (/v1/findings:watch) and
// re-renders its rows when a finding changes.
//
// The pages read through Source, the same calls the API serves, so they see
// what the API sees and nothing else. Every request is read-only.
package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api/auth"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

//go:embed templates/*.html static/*
var assets embed.FS

// Source is what the pages read: the API's own calls (api.Server).
type Source interface {
	ListFindings(context.Context, *pb.ListFindingsRequest) (*pb.ListFindingsResponse, error)
	GetFinding(context.Context, *pb.GetFindingRequest) (*pb.GetFindingResponse, error)
	QuerySeries(context.Context, *pb.QuerySeriesRequest) (*pb.QuerySeriesResponse, error)
}

// Options are the optional parts of the pages.
type Options struct {
	Cluster string
	// Owner, if set, names who owns a finding's subject ("" when unknown).
	Owner func(*pb.Finding) string
	// PlanURL, if set, is the address of a finding's drafted plan ("" when
	// there is none).
	PlanURL func(*pb.Finding) string
	Now     func() time.Time // default time.Now
	Log     *slog.Logger     // default slog.Default()
}

// Limits of one page.
const (
	MaxListed     = 1000 // findings on the list (firing first)
	MaxSparklines = 100  // list rows that get a sparkline (one series query each)
	QueryTimeout  = 5 * time.Second
)

// Pages is the http.Handler of the findings pages.
type Pages struct {
	src  Source
	opt  Options
	tmpl *template.Template
	mux  *http.ServeMux
}

// New parses the embedded templates and returns the pages.
func New(src Source, opt Options) (*Pages, error) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Log == nil {
		opt.Log = slog.Default()
	}
	p := &Pages{src: src, opt: opt}
	t, err := template.New("").Funcs(template.FuncMap{
		"age":   p.age,
		"utc":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") + " UTC" },
		"human": human,
	}).ParseFS(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p.tmpl = t
	static, _ := fs.Sub(assets, "static")
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET /{$}", p.list)
	p.mux.HandleFunc("GET /findings/{id}", p.finding)
	p.mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return p, nil
}

// Patterns are the ServeMux patterns the pages answer; mount Pages on each.
var Patterns = []string{"GET /{$}", "GET /findings/", "GET /static/"}

// ServeHTTP implements http.Handler. Behind auth.Guard's middleware the
// request carries its caller: a page needs the method it reads with
// (ListFindings for the list, GetFinding for a finding; QuerySeries for
// its charts), and every Source call sees only what the caller's scopes
// show, as over the API.
func (p *Pages) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.mux.ServeHTTP(w, r)
}

// allowed answers 403 unless the caller may call method.
func allowed(w http.ResponseWriter, r *http.Request, method string) bool {
	if auth.AllowsMethod(r.Context(), method) {
		return true
	}
	http.Error(w, fmt.Sprintf("%s: %q has no scope for method %s", r.URL.Path, auth.FromContext(r.Context()).Name, method), http.StatusForbidden)
	return false
}

func (p *Pages) age(t time.Time) string {
	d := p.opt.Now().Sub(t)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0).Seconds())) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d.Minutes())) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d.Hours())) + "h" + strconv.Itoa(int(d.Minutes())%60) + "m"
	}
	return strconv.Itoa(int(d.Hours()/24)) + "d"
}

// row is one finding on the list.
type row struct {
	ID, Kind, Severity, State, Subject, Summary, Owner string
	Opened, Changed                                    time.Time // Changed: resolved or opened
	Spark                                              sparkline
}

type listPage struct {
	Cluster          string
	Firing, Resolved int
	Rows             []row
	Owners           bool
	Error            string
}

func (p *Pages) list(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "ListFindings") {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), QueryTimeout)
	defer cancel()
	page := listPage{Cluster: p.opt.Cluster}
	var fs []*pb.Finding
	view := pb.FindingView_FINDING_VIEW_BASIC // sparklines need the first citation
	if auth.AllowsMethod(ctx, "QuerySeries") {
		view = pb.FindingView_FINDING_VIEW_FULL
	}
	for _, st := range []string{"firing", "resolved"} {
		resp, err := p.src.ListFindings(ctx, &pb.ListFindingsRequest{State: st, PageSize: MaxListed, View: view})
		if err != nil {
			page.Error = "cannot list findings: " + status.Convert(err).Message()
			break
		}
		if st == "firing" {
			page.Firing = int(resp.TotalSize)
		} else {
			page.Resolved = int(resp.TotalSize)
		}
		fs = append(fs, resp.Findings...)
	}
	slices.SortStableFunc(fs, func(a, b *pb.Finding) int {
		return cmp.Or(cmp.Compare(a.State, b.State), cmp.Compare(b.Severity, a.Severity), changed(b).Compare(changed(a)), cmp.Compare(a.Id, b.Id))
	})
	fs = fs[:min(len(fs), MaxListed)]
	for i, f := range fs {
		rw := row{ID: f.Id, Kind: f.Kind, Severity: severity(f.Severity), State: state(f.State), Subject: subject(f.Subject),
			Summary: f.Summary, Opened: f.OpenedAt.AsTime(), Changed: changed(f)}
		if p.opt.Owner != nil {
			rw.Owner = p.opt.Owner(f)
			page.Owners = page.Owners || rw.Owner != ""
		}
		if i < MaxSparklines && len(f.Evidence) > 0 && auth.AllowsMethod(ctx, "QuerySeries") {
			rw.Spark = newSparkline(p.values(ctx, f.Evidence[0]))
		}
		page.Rows = append(page.Rows, rw)
	}
	name := "list.html"
	if r.URL.Query().Get("fragment") == "rows" {
		name = "rows"
	}
	p.render(w, name, page)
}

// values are the present raw values a citation resolves to; the citation's
// first and last when the samples cannot be read.
func (p *Pages) values(ctx context.Context, c *pb.Citation) []float64 {
	pts, err := p.samples(ctx, c.Series.GetText(), c.From.AsTime(), c.To.AsTime())
	var vs []float64
	for _, x := range pts {
		if !x.Gap {
			vs = append(vs, x.V)
		}
	}
	if err != nil || len(vs) < 2 {
		return []float64{c.First, c.Last}
	}
	return vs
}

// samples reads a series' raw samples over [from, to].
func (p *Pages) samples(ctx context.Context, series string, from, to time.Time) ([]point, error) {
	resp, err := p.src.QuerySeries(ctx, &pb.QuerySeriesRequest{Series: series, From: timestamppb.New(from), To: timestamppb.New(to)})
	if err != nil {
		return nil, err
	}
	out := make([]point, 0, len(resp.Samples))
	for _, s := range resp.Samples {
		v := float64(s.Value)
		if s.FloatValue != 0 {
			v = s.FloatValue
		}
		out = append(out, point{T: s.Time.AsTime().UnixMilli(), V: v, Gap: s.Gap})
	}
	return out, nil
}

// figure is one citation drawn.
type figure struct {
	Series, Note, Source, Error string
	From, To, SweepAt           time.Time
	First, Last, Min, Max       float64
	Slope                       string
	Count, Gaps                 int32
	JSON                        string
	Chart                       chart
}

type fact struct{ Name, Value string }

type event struct {
	At   time.Time
	What string
}

type findingPage struct {
	Cluster                                     string
	ID, Kind, Severity, State, Subject, Summary string
	Owner, Plan, JSON                           string
	Opened                                      time.Time
	Facts                                       []fact
	Timeline                                    []event
	Figures                                     []figure
}

func (p *Pages) finding(w http.ResponseWriter, r *http.Request) {
	if !allowed(w, r, "GetFinding") {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), QueryTimeout)
	defer cancel()
	id := r.PathValue("id")
	resp, err := p.src.GetFinding(ctx, &pb.GetFindingRequest{Id: id})
	if err != nil {
		code := http.StatusInternalServerError
		if status.Code(err) == codes.NotFound || status.Code(err) == codes.InvalidArgument {
			code = http.StatusNotFound
		}
		w.WriteHeader(code)
		p.render(w, "missing.html", map[string]string{"Cluster": p.opt.Cluster, "ID": id, "Error": status.Convert(err).Message()})
		return
	}
	f := resp.Finding
	page := findingPage{Cluster: p.opt.Cluster, ID: f.Id, Kind: f.Kind, Severity: severity(f.Severity), State: state(f.State),
		Subject: subject(f.Subject), Summary: f.Summary, Opened: f.OpenedAt.AsTime(), JSON: "/v1/findings/" + url.PathEscape(f.Id)}
	if p.opt.Owner != nil {
		page.Owner = p.opt.Owner(f)
	}
	if p.opt.PlanURL != nil {
		page.Plan = p.opt.PlanURL(f)
	}
	for _, x := range f.Facts {
		page.Facts = append(page.Facts, fact{Name: strings.ReplaceAll(x.Name, "_", " "), Value: factValue(x)})
	}
	page.Timeline = timeline(f)
	for _, c := range f.Evidence {
		page.Figures = append(page.Figures, p.figure(ctx, f, c))
	}
	p.render(w, "finding.html", page)
}

// figure draws citation c: its window shaded, with half the window (at
// least 30 s) of context on either side, up to now.
func (p *Pages) figure(ctx context.Context, f *pb.Finding, c *pb.Citation) figure {
	wFrom, wTo := c.From.AsTime(), c.To.AsTime()
	pad := max(wTo.Sub(wFrom)/2, 30*time.Second)
	from, to := wFrom.Add(-pad), wTo.Add(pad)
	if now := p.opt.Now(); to.After(now) {
		to = now
		if wTo.After(now) {
			to = wTo
		}
	}
	fig := figure{Series: c.Series.GetText(), Note: c.Note, Source: c.SourceApi, From: wFrom, To: wTo, SweepAt: c.SweepTime.AsTime(),
		First: c.First, Last: c.Last, Min: c.Min, Max: c.Max, Count: c.Count, Gaps: c.Gaps,
		Slope: human(c.Slope) + " " + c.SlopeUnit}
	q := url.Values{"series": {fig.Series}, "from": {from.UTC().Format(time.RFC3339Nano)}, "to": {to.UTC().Format(time.RFC3339Nano)}}
	fig.JSON = "/v1/series?" + q.Encode()
	pts, err := p.samples(ctx, fig.Series, from, to)
	if !auth.AllowsMethod(ctx, "QuerySeries") {
		err = status.Error(codes.PermissionDenied, "no scope for method QuerySeries")
	}
	if err != nil {
		fig.Error = status.Convert(err).Message()
		p.opt.Log.Warn("web: citation samples", "finding", f.Id, "series", fig.Series, "err", err)
	}
	if len(pts) == 0 && fig.Error == "" {
		fig.Error = "no samples stored for this window"
	}
	fig.Chart = newChart(pts, from, to, wFrom, wTo, levelsFor(f, c))
	return fig
}

// levelsFor returns the thresholds and learned baselines a finding states
// for citation c: facts named threshold.X and baseline.X (X's dotted parts
// all named in the citation's note or series), or every such fact when the
// finding cites one series.
func levelsFor(f *pb.Finding, c *pb.Citation) []level {
	var out []level
	about := c.Note + " " + c.Series.GetText()
	for _, x := range f.Facts {
		kind, rest, ok := strings.Cut(x.Name, ".")
		if !ok || kind != "threshold" && kind != "baseline" || x.Text != "" {
			continue
		}
		match := len(f.Evidence) == 1
		if !match {
			match = true
			for part := range strings.SplitSeq(rest, ".") {
				match = match && strings.Contains(about, part)
			}
		}
		if match {
			out = append(out, level{Name: kind + " " + strings.ReplaceAll(rest, ".", " "), Value: x.Value, Kind: kind})
		}
	}
	return out
}

func timeline(f *pb.Finding) []event {
	ev := []event{{At: f.OpenedAt.AsTime(), What: "opened"}}
	var newest time.Time
	for _, c := range f.Evidence {
		if t := c.SweepTime.AsTime(); c.SweepTime != nil && t.After(newest) {
			newest = t
		}
	}
	if f.UpdatedAt != nil && f.UpdatedAt.AsTime().After(f.OpenedAt.AsTime()) {
		ev = append(ev, event{At: f.UpdatedAt.AsTime(), What: "evidence updated"})
	}
	if !newest.IsZero() {
		ev = append(ev, event{At: newest, What: "newest sweep cited"})
	}
	if f.State == pb.FindingState_FINDING_STATE_RESOLVED && f.ResolvedAt != nil {
		ev = append(ev, event{At: f.ResolvedAt.AsTime(), What: "resolved (" + f.Resolution + ")"})
	}
	slices.SortStableFunc(ev, func(a, b event) int { return a.At.Compare(b.At) })
	return ev
}

func (p *Pages) render(w http.ResponseWriter, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := p.tmpl.ExecuteTemplate(w, name, data); err != nil && !errors.Is(err, context.Canceled) {
		p.opt.Log.Error("web: render", "template", name, "err", err)
	}
}

func changed(f *pb.Finding) time.Time {
	if f.State == pb.FindingState_FINDING_STATE_RESOLVED && f.ResolvedAt != nil {
		return f.ResolvedAt.AsTime()
	}
	return f.OpenedAt.AsTime()
}

func severity(s pb.Severity) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "SEVERITY_"))
}

func state(s pb.FindingState) string {
	return strings.ToLower(strings.TrimPrefix(s.String(), "FINDING_STATE_"))
}

// subject names what a finding is about, e.g. "group fraud-check · topic
// payments · partitions 0, 3" or "broker 2".
func subject(s *pb.Subject) string {
	var parts []string
	if s.GetGroup() != "" {
		parts = append(parts, "group "+s.Group)
	}
	if s.GetTopic() != "" {
		parts = append(parts, "topic "+s.Topic)
	}
	if n := len(s.GetPartitions()); n > 0 {
		ps := make([]string, 0, min(n, 8))
		for _, x := range s.Partitions[:min(n, 8)] {
			ps = append(ps, strconv.Itoa(int(x)))
		}
		label := "partition "
		if n > 1 {
			label = "partitions "
		}
		if n > 8 {
			ps = append(ps, "… ("+strconv.Itoa(n)+")")
		}
		parts = append(parts, label+strings.Join(ps, ", "))
	}
	if s.GetBroker() >= 0 {
		parts = append(parts, "broker "+strconv.Itoa(int(s.Broker)))
	}
	if len(parts) == 0 {
		return "cluster " + s.GetCluster()
	}
	return strings.Join(parts, " · ")
}

func factValue(x *pb.Fact) string {
	if x.Text != "" {
		return x.Text
	}
	return strings.TrimSpace(human(x.Value) + " " + x.Unit)
}
