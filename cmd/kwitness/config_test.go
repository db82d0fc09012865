package main

import (
	"os"
	"path"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/kwitness/kwitness/detect"
)

// withBrokers is DefaultConfig with the one required key set.
func withBrokers(brokers ...string) Config {
	c := DefaultConfig()
	c.Kafka.Brokers = brokers
	return c
}

func TestConfigDefaults(t *testing.T) {
	cfg, err := ParseConfig(nil)
	if err != nil || !reflect.DeepEqual(cfg, DefaultConfig()) {
		t.Fatalf("empty file: %+v, %v; want the defaults", cfg, err)
	}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "kafka.brokers") {
		t.Fatalf("defaults without brokers: %v; want an error naming kafka.brokers", err)
	}
	if err := withBrokers("localhost:9092").Validate(); err != nil {
		t.Fatalf("defaults with brokers: %v", err)
	}
}

func TestConfigOverridesOnlyNamedKeys(t *testing.T) {
	cfg, err := ParseConfig([]byte("kafka:\n  brokers: [a:9092, b:9092]\nlag: {min_growth: 500}\nfindings: {open_after: 0s, keep_resolved: 2h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := withBrokers("a:9092", "b:9092")
	want.Lag.MinGrowth, want.Findings.OpenAfter, want.Findings.KeepResolved = 500, 0, 2*time.Hour
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("got %+v\nwant %+v", cfg, want)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigErrors(t *testing.T) {
	// parseErr: decoding fails; invalid: decoding works and Validate fails.
	// Each error must contain every want string.
	check := func(stage, src string, err error, want []string) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s %q: no error, want one naming %q", stage, src, want)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Fatalf("%s %q: error %q does not name %q", stage, src, err, w)
			}
		}
	}
	parseErr := func(src string, want ...string) {
		t.Helper()
		_, err := ParseConfig([]byte(src))
		check("parse", src, err, want)
	}
	invalid := func(src string, want ...string) {
		t.Helper()
		cfg, err := ParseConfig([]byte(src))
		if err != nil {
			t.Fatalf("parse %q: %v", src, err)
		}
		check("validate", src, cfg.Validate(), want)
	}
	parseErr("kafka:\n  brokers: [k:9092]\n  polll_interval: 1s\n", "polll_interval", "line 3")
	parseErr("findings: {open_after: 5s, keep_resolvd: 1h}", "keep_resolvd", "line 1") // inline BookConfig is strict too
	parseErr("kafka:\n  poll_interval: fast\n", "line 2", "kafka.poll_interval", "fast")
	parseErr("window: {points: many}", "many", "window.points")
	parseErr("kafka: [k:9092]", "line 1")
	parseErr("kafka: {brokers: [a:9092]}\n---\nkafka: {brokers: [b:9092]}\n", "more than one YAML document")
	parseErr("kafka: {brokers: [a:9092]\n", "line")

	invalid("kafka: {brokers: [k:9092], groups: {include: ['(']}}", "kafka.groups.include[0]", `"("`)
	invalid("kafka: {brokers: [k:9092], topics: {exclude: [ok, '[z-a]']}}", "kafka.topics.exclude[1]")
	invalid("kafka: {brokers: [k:9092], poll_interval: 10ms}", "kafka.poll_interval", "10ms")
	invalid("kafka: {brokers: [k:9092], poll_interval: 1m}", "kafka.max_backoff") // 30s backoff < 1m poll
	invalid("kafka: {brokers: [k:9092]}\nlag: {min_growth: 0}", "lag.min_growth")
	invalid("kafka: {brokers: [k:9092]}\nlag: {window: 20m}", "lag.window", "window.span")
	invalid("kafka: {brokers: [k:9092]}\nlag: {min_span: 11m, window: 10m}", "lag.min_span")
	invalid("kafka: {brokers: [k:9092]}\nwindow: {points: 2}", "window.points")
	invalid("kafka: {brokers: [k:9092]}\nfindings: {keep_resolved: 0s}", "findings.keep_resolved")
	invalid("kafka: {brokers: [k:9092]}\nfindings: {update_every: 0s}", "findings.update_every")
	invalid("kafka: {brokers: [k:9092]}\napi: {grpc_listen: ''}", "api.grpc_listen")
	invalid("kafka: {brokers: [k:9092], poll_interval: 10ms}\nlag: {min_growth: 0}", "kafka.poll_interval", "lag.min_growth") // every error, not the first
	invalid("kafka: {brokers: []}", "kafka.brokers")
}

func TestLoadConfigNamesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kwitness.yaml")
	if err := os.WriteFile(path, []byte("kafka:\n  brokers: [k:9092]\nwindw: {span: 1m}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadConfig(path)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "line 3") || !strings.Contains(err.Error(), "windw") {
		t.Fatalf("LoadConfig: %v; want the file, line 3 and the key windw", err)
	}
}

// readmeConfig returns the YAML example of README.md's "Running against a
// cluster" section.
func readmeConfig(t testing.TB) []byte {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, sec, ok := strings.Cut(string(raw), "## Running against a cluster")
	_, block, ok2 := strings.Cut(sec, "```yaml\n")
	block, _, ok3 := strings.Cut(block, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatal(`README.md has no yaml block under "## Running against a cluster"`)
	}
	return []byte(block)
}

// The README example parses, validates, and — as the README says — holds the
// defaults, with brokers set.
func TestReadmeConfig(t *testing.T) {
	cfg, err := ParseConfig(readmeConfig(t))
	if err != nil {
		t.Fatalf("README config: %v", err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("README config: %v", err)
	}
	want := withBrokers("localhost:9092")
	normalize(&cfg)
	normalize(&want)
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("README config is not the defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

// normalize makes empty slices nil throughout c: YAML writes both as [] and
// reads [] back as an empty slice, and no component tells them apart.
func normalize(c *Config) { normalizeValue(reflect.ValueOf(c).Elem()) }

func normalizeValue(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		for i := range v.NumField() {
			normalizeValue(v.Field(i))
		}
	case reflect.Slice:
		if v.Len() == 0 {
			v.SetZero()
		}
		for i := range v.Len() {
			normalizeValue(v.Index(i))
		}
	case reflect.Map:
		if v.Len() == 0 {
			v.SetZero()
		}
	}
}

// FuzzParseConfig fuzzes the config decoder. Invariants:
//   - ParseConfig never panics, whatever the file holds;
//   - a config that parses and validates survives yaml.Marshal and
//     ParseConfig (strict, so every key Marshal writes must be known) equal
//     to itself, up to empty-versus-nil slices, and still validates: what
//     kwitness would print as its effective config is a config it accepts.
func FuzzParseConfig(f *testing.F) {
	f.Add(readmeConfig(f))
	f.Add([]byte("kafka: {brokers: [k:9092], groups: {include: ['orders-.*'], exclude: [tmp]}}\nlag: {min_growth: 1}\n"))
	f.Add([]byte("kafka:\n  brokers: [k:9092]\n  cluster: \"0x1F\"\n  client_id: ~\nwindow: {span: 1s, points: 4, recent: 2}\nlag: {window: 1s, min_span: 1s}\n"))
	f.Add([]byte("kafka: {brokers: [\"\\u00e9:1\", 'a: b']}\nfindings: {max_resolved: 0, open_after: 0s}\n"))
	f.Add([]byte("kafka: &k {brokers: [k:1]}\napi: {grpc_listen: ':0', http_listen: '[::1]:0'}\n"))
	f.Add([]byte("kafka: {brokers: [\"a\\tb \", ' lead', \"line\\nbreak\", '#x', '- x', '~', 'null', 1e3, 0o17, y], cluster: !!binary /w==}\n"))
	f.Add([]byte(ownersSeed))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, err := ParseConfig(src)
		if err != nil || cfg.Validate() != nil {
			return
		}
		out, err := yaml.Marshal(cfg)
		if err != nil {
			t.Fatalf("marshal %+v: %v", cfg, err)
		}
		back, err := ParseConfig(out)
		if err != nil {
			t.Fatalf("marshalled config does not parse: %v\n%s", err, out)
		}
		if err := back.Validate(); err != nil {
			t.Fatalf("marshalled config does not validate: %v\n%s", err, out)
		}
		normalize(&cfg)
		normalize(&back)
		if !reflect.DeepEqual(cfg, back) {
			t.Fatalf("round trip changed the config:\n  in %+v\n out %+v\nyaml:\n%s", cfg, back, out)
		}
	})
}

