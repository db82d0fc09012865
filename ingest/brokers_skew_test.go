package ingest

import (
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// TestAdminBalanceCounts: per-broker balance counts from Metadata, for the
// skew detectors. answerMetadata's "orders" has three partitions, each
// replicated on every broker with ids[0] preferred: 0 led by ids[0]
// (preferred), 1 offline, 2 led by ids[1] (not preferred). Every broker
// hosts 3 replicas; ids[2] leads none and reads 0, not a gap. With no JMX
// scrape, the admin series feed the detectors, and LEADER_SKEW opens for
// ids[1] (1 of 1 led partitions non-preferred).
func TestAdminBalanceCounts(t *testing.T) {
	h := newAdminHarness(t, adminConfig(), nil)
	ids := []int32{h.nodes[0].NodeID, h.nodes[1].NodeID, h.nodes[2].NodeID}
	answerMetadata(t, h, ids, ids[1])
	in := h.sweep(3)
	for i, want := range []struct{ leaders, replicas, nonPreferred float64 }{{1, 3, 0}, {1, 3, 1}, {0, 3, 0}} {
		b := brokerOf(t, in, ids[i])
		lastValue(t, "leaders", b.Signals[detect.SigLeaderCount], want.leaders)
		lastValue(t, "replicas", b.Signals[detect.SigPartitionCount], want.replicas)
		lastValue(t, "non-preferred leaders", b.Signals[detect.SigNonPreferredLeaders], want.nonPreferred)
	}
	cfg := detect.DefaultSkewConfig()
	cfg.LeaderSustain = 10 * time.Second
	d, err := detect.NewSkewDetector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	res := d.Sweep(in)
	if len(res.Candidates) != 1 || res.Candidates[0].Kind != detect.KindLeaderSkew || res.Candidates[0].Subject.Broker != ids[1] {
		t.Fatalf("candidates %+v, want LEADER_SKEW for broker %d", res.Candidates, ids[1])
	}
	if len(res.Observed) != 3 {
		t.Errorf("observed %v, want all three brokers", res.Observed)
	}
}
