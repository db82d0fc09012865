package scrape

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// ErrNoSeries is wrapped by the error of a body that holds no well-formed
// sample line at all (empty, HTML, JSON, or every line malformed).
var ErrNoSeries = errors.New("no samples in exposition")

// LineError is one rejected line of an exposition. Parse keeps going after
// it; the line contributes no sample.
type LineError struct {
	Line int    // 1-based line number in the body
	Msg  string // what is wrong, with a quoted excerpt of the line
}

func (e *LineError) Error() string { return "line " + strconv.Itoa(e.Line) + ": " + e.Msg }

// CardinalityError reports a body with more sample lines than
// Options.MaxSeries. No samples are returned with it.
type CardinalityError struct {
	Limit int // Options.MaxSeries in force
	Count int // sample lines in the body (counted to the end, malformed ones included)
}

func (e *CardinalityError) Error() string {
	return fmt.Sprintf("cardinality limit: %d series exceed the limit of %d", e.Count, e.Limit)
}

// TooLargeError reports a body larger than Options.MaxBytes.
type TooLargeError struct {
	Limit int64 // Options.MaxBytes in force, bytes
	Size  int64 // declared Content-Length, or -1 when the limit was hit while reading
}

func (e *TooLargeError) Error() string {
	if e.Size >= 0 {
		return fmt.Sprintf("body of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
	}
	return fmt.Sprintf("body exceeds the limit of %d bytes", e.Limit)
}

// StatusError reports a non-200 HTTP response.
type StatusError struct {
	Code   int    // HTTP status code
	Status string // HTTP status line, e.g. "500 Internal Server Error"
}

func (e *StatusError) Error() string { return "unexpected HTTP status " + e.Status }

// ContentTypeError reports a response whose Content-Type is not the
// Prometheus text format nor OpenMetrics text.
type ContentTypeError struct {
	ContentType string // as received; "" when the header was missing
}

func (e *ContentTypeError) Error() string {
	if e.ContentType == "" {
		return "missing Content-Type, want text/plain or application/openmetrics-text"
	}
	return fmt.Sprintf("unsupported Content-Type %q, want text/plain or application/openmetrics-text", e.ContentType)
}

// ScrapeError is the error of every failed Scrape. A failed scrape returns no
// samples: the caller records a gap for the target, never zeros.
type ScrapeError struct {
	URL      string
	BrokerID int32
	Err      error // *StatusError, *ContentTypeError, *TooLargeError, *CardinalityError, ErrNoSeries, context or net errors
}

func (e *ScrapeError) Error() string { return "scrape " + e.URL + ": " + e.Err.Error() }

func (e *ScrapeError) Unwrap() error { return e.Err }

// Reason classifies the failure into a small fixed set for metric labels:
// timeout, canceled, connect, status, content_type, too_large, cardinality,
// no_series, request or read.
func (e *ScrapeError) Reason() string {
	var (
		status *StatusError
		ctype  *ContentTypeError
		large  *TooLargeError
		card   *CardinalityError
		netErr net.Error
		opErr  *net.OpError
	)
	switch {
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(e.Err, context.Canceled):
		return "canceled"
	case errors.As(e.Err, &status):
		return "status"
	case errors.As(e.Err, &ctype):
		return "content_type"
	case errors.As(e.Err, &large):
		return "too_large"
	case errors.As(e.Err, &card):
		return "cardinality"
	case errors.Is(e.Err, ErrNoSeries):
		return "no_series"
	case errors.As(e.Err, &opErr) && opErr.Op == "dial":
		return "connect"
	case errors.As(e.Err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(e.Err, errRequest):
		return "request"
	}
	return "read"
}

// errRequest marks failures to build the request (bad URL).
var errRequest = errors.New("invalid request")
