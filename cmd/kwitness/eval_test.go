//go:build eval

package main

// The end-to-end layer of the scored scenario suite (`make eval`): the real
// kwitness binary, built from this package and run with its production
// defaults, watches an in-process kfake cluster on which real franz-go
// producers, consumers and groups play scripted scenarios at once, each on
// its own topics and groups with its own ground truth. Findings are read
// from the REST API at the end of the run and scored; the score is written
// between the e2e markers of the file named by KWITNESS_EVAL_OUT (default
// docs/detection.md) before the test fails on any failed scenario.
//
// The harness knows kwitness only through its command line and REST API, so
// it does not depend on the sidecar's internals.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// evalRunFor is how long the scenarios run: the 3.5× hot partition needs the
// production sustain (10 m) plus a slow sweep. KWITNESS_EVAL_FOR shortens it
// for a quick look; expectations not due by the end are reported as such.
const evalRunFor = 11*time.Minute + 30*time.Second

func TestEvalE2E(t *testing.T) {
	runFor := evalRunFor
	if v := os.Getenv("KWITNESS_EVAL_FOR"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("KWITNESS_EVAL_FOR: %v", err)
		}
		runFor = d
	}
	out := os.Getenv("KWITNESS_EVAL_OUT")
	if out == "" {
		out = filepath.Join("..", "..", "docs", "detection.md")
	}
	dir := t.TempDir()
	rev := gitRev() // what the binary is built from
	bin := buildKwitness(t, dir)

	cluster, err := kfake.NewCluster(kfake.NumBrokers(3),
		// kfake enforces retention.ms and compaction every
		// log.cleaner.backoff.ms; brokers check every 5 min by default
		// (log.retention.check.interval.ms), 5 s keeps deletion prompt.
		kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "5000"}))
	if err != nil {
		t.Fatalf("kfake: %v", err)
	}
	defer cluster.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, err := newEvalEnv(ctx, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer env.stop()
	scenarios := onlyScenarios(evalScenarios(), os.Getenv("KWITNESS_EVAL_ONLY"))
	for _, s := range scenarios {
		if err := s.prepare(env); err != nil {
			t.Fatalf("scenario %s: %v", s.name, err)
		}
		env.register(s)
	}

	kw, err := startKwitness(bin, dir, cluster.ListenAddrs())
	if err != nil {
		t.Fatal(err)
	}
	defer kw.stop()

	env.begin()
	for _, s := range scenarios {
		if err := s.run(env); err != nil {
			t.Fatalf("scenario %s: %v", s.name, err)
		}
	}
	t.Logf("scenarios running for %s (kwitness at %s, log %s)", runFor, kw.base, kw.logPath)
	progress := time.NewTicker(time.Minute)
	deadline := time.After(runFor)
wait:
	for {
		select {
		case <-deadline:
			break wait
		case <-progress.C:
			fs, err := kw.findings()
			t.Logf("+%s: %d findings (err %v)", env.since().Round(time.Second), len(fs), err)
		}
	}
	progress.Stop()
	end := time.Now()
	findings, err := kw.findings()
	if err != nil {
		t.Fatalf("reading findings: %v", err)
	}
	env.stop()

	rep := score(env, scenarios, findings, end)
	rep.runFor, rep.rev = runFor, rev
	if err := writeSection(out, "e2e", rep.markdown()); err != nil {
		t.Fatalf("writing %s: %v", out, err)
	}
	t.Logf("wrote %s", out)
	for _, r := range rep.results {
		if !r.pass {
			t.Errorf("scenario %s failed: %s", r.s.name, r.why())
		}
	}
	for _, f := range rep.unattributed {
		t.Errorf("false alarm outside every scenario: %s %s %s", f.Kind, f.subjectText(), f.Summary)
	}
}

