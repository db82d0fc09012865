package auth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Open paths need no credential: liveness and readiness probes.
var openPaths = map[string]bool{"/healthz": true, "/readyz": true}

// Middleware guards the whole HTTP mux: it rejects malformed requests
// (invalid UTF-8 in the path or query: 400; a body over
// api.limits.max_body_bytes: 413, without reading it whole), authenticates
// every path but /healthz and /readyz (401), requires the metrics scope for
// /metrics and the admin scope for /v1/status (403), puts the caller in the
// request context for the handlers and writes one audit line per request the
// REST gateway does not forward to gRPC (where the gRPC side audits it).
func (g *Guard) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if openPaths[r.URL.Path] {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		ctx, note := withNote(r.Context())
		note.surface = surfaceOf(r.URL.Path)
		r = r.WithContext(ctx)
		id, ok := g.serveGuarded(rec, r)
		if ok {
			r = r.WithContext(WithIdentity(r.Context(), id))
			next.ServeHTTP(rec, r)
		}
		if n := note.snapshot(); !n.forwarded {
			g.auditHTTP(start, r, id, rec.status, n)
		}
	})
}

// serveGuarded checks the request; when it fails it writes the error and
// returns ok false.
func (g *Guard) serveGuarded(w http.ResponseWriter, r *http.Request) (*Identity, bool) {
	if err := checkUTF8(r.URL); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return nil, false
	}
	if !g.limitBody(w, r) {
		return nil, false
	}
	id, ok := g.identify(r.Header.Get("Authorization"), r.TLS)
	if !ok {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kwitness"`)
		http.Error(w, status401, http.StatusUnauthorized)
		return nil, false
	}
	switch {
	case r.URL.Path == "/metrics" && !id.AllowsMetrics():
		http.Error(w, fmt.Sprintf("/metrics: %q has no metrics scope", id.Name), http.StatusForbidden)
		return id, false
	case r.URL.Path == "/v1/status" && !id.Admin():
		http.Error(w, fmt.Sprintf("/v1/status: %q has no admin scope", id.Name), http.StatusForbidden)
		return id, false
	}
	return id, true
}

const status401 = "authentication required: send Authorization: Bearer <token> (a token of api.tokens_file) or a client certificate of api.tls.client_ca_file"

// checkUTF8 rejects a path or query that does not decode to UTF-8: the
// gateway cannot put such a value in a protobuf string.
func checkUTF8(u *url.URL) error {
	if !utf8.ValidString(u.Path) {
		return errors.New("request path: not valid UTF-8")
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return fmt.Errorf("query: %v", err)
	}
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return errors.New("query: a parameter name is not valid UTF-8")
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return fmt.Errorf("query parameter %s: not valid UTF-8", strconv.Quote(k))
			}
		}
	}
	return nil
}

// limitBody rejects a body over the limit: at once from Content-Length, or
// while reading one of unknown length (never reading past the limit). The
// body handed on is the buffered one.
func (g *Guard) limitBody(w http.ResponseWriter, r *http.Request) bool {
	if r.Body == nil || r.Body == http.NoBody {
		return true
	}
	max := g.cfg.Limits.MaxBodyBytes
	tooLarge := func() bool {
		http.Error(w, fmt.Sprintf("request body exceeds %d bytes (api.limits.max_body_bytes)", max), http.StatusRequestEntityTooLarge)
		return false
	}
	if r.ContentLength > max {
		return tooLarge()
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe):
		return tooLarge()
	case err != nil:
		http.Error(w, "request body: "+err.Error(), http.StatusBadRequest)
		return false
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return true
}

func (g *Guard) auditHTTP(start time.Time, r *http.Request, id *Identity, code int, n noteFields) {
	if g.audit == nil {
		return
	}
	surface, method := n.surface, r.Method+" "+r.URL.Path
	if n.method != "" {
		method = n.method
	}
	g.writeAudit(AuditLine{Time: start.UTC(), Caller: callerName(id), Surface: surface, Method: trunc(method),
		Filter: n.filter, Results: n.results, Withheld: n.withheld, Status: strconv.Itoa(code), DurationMS: since(start)})
}

// surfaceOf names the surface of an HTTP path for the audit log.
func surfaceOf(path string) string {
	if path == "/mcp" || strings.HasPrefix(path, "/mcp/") {
		return "mcp"
	}
	return "http"
}

// statusRecorder records the status a handler writes; it passes Flush on
// for streaming responses.
type statusRecorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusRecorder) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
