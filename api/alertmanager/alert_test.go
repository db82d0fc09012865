package alertmanager

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/config"

	"github.com/kwitness/kwitness/detect"
)

// lagFinding is a firing LAG_GROWING finding of group g on topic t.
func lagFinding(g string, partitions ...int32) detect.Finding {
	opened := time.Now().Add(-time.Minute).Truncate(time.Second)
	sub := detect.Subject{Cluster: "it", Group: g, Topic: "orders", Partitions: partitions, Broker: -1}
	return detect.Finding{
		ID: "abc-" + g, Fingerprint: detect.Fingerprint(detect.KindLagGrowing, sub),
		Kind: detect.KindLagGrowing, Severity: detect.SeverityWarning, State: detect.StateFiring, Subject: sub,
		Summary:  "Consumer group " + g + " is falling behind on orders.",
		OpenedAt: opened, UpdatedAt: opened,
		Evidence: []detect.Citation{{
			Series: detect.SeriesRef{Metric: "kafka_consumergroup_lag", Labels: []detect.Label{{Name: "partition", Value: "0"}}},
			From:   opened.Add(-90 * time.Second), To: opened, First: 100, Last: 900, Min: 100, Max: 900,
			Slope: 8.9, SlopeUnit: "messages/s", Count: 90, Note: "lag grows",
		}},
		Facts: []detect.Fact{
			{Name: "total_lag", Value: 2700, Unit: "messages"},
			{Name: "lag_growth_rate", Value: 26.7, Unit: "messages/s"},
			{Name: "time_to_catch_up", Text: "never at current rates", Unit: "s"},
			{Name: "config.lag.window", Value: 600, Unit: "s"},
		},
	}
}

func TestAlertName(t *testing.T) {
	f := func(k detect.Kind, want string) {
		t.Helper()
		if got := AlertName(k); got != want {
			t.Errorf("AlertName(%s) = %s, want %s", k, got, want)
		}
	}
	f(detect.KindLagGrowing, "KafkaConsumerLagGrowing")
	f(detect.KindConsumerStalled, "KafkaConsumerStalled")
	f(detect.KindConsumerStopped, "KafkaConsumerStopped")
	f(detect.KindOffsetRewind, "KafkaConsumerOffsetRewind")
	f("BROKER_DISK_FULL", "KafkaBrokerDiskFull") // fallback: CamelCase of the kind
	for _, k := range detect.KindNames() {
		if n := AlertName(detect.Kind(k)); !strings.HasPrefix(n, "Kafka") {
			t.Errorf("kind %s: alertname %s", k, n)
		}
	}
}

func TestLabelsAreIdentityOnly(t *testing.T) {
	f := lagFinding("g", 0, 1, 2)
	l := Labels(&f)
	want := map[string]string{"alertname": "KafkaConsumerLagGrowing", "severity": "warning", "cluster": "it", "group": "g", "topic": "orders"}
	if len(l) != len(want) {
		t.Fatalf("labels %v, want %v", l, want)
	}
	for k, v := range want {
		if l[k] != v {
			t.Errorf("label %s = %q, want %q", k, l[k], v)
		}
	}
	one := lagFinding("g", 4)
	one.Subject.Broker = 2
	l = Labels(&one)
	if l["partition"] != "4" || l["broker"] != "2" {
		t.Errorf("one partition, broker 2: %v", l)
	}
	// Numbers that change between sends must not change the identity.
	later := lagFinding("g", 0, 1, 2)
	later.Facts[0].Value, later.Evidence[0].Last, later.ID = 9999, 9999, "other"
	m := Mapper{}
	if m.Alert(&f, time.Time{}).key() != m.Alert(&later, time.Time{}).key() {
		t.Error("labels changed with the numbers")
	}
}

