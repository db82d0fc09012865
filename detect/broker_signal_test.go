package detect

import (
	"math"
	"strings"
	"testing"
	"time"
)

// TestRateTable: counters one second apart; from and to are sample indexes
// (the interval is (from, to]).
func TestRateTable(t *testing.T) {
	f := func(n int, spec string, from, to int, want float64, wantOK bool) {
		t.Helper()
		w := sig("c", time.Second, vals(spec))
		got, ok := Rate(w, brokerT0+int64(from)*1000, brokerT0+int64(to)*1000)
		if ok != wantOK || ok && math.Abs(got-want) > 1e-9 {
			t.Errorf("%d: rate %v ok %v, want %v ok %v", n, got, ok, want, wantOK)
		}
	}
	// 1: steady counter: 10/s.
	f(1, "0 10 20 30", 0, 3, 10, true)
	// 2: a drop is a reset: 10 + 10 + 5 (from zero) + 10 over 4 s.
	f(2, "0 10 20 5 15", 0, 4, 8.75, true)
	// 3: gaps are spanned, not read as zeros: 40 over 4 s.
	f(3, "0 _ 20 _ 40", 0, 4, 10, true)
	// 4: one sample has no rate.
	f(4, "7", 0, 0, 0, false)
	// 5: all gaps have no rate.
	f(5, "_ _ _", 0, 2, 0, false)
	// 6: (1, 3] takes the pairs ending at 2 and 3: 20 over 2 s.
	f(6, "0 10 20 30 1000", 1, 3, 10, true)
	// 7: a reset to zero that stays there: rate 0, not negative.
	f(7, "100 0 0 0", 0, 3, 0, true)
	// 8: a pair may start before from: (2, 4] with a gap at 2 spans 1 → 3 → 4, 30 over 3 s.
	f(8, "0 10 _ 30 40", 2, 4, 10, true)
}

// TestIncreaseAdjacent: adjacent intervals share no increase and lose none.
func TestIncreaseAdjacent(t *testing.T) {
	w := sig("c", time.Second, vals("0 1 _ 5 9 _ _ 20"))
	total, _, _ := Increase(w, brokerT0, brokerT0+7000)
	a, _, _ := Increase(w, brokerT0, brokerT0+2500)
	b, _, _ := Increase(w, brokerT0+2500, brokerT0+7000)
	if total != 20 || a+b != total {
		t.Fatalf("total %v, halves %v + %v", total, a, b)
	}
}

// TestBrokerConfigValidate: the defaults are valid, and errors name YAML keys.
func TestBrokerConfigValidate(t *testing.T) {
	if err := DefaultBrokerConfig().Validate(); err != nil {
		t.Fatal(err)
	}
	c := DefaultBrokerConfig()
	c.ISRFlapMinShrinking = 7
	c.HandlerIdleCounter = "avg"
	c.FillMinSpan = 7 * time.Hour
	c.DiskFreeCritical = 0.2
	c.LatencyFor = 0
	err := c.Validate()
	for _, key := range []string{"broker.isr_flap_min_shrinking", "broker.handler_idle_counter", "broker.fill_min_span", "broker.disk_free_critical", "broker.latency_for"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error %v must name %s", err, key)
		}
	}
	if _, err := NewBrokerDetector(c); err == nil {
		t.Error("NewBrokerDetector must refuse an invalid config")
	}
}
