package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sidecarMinutesEnv overrides how many minutes BenchmarkSidecar runs the
// sidecar (default sidecarMinutes). Set it to 12 to see the 10-minute window
// full and two minutes past it.
const sidecarMinutesEnv = "KWITNESS_SIDECAR_MINUTES"

// sidecarLimitEnv, if set, is written as the sidecar's memory_limit (e.g.
// "48MiB"), to compare runs with and without a limit.
const sidecarLimitEnv = "KWITNESS_SIDECAR_MEMORY_LIMIT"

// sidecarMinutes is BenchmarkSidecar's default run: long enough for the
// first store block (240 sweeps at one per second) to be written.
const sidecarMinutes = 5

// The sidecar estate: 1,000 groups without members, each committing on one
// topic of 20 partitions every 5 s; 50 topics, so each is read by 20 groups.
const (
	sidecarGroups     = 1000
	sidecarTopics     = 50
	sidecarPartitions = 20
	sidecarCommit     = 5 * time.Second
)

// BenchmarkSidecar runs the kwitness binary (`kwitness run`, production
// defaults, a store in a temporary directory) as its own process against a
// 3-broker kfake cluster in this process, at 1,000 groups × 20 partitions
// (20,000 group-partitions, no members) whose offsets are committed every
// 5 s as records are produced. It samples the sidecar's resident memory
// (/proc/PID/status VmRSS, RssAnon) and CPU time (/proc/PID/stat utime +
// stime) every second and logs them per minute. One iteration is one run
// of sidecarMinutes (KWITNESS_SIDECAR_MINUTES) minutes; run it with
// -benchtime 1x. KWITNESS_SIDECAR_MEMORY_LIMIT sets memory_limit.
//
// Metrics (targets: RSS ≤ 40 MB once the 10-minute window is full and flat
// after; CPU ≤ 2 s per minute):
//   - rss-MB, anon-MB: the sidecar's RSS and anonymous RSS at the end.
//   - rss-max-MB: the largest RSS seen.
//   - rss-growth-MB/min: RSS growth per minute over the second half of the
//     run (≈ 0 when flat).
//   - cpu-s/min: CPU seconds per minute after the first minute (startup,
//     first describes and series registration excluded); cpu-s/min-first is
//     the first minute's.
func BenchmarkSidecar(b *testing.B) {
	minutes := sidecarMinutes
	if v := os.Getenv(sidecarMinutesEnv); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 2 {
			b.Fatalf("%s=%q: want a whole number of minutes ≥ 2", sidecarMinutesEnv, v)
		}
		minutes = n
	}
	bin := buildKwitness(b)
	for b.Loop() {
		runSidecar(b, bin, time.Duration(minutes)*time.Minute)
	}
}

// buildKwitness builds cmd/kwitness into a temporary directory.
func buildKwitness(b *testing.B) string {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Fatalf("the go command builds the sidecar: %v", err)
	}
	bin := filepath.Join(b.TempDir(), "kwitness")
	cmd := exec.Command(goBin, "build", "-o", bin, "github.com/kwitness/kwitness/cmd/kwitness")
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("go build cmd/kwitness: %v\n%s", err, out)
	}
	if fi, err := os.Stat(bin); err == nil {
		b.Logf("kwitness binary: %.1f MB", float64(fi.Size())/1e6)
	}
	return bin
}

// procSample is one reading of a process's memory and CPU time.
type procSample struct {
	at        time.Duration // since the sidecar started
	rss, anon int64         // bytes
	cpu       time.Duration
}

func runSidecar(b *testing.B, bin string, run time.Duration) {
	names := make([]string, sidecarTopics)
	for i := range names {
		names[i] = fmt.Sprintf("t-%02d", i)
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(3), kfake.SeedTopics(sidecarPartitions, names...))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel() // before wg.Wait: the workload stops on ctx
	work := newSidecarWorkload(b, c.ListenAddrs(), names)
	defer work.close()
	work.tick(ctx) // every group has offsets before the sidecar starts
	wg.Go(func() {
		t := time.NewTicker(sidecarCommit)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				work.tick(ctx)
			}
		}
	})

	conf := filepath.Join(b.TempDir(), "kwitness.yaml")
	yaml := "kafka: {cluster: bench}\n"
	if v := os.Getenv(sidecarLimitEnv); v != "" {
		yaml += fmt.Sprintf("memory_limit: %q\n", v)
		b.Logf("memory_limit: %s", v)
	}
	if err := os.WriteFile(conf, []byte(yaml), 0o600); err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", conf, "--brokers", strings.Join(c.ListenAddrs(), ","), "--cluster", "bench",
		"--data-dir", filepath.Join(b.TempDir(), "data"), "--grpc-listen", "127.0.0.1:0", "--http-listen", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.Fatal(err)
	}
	started := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	addr := make(chan string, 1)
	wg.Go(func() { scanSidecarLog(stderr, addr) })
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			b.Errorf("kwitness run: %v", err)
		}
	}
	defer stop()
	var httpAddr string
	select {
	case httpAddr = <-addr:
	case <-time.After(time.Minute):
		b.Fatal("kwitness did not log its listen addresses within a minute")
	}
	waitReady(b, httpAddr)

	var samples []procSample
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for time.Since(started) < run {
		<-tick.C
		s, err := readProc(cmd.Process.Pid)
		if err != nil {
			b.Fatal(err)
		}
		s.at = time.Since(started)
		samples = append(samples, s)
		if n := len(samples); n > 1 && s.at.Truncate(time.Minute) != samples[n-2].at.Truncate(time.Minute) {
			logMinute(b, samples)
		}
	}
	series := seriesOf(b, httpAddr)
	stop()
	if want := sidecarGroups * sidecarPartitions; series < want {
		b.Fatalf("kwitness has %d series, want at least the %d committed-offset series", series, want)
	}
	reportSidecar(b, samples)
}