// onlyScenarios keeps the scenarios named in the comma-separated list
// (KWITNESS_EVAL_ONLY, for a quick look at a few); all when it is empty.
func onlyScenarios(all []*scenario, list string) []*scenario {
	if list == "" {
		return all
	}
	names := strings.Split(list, ",")
	var out []*scenario
	for _, s := range all {
		if slices.Contains(names, s.name) {
			out = append(out, s)
		}
	}
	return out
}

// buildKwitness builds this package's binary into dir.
func buildKwitness(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "kwitness")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go build: %v", err)
	}
	return bin
}

// kwitnessProc is the sidecar under test, a child process.
type kwitnessProc struct {
	cmd     *exec.Cmd
	base    string // http://host:port
	logPath string
	done    chan struct{}
}

// startKwitness runs `kwitness run` with production defaults: only the
// brokers, the listeners (free loopback ports) and a temporary data dir are
// set. It returns once the REST API answers.
func startKwitness(bin, dir string, brokers []string) (*kwitnessProc, error) {
	grpcAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	httpAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, "kwitness.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "run", "--brokers", strings.Join(brokers, ","), "--cluster", "eval",
		"--data-dir", filepath.Join(dir, "data"), "--grpc-listen", grpcAddr, "--http-listen", httpAddr)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start kwitness: %w", err)
	}
	p := &kwitnessProc{cmd: cmd, base: "http://" + httpAddr, logPath: logPath, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	for start := time.Now(); ; time.Sleep(200 * time.Millisecond) {
		if _, err := p.findings(); err == nil {
			return p, nil
		}
		select {
		case <-p.done:
			log, _ := os.ReadFile(logPath)
			return nil, fmt.Errorf("kwitness exited: %s", log)
		default:
		}
		if time.Since(start) > 2*time.Minute {
			p.stop()
			return nil, errors.New("kwitness API did not answer within 2 minutes")
		}
	}
}

// stop interrupts the sidecar and waits for it, killing it after 20 s.
func (p *kwitnessProc) stop() {
	p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// apiFinding is the REST (grpc-gateway JSON) form of a finding, the fields
// the score needs.
type apiFinding struct {
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	State   string `json:"state"`
	Summary string `json:"summary"`
	Subject struct {
		Group      string  `json:"group"`
		Topic      string  `json:"topic"`
		Partitions []int32 `json:"partitions"`
		Broker     int32   `json:"broker"`
	} `json:"subject"`
	OpenedAt   time.Time `json:"openedAt"`
	ResolvedAt time.Time `json:"resolvedAt"`
}

func (f apiFinding) subjectText() string {
	var parts []string
	if f.Subject.Group != "" {
		parts = append(parts, "group "+f.Subject.Group)
	}
	if f.Subject.Topic != "" {
		t := "topic " + f.Subject.Topic
		if len(f.Subject.Partitions) > 0 {
			t += fmt.Sprintf(" %v", f.Subject.Partitions)
		}
		parts = append(parts, t)
	}
	if f.Subject.Broker >= 0 && f.Subject.Group == "" && f.Subject.Topic == "" {
		parts = append(parts, fmt.Sprintf("broker %d", f.Subject.Broker))
	}
	if len(parts) == 0 {
		return "cluster"
	}
	return strings.Join(parts, ", ")
}

// findings lists every finding, firing and resolved, page by page.
func (p *kwitnessProc) findings() ([]apiFinding, error) {
	var all []apiFinding
	token := ""
	for {
		url := p.base + "/v1/findings?page_size=1000"
		if token != "" {
			url += "&page_token=" + token
		}
		resp, err := http.Get(url)
		if err != nil {
			return nil, err
		}
		var page struct {
			Findings      []apiFinding `json:"findings"`
			NextPageToken string       `json:"nextPageToken"`
		}
		var buf bytes.Buffer
		_, err = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, buf.Bytes())
		}
		if err := json.Unmarshal(buf.Bytes(), &page); err != nil {
			return nil, fmt.Errorf("GET %s: %w", url, err)
		}
		all = append(all, page.Findings...)
		if page.NextPageToken == "" {
			return all, nil
		}
		token = page.NextPageToken
	}
}

