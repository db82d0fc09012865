package auth

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"gopkg.in/natefinch/lumberjack.v2"
)

// AuditConfig is where audit lines go.
type AuditConfig struct {
	// File is "" (no audit log), "-" (standard output) or a path written
	// with size-based rotation.
	File       string `yaml:"file"`
	MaxSizeMB  int    `yaml:"max_size_mb"` // rotate at this size; default 100
	MaxBackups int    `yaml:"max_backups"` // rotated files kept; default 5
}

// DefaultAuditConfig returns the defaults documented on AuditConfig.
func DefaultAuditConfig() AuditConfig { return AuditConfig{MaxSizeMB: 100, MaxBackups: 5} }

// Validate reports invalid fields by YAML key.
func (c AuditConfig) Validate() error {
	if c.MaxSizeMB < 1 || c.MaxBackups < 0 {
		return fmt.Errorf("api.audit.max_size_mb must be ≥ 1 and max_backups ≥ 0, got %d and %d", c.MaxSizeMB, c.MaxBackups)
	}
	return nil
}

// AuditLine is one call, written as one JSON line. It never holds a token.
type AuditLine struct {
	Time       time.Time `json:"time"`
	Caller     string    `json:"caller"`             // token name, "cert:CN", or "" with auth off
	Surface    string    `json:"surface"`            // grpc, rest, http, mcp
	Method     string    `json:"method"`             // RPC name, MCP tool, or "GET /metrics"
	Filter     string    `json:"filter,omitempty"`   // the subject filter asked for, e.g. group=billing
	Results    int       `json:"results"`            // findings, rows, samples or events returned
	Withheld   int       `json:"withheld,omitempty"` // items cut by the caller's scope
	Status     string    `json:"status"`             // gRPC code name or HTTP status
	DurationMS float64   `json:"duration_ms"`
}

// Audit writes audit lines; safe for concurrent use. A nil *Audit writes
// nothing.
type Audit struct {
	mu sync.Mutex
	w  io.Writer
	c  io.Closer // nil for standard output
}

// NewAudit opens the audit destination of c; nil when c.File is "".
func NewAudit(c AuditConfig) (*Audit, error) {
	switch c.File {
	case "":
		return nil, nil
	case "-":
		return &Audit{w: os.Stdout}, nil
	}
	f, err := os.OpenFile(c.File, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("api.audit.file: %w", err)
	}
	f.Close()
	lj := &lumberjack.Logger{Filename: c.File, MaxSize: c.MaxSizeMB, MaxBackups: c.MaxBackups}
	return &Audit{w: lj, c: lj}, nil
}

// Write appends one line. A failed write is returned for the caller to log.
func (a *Audit) Write(l AuditLine) error {
	if a == nil {
		return nil
	}
	b, err := json.Marshal(l)
	if err != nil {
		return err
	}
	b = append(b, '\n')
	a.mu.Lock()
	defer a.mu.Unlock()
	_, err = a.w.Write(b)
	return err
}

// Close closes the file; safe to call twice and on nil.
func (a *Audit) Close() error {
	if a == nil || a.c == nil {
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.c.Close()
	a.c = nil
	return err
}

// auditNote is what a handler adds to the audit line of its call.
type auditNote struct {
	mu sync.Mutex
	noteFields
}

type noteFields struct {
	surface   string // http or mcp, from the path
	method    string
	filter    string
	results   int
	withheld  int
	counted   bool
	forwarded bool // the REST gateway forwarded the call: the gRPC side audits it
}

type noteKey struct{}

func withNote(ctx context.Context) (context.Context, *auditNote) {
	n := &auditNote{}
	return context.WithValue(ctx, noteKey{}, n), n
}

// Annotate sets what the audit line of the call in ctx records: the method
// (e.g. an MCP tool as "mcp/list_findings"; "" keeps the default), the
// subject filter and the number of results. Surfaces the gRPC interceptor
// does not see (MCP, HTML pages) call it; elsewhere it is a no-op.
func Annotate(ctx context.Context, method, filter string, results int) {
	n, _ := ctx.Value(noteKey{}).(*auditNote)
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if method != "" {
		n.method = method
	}
	n.filter, n.results, n.counted = filter, results, true
}

// Withheld adds k items cut by the caller's scope to the audit line of the
// call in ctx.
func Withheld(ctx context.Context, k int) {
	n, _ := ctx.Value(noteKey{}).(*auditNote)
	if n == nil || k == 0 {
		return
	}
	n.mu.Lock()
	n.withheld += k
	n.mu.Unlock()
}

func (n *auditNote) snapshot() noteFields {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.noteFields
}
