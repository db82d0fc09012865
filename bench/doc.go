// Package bench holds kwitness's cross-package benchmarks: the costs that
// only show when state and detect run together over an estate of realistic
// size, measured against the targets in the performance reference (CPU per
// sample ≤ 300 ns, RAM ≤ 512 B per live series, ring write ≤ 10 ns and
// read ≤ 2 ns per value). It has no non-test code.
//
// # What is measured
//
// BenchmarkSweep is the detectors' hot path, once per poll: publish one sweep
// into a state.Window (Begin, Set of every series by pre-resolved id,
// Commit), then run detect.LagDetector.Sweep over a fresh View. Sub-benchmarks
// series=10000, series=100000 and series=1000000 count group-partitions. One
// iteration is one sweep; a sample is one group-partition judged at one
// sweep. It reports ns/sample, cpu-ns/sample, ms/sweep, B/series (ring bytes
// per ring series), B/gp (ring bytes per group-partition), heapB/series (heap
// held by the window per ring series) and cand/sweep.
//
// BenchmarkSweepSkipped is the DATA_SKIPPED check the engine runs at every
// sweep between full retention passes (detect.RetentionDetector's
// SweepSkipped over a View: one newest-offset comparison per
// group-partition): ns/sample, cpu-ns/sample, ms/sweep.
//
// BenchmarkRing is one state.Ring at 1 M series in both window shapes
// (7 slots: the recent ring; 56: the history ring): ns/value for Publish (per
// series written) and for ReadSeries (per value read).
//
// BenchmarkEndToEnd runs full ingest.Poller sweeps through the real franz-go
// client against a kfake cluster of 10,000 partitions and 100 groups (100 k
// and 1 M group-partitions) served by a child process, so the measured CPU
// is kwitness's own (requests, ingest's decoding and collection, the window
// publish): ms/sweep, cpu-ns/sample, heapB/series, and the bytes kwitness's
// client actually wrote and read on its broker connections per sweep
// (MB/sweep, sent and received, OffsetFetch and ListOffsets shares),
// counted by a kgo hook.
//
// BenchmarkSidecar is the whole process: the kwitness binary, built from
// cmd/kwitness and run with production defaults and a store, against a
// kfake cluster in the benchmark's process at 1,000 groups × 20 partitions
// (no members, commits every 5 s). It reports the sidecar's RSS (and its
// anonymous part) and CPU seconds per minute, read from /proc, and logs them
// minute by minute; 5 minutes by default, KWITNESS_SIDECAR_MINUTES=12 to see
// the 10-minute window full.
//
// BenchmarkScrapeLag is one GET /metrics of the lag exporter (api/exporter)
// over the 1 M group-partition estate with a full window, at partition, topic
// and group granularity: MB/scrape of exposition text, ms/scrape, cpu-ns/gp
// and the heap allocated per scrape (docs/metrics.md).
//
// BenchmarkListFindings (10,000 open findings, page_size 100) and
// BenchmarkWatchFanout (100 subscribers) drive api.Server over gRPC on
// loopback: p50/p99 latency and calls/s; events/s delivered and missed.
//
// BenchmarkAPILoad (load_test.go) is the API under load beside ingest, with
// authentication on: 1,000 watch streams and REST ListFindings clients
// against 10,000 findings while a 100,000 group-partition sweep runs every
// second: sweep overruns (target 0), sweep p99, REST p50/p99 and calls/s,
// watch events/s delivered.
//
// BenchmarkStoreEstate (store_test.go) stores the estate's own offset series
// (end, start and committed, one hour at one sweep per second) through the
// exported Store API and reports bytes on disk per sample after compaction.
//
// The store's benchmarks (BenchmarkStoreMix: disk bytes and encoder ns per
// sample; BenchmarkStoreKeys: Pebble keys per million samples;
// BenchmarkQuerySeries) need the store's internals and stay in package
// state; `make bench` runs them after this package's, together with the
// chunk codecs' benchmarks and ingest/scrape's BenchmarkScrape.
//
// TestRobustSlopeMatchesSortedMedian checks that detect.RobustSlope's
// selection-based median returns bit for bit what a full sort returns.
//
// # The estate
//
// Built from a fixed seed (estate_test.go). Every group consumes 10 topics of
// 50 partitions: 500 group-partitions per group, so 20, 200 and 2,000 groups.
// Topics are a mix: 60 % of a group's topics are its own; 40 % come from a
// shared pool in which a topic has 4 consumer groups on average, so there
// are about 0.7 topic-partitions per group-partition and 2.4 ring series
// (committed, plus the shared end and start offsets) per group-partition.
//
// Producers are drawn per topic: idle 40 %, steady 45 % (100–5,100
// records/s ±10 % per partition), bursty 15 % (idle with bursts of 1k–51k
// records/s lasting 10–120 s, on average every 300 s). Consumers commit every
// 5 s (the Kafka default auto.commit.interval.ms) and keep up, except that
// 1 in 9 group-topics on steady topics consume at 50–90 % of the produce
// rate. By group-partition that is idle 40 %, steady 40 %, bursty 15 %,
// lagging 5 % (the benchmark logs the exact mix), and the lagging 5 % show
// up as LAG_GROWING candidates. The log start offset moves by whole segments.
//
// Before timing, the window is filled as after ten minutes of polling: with
// the default window (10 min, 55 history points, 6 recent sweeps) that is 55
// sweeps one history step (11.3 s) apart, each landing in both rings, then 7
// sweeps one second apart. Timed sweeps follow one second apart; moving the
// estate's offsets to the next poll is not timed.
//
// # Running
//
//	go test -run '^$' -bench . -benchtime 3x ./bench/
//	go test -run '^$' -bench 'BenchmarkSweep/series=100000$' -benchtime 20x \
//	    -cpuprofile cpu.out ./bench/ && go tool pprof -top bench.test cpu.out
//
// `make bench` runs the suite in about a minute on 2 cores (every benchmark
// of this package once, BENCHTIME=1x: one iteration is a whole sweep or
// 1,000 calls) and keeps the output in .bin/bench.txt; docs/benchmarks.md
// has the latest results next to the targets. Setup at 1 M group-partitions
// takes about 10 s and 2 GB of RAM. Wall times move with other load on the
// machine; compare cpu-ns/sample between runs on a shared box.
package bench
