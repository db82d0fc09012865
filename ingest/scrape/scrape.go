// Package scrape reads a Kafka broker's jmx_exporter and node_exporter
// metrics (Prometheus text exposition, 0.0.4, or OpenMetrics text) and maps
// them to broker signals.
//
// # Contract
//
// Parse and Scrape return a flat slice of Sample values, one per exposed
// series that maps to a Signal; every other series is counted and skimmed
// (valid name, balanced label set, valid value) but not returned. A series
// that is absent yields no Sample: nothing is ever filled in with 0. A line
// that breaks the text format is skipped and reported in Result.Problems
// with its line number; the rest of the body is still used (partial success
// is explicit). An exposition with no well-formed sample line, a body over
// Options.MaxBytes, more sample lines than Options.MaxSeries, and for Scrape
// any transport, HTTP status or Content-Type failure, return an error and no
// samples: the caller records a gap for that broker. Scrape's errors are
// *ScrapeError naming the URL and classified by ScrapeError.Reason.
//
// The body is read in one pass through a 64 KiB buffer and never held whole:
// what a Sample keeps (series text, topic, request, mount) is copied out.
//
// Three naming profiles are detected from the families that map (see
// Profile): MBean case with a `name` label (Amazon MSK's jmx_exporter 0.12
// rules), Strimzi-style lower case, and node_exporter filesystem series.
// jmx_exporter 1.x's `_total` on counters is accepted in both Kafka profiles
// (Result.CounterTotalSuffix). The parser accepts jmx_exporter 0.x trailing
// commas in label sets, escaped quotes in label values, ±Inf and NaN, Java
// float spelling (5.7778761E7) and untyped families.
//
// A body that repeats a family's HELP or TYPE line is taken as several
// expositions concatenated (the captured MSK fixtures are two scrapes, one
// after the other): each becomes a Part, and duplicate detection restarts in
// each. A mapped series repeated within a part keeps its first value and is
// reported in Problems and Result.Duplicates.
//
// Parse and Scrape are safe for concurrent use; a Result is not shared.
//
// # Repeated scrapes
//
// A Scraper (scraper.go) polls one target and keeps its series between
// scrapes (cache.go): an exporter writes the same series, mostly in the same
// order, every time, so a line whose series text came in the previous body
// costs one comparison plus its value. Its results equal Scrape's, value for
// value (FuzzCache). It holds about 160 bytes per series plus their text
// between scrapes; see seriesCache for the bound.
//
// # Parser choice
//
// The parser is a line scanner written for this package (lex.go, lines.go,
// sample.go), held to prometheus/common/expfmt by a differential fuzz test:
// whenever expfmt accepts a body, Parse must accept every line and return
// expfmt's values bit for bit (FuzzParse). Measured with this package's
// benchmarks and the same loops over the two libraries, on 50 000-line
// generated bodies (mbean 4.9 MB, lowercase 4.2 MB) and the 25 654-line MSK
// fixture, wall ns per line on a shared 2-core machine with up to one core
// busy with other work (unloaded runs are about 15 % faster):
//
//	parser                                    mbean  lowercase  MSK fixture  allocs/line
//	expfmt TextParser, common v0.73.1         2 330  2 180      2 470        26–33
//	textparse PromParser v0.316.0, no labels  286    232        367          0.0003
//	  same, plus Labels() per series          619    511        700          2
//	this package, Parse                       232    188–208    245–264      0.006–0.04
//	this package, Scrape, loopback HTTP       337    271–281    –            0.009
//	  Parse, warm series cache                66     60         117          0.002–0.04
//	  Scraper, warm, loopback HTTP            107    104        –            0.004
//
// (The last two rows were measured on a less loaded machine, where Scrape
// took 332 and 259; the MSK fixture's second capture reorders a
// third of its lines, which the cache then finds by lookup.)
//
// expfmt builds a protobuf family for every series and stops at the first
// repeated HELP, so the two-scrape fixture must be split first; it misses
// the 200 ns/line budget tenfold. textparse streams without allocating, but
// its generated lexer alone costs more than this whole parser before a
// label is read, each Labels() call allocates twice, it stops at the first
// bad line, and it brings the Prometheus server module into go.mod. This
// parser meets the budget on the lowercase body and comes within 20 % of it
// on MBean-style lines, which are longer (97 bytes on average); Scrape adds
// the loopback transfer and, without Content-Length (chunked or gzip
// responses), the regrowth of Result.Samples. A Scraper meets the budget on
// both, gzip included, by not parsing again what did not change.
package scrape

