package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"

	"github.com/kwitness/kwitness/api/alertmanager"
	"github.com/kwitness/kwitness/api/auth"
	"github.com/kwitness/kwitness/api/exporter"
	"github.com/kwitness/kwitness/api/mcp"
	"github.com/kwitness/kwitness/detect"
	"github.com/kwitness/kwitness/ingest"
	"github.com/kwitness/kwitness/state"
	"github.com/kwitness/kwitness/state/store"
)

// Config is the whole kwitness.yaml. Each section belongs to one component.
type Config struct {
	Kafka        ingest.Config          `yaml:"kafka"`
	Window       state.WindowConfig     `yaml:"window"`
	Lag          detect.LagConfig       `yaml:"lag"`
	Retention    detect.RetentionConfig `yaml:"retention"`
	HotPartition detect.HotConfig       `yaml:"hot_partition"`
	Rebalance    detect.RebalanceConfig `yaml:"rebalance"`
	Skew         detect.SkewConfig      `yaml:"skew"`
	Findings     FindingsConfig         `yaml:"findings"`
	API          APIConfig              `yaml:"api"`
	MCP          mcp.Config             `yaml:"mcp"`

	// DataDir holds the Pebble store (history, evidence, warm restart);
	// "" runs without history. Default "kwitness-data".
	DataDir string       `yaml:"data_dir"`
	Store   store.Config `yaml:"store"`

	Telemetry ingest.TelemetryConfig `yaml:"telemetry"`
	Broker    detect.BrokerConfig    `yaml:"broker"`

	Alertmanager alertmanager.Config `yaml:"alertmanager"`

	// Metrics shapes the lag metrics on /metrics (api/exporter).
	Metrics exporter.Config `yaml:"metrics"`

	// Owners routes findings, plans, Explain bundles and alerts to teams
	// and runbooks.
	Owners detect.OwnersConfig `yaml:"owners"`

	// MemoryLimit is the Go runtime's soft memory limit
	// (runtime/debug.SetMemoryLimit): the heap, stacks and runtime metadata
	// the garbage collector works to keep under it, not file-backed pages
	// of the binary. Written as bytes or with a unit ("64MiB", "80 MB").
	// 0 (the default) leaves Go's default (no limit, or GOMEMLIMIT from the
	// environment, which wins over this setting). Set it below what the
	// container may use, above the live heap (about 1 KB per group-partition
	// plus 15 MB): a limit under the live heap makes the collector run
	// almost constantly.
	MemoryLimit ByteSize `yaml:"memory_limit"`
}

// ByteSize is a size in bytes; YAML takes an integer or a size with a unit
// ("64MiB", "40 MB", "1.5GiB").
type ByteSize int64

// UnmarshalYAML parses a size in bytes with an optional unit.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want a size such as 64MiB, got a %s", n.Line, kindName(n.Kind))
	}
	v, err := humanize.ParseBytes(n.Value)
	if err != nil || v > math.MaxInt64 {
		return fmt.Errorf("line %d: cannot unmarshal !!str `%s` into a size in bytes (e.g. 64MiB, 80 MB)", n.Line, n.Value)
	}
	*b = ByteSize(v)
	return nil
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "sequence"
	}
	return "node"
}

// FindingsConfig is the finding lifecycle plus how long resolved findings
// stay listed.
type FindingsConfig struct {
	detect.BookConfig `yaml:",inline"`
	KeepResolved      time.Duration `yaml:"keep_resolved"` // default 1h
	// SlowEvery is how often the detectors that read every partition's whole
	// window run (retention risk, hot partitions): the log start moves by
	// whole segments and hot partitions must be sustained, so they need not
	// run every sweep. Default 30s. DATA_SKIPPED, one comparison per
	// partition, is checked at every sweep in between.
	SlowEvery   time.Duration `yaml:"slow_every"`
	MaxResolved int           `yaml:"max_resolved"` // default 10000
}

// APIConfig holds the listeners and their security (TLS, tokens, audit,
// limits).
type APIConfig struct {
	GRPCListen  string `yaml:"grpc_listen"` // default 127.0.0.1:9470
	HTTPListen  string `yaml:"http_listen"` // default 127.0.0.1:9471
	auth.Config `yaml:",inline"`
}

// DefaultConfig returns every component's defaults.
func DefaultConfig() Config {
	return Config{
		Kafka:        ingest.DefaultConfig(),
		Window:       state.DefaultWindowConfig(),
		Lag:          detect.DefaultLagConfig(),
		Retention:    detect.DefaultRetentionConfig(),
		HotPartition: defaultHotConfig(),
		Rebalance:    detect.DefaultRebalanceConfig(),
		Skew:         detect.DefaultSkewConfig(),
		Findings:     FindingsConfig{BookConfig: detect.DefaultBookConfig(), KeepResolved: time.Hour, MaxResolved: 10000, SlowEvery: 30 * time.Second},
		API:          APIConfig{GRPCListen: "127.0.0.1:9470", HTTPListen: "127.0.0.1:9471", Config: auth.DefaultConfig()},
		MCP:          mcp.DefaultConfig(),

		DataDir:   "kwitness-data",
		Store:     store.DefaultConfig(),
		Telemetry: ingest.DefaultTelemetryConfig(),
		Broker:    detect.DefaultBrokerConfig(),

		Alertmanager: alertmanager.DefaultConfig(),
		Metrics:      exporter.DefaultConfig(),
		Owners:       detect.DefaultOwnersConfig(),
	}
}