const ownersSeed = `owners:
  rules:
    - team: payments
      contact: "#payments-oncall"
      escalation: pagerduty:payments
      groups: [fraud-*, "billing"]
      topics: [payments]
    - {team: platform, brokers: ["[0-2]", "*"], topics: []}
  runbooks:
    LAG_GROWING: https://runbooks.example/lag
`

// FuzzOwnersConfig fuzzes the owners section. Invariants: decoding never
// panics; a section that validates builds an Owners whose lookups never
// panic, and an owned answer names a rule whose pattern matches the name.
func FuzzOwnersConfig(f *testing.F) {
	f.Add([]byte(ownersSeed), "fraud-check", "payments", int32(1))
	f.Add([]byte("owners: {rules: [{team: t, groups: ['[a-']}]}"), "a", "", int32(-1))
	f.Add([]byte("owners: {rules: [{team: '', topics: ['*']}], runbooks: {NOPE: x}}"), "", "t", int32(0))
	f.Add([]byte("owners: {rules: [{team: t, groups: ['\\\\*'], brokers: ['1?']}]}"), "*", "x", int32(12))
	f.Fuzz(func(t *testing.T, src []byte, group, topic string, broker int32) {
		cfg, err := ParseConfig(src)
		if err != nil || cfg.Owners.Validate() != nil {
			return
		}
		o, err := detect.NewOwners(cfg.Owners)
		if err != nil {
			t.Fatalf("validated owners rejected: %v", err)
		}
		check := func(what, name string, got detect.Owner) {
			if !got.Owned {
				if !strings.HasPrefix(got.Note, "unowned: ") {
					t.Fatalf("%s %q: unowned without a note: %+v", what, name, got)
				}
				return
			}
			kind, pat, _ := strings.Cut(got.Rule, " ")
			if ok, _ := path.Match(pat, name); kind != what || !ok || got.Team == "" {
				t.Fatalf("%s %q: owner %+v names a rule that does not match", what, name, got)
			}
		}
		check("group", group, o.Group(group))
		check("topic", topic, o.Topic(topic))
		check("broker", strconv.Itoa(int(broker)), o.Broker(broker))
		o.Of(detect.Subject{Group: group, Topic: topic, Broker: broker})
		for _, k := range detect.KindNames() {
			o.Runbook(detect.Kind(k))
		}
	})
}

func TestConfigMemoryLimit(t *testing.T) {
	for in, want := range map[string]ByteSize{"64MiB": 64 << 20, "80 MB": 80e6, "1048576": 1 << 20, "0": 0} {
		cfg, err := ParseConfig([]byte("memory_limit: " + in + "\n"))
		if err != nil || cfg.MemoryLimit != want {
			t.Errorf("memory_limit: %s = %d, %v; want %d", in, cfg.MemoryLimit, err, want)
		}
	}
	for _, in := range []string{"lots", "-5MiB", "[1, 2]"} {
		if _, err := ParseConfig([]byte("memory_limit: " + in + "\n")); err == nil || !strings.Contains(err.Error(), "memory_limit") {
			t.Errorf("memory_limit: %s: %v; want an error naming memory_limit", in, err)
		}
	}
}