// evalEnv is the workload side: the cluster's clients, every goroutine the
// scenarios start (cancelled and waited for by stop) and the observer that
// measures ground truth (commit times, data loss) from Kafka itself.
type evalEnv struct {
	ctx     context.Context
	cancel  context.CancelFunc
	brokers []string
	adm     *kadm.Client
	t0, end time.Time // the run
	obs     *observer

	wg      sync.WaitGroup
	mu      sync.Mutex
	clients []*kgo.Client
	stopped bool

	byGroup map[string]*scenario
	byTopic map[string]*scenario
}

func newEvalEnv(ctx context.Context, brokers []string) (*evalEnv, error) {
	e := &evalEnv{brokers: brokers, byGroup: map[string]*scenario{}, byTopic: map[string]*scenario{}}
	e.ctx, e.cancel = context.WithCancel(ctx)
	cl, err := e.client(kgo.ClientID("eval-admin"))
	if err != nil {
		return nil, err
	}
	e.adm = kadm.NewClient(cl)
	e.obs = newObserver(e.adm)
	return e, nil
}

func (e *evalEnv) register(s *scenario) {
	for _, g := range s.groups {
		e.byGroup[g] = s
		e.obs.watchGroup(g)
	}
	for _, t := range s.topics {
		e.byTopic[t.name] = s
	}
}

// begin starts the clock and the observer.
func (e *evalEnv) begin() {
	e.t0 = time.Now()
	e.goRun(e.obs.run)
}

func (e *evalEnv) since() time.Duration { return time.Since(e.t0) }

// at is the wall time of an offset from the start of the run.
func (e *evalEnv) at(d time.Duration) time.Time { return e.t0.Add(d) }

func (e *evalEnv) client(opts ...kgo.Opt) (*kgo.Client, error) {
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(e.brokers...), kgo.ClientID("eval-workload")}, opts...)...)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	e.mu.Lock()
	e.clients = append(e.clients, cl)
	e.mu.Unlock()
	return cl, nil
}

func (e *evalEnv) goRun(fn func(context.Context)) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		fn(e.ctx)
	}()
}

// sleepUntil waits until offset d of the run; false when the run ended.
func (e *evalEnv) sleepUntil(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(time.Until(e.at(d))):
		return true
	}
}

func (e *evalEnv) createTopic(name string, partitions int32, configs map[string]string) error {
	var cfg map[string]*string
	if len(configs) > 0 {
		cfg = map[string]*string{}
		for k, v := range configs {
			cfg[k] = &v
		}
	}
	resp, err := e.adm.CreateTopic(e.ctx, partitions, 3, cfg, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// stop cancels every workload goroutine, waits for them and closes clients.
func (e *evalEnv) stop() {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return
	}
	e.stopped = true
	e.mu.Unlock()
	e.cancel()
	e.wg.Wait()
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, cl := range e.clients {
		cl.Close()
	}
	e.clients = nil
}

// observer polls every watched group's committed offsets and the log start
// of the partitions they commit on, twice a second: the ground truth of when
// a group committed and when its committed offset fell below the log start.
type observer struct {
	adm    *kadm.Client
	mu     sync.Mutex
	groups map[string]*groupTruth
}

// groupTruth is what the observer saw of one group.
type groupTruth struct {
	committed map[string]map[int32]int64
	advances  []time.Time // every poll at which some committed offset advanced
	rewinds   []time.Time // every poll at which some committed offset went back
	lostAt    time.Time   // first poll at which committed < log start on some partition
}

func newObserver(adm *kadm.Client) *observer {
	return &observer{adm: adm, groups: map[string]*groupTruth{}}
}

func (o *observer) watchGroup(g string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.groups[g] = &groupTruth{committed: map[string]map[int32]int64{}}
}

func (o *observer) run(ctx context.Context) {
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		o.poll(ctx)
	}
}