func TestAnnotations(t *testing.T) {
	f := lagFinding("g", 0, 1)
	a := Mapper{ExternalURL: "http://kw:9471/", RunbookURL: "https://runbooks.example/{kind}"}.Alert(&f, time.Time{})
	d := a.Annotations["description"]
	for _, s := range []string{"total lag 2700 messages", "lag growth rate 26.7 messages/s", "time to catch up never at current rates", "Window ", "90 samples", "▁█", "kafka_consumergroup_lag[0]"} {
		if !strings.Contains(d, s) {
			t.Errorf("description lacks %q:\n%s", s, d)
		}
	}
	if strings.Contains(d, "config.lag") {
		t.Errorf("description carries configuration facts:\n%s", d)
	}
	if a.Annotations["summary"] != f.Summary || a.Annotations["finding_id"] != f.ID || a.Annotations["runbook_url"] != "https://runbooks.example/LAG_GROWING" {
		t.Errorf("annotations %v", a.Annotations)
	}
	if a.GeneratorURL != "http://kw:9471/findings/"+f.ID || !a.StartsAt.Equal(f.OpenedAt) {
		t.Errorf("generatorURL %s startsAt %s", a.GeneratorURL, a.StartsAt)
	}
	withValues := Mapper{Values: func(detect.Citation) []float64 { return []float64{1, 2, 3, 8} }}.Alert(&f, time.Time{})
	if !strings.Contains(withValues.Annotations["description"], "▁▂▃█") {
		t.Errorf("real sparkline missing:\n%s", withValues.Annotations["description"])
	}
}

func TestSparkline(t *testing.T) {
	f := func(vs []float64, want string) {
		t.Helper()
		if got := Sparkline(vs); got != want {
			t.Errorf("Sparkline(%v) = %s, want %s", vs, got, want)
		}
	}
	f(nil, "")
	f([]float64{5, 5, 5}, "▁▁▁")                     // 1: flat
	f([]float64{0, 1, 2, 3, 4, 5, 6, 7}, "▁▂▃▄▅▆▇█") // 2: one bar per step
	f([]float64{10, 0}, "█▁")                        // 3: falling
	if got := SparklineScaled([]float64{-5, 50}, 0, 10); got != "▁█" {
		t.Errorf("clamping: %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	c := DefaultConfig()
	c.URLs = []string{"http://am:9093", "am:9093"}
	c.ResendInterval = 0
	c.MinSeverity = "loud"
	c.HTTP.BearerTokenFile, c.HTTP.BasicAuth = "x", &config.BasicAuth{Username: "u"}
	err := c.Validate()
	for _, key := range []string{"alertmanager.urls[1]", "alertmanager.resend_interval", "alertmanager.min_severity", "alertmanager.http_config"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("error must name %s: %v", key, err)
		}
	}
	if strings.Contains(err.Error(), "urls[0]") {
		t.Errorf("valid URL reported: %v", err)
	}
}

func TestAlertOwners(t *testing.T) {
	o, err := detect.NewOwners(detect.OwnersConfig{Rules: []detect.OwnerRule{{Team: "risk", Contact: "#risk", Escalation: "pager:risk", Groups: []string{"fraud-*"}}},
		Runbooks: map[string]string{"LAG_GROWING": "https://runbooks.example/lag"}})
	if err != nil {
		t.Fatal(err)
	}
	m := Mapper{Owners: o, RunbookURL: "https://wiki.example/{kind}"}
	owned := &detect.Finding{Kind: detect.KindLagGrowing, Severity: detect.SeverityWarning, Subject: detect.Subject{Cluster: "c", Group: "fraud-check", Broker: -1}}
	a := m.Alert(owned, time.Time{})
	if a.Labels["team"] != "risk" || a.Annotations["owner"] != "team risk (#risk)" || a.Annotations["escalation"] != "pager:risk" ||
		a.Annotations["runbook_url"] != "https://runbooks.example/lag" {
		t.Errorf("owned alert: labels %v annotations %v", a.Labels, a.Annotations)
	}
	unowned := &detect.Finding{Kind: detect.KindConsumerStalled, Severity: detect.SeverityWarning, Subject: detect.Subject{Cluster: "c", Group: "billing", Broker: -1}}
	a = m.Alert(unowned, time.Time{})
	if _, ok := a.Labels["team"]; ok || a.Annotations["owner"] != `unowned: no owners rule matches group "billing"` || a.Annotations["runbook_url"] != "https://wiki.example/CONSUMER_STALLED" {
		t.Errorf("unowned alert: labels %v annotations %v", a.Labels, a.Annotations)
	}
}
