package scrape

import (
	"context"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"
)

// DefaultTimeout bounds a whole scrape (connect, headers and body) when
// Target.Timeout is 0. Prometheus' default scrape_timeout is also 10 s.
const DefaultTimeout = 10 * time.Second

// acceptHeader asks for the Prometheus text format first. OpenMetrics text is
// accepted as a fallback; protobuf is not parsed, so it is not offered.
const acceptHeader = "text/plain;version=0.0.4;q=1,application/openmetrics-text;version=1.0.0;q=0.5"

// Target is one metrics endpoint of one broker.
type Target struct {
	URL      string        // e.g. http://b-1.example:11001/metrics
	BrokerID int32         // Kafka broker id, carried into ScrapeError
	Timeout  time.Duration // whole-request bound; 0 means DefaultTimeout
}

// Scrape GETs t.URL with client (http.DefaultClient when nil) and parses the
// response. Any failure, including a body with no sample, returns a
// *ScrapeError and an empty Result: record a gap, never zeros. A body with
// some malformed lines succeeds with Result.Problems set.
func Scrape(ctx context.Context, client *http.Client, t Target, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, &ScrapeError{URL: t.URL, BrokerID: t.BrokerID, Err: err}
	}
	res, err := scrape(ctx, client, t, opts.withDefaults(), nil)
	if err != nil {
		return Result{}, &ScrapeError{URL: t.URL, BrokerID: t.BrokerID, Err: err}
	}
	return res, nil
}

// scrape does one scrape; c is the target's series cache, or nil.
func scrape(ctx context.Context, client *http.Client, t Target, opts Options, c *seriesCache) (Result, error) {
	timeout := t.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	resp, err := get(ctx, client, t.URL, timeout)
	if err != nil {
		return Result{}, err
	}
	defer drainClose(resp.Body)
	if err := checkResponse(resp, opts.MaxBytes); err != nil {
		return Result{}, err
	}
	return parseFrom(resp.Body, opts, resp.ContentLength, c)
}

// get sends the request. timeout is advertised to the exporter the way
// Prometheus does, in seconds.
func get(ctx context.Context, client *http.Client, url string, timeout time.Duration) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errRequest, err)
	}
	req.Header.Set("Accept", acceptHeader)
	req.Header.Set("User-Agent", "kwitness-scrape")
	req.Header.Set("X-Prometheus-Scrape-Timeout-Seconds", strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	if client == nil {
		client = http.DefaultClient
	}
	return client.Do(req)
}

// checkResponse rejects a non-200 status, a Content-Type that is not text
// exposition, and a declared Content-Length over limit bytes.
func checkResponse(resp *http.Response, limit int64) error {
	if resp.StatusCode != http.StatusOK {
		return &StatusError{Code: resp.StatusCode, Status: resp.Status}
	}
	ct := resp.Header.Get("Content-Type")
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || (mt != "text/plain" && mt != "application/openmetrics-text") {
		return &ContentTypeError{ContentType: ct}
	}
	if resp.ContentLength > limit {
		return &TooLargeError{Limit: limit, Size: resp.ContentLength}
	}
	return nil
}

// drainClose reads a little of what is left so the connection can be
// reused, then closes the body.
func drainClose(b io.ReadCloser) {
	_, _ = io.CopyN(io.Discard, b, 4<<10)
	_ = b.Close()
}
