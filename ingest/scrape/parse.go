package scrape

import (
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"slices"
	"strings"
)

// maxProblems bounds Result.Problems; Result.Malformed keeps the full count.
const maxProblems = 100

// Bits of parser.declared: which metadata lines a family had in this part.
const (
	declHelp uint8 = 1 << iota
	declType
)

// errTooManySeries stops the line loop when Options.MaxSeries is exceeded.
var errTooManySeries = errors.New("too many series")

// parser holds the state of one Parse call. It is not reused. Strings of the
// current line are views of the read buffer: whatever outlives the line
// (map keys, the family cache, Sample strings) is copied first.
type parser struct {
	res       Result
	maxSeries int
	line      int // 1-based number of the line being parsed

	labels []label // labels of the current line, reused
	last   struct {
		name  []byte // last family name looked up (a copy)
		f     *family
		total bool
	}
	interned struct{ topic, request, mount string } // last interned value per field
	cache    *seriesCache                           // nil: every line is parsed in full

	declared map[string]uint8  // HELP/TYPE lines seen per family in the current part
	index    seriesSet         // series hash → sample index, mapped series of the current part
	seed     maphash.Seed      // of the series hashes
	strs     map[string]string // interned label values
	arena    arena             // copies of the kept series text
	votes    [numProfiles]int  // mapped series per profile
}

// bodyBytesPerSample guesses the initial capacity of Result.Samples from a
// known body size: the MSK fixture has 8 216 mapped samples in 2.4 MB (300
// bytes each), the generated bodies 27 000–29 000 in 4.2–4.9 MB (145–180).
// Samples double from there when short; finish trims a large overestimate.
const (
	bodyBytesPerSample = 128
	minSamples         = 256
)

// newParser sizes Result.Samples from the body size, or from the samples of
// the cache's last parse, which also does duplicate detection for the
// series it holds.
func newParser(opts Options, sizeHint int64, c *seriesCache) *parser {
	n := max(int(min(max(sizeHint, 0), opts.MaxBytes)/bodyBytesPerSample), minSamples)
	indexed := n
	if c != nil {
		c.begin(opts, sizeHint)
		if c.samplesN > 0 {
			n = max(c.samplesN+c.samplesN/8, minSamples) // room for some new series
		}
		indexed = 0
	}
	return &parser{
		res:       Result{Samples: make([]Sample, 0, n)},
		maxSeries: opts.MaxSeries,
		cache:     c,
		declared:  make(map[string]uint8),
		index:     newSeriesSet(indexed),
		seed:      maphash.MakeSeed(),
		strs:      make(map[string]string),
	}
}

// parseFrom reads an exposition from r, at most opts.MaxBytes of it, and
// parses it line by line. sizeHint is the body size in bytes, or -1. c,
// when not nil, is the cache of the target's earlier bodies.
func parseFrom(r io.Reader, opts Options, sizeHint int64, c *seriesCache) (Result, error) {
	p := newParser(opts, sizeHint, c)
	lines := newLineReader(r, opts.MaxBytes, sizeHint)
	for {
		ln, err := lines.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return Result{}, fmt.Errorf("read body: %w", err)
		}
		if lines.overLimit() { // fail fast: the rest of the body is not read
			return Result{}, &TooLargeError{Limit: opts.MaxBytes, Size: -1}
		}
		if err := p.parseLine(ln); err != nil {
			return Result{}, p.tooManySeries(lines, opts.MaxBytes)
		}
	}
	p.res.Bytes = opts.MaxBytes + 1 - lines.lr.N
	res, err := p.finish()
	if err == nil && c != nil {
		c.end(len(res.Samples))
	}
	return res, err
}

// tooManySeries counts the sample lines left after the limit was crossed
// and returns the error that reports them.
func (p *parser) tooManySeries(lines *lineReader, maxBytes int64) error {
	count := p.res.Series
	for {
		ln, err := lines.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("read body: %w", err)
		}
		if i := skipBlank(ln.text, 0); ln.tooLong || i < len(ln.text) && ln.text[i] != '#' {
			count++
		}
	}
	if lines.overLimit() {
		return &TooLargeError{Limit: maxBytes, Size: -1}
	}
	return &CardinalityError{Limit: p.maxSeries, Count: count}
}

