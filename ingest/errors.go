package ingest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// Error classes used as the `class` label of kwitness_ingest_errors_total.
const (
	ClassAuth        = "auth"
	ClassTimeout     = "timeout"
	ClassUnreachable = "unreachable"
	ClassKafka       = "kafka"
	ClassOther       = "other"
)

// Classify maps an error to one of the fixed error classes.
func Classify(err error) string {
	var ke *kerr.Error
	var ne net.Error
	var oe *net.OpError
	switch {
	case err == nil:
		return ""
	case isAuth(err):
		return ClassAuth
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return ClassTimeout
	case errors.As(err, &oe):
		return ClassUnreachable
	case errors.As(err, &ke):
		return ClassKafka
	}
	return ClassOther
}

func isAuth(err error) bool {
	for _, e := range []error{
		kerr.SaslAuthenticationFailed, kerr.GroupAuthorizationFailed, kerr.TopicAuthorizationFailed,
		kerr.ClusterAuthorizationFailed, kerr.IllegalSaslState, kerr.UnsupportedSaslMechanism,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// RequestError is a failed request of a sweep, naming the request and, when
// known, the broker it went to.
type RequestError struct {
	Request string // e.g. "OffsetFetch"
	Broker  string // "broker 2 (host:port)" or "" when unknown
	Subject string // e.g. `group "billing"`, or ""
	Err     error
}

func (e *RequestError) Error() string {
	var b strings.Builder
	b.WriteString(e.Request)
	if e.Subject != "" {
		b.WriteString(" for ")
		b.WriteString(e.Subject)
	}
	if e.Broker != "" {
		b.WriteString(" to ")
		b.WriteString(e.Broker)
	}
	b.WriteString(": ")
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *RequestError) Unwrap() error { return e.Err }

// requestErrors splits a kadm error into one RequestError per failed shard,
// so each names its broker.
func requestErrors(request, subject string, err error) []error {
	var se *kadm.ShardErrors
	if !errors.As(err, &se) || len(se.Errs) == 0 {
		return []error{&RequestError{Request: request, Subject: subject, Err: err}}
	}
	out := make([]error, 0, len(se.Errs))
	for _, s := range se.Errs {
		out = append(out, &RequestError{Request: request, Subject: subject, Broker: brokerName(s.Broker), Err: s.Err})
	}
	return out
}

func brokerName(b kadm.BrokerDetail) string {
	if b.NodeID < 0 && b.Host == "" {
		return ""
	}
	return fmt.Sprintf("broker %d (%s:%d)", b.NodeID, b.Host, b.Port)
}