func (o *observer) poll(ctx context.Context) {
	o.mu.Lock()
	names := make([]string, 0, len(o.groups))
	for g := range o.groups {
		names = append(names, g)
	}
	o.mu.Unlock()
	for _, g := range names {
		offs, err := o.adm.FetchOffsets(ctx, g)
		if err != nil {
			continue
		}
		now := time.Now()
		topics := offs.Sorted()
		var starts kadm.ListedOffsets
		if len(topics) > 0 {
			seen := map[string]bool{}
			var ts []string
			for _, r := range topics {
				if !seen[r.Topic] {
					seen[r.Topic] = true
					ts = append(ts, r.Topic)
				}
			}
			starts, _ = o.adm.ListStartOffsets(ctx, ts...)
		}
		o.mu.Lock()
		gt := o.groups[g]
		advanced, rewound := false, false
		offs.Each(func(r kadm.OffsetResponse) {
			if r.Err != nil || r.At < 0 {
				return
			}
			m := gt.committed[r.Topic]
			if m == nil {
				m = map[int32]int64{}
				gt.committed[r.Topic] = m
			}
			prev, had := m[r.Partition]
			switch {
			case !had || r.At > prev:
				advanced = true
			case r.At < prev:
				rewound = true
			}
			m[r.Partition] = r.At
			if s, ok := starts.Lookup(r.Topic, r.Partition); ok && s.Err == nil && r.At < s.Offset && gt.lostAt.IsZero() {
				gt.lostAt = now
			}
		})
		if advanced {
			gt.advances = append(gt.advances, now)
		}
		if rewound {
			gt.rewinds = append(gt.rewinds, now)
		}
		o.mu.Unlock()
	}
}

// truth returns a copy of what the observer saw of group g.
func (o *observer) truth(g string) groupTruth {
	o.mu.Lock()
	defer o.mu.Unlock()
	gt := o.groups[g]
	if gt == nil {
		return groupTruth{}
	}
	return groupTruth{advances: append([]time.Time(nil), gt.advances...), rewinds: append([]time.Time(nil), gt.rewinds...), lostAt: gt.lostAt}
}

// firstAdvanceAfter is the first commit advance at or after t; zero if none.
func (g groupTruth) firstAdvanceAfter(t time.Time) time.Time {
	for _, a := range g.advances {
		if !a.Before(t) {
			return a
		}
	}
	return time.Time{}
}

// lastAdvanceBefore is the last commit advance at or before t; zero if none.
func (g groupTruth) lastAdvanceBefore(t time.Time) time.Time {
	var last time.Time
	for _, a := range g.advances {
		if a.After(t) {
			break
		}
		last = a
	}
	return last
}

// writeSection replaces the text between `<!-- name:begin -->` and
// `<!-- name:end -->` in path, creating the file (with both the trace and
// e2e marker pairs) when it does not exist.
func writeSection(path, name, body string) error {
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		raw = []byte(detectionDocSkeleton)
	} else if err != nil {
		return err
	}
	begin, end := "<!-- "+name+":begin -->", "<!-- "+name+":end -->"
	text := string(raw)
	i, j := strings.Index(text, begin), strings.Index(text, end)
	if i < 0 || j < i {
		text = strings.TrimRight(text, "\n") + "\n\n" + begin + "\n" + end + "\n"
		i, j = strings.Index(text, begin), strings.Index(text, end)
	}
	text = text[:i+len(begin)] + "\n" + strings.TrimSpace(body) + "\n" + text[j:]
	return os.WriteFile(path, []byte(text), 0o644)
}

const detectionDocSkeleton = `# Detection quality

How well kwitness's detectors do on scenarios with known ground truth, as
measured by ` + "`make eval`" + `: a trace-driven layer (the pure detectors fed
synthetic offset series in simulated time) and an end-to-end layer (the real
binary with production defaults against an in-process Kafka). Both sections
below are generated; do not edit them by hand.

## Trace-driven

<!-- trace:begin -->
<!-- trace:end -->

## End to end

<!-- e2e:begin -->
<!-- e2e:end -->
`
