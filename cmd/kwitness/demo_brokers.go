package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwitness/kwitness/ingest"
)

// The demo's broker script, as offsets from the start of the workload.
const (
	demoURPBroker     = 1                // broker with an under-replicated episode
	demoURPFrom       = 20 * time.Second //
	demoURPTo         = 50 * time.Second //
	demoDiskBroker    = 2                // broker whose data volume fills fast
	demoDiskSize      = 100 << 30        // bytes
	demoDiskStartFree = 30 << 30         // bytes free at start
	demoDiskFillRate  = 8 << 20          // bytes/s written beyond the workload's own data

	// Skews the simulated brokers report beyond the workload's own traffic:
	// broker 0 takes more bytes in and hosts more replicas (TRAFFIC_SKEW,
	// REPLICA_SKEW); broker 2 also holds a large backfill (DISK_SKEW).
	demoBaseBytesIn   = 2 << 20   // bytes/s into brokers 1 and 2
	demoHotBytesIn    = 3 << 20   // bytes/s into broker 0
	demoBasePartBytes = 100 << 20 // log size added to each partition
	demoBackfillBytes = 3 << 30   // an extra partition only broker 2 holds
	demoSkewReplicas  = 14        // replicas broker 0 reports; the others report 9
)

// brokerSim serves, for each kfake broker, a jmx_exporter-format /metrics
// (Strimzi lower-case names) and a node_exporter-format /node endpoint on
// loopback, with values driven by the demo workload: bytes and log sizes
// follow what the producer wrote to partitions the broker leads; broker 1
// has an under-replicated episode; broker 2's data volume fills fast enough
// for DISK_FILL_FORECAST to open within a minute.
type brokerSim struct {
	cluster *kfake.Cluster
	start   time.Time

	mu    sync.Mutex
	bytes map[string]map[int32]int64 // topic → partition → bytes produced
	srvs  []*http.Server
	wg    sync.WaitGroup
	urls  map[int32][2]string // broker → jmx URL, node URL
}

func newBrokerSim(c *kfake.Cluster, start time.Time) *brokerSim {
	return &brokerSim{cluster: c, start: start, bytes: map[string]map[int32]int64{}, urls: map[int32][2]string{}}
}

// produced records n bytes written to topic/partition.
func (s *brokerSim) produced(topic string, partition int32, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bytes[topic] == nil {
		s.bytes[topic] = map[int32]int64{}
	}
	s.bytes[topic][partition] += int64(n)
}

// onProduced is a produce promise: it counts the record's bytes.
func (s *brokerSim) onProduced(r *kgo.Record, err error) {
	if err == nil {
		s.produced(r.Topic, r.Partition, len(r.Key)+len(r.Value))
	}
}

// serve listens for each broker id on 127.0.0.1:0.
func (s *brokerSim) serve(ids []int32) error {
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("demo: broker %d metrics listener: %w", id, err)
		}
		mux := http.NewServeMux()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			io.WriteString(w, s.jmx(id))
		})
		mux.HandleFunc("GET /node", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; version=0.0.4")
			io.WriteString(w, s.node(id))
		})
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		s.srvs = append(s.srvs, srv)
		base := "http://" + ln.Addr().String()
		s.urls[id] = [2]string{base + "/metrics", base + "/node"}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return
			}
		}()
	}
	return nil
}

// targets returns the scrape targets for kwitness.
func (s *brokerSim) targets() []ingest.ScrapeTarget {
	var out []ingest.ScrapeTarget
	for id, u := range s.urls {
		out = append(out, ingest.ScrapeTarget{Broker: id, URL: u[0]}, ingest.ScrapeTarget{Broker: id, URL: u[1], Kind: "node"})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].URL < out[j].URL })
	return out
}

// stop shuts the servers down and waits for them.
func (s *brokerSim) stop() {
	for _, srv := range s.srvs {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		srv.Shutdown(ctx)
		cancel()
	}
	s.wg.Wait()
}