// parseLine handles one line. Its only error is errTooManySeries.
func (p *parser) parseLine(ln line) error {
	p.line++
	p.res.Lines++
	if p.line == 1 {
		p.res.Parts = append(p.res.Parts, Part{Line: 1})
	}
	s := ln.text[skipBlank(ln.text, 0):]
	switch {
	case ln.tooLong:
		p.problem(fmt.Sprintf("line longer than %d bytes", maxLineBytes), "")
		return nil
	case s == "":
		return nil
	case s[0] == '#':
		p.comment(s)
		return nil
	case !ln.terminated:
		p.problem("sample line not terminated by a newline (truncated body?)", s)
		return nil
	}
	return p.sample(s)
}

// problem records a malformed line.
func (p *parser) problem(msg, ln string) {
	p.res.Malformed++
	if ln != "" {
		msg += ": " + excerpt(ln)
	}
	p.addProblem(msg)
}

// addProblem records a problem at the current line, up to maxProblems.
func (p *parser) addProblem(msg string) {
	if len(p.res.Problems) < maxProblems {
		p.res.Problems = append(p.res.Problems, LineError{Line: p.line, Msg: msg})
	}
}

// comment handles a line starting with '#': HELP and TYPE are checked and
// tracked for part splitting, any other comment is ignored.
func (p *parser) comment(s string) {
	kw := trimToken(s[1:])
	var kind uint8
	switch kw.tok {
	case "HELP":
		kind = declHelp
	case "TYPE":
		kind = declType
	default:
		return
	}
	rest := kw.rest
	if rest == "" {
		return // "# HELP" alone is a plain comment, as in expfmt
	}
	n := scanName(rest)
	if n == 0 || n < len(rest) && charClass[rest[n]]&cBlank == 0 {
		p.problem("invalid metric name in # "+kw.tok, s)
		return
	}
	text := strings.Trim(rest[n:], " \t")
	if text == "" {
		return // no help text or type: a no-op, as in expfmt
	}
	if kind == declType && !validType(text) {
		p.problem("invalid metric type", s)
		return
	}
	p.declare(rest[:n], kind)
}

type token struct{ tok, rest string }

// trimToken returns the first blank-separated token of s and what follows it,
// with blanks trimmed on the left of both.
func trimToken(s string) token {
	i := skipBlank(s, 0)
	j := tokenEnd(s, i)
	return token{tok: s[i:j], rest: s[skipBlank(s, j):]}
}

// declare notes a HELP or TYPE line. A second one of the same kind for the
// same family means a second exposition was appended to the first (the
// captured fixtures are two scrapes concatenated): a new Part starts here.
func (p *parser) declare(name string, kind uint8) {
	seen := p.declared[name]
	if seen&kind != 0 {
		p.newPart()
		seen = 0
	}
	// Assigning a string key stores the new key, so always store a copy:
	// name is a view of the read buffer. Two copies per family.
	p.declared[strings.Clone(name)] = seen | kind
}

// newPart closes the current part at this line and opens the next.
func (p *parser) newPart() {
	n := len(p.res.Samples)
	p.res.Parts[len(p.res.Parts)-1].End = n
	p.res.Parts = append(p.res.Parts, Part{Line: p.line, Start: n})
	clear(p.declared)
	p.index.reset()
	if p.cache != nil {
		p.cache.newPart()
	}
}

// finish settles the last part, the profile and the final error.
func (p *parser) finish() (Result, error) {
	r := &p.res
	if len(r.Parts) > 0 {
		r.Parts[len(r.Parts)-1].End = len(r.Samples)
	}
	r.Profile = detect(p.votes)
	if n := len(r.Samples); cap(r.Samples)-n > n/2 && cap(r.Samples) > minSamples {
		r.Samples = slices.Clone(r.Samples) // do not keep a third or more of unused capacity
	}
	if r.Series == 0 {
		r.Samples = nil
		return *r, noSeries(r)
	}
	return *r, nil
}

// detect picks the profile with the most mapped series; MBean wins a tie.
func detect(v [numProfiles]int) Profile {
	switch {
	case v[ProfileMBean] > 0 && v[ProfileMBean] >= v[ProfileLowercase]:
		return ProfileMBean
	case v[ProfileLowercase] > 0:
		return ProfileLowercase
	case v[ProfileNode] > 0:
		return ProfileNode
	}
	return ProfileUnknown
}

// noSeries is the error of a body without a single well-formed sample line.
func noSeries(r *Result) error {
	if len(r.Problems) == 0 {
		return fmt.Errorf("%w (%d lines)", ErrNoSeries, r.Lines)
	}
	return fmt.Errorf("%w (%d lines, %d malformed; first: %w)", ErrNoSeries, r.Lines, r.Malformed, &r.Problems[0])
}
