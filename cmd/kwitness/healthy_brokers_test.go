package main

import (
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/ingest"
	"github.com/kwitness/kwitness/state"
)

// TestHealthyRunQuietWithBrokers: ten simulated minutes of bursty but
// balanced load — leaders spread evenly, every broker hosting every
// partition, traffic bursts hitting all brokers alike, auto-committing
// consumers — with broker telemetry (a jmx_exporter and a node_exporter
// endpoint per broker, over real HTTP) and admin collection (Metadata,
// DescribeCluster, DescribeLogDirs, configs) from kfake. The sustain times
// are shortened so that every skew and hot-partition detector could open
// within the run; none may, nor any other finding.
func TestHealthyRunQuietWithBrokers(t *testing.T) {
	if testing.Short() {
		t.Skip("600 sweeps")
	}
	topics := []string{"clicks", "orders", "audit"}
	sim := newBalancedBrokers(t)
	r := newRigWith(t, func(c *Config) {
		c.HotPartition.Sustain = time.Minute
		c.Skew.TrafficSustain = 2 * time.Minute
		c.Skew.LeaderSustain = time.Minute
	}, topics...)
	ids := sim.ids
	for _, topic := range topics {
		for p := range int32(3) {
			if err := r.cluster.MoveTopicPartition(topic, p, ids[p]); err != nil {
				t.Fatal(err)
			}
		}
	}
	cfg := ingest.DefaultTelemetryConfig()
	cfg.Targets = sim.targets()
	var err error
	if r.tel, err = state.NewTelemetry(DefaultConfig().Window, "it"); err != nil {
		t.Fatal(err)
	}
	r.buildEngine()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	bp, err := ingest.NewBrokerPoller(cfg, r.tel, r.poller.Admin(), log, metrics.NewSet(), nil, ingest.WithKafkaClient(r.poller.Client()))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for sec := range 600 {
		burst := sec%60 == 17
		for _, topic := range topics {
			n := 9 + rng.IntN(7)
			if burst && topic == "clicks" {
				n = 600 // balanced across partitions, so across leaders
			}
			r.produce(topic, n)
			sim.produced(n)
			if sec%5 == 0 {
				r.commit(topic+"-readers", topic, func(end, _ int64) int64 { return end })
			}
		}
		sim.tick(burst)
		bp.Sweep(r.ctx, r.at)
		r.engine.JudgeBrokers()
		r.sweep()
	}
	if n := r.tel.Snapshot().Sweeps; n != 600 {
		t.Fatalf("%d telemetry sweeps, want 600", n)
	}
	in := r.tel.ClusterInput()
	for _, b := range in.Brokers {
		for _, sig := range []detect.Signal{detect.SigBytesIn, detect.SigLeaderCount, detect.SigNonPreferredLeaders, detect.SigPartitionCount} {
			if w := b.Signals[sig]; len(w.Values) == 0 {
				t.Errorf("broker %d has no %s: the skew detectors were not exercised", b.Broker, sig)
			}
		}
	}
	if fs := r.findings.List(state.FindingFilter{Broker: -1}); len(fs) > 0 {
		t.Fatalf("a healthy run opened %d findings: %v", len(fs), eventSummaries(r.events))
	}
}

// balancedBrokers serves, for each of the rig's three kfake brokers, a
// jmx_exporter (lower-case names) and a node_exporter endpoint whose values
// follow a balanced cluster on the test's synthetic clock: each broker
// leads a third of the partitions and hosts all of them.
type balancedBrokers struct {
	ids []int32

	mu       sync.Mutex
	sec      float64 // synthetic seconds since start
	records  float64 // records produced, all topics
	bytesIn  [3]float64
	rng      *rand.Rand
	srv      *httptest.Server
	recBytes float64 // bytes per record
}

func newBalancedBrokers(t *testing.T) *balancedBrokers {
	b := &balancedBrokers{ids: []int32{0, 1, 2}, rng: rand.New(rand.NewPCG(5, 6)), recBytes: 1024}
	mux := http.NewServeMux()
	for i, id := range b.ids {
		mux.HandleFunc(fmt.Sprintf("GET /b%d/metrics", id), func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, b.jmx(i))
		})
		mux.HandleFunc(fmt.Sprintf("GET /b%d/node", id), func(w http.ResponseWriter, _ *http.Request) {
			io.WriteString(w, b.node())
		})
	}
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	return b
}