// Validate checks every section, naming keys.
func (c Config) Validate() error {
	var errs []error
	errs = append(errs, c.Kafka.Validate(), c.Window.Validate(), c.Lag.Validate(), c.Retention.Validate(), c.HotPartition.Validate(), c.Rebalance.Validate(), c.Skew.Validate(), c.Findings.Validate(), c.Alertmanager.Validate(), c.Telemetry.Validate(), c.Broker.Validate(), c.Store.Validate(), c.Metrics.Validate(), c.Owners.Validate())
	if c.MemoryLimit < 0 {
		errs = append(errs, fmt.Errorf("memory_limit: must be ≥ 0, got %d", c.MemoryLimit))
	}
	if c.Findings.KeepResolved <= 0 {
		errs = append(errs, fmt.Errorf("findings.keep_resolved: must be positive, got %s", c.Findings.KeepResolved))
	}
	if c.Findings.SlowEvery <= 0 {
		errs = append(errs, fmt.Errorf("findings.slow_every: must be positive, got %s", c.Findings.SlowEvery))
	}
	if c.Findings.MaxResolved < 0 {
		errs = append(errs, fmt.Errorf("findings.max_resolved: must be ≥ 0, got %d", c.Findings.MaxResolved))
	}
	errs = append(errs, c.MCP.Validate())
	if c.API.GRPCListen == "" || c.API.HTTPListen == "" {
		errs = append(errs, errors.New("api.grpc_listen and api.http_listen: must not be empty"))
	}
	errs = append(errs, c.API.Config.Validate(), c.API.CheckListen("--insecure", c.API.GRPCListen, c.API.HTTPListen))
	if c.HotPartition.Sustain > c.Window.Span {
		errs = append(errs, fmt.Errorf("hot_partition.sustain: %s exceeds window.span %s kept in memory", c.HotPartition.Sustain, c.Window.Span))
	}
	if c.Lag.Window > c.Window.Span {
		errs = append(errs, fmt.Errorf("lag.window: %s exceeds window.span %s kept in memory", c.Lag.Window, c.Window.Span))
	}
	return errors.Join(errs...)
}

// LoadConfig reads path strictly over the defaults: an unknown key or a value
// of the wrong type is an error naming the file, line and key. The caller
// validates after applying flags.
func LoadConfig(path string) (Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		return Config{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig decodes YAML strictly over the defaults. It does not validate.
func ParseConfig(raw []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, nameKeys(raw, err)
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return Config{}, errors.New("more than one YAML document; want exactly one")
	}
	return cfg, nil
}

var lineRE = regexp.MustCompile("line (\\d+): (?:cannot unmarshal \\S+ `([^`]*)`|field (\\S+) not found)?")

// nameKeys adds the dotted key path to each "line N:" of a YAML error, so a
// wrong type says which key it is about, not only where.
func nameKeys(raw []byte, err error) error {
	var root yaml.Node
	if yaml.Unmarshal(raw, &root) != nil {
		return err
	}
	msg := lineRE.ReplaceAllStringFunc(err.Error(), func(m string) string {
		sub := lineRE.FindStringSubmatch(m)
		n, _ := strconv.Atoi(sub[1])
		if key := keyAtLine(&root, n, "", sub[2], sub[3]); key != "" {
			return strings.Replace(m, "line "+sub[1]+": ", fmt.Sprintf("line %d (%s): ", n, key), 1)
		}
		return m
	})
	return errors.New(msg)
}

// keyAtLine returns the dotted path of the deepest key on line n; with value
// or key given, only a key with that scalar value or that name matches.
func keyAtLine(node *yaml.Node, n int, prefix, value, key string) string {
	switch node.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for i, c := range node.Content {
			p := prefix
			if node.Kind == yaml.SequenceNode {
				p = fmt.Sprintf("%s[%d]", prefix, i)
			}
			if k := keyAtLine(c, n, p, value, key); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			k, v := node.Content[i], node.Content[i+1]
			path := k.Value
			if prefix != "" {
				path = prefix + "." + k.Value
			}
			if found := keyAtLine(v, n, path, value, key); found != "" {
				return found
			}
			onLine := k.Line == n || v.Line == n
			if onLine && (value == "" || v.Kind == yaml.ScalarNode && v.Value == value) && (key == "" || k.Value == key) {
				return path
			}
		}
	}
	return ""
}

// defaultHotConfig is detect's default with the sustain shortened to the
// default window span (10m): the reference's 15 m needs a 15 m window.
func defaultHotConfig() detect.HotConfig {
	c := detect.DefaultHotConfig()
	c.Sustain = 10 * time.Minute
	return c
}
