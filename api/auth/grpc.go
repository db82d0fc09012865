package auth

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net/http"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Metadata keys the REST gateway of this process sets on the calls it
// forwards to the in-process gRPC server.
const (
	mdGateway = "kwitness-gateway" // the guard's nonce
	mdCaller  = "kwitness-caller"  // the identity the HTTP middleware authenticated
	mdSurface = "kwitness-surface" // mcp when the call comes from an MCP tool
)

// ServerOptions returns the options of the public gRPC server: TLS
// credentials (when configured) and the interceptors that authenticate
// every call from its metadata or client certificate.
func (g *Guard) ServerOptions() []grpc.ServerOption {
	opts := []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(g.unary(g.publicCaller)),
		grpc.ChainStreamInterceptor(g.stream(g.publicCaller)),
	}
	if g.tls != nil {
		opts = append(opts, grpc.Creds(credentials.NewTLS(g.tls)))
	}
	return opts
}

// GatewayServerOptions returns the options of the in-process gRPC server
// only the REST gateway reaches: it trusts the caller the HTTP middleware
// authenticated, carried in metadata with this guard's nonce.
func (g *Guard) GatewayServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(g.unary(g.gatewayCaller)),
		grpc.ChainStreamInterceptor(g.stream(g.gatewayCaller)),
	}
}

// GatewayMetadata is the REST gateway's runtime.WithMetadata function: it
// forwards the caller the middleware authenticated and marks the request as
// audited on the gRPC side.
func (g *Guard) GatewayMetadata(ctx context.Context, _ *http.Request) metadata.MD {
	md := metadata.Pairs(mdGateway, g.nonce)
	if n, _ := ctx.Value(noteKey{}).(*auditNote); n != nil {
		n.mu.Lock()
		n.forwarded = true
		if n.surface == "mcp" {
			md.Set(mdSurface, "mcp")
		}
		n.mu.Unlock()
	}
	if id := FromContext(ctx); id != nil {
		md.Set(mdCaller, id.Name)
	}
	return md
}

// callerFunc authenticates a call and names the surface it came through.
type callerFunc func(ctx context.Context) (*Identity, string, error)

func (g *Guard) publicCaller(ctx context.Context) (*Identity, string, error) {
	var authz string
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md.Get("authorization"); len(v) > 0 {
			authz = v[0]
		}
	}
	var st *tls.ConnectionState
	if p, ok := peer.FromContext(ctx); ok {
		if ti, ok := p.AuthInfo.(credentials.TLSInfo); ok {
			st = &ti.State
		}
	}
	id, ok := g.identify(authz, st)
	if !ok {
		return nil, "grpc", errUnauthenticated
	}
	return id, "grpc", nil
}

func (g *Guard) gatewayCaller(ctx context.Context) (*Identity, string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	nonce := md.Get(mdGateway)
	if len(nonce) != 1 || subtle.ConstantTimeCompare([]byte(nonce[0]), []byte(g.nonce)) != 1 {
		return nil, "rest", errUnauthenticated
	}
	surface := "rest"
	if v := md.Get(mdSurface); len(v) == 1 && v[0] == "mcp" {
		surface = "mcp"
	}
	var name string
	if v := md.Get(mdCaller); len(v) == 1 {
		name = v[0]
	}
	id, ok := g.byName(name)
	if !ok {
		return nil, surface, errUnauthenticated
	}
	return id, surface, nil
}

// admit authenticates a call and checks its method; it returns the context
// handlers see.
func (g *Guard) admit(ctx context.Context, caller callerFunc, fullMethod string) (context.Context, *Identity, *auditNote, error) {
	id, surface, err := caller(ctx)
	ctx, note := withNote(ctx)
	note.surface = surface
	if err != nil {
		return ctx, nil, note, err
	}
	ctx = WithIdentity(ctx, id)
	if m := shortMethod(fullMethod); !id.AllowsMethod(m) {
		return ctx, id, note, status.Errorf(codes.PermissionDenied, "method %s: not in the scopes of %q", m, id.Name)
	}
	return ctx, id, note, nil
}

func (g *Guard) unary(caller callerFunc) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
		start := time.Now()
		ctx, id, note, err := g.admit(ctx, caller, info.FullMethod)
		if err == nil {
			resp, err = handler(ctx, req)
		}
		g.auditCall(start, id, info.FullMethod, req, countOf(resp), note, err)
		return resp, err
	}
}

func (g *Guard) stream(caller callerFunc) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		start := time.Now()
		ctx, id, note, err := g.admit(ss.Context(), caller, info.FullMethod)
		w := &countingStream{ServerStream: ss, ctx: ctx}
		if err == nil {
			var release func()
			if release, err = g.acquireWatch(callerName(id)); err == nil {
				err = handler(srv, w)
				release()
			}
		}
		g.auditCall(start, id, info.FullMethod, w.first, w.sent, note, err)
		return err
	}
}

// countingStream gives handlers the guarded context and counts messages.
type countingStream struct {
	grpc.ServerStream
	ctx   context.Context
	first any // the request, for the audit line's filter
	sent  int
}

func (s *countingStream) Context() context.Context { return s.ctx }

func (s *countingStream) SendMsg(m any) error {
	err := s.ServerStream.SendMsg(m)
	if err == nil {
		s.sent++
	}
	return err
}

func (s *countingStream) RecvMsg(m any) error {
	err := s.ServerStream.RecvMsg(m)
	if err == nil && s.first == nil {
		s.first = m
	}
	return err
}

func (g *Guard) auditCall(start time.Time, id *Identity, fullMethod string, req any, results int, note *auditNote, err error) {
	if g.audit == nil {
		return
	}
	n := note.snapshot()
	l := AuditLine{Time: start.UTC(), Caller: callerName(id), Surface: n.surface, Method: shortMethod(fullMethod),
		Filter: filterOf(req), Results: results, Withheld: n.withheld, Status: status.Code(err).String(), DurationMS: since(start)}
	if n.counted {
		l.Results = n.results
	}
	g.writeAudit(l)
}

func shortMethod(full string) string { return full[strings.LastIndexByte(full, '/')+1:] }

// auditedFields are the request fields an audit line's filter shows.
var auditedFields = map[protoreflect.Name]bool{
	"id": true, "state": true, "kind": true, "severity": true, "group": true, "topic": true,
	"broker": true, "series": true, "service": true, "finding_id": true,
}

// filterOf renders the subject filter fields of a request message.
func filterOf(req any) string {
	m, ok := req.(proto.Message)
	if !ok || m == nil {
		return ""
	}
	var b strings.Builder
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if !auditedFields[fd.Name()] || fd.IsList() || fd.IsMap() || fd.Message() != nil {
			return true
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%s=%s", fd.Name(), trunc(v.String()))
		return true
	})
	return b.String()
}

// countOf counts a response's results: the entries of its repeated fields,
// or 1 for a response without any.
func countOf(resp any) int {
	m, ok := resp.(proto.Message)
	if !ok || m == nil || !m.ProtoReflect().IsValid() {
		return 0
	}
	n, lists := 0, false
	m.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		if fd.IsList() {
			lists = true
			n += v.List().Len()
		}
		return true
	})
	if !lists {
		fields := m.ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			if fields.Get(i).IsList() {
				return 0
			}
		}
		return 1
	}
	return n
}