// jmx renders broker id's exposition.
func (s *brokerSim) jmx(id int32) string {
	t := time.Since(s.start)
	var b strings.Builder
	line := func(name string, v float64, labels ...string) {
		b.WriteString(name)
		if len(labels) > 0 {
			b.WriteString("{" + strings.Join(labels, ",") + "}")
		}
		fmt.Fprintf(&b, " %g\n", v)
	}
	var total int64
	s.mu.Lock()
	topics := make([]string, 0, len(s.bytes))
	for topic := range s.bytes {
		topics = append(topics, topic)
	}
	sort.Strings(topics)
	b.WriteString("# TYPE kafka_log_log_size gauge\n")
	perTopic := map[string]int64{}
	for _, topic := range topics {
		for p, n := range s.bytes[topic] {
			if s.cluster.LeaderFor(topic, p) != id {
				continue
			}
			perTopic[topic] += n
			total += n
			line("kafka_log_log_size", float64(n+demoBasePartBytes), fmt.Sprintf("topic=%q", topic), fmt.Sprintf("partition=\"%d\"", p))
		}
	}
	s.mu.Unlock()
	if id == demoDiskBroker { // a large backfill only this broker holds
		line("kafka_log_log_size", demoBackfillBytes, `topic="backfill"`, `partition="0"`)
	}
	b.WriteString("# TYPE kafka_server_brokertopicmetrics_bytesin_total counter\n")
	base := float64(demoBaseBytesIn)
	if id == 0 {
		base = demoHotBytesIn
	}
	line("kafka_server_brokertopicmetrics_bytesin_total", float64(total)+base*t.Seconds())
	for _, topic := range topics {
		line("kafka_server_brokertopicmetrics_bytesin_total", float64(perTopic[topic]), fmt.Sprintf("topic=%q", topic))
	}
	urp := 0.0
	if id == demoURPBroker && t >= demoURPFrom && t < demoURPTo {
		urp = 2
	}
	line("kafka_server_replicamanager_underreplicatedpartitions", urp)
	line("kafka_server_replicamanager_underminisrpartitioncount", 0)
	line("kafka_server_replicamanager_offlinereplicacount", 0)
	replicas := 9.0
	if id == 0 {
		replicas = demoSkewReplicas
	}
	line("kafka_server_replicamanager_partitioncount", replicas)
	shrinks := 0.0
	if id == demoURPBroker && t >= demoURPFrom {
		shrinks = 2
	}
	line("kafka_server_replicamanager_isrshrinks_total", shrinks)
	line("kafka_server_replicamanager_isrexpands_total", shrinks)
	controller := 0.0
	if id == 0 {
		controller = 1
	}
	line("kafka_controller_kafkacontroller_activecontrollercount", controller)
	line("kafka_controller_kafkacontroller_offlinepartitionscount", 0)
	line("kafka_controller_controllerstats_uncleanleaderelections_total", 0)
	line("kafka_log_logmanager_offlinelogdirectorycount", 0)
	// The pool's idle counter in ns: 80 % idle.
	line("kafka_server_kafkarequesthandlerpool_requesthandleravgidlepercent_count", 0.8*1e9*t.Seconds())
	line("kafka_network_socketserver_networkprocessoravgidle_percent", 0.9)
	for _, req := range []string{"Produce", "FetchConsumer"} {
		line("kafka_network_requestmetrics_totaltimems", 4+float64(id), fmt.Sprintf("request=%q", req), `quantile="0.99"`)
		line("kafka_network_requestmetrics_totaltimems", 9+float64(id), fmt.Sprintf("request=%q", req), `quantile="0.999"`)
	}
	return b.String()
}

// node renders broker id's node_exporter filesystem series.
func (s *brokerSim) node(id int32) string {
	used := float64(demoDiskSize - demoDiskStartFree*2)
	if id == demoDiskBroker {
		used = float64(demoDiskSize-demoDiskStartFree) + demoDiskFillRate*time.Since(s.start).Seconds()
	}
	avail := max(0, demoDiskSize-used)
	return fmt.Sprintf(`# TYPE node_filesystem_avail_bytes gauge
node_filesystem_avail_bytes{device="/dev/nvme1n1",fstype="ext4",mountpoint="/kafka/data"} %g
# TYPE node_filesystem_size_bytes gauge
node_filesystem_size_bytes{device="/dev/nvme1n1",fstype="ext4",mountpoint="/kafka/data"} %d
`, avail, demoDiskSize)
}
