package auth

import (
	"crypto/rand"
	"crypto/tls"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Guard authenticates callers, enforces scopes and limits and writes the
// audit log for every surface. Safe for concurrent use.
type Guard struct {
	cfg    Config
	log    *slog.Logger
	tokens *tokenSource // nil without a tokens file
	tls    *tls.Config  // nil without TLS
	audit  *Audit       // nil without an audit log
	nonce  string       // marks calls forwarded by this process's REST gateway

	mu struct {
		sync.Mutex
		watches map[string]int // open streams per caller name
	}
}

// New builds a guard: it loads the tokens file, the certificate and the
// client CA and opens the audit log. Close releases the audit log.
func New(cfg Config, log *slog.Logger) (*Guard, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	g := &Guard{cfg: cfg, log: log}
	g.mu.watches = map[string]int{}
	var b [16]byte
	rand.Read(b[:])
	g.nonce = fmt.Sprintf("%x", b)
	onErr := func(err error) { log.Error("api: reload", "err", err) }
	var err error
	if cfg.TokensFile != "" {
		if g.tokens, err = newTokenSource(cfg.TokensFile, onErr); err != nil {
			return nil, err
		}
	}
	if g.tls, err = serverTLS(cfg.TLS, onErr); err != nil {
		return nil, err
	}
	if g.audit, err = NewAudit(cfg.Audit); err != nil {
		return nil, err
	}
	if cfg.Insecure && !(cfg.Enabled() && cfg.TLSEnabled()) {
		log.Warn("api: running with --insecure: the API may be reachable without TLS or authentication", "tls", cfg.TLSEnabled(), "auth", cfg.Enabled())
	}
	return g, nil
}

// Close closes the audit log. Safe to call twice.
func (g *Guard) Close() error { return g.audit.Close() }

// TLSConfig returns the listeners' TLS configuration; nil without TLS.
func (g *Guard) TLSConfig() *tls.Config { return g.tls }

// Limits returns the configured limits.
func (g *Guard) Limits() Limits { return g.cfg.Limits }

// Enabled reports whether callers must authenticate.
func (g *Guard) Enabled() bool { return g.cfg.Enabled() }

// errUnauthenticated never echoes the credential presented.
var errUnauthenticated = status.Error(codes.Unauthenticated, status401)

// identify returns the caller of a bearer header value and, when TLS
// verified one, the client certificate; ok is false when auth is on and
// neither names a configured identity.
func (g *Guard) identify(authorization string, state *tls.ConnectionState) (*Identity, bool) {
	if !g.cfg.Enabled() {
		return nil, true
	}
	var toks *Tokens
	if g.tokens != nil {
		toks = g.tokens.get()
	}
	if tok, ok := bearer(authorization); ok {
		id := toks.ByToken(tok)
		return id, id != nil
	}
	if state != nil && len(state.VerifiedChains) > 0 && len(state.VerifiedChains[0]) > 0 {
		if id := toks.ByCertCN(state.VerifiedChains[0][0].Subject.CommonName); id != nil {
			return id, true
		}
	}
	return nil, false
}

// byName returns the identity named name (the REST gateway's forwarded
// caller).
func (g *Guard) byName(name string) (*Identity, bool) {
	if !g.cfg.Enabled() {
		return nil, true
	}
	if g.tokens == nil {
		return nil, false
	}
	id := g.tokens.get().byName[name]
	return id, id != nil
}

func bearer(h string) (string, bool) {
	const p = "bearer "
	if len(h) <= len(p) || !strings.EqualFold(h[:len(p)], p) {
		return "", false
	}
	return strings.TrimSpace(h[len(p):]), true
}

// acquireWatch counts an open stream of caller; release undoes it.
func (g *Guard) acquireWatch(caller string) (release func(), err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.mu.watches[caller] >= g.cfg.Limits.WatchesPerCaller {
		return nil, status.Errorf(codes.ResourceExhausted, "watch streams: at most %d open per caller (api.limits.watches_per_caller)", g.cfg.Limits.WatchesPerCaller)
	}
	g.mu.watches[caller]++
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.mu.watches[caller]--; g.mu.watches[caller] == 0 {
				delete(g.mu.watches, caller)
			}
		})
	}, nil
}

func (g *Guard) writeAudit(l AuditLine) {
	if err := g.audit.Write(l); err != nil {
		g.log.Error("api: audit log write", "err", err)
	}
}

func callerName(id *Identity) string {
	if id == nil {
		return ""
	}
	return id.Name
}

func since(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