// sidecarWorkload produces one record to every partition and commits every
// group's offsets on its topic, lagging by at most one record.
type sidecarWorkload struct {
	b     *testing.B
	cl    *kgo.Client
	adm   *kadm.Client
	names []string
	round int64
}

func newSidecarWorkload(b *testing.B, addrs, names []string) *sidecarWorkload {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(1<<16))
	if err != nil {
		b.Fatal(err)
	}
	return &sidecarWorkload{b: b, cl: cl, adm: kadm.NewClient(cl), names: names}
}

func (w *sidecarWorkload) close() { w.cl.Close() }

// tick is one commit round: a record per partition, then every group commits.
func (w *sidecarWorkload) tick(ctx context.Context) {
	var recs []*kgo.Record
	for _, t := range w.names {
		for p := range sidecarPartitions {
			recs = append(recs, &kgo.Record{Topic: t, Partition: int32(p), Value: []byte("v")})
		}
	}
	if err := w.cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		if ctx.Err() == nil {
			w.b.Error(err)
		}
		return
	}
	w.round++
	for g := range sidecarGroups {
		os := kadm.Offsets{}
		t := w.names[g%len(w.names)]
		for p := range sidecarPartitions {
			os.AddOffset(t, int32(p), w.round-int64((g+p)%2), -1)
		}
		if err := w.adm.CommitAllOffsets(ctx, fmt.Sprintf("g-%04d", g), os); err != nil {
			if ctx.Err() == nil {
				w.b.Errorf("commit group %d: %v", g, err)
			}
			return
		}
	}
}

var httpAddrRE = regexp.MustCompile(`msg="kwitness running".* http=(\S+)`)

// scanSidecarLog sends the HTTP address the sidecar logs, then passes its
// warnings and errors through to this process's stderr.
func scanSidecarLog(r io.Reader, addr chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		if m := httpAddrRE.FindStringSubmatch(line); m != nil {
			addr <- m[1]
		}
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			fmt.Fprintln(os.Stderr, "kwitness:", line)
		}
	}
}

// waitReady polls /readyz until the sidecar has swept the cluster.
func waitReady(b *testing.B, addr string) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("kwitness at %s not ready after 2 minutes (last: %v)", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

var seriesRE = regexp.MustCompile(`(?m)^kwitness_series (\d+)`)

// seriesOf reads the sidecar's kwitness_series gauge from /metrics.
func seriesOf(b *testing.B, addr string) int {
	b.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	m := seriesRE.FindSubmatch(body)
	if m == nil {
		b.Fatalf("GET /metrics: no kwitness_series (status %d)", resp.StatusCode)
	}
	n, _ := strconv.Atoi(string(m[1]))
	return n
}

// clockTick is the unit of /proc/PID/stat's utime and stime (USER_HZ,
// 100 on Linux).
const clockTick = 10 * time.Millisecond

// readProc reads process pid's resident memory and CPU time from /proc.
func readProc(pid int) (procSample, error) {
	var s procSample
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, err
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *int64
		switch k {
		case "VmRSS":
			dst = &s.rss
		case "RssAnon":
			dst = &s.anon
		default:
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/status %s: %w", pid, k, err)
		}
		*dst = kb << 10
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, err
	}
	// Fields after the command name, which is in parentheses and may hold
	// spaces: state is field 3, utime 14, stime 15.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return s, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f)+2)
	}
	for _, i := range []int{11, 12} {
		t, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return s, fmt.Errorf("/proc/%d/stat: %w", pid, err)
		}
		s.cpu += time.Duration(t) * clockTick
	}
	return s, nil
}

// logMinute logs the minute that samples' second-newest sample ended.
func logMinute(b *testing.B, samples []procSample) {
	last := samples[len(samples)-2]
	first := samples[0]
	for _, s := range samples {
		if s.at >= last.at.Truncate(time.Minute) {
			first = s
			break
		}
	}
	b.Logf("minute %d: RSS %.1f MB (anonymous %.1f MB), CPU %.2f s in %.0f s",
		int(last.at/time.Minute)+1, mb(last.rss), mb(last.anon), (last.cpu - first.cpu).Seconds(), (last.at - first.at).Seconds())
}

func reportSidecar(b *testing.B, samples []procSample) {
	if len(samples) < 120 {
		b.Fatalf("%d samples: too short a run", len(samples))
	}
	last := samples[len(samples)-1]
	var maxRSS int64
	for _, s := range samples {
		maxRSS = max(maxRSS, s.rss)
	}
	mid := samples[len(samples)/2]
	afterFirst := samples[0]
	for _, s := range samples {
		if s.at >= time.Minute {
			afterFirst = s
			break
		}
	}
	b.ReportMetric(mb(last.rss), "rss-MB")
	b.ReportMetric(mb(last.anon), "anon-MB")
	b.ReportMetric(mb(maxRSS), "rss-max-MB")
	b.ReportMetric((mb(last.rss)-mb(mid.rss))/(last.at-mid.at).Minutes(), "rss-growth-MB/min")
	b.ReportMetric((last.cpu-afterFirst.cpu).Seconds()/(last.at-afterFirst.at).Minutes(), "cpu-s/min")
	b.ReportMetric(afterFirst.cpu.Seconds()/afterFirst.at.Minutes(), "cpu-s/min-first")
}

func mb(n int64) float64 { return float64(n) / 1e6 }
