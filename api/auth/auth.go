// Package auth guards every API surface of kwitness: who is calling
// (bearer token or client certificate), what they may see (scopes), what
// they did (audit log) and how much they may ask for (limits).
//
// The contract:
//   - Authentication is generic: a gRPC unary and stream interceptor pair
//     (Interceptors) and one HTTP middleware around the whole HTTP mux
//     (Guard.Middleware). Both put the caller's *Identity in the context;
//     handlers on any surface read it with FromContext and ask Allows,
//     AllowsMethod or VisibleSubject — the same check everywhere.
//   - With auth off (no tokens file), FromContext returns
//     nil and every check allows: a nil *Identity is the unrestricted
//     identity. With auth on, a request without a valid credential never
//     reaches a handler: gRPC Unauthenticated, HTTP 401. /healthz and /readyz
//     stay open; /metrics needs the metrics scope.
//   - Tokens are stored only as SHA-256 hashes (TokenFile), compared in
//     constant time. A token or a secret is never logged or audited: the
//     audit line carries the token's name.
//   - Scopes are glob patterns (* and ?), never regular expressions:
//     "group:team-a-*", "topic:team-a-*", "broker:1?", "method:List*",
//     "admin" (sees and may call everything) and "metrics" (may read
//     /metrics). A non-admin identity sees a subject only when every group,
//     topic and broker it names matches one of the identity's patterns of
//     that kind; a subject naming none of them (cluster-wide) is admin-only.
package auth

import (
	"context"
	"strconv"

	"github.com/kwitness/kwitness/detect"
)

// Kind is a kind of subject a scope pattern applies to.
type Kind uint8

// Subject kinds.
const (
	Group Kind = iota + 1
	Topic
	Broker
	Method
)

var kindNames = map[string]Kind{"group": Group, "topic": Topic, "broker": Broker, "method": Method}

func (k Kind) String() string {
	for n, v := range kindNames {
		if v == k {
			return n
		}
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Identity is an authenticated caller. A nil *Identity is the caller when
// auth is off: it may do everything. Identities are immutable.
type Identity struct {
	Name  string // the tokens file entry's name (token or client certificate)
	Scope Scope
}

type ctxKey struct{}

// WithIdentity returns ctx carrying id.
func WithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the caller of ctx; nil when auth is off.
func FromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(ctxKey{}).(*Identity)
	return id
}

// Admin reports whether id may see everything (nil: auth off).
func (id *Identity) Admin() bool { return id == nil || id.Scope.Admin }

// Allows reports whether id may see subjects of kind named name.
func (id *Identity) Allows(k Kind, name string) bool {
	return id.Admin() || id.Scope.allows(k, name)
}

// AllowsMethod reports whether id may call method, named without service
// ("ListFindings", "Explain", "mcp/list_findings").
func (id *Identity) AllowsMethod(method string) bool {
	return id.Admin() || id.Scope.allowsMethod(method)
}

// AllowsMetrics reports whether id may read /metrics.
func (id *Identity) AllowsMetrics() bool { return id.Admin() || id.Scope.Metrics }

// VisibleSubject reports whether id may see a subject naming group, topic
// and broker ("" and a negative broker: not named). A subject naming none is
// cluster-wide and visible to admins only.
func (id *Identity) VisibleSubject(group, topic string, broker int32) bool {
	if id.Admin() {
		return true
	}
	if group == "" && topic == "" && broker < 0 {
		return false
	}
	return (group == "" || id.Allows(Group, group)) &&
		(topic == "" || id.Allows(Topic, topic)) &&
		(broker < 0 || id.Allows(Broker, strconv.Itoa(int(broker))))
}

// VisibleSeries reports whether id may see a series with these labels: its
// group, topic and broker labels are judged as a subject (VisibleSubject).
func (id *Identity) VisibleSeries(labels []detect.Label) bool {
	if id.Admin() {
		return true
	}
	group, topic, broker := "", "", int32(-1)
	for _, l := range labels {
		switch l.Name {
		case "group":
			group = l.Value
		case "topic":
			topic = l.Value
		case "broker":
			b, err := strconv.ParseInt(l.Value, 10, 32)
			if err != nil || b < 0 {
				return false
			}
			broker = int32(b)
		}
	}
	return id.VisibleSubject(group, topic, broker)
}

// Allows reports whether the caller of ctx may see subjects of kind k named
// name. It is the check every surface uses (explain bundles, plans, MCP
// tools, HTML pages).
func Allows(ctx context.Context, k Kind, name string) bool { return FromContext(ctx).Allows(k, name) }

// AllowsMethod reports whether the caller of ctx may call method.
func AllowsMethod(ctx context.Context, method string) bool {
	return FromContext(ctx).AllowsMethod(method)
}

// VisibleSubject reports whether the caller of ctx may see the subject; see
// Identity.VisibleSubject.
func VisibleSubject(ctx context.Context, group, topic string, broker int32) bool {
	return FromContext(ctx).VisibleSubject(group, topic, broker)
}