func (b *balancedBrokers) targets() []ingest.ScrapeTarget {
	var out []ingest.ScrapeTarget
	for _, id := range b.ids {
		u := fmt.Sprintf("%s/b%d", b.srv.URL, id)
		out = append(out, ingest.ScrapeTarget{Broker: id, URL: u + "/metrics"}, ingest.ScrapeTarget{Broker: id, URL: u + "/node", Kind: "node"})
	}
	return out
}

// produced counts n records written, spread evenly over the leaders.
func (b *balancedBrokers) produced(n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.records += float64(n)
}

// tick advances the clock one second: every broker takes about 2 MiB/s of
// other traffic (±3 %), four times that in a burst, plus its third of the
// records produced.
func (b *balancedBrokers) tick(burst bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sec++
	base := 2.0 * (1 << 20)
	if burst {
		base *= 4
	}
	for i := range b.bytesIn {
		b.bytesIn[i] += base * (0.97 + 0.06*b.rng.Float64())
	}
}

func (b *balancedBrokers) jmx(i int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var s strings.Builder
	line := func(name string, v float64, labels ...string) {
		s.WriteString(name)
		if len(labels) > 0 {
			s.WriteString("{" + strings.Join(labels, ",") + "}")
		}
		fmt.Fprintf(&s, " %g\n", v)
	}
	produced := b.records * b.recBytes
	for _, topic := range []string{"clicks", "orders", "audit"} {
		for p := range 3 { // every broker hosts every partition
			line("kafka_log_log_size", 200<<20+produced/9, fmt.Sprintf("topic=%q", topic), fmt.Sprintf(`partition="%d"`, p))
		}
	}
	line("kafka_server_brokertopicmetrics_bytesin_total", b.bytesIn[i]+produced/3)
	line("kafka_server_brokertopicmetrics_bytesout_total", b.bytesIn[i]+produced/3)
	line("kafka_server_replicamanager_underreplicatedpartitions", 0)
	line("kafka_server_replicamanager_underminisrpartitioncount", 0)
	line("kafka_server_replicamanager_partitioncount", 9)
	line("kafka_server_replicamanager_leadercount", 3)
	line("kafka_server_replicamanager_isrshrinks_total", 0)
	line("kafka_server_replicamanager_isrexpands_total", 0)
	controller := 0.0
	if i == 0 {
		controller = 1
	}
	line("kafka_controller_kafkacontroller_activecontrollercount", controller)
	line("kafka_controller_kafkacontroller_offlinepartitionscount", 0)
	line("kafka_controller_controllerstats_uncleanleaderelections_total", 0)
	line("kafka_log_logmanager_offlinelogdirectorycount", 0)
	line("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count", 0.7*1e9*b.sec)
	line("kafka_network_socketserver_networkprocessoravgidle_percent", 0.9)
	for _, req := range []string{"Produce", "FetchConsumer"} {
		line("kafka_network_requestmetrics_totaltimems", 4+b.rng.Float64(), fmt.Sprintf("request=%q", req), `quantile="0.99"`)
		line("kafka_network_requestmetrics_totaltimems", 9+2*b.rng.Float64(), fmt.Sprintf("request=%q", req), `quantile="0.999"`)
	}
	return s.String()
}

// node: a 1 TiB data volume, 40 % used plus what the partitions hold.
func (b *balancedBrokers) node() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	const size = 1 << 40
	used := 0.4*size + b.records*b.recBytes
	return fmt.Sprintf("node_filesystem_avail_bytes{device=\"/dev/sdb\",fstype=\"xfs\",mountpoint=\"/kafka\"} %g\n"+
		"node_filesystem_size_bytes{device=\"/dev/sdb\",fstype=\"xfs\",mountpoint=\"/kafka\"} %d\n", size-used, int64(size))
}