import (
	"fmt"
	"io"
)

// Defaults of Options.
const (
	DefaultMaxSeries = 500_000  // sample lines per body; a 4 000-partition MSK broker exposes about 60 000
	DefaultMaxBytes  = 32 << 20 // body bytes after decompression; the busy MSK broker's scrape is 2 MB
	maxMaxBytes      = 1 << 30  // keeps arena offsets within uint32
)

// Options bound the work done on one body. The zero value means the defaults.
type Options struct {
	// MaxSeries is the cardinality guard: more well-formed sample lines than
	// this (mapped or not) fail the parse with *CardinalityError. 0 means
	// DefaultMaxSeries.
	MaxSeries int
	// MaxBytes limits the body, bytes after HTTP decompression; a larger body
	// fails with *TooLargeError. 0 means DefaultMaxBytes; at most 1 GiB.
	MaxBytes int64
}

// Validate reports options that cannot be used.
func (o Options) Validate() error {
	if o.MaxSeries < 0 {
		return fmt.Errorf("scrape: MaxSeries %d is negative", o.MaxSeries)
	}
	if o.MaxBytes < 0 || o.MaxBytes > maxMaxBytes {
		return fmt.Errorf("scrape: MaxBytes %d is outside 0..%d", o.MaxBytes, maxMaxBytes)
	}
	return nil
}

func (o Options) withDefaults() Options {
	if o.MaxSeries == 0 {
		o.MaxSeries = DefaultMaxSeries
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	return o
}

// Result is what one body yielded.
type Result struct {
	// Samples holds the mapped series in body order. Nil on error.
	Samples []Sample
	// Parts splits Samples by concatenated exposition; one part for a normal
	// response, none for an empty body.
	Parts []Part
	// Profile is the naming style detected from the mapped families.
	Profile Profile
	// CounterTotalSuffix is true when counters carried jmx_exporter 1.x's
	// extra `_total` (`..._count_total`).
	CounterTotalSuffix bool

	Lines      int         // lines in the body, blank and comment lines included
	Series     int         // well-formed sample lines, mapped or not, duplicates included
	Malformed  int         // lines that break the text format, all of them (unmapped lines are only skimmed)
	Duplicates int         // mapped series dropped because they repeated within a part
	Problems   []LineError // the first 100 problems in body order: malformed lines, duplicates, and mapped series with a partition label that is not a partition
	Bytes      int64       // body size, bytes after decompression
}

// Part is one exposition within a body.
type Part struct {
	Line       int // 1-based line where the part starts
	Start, End int // Samples[Start:End] belong to this part
}

// Part returns the samples of part i, or nil if there is no such part.
func (r *Result) Part(i int) []Sample {
	if i < 0 || i >= len(r.Parts) {
		return nil
	}
	return r.Samples[r.Parts[i].Start:r.Parts[i].End]
}

// Parse reads an exposition from r (at most opts.MaxBytes) and maps it to
// signals. See the package comment for what is an error and what is a
// per-line problem. On error the Result has no samples; its counters and
// Problems may still help diagnose the body.
func Parse(r io.Reader, opts Options) (Result, error) {
	if err := opts.Validate(); err != nil {
		return Result{}, err
	}
	opts = opts.withDefaults()
	hint := int64(-1)
	if l, ok := r.(interface{ Len() int }); ok {
		hint = int64(l.Len())
	}
	return parseFrom(r, opts, hint, nil)
}
