package scrape

import (
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// label is one label of the current line; both strings are views of the
// line and die with it.
type label struct {
	name, value string
	escaped     bool // value holds backslash escapes
}

// sample parses `name[{labels}] value [timestamp]` and maps it. Its only
// error is errTooManySeries.
//
// Lines that cannot map to a signal (an unknown family, or an MBean family
// whose leading `name` label no signal reads) are skimmed: name, balanced
// label set and value are checked, label names and values are not. That
// halves the cost of the two thirds of jmx_exporter lines kwitness ignores.
//
// With a series cache, a line whose series text the cache holds goes
// straight to its value (predicted); any other line is parsed as above and
// then added to the cache (cachedSample).
func (p *parser) sample(s string) error {
	var key lineKey
	if p.cache != nil {
		i := p.cache.predict(s)
		if i < 0 {
			i, key = p.cache.lookup(s)
		}
		if i >= 0 {
			return p.predicted(s, i)
		}
	}
	n := scanName(s)
	if n == 0 {
		p.problem("invalid metric name", s)
		return nil
	}
	f, total := p.family(s[:n])
	mapped := f != nil && !f.unmappedName(s[n:])
	p.labels = p.labels[:0]
	seriesEnd, i, msg := n, skipBlank(s, n), ""
	switch {
	case i < len(s) && s[i] == '{' && mapped:
		seriesEnd, msg = p.scanLabels(s, i+1)
	case i < len(s) && s[i] == '{':
		seriesEnd, msg = skimLabels(s, i+1)
	case i == n && i < len(s):
		// expfmt reads `a+1` as a value right after the name; anything else
		// is a bad name.
		if _, ok := parseValue(s[i:tokenEnd(s, i)]); !ok {
			msg = fmt.Sprintf("invalid character %q in metric name", s[i])
		}
	}
	if msg != "" {
		p.problem(msg, s)
		return nil
	}
	v, msg := valueAndTimestamp(s, skipBlank(s, max(seriesEnd, i)), mapped)
	if msg != "" {
		p.problem(msg, s)
		return nil
	}
	p.res.Series++
	if p.res.Series > p.maxSeries {
		return errTooManySeries
	}
	switch {
	case p.cache != nil:
		p.cachedSample(f, total, s[:seriesEnd], mapped, v, key)
	case mapped:
		p.mapSample(f, total, s[:seriesEnd], v)
	}
	return nil
}

// predicted finishes sample line s, whose series text is that of cache
// entry i (predicted or looked up): only the value and timestamp are left
// to parse.
func (p *parser) predicted(s string, i int32) error {
	e := &p.cache.entries[i]
	v, msg := valueAndTimestamp(s, skipBlank(s, len(e.tmpl.Series)), e.want)
	if msg != "" {
		p.problem(msg, s)
		return nil
	}
	p.res.Series++
	if p.res.Series > p.maxSeries {
		return errTooManySeries
	}
	p.use(i, v)
	return nil
}

// cachedSample handles a well-formed line the cache does not hold (key,
// from lookup, names its series text when lookup could tell): it adds the
// entry of its series text, then uses it. A line the cache has no room for,
// or that cannot be cached, takes the uncached way.
func (p *parser) cachedSample(f *family, total bool, series string, want bool, v float64, key lineKey) {
	i := int32(-1)
	if key.n != len(series) { // not looked up
		key.h = p.cache.hash(series)
		i = p.cache.find(series, key.h)
	}
	if i == -1 && p.cache.room(series) {
		if e, ok := p.entry(f, total, series, want); ok {
			i = p.cache.add(e, series, key.h)
		}
	}
	switch {
	case i >= 0:
		p.use(i, v)
	case want:
		p.mapSample(f, total, series, v)
	}
}

// entry builds the cache entry of a well-formed line of family f (nil when
// unknown); want says whether the line is mapped. ok is false for a line
// that cannot be cached: its partition label is not a partition.
func (p *parser) entry(f *family, total bool, series string, want bool) (e cacheEntry, ok bool) {
	e.want = want
	if !want {
		return e, true
	}
	s, msg := p.resolve(f, series)
	if msg != "" {
		return e, false
	}
	e.tmpl, e.keep, e.total, e.prof = s, s.Signal != SignalUnknown, total, f.profile
	return e, true
}

// use takes cache entry i for the current line, of value v: the entry's
// sample is kept unless the series already came in this part.
func (p *parser) use(i int32, v float64) {
	e, again := p.cache.visit(i)
	switch {
	case !e.keep: // skimmed, or mapped to no signal: counted only
	case again:
		p.duplicateOf(e.tmpl.Series, e.sample)
	default:
		s := e.tmpl
		s.Value = v
		e.sample = int32(len(p.res.Samples))
		p.keep(s, e.prof, e.total)
	}
}

// unmappedName reports a label set whose first label is `name` with a value
// that no signal of f reads. jmx_exporter writes `name` first; any other
// shape returns false and gets the full scan.
func (f *family) unmappedName(rest string) bool {
	const prefix = `{name="`
	if f.byName == nil || !strings.HasPrefix(rest, prefix) {
		return false
	}
	v := rest[len(prefix):]
	j := strings.IndexByte(v, '"')
	if j < 0 || strings.IndexByte(v[:j], '\\') >= 0 {
		return false
	}
	return f.signalFor(v[:j]) == SignalUnknown
}

// skimLabels finds the end of a label set from s[i], just after '{',
// honouring quoted values, without checking names or values.
func skimLabels(s string, i int) (int, string) {
	for i < len(s) {
		switch s[i] {
		case '}':
			return i + 1, ""
		case '"':
			q := scanQuoted(s, i+1)
			if q.end < 0 {
				return 0, "unterminated label value"
			}
			i = q.end + 1
		default:
			i++
		}
	}
	return 0, "unterminated label set"
}

// valueAndTimestamp parses the rest of a sample line from s[i]: a value, an
// optional timestamp, and an optional OpenMetrics exemplar ("# ...") that is
// ignored. Unless want, the value's syntax is checked but it is not computed.
func valueAndTimestamp(s string, i int, want bool) (v float64, msg string) {
	if i >= len(s) {
		return 0, "missing value"
	}
	j := tokenEnd(s, i)
	ok := false
	if want {
		v, ok = parseValue(s[i:j])
	} else {
		ok = floatSyntax(s[i:j])
	}
	if !ok {
		return 0, "invalid value " + strconv.Quote(s[i:j])
	}
	if i = skipBlank(s, j); i < len(s) && s[i] != '#' {
		j = tokenEnd(s, i)
		if !validTimestamp(s[i:j]) {
			return 0, "invalid timestamp " + strconv.Quote(s[i:j])
		}
		if i = skipBlank(s, j); i < len(s) && s[i] != '#' {
			return 0, "unexpected text after timestamp"
		}
	}
	return v, ""
}

// scanLabels parses a label set from s[i], just after '{', into p.labels.
// It returns the index just after '}', or a problem message.
func (p *parser) scanLabels(s string, i int) (int, string) {
	for {
		i = skipBlank(s, i)
		if i >= len(s) {
			return 0, "unterminated label set"
		}
		if s[i] == '}' {
			return i + 1, ""
		}
		j := scanLabelName(s, i)
		if j == i {
			return 0, "invalid label name"
		}
		name := s[i:j]
		if i = skipBlank(s, j); i >= len(s) || s[i] != '=' {
			return 0, "expected '=' after label name " + strconv.Quote(name)
		}
		if i = skipBlank(s, i+1); i >= len(s) || s[i] != '"' {
			return 0, "expected quoted value for label " + strconv.Quote(name)
		}
		q := scanQuoted(s, i+1)
		if q.end < 0 {
			return 0, "unterminated value of label " + strconv.Quote(name)
		}
		if msg := p.addLabel(label{name: name, value: s[i+1 : q.end], escaped: q.escaped}, q.nonASCII); msg != "" {
			return 0, msg
		}
		if i = skipBlank(s, q.end+1); i < len(s) && s[i] == ',' {
			i++ // a trailing comma before '}' is allowed (jmx_exporter 0.x)
		} else if i >= len(s) || s[i] != '}' {
			return 0, "expected ',' or '}' after value of label " + strconv.Quote(name)
		}
	}
}

// addLabel checks one label against the rules Prometheus applies and keeps
// it. nonASCII says whether the value needs a UTF-8 check.
func (p *parser) addLabel(l label, nonASCII bool) string {
	if l.name == "__name__" {
		return "reserved label name __name__"
	}
	for _, o := range p.labels {
		if o.name == l.name {
			return "duplicate label " + strconv.Quote(l.name)
		}
	}
	if nonASCII && !utf8.ValidString(l.value) {
		return "invalid UTF-8 in value of label " + strconv.Quote(l.name)
	}
	p.labels = append(p.labels, l)
	return ""
}

// family returns the mapping of name, caching the last lookup: samples of a
// family are contiguous, so most lines hit the cache.
func (p *parser) family(name string) (*family, bool) {
	if name != string(p.last.name) {
		p.last.name = append(p.last.name[:0], name...)
		p.last.f, p.last.total = lookupFamily(name)
	}
	return p.last.f, p.last.total
}

// fields are the label-derived parts of a sample: indexes into
// parser.labels, -1 when absent.
type fields struct {
	signal                           Signal
	topic, partition, request, mount int8
}

// mapSample turns a well-formed line of family f into a Sample; total
// reports jmx_exporter 1.x's extra `_total` on the name.
func (p *parser) mapSample(f *family, total bool, series string, v float64) {
	s, msg := p.resolve(f, series)
	if msg != "" {
		// Well-formed text, so not Malformed; reported, and no sample.
		p.addProblem(msg)
		return
	}
	if s.Signal == SignalUnknown || p.duplicate(series) {
		return
	}
	s.Value = v
	s.Series = p.arena.copy(series)
	p.keep(s, f.profile, total)
}

// resolve maps the labels of a well-formed line of family f to a Sample
// without value and series text; its Signal is SignalUnknown when the line
// maps to none. A partition label that is not a partition returns the
// problem to report instead.
func (p *parser) resolve(f *family, series string) (Sample, string) {
	fl := f.fields(p.labels)
	if fl.signal == SignalUnknown {
		return Sample{}, ""
	}
	s := Sample{Signal: fl.signal, Counter: f.counter, Partition: -1}
	if fl.partition >= 0 {
		v := p.labels[fl.partition].value
		n, ok := parsePartition(v)
		if !ok {
			return Sample{}, "invalid partition label " + strconv.Quote(v) + ": " + excerpt(series)
		}
		s.Partition = n
	}
	s.Topic = p.labelString(fl.topic, &p.interned.topic)
	s.Request = p.labelString(fl.request, &p.interned.request)
	s.Mount = strings.Trim(p.labelString(fl.mount, &p.interned.mount), `"`)
	return s, ""
}

// keep appends s, a sample of a family of profile prof.
func (p *parser) keep(s Sample, prof Profile, total bool) {
	p.res.Samples = append(double(p.res.Samples, 1), s)
	p.votes[prof]++
	p.res.CounterTotalSuffix = p.res.CounterTotalSuffix || total
}

// fields picks the labels a family needs and decides the signal. The
// switch on length first keeps most label names to one comparison. Labels
// past the 127th are not looked at.
func (f *family) fields(ls []label) fields {
	fl := fields{signal: f.signal, topic: -1, partition: -1, request: -1, mount: -1}
	for i := range ls[:min(len(ls), math.MaxInt8)] {
		n, idx := ls[i].name, int8(i)
		switch len(n) {
		case len("name"):
			if f.byName != nil && n == "name" {
				fl.signal = f.signalFor(ls[i].value)
			}
		case len("topic"):
			if n == "topic" {
				fl.topic = idx
			}
		case len("request"):
			if n == "request" {
				fl.request = idx
			}
		case len("quantile"):
			if f.quantile && n == "quantile" {
				fl.signal = quantileSignal(ls[i].value)
			}
		case len("partition"):
			if n == "partition" {
				fl.partition = idx
			}
		case len("mountpoint"), len("logDirectory"):
			if n == "mountpoint" || n == "logDirectory" || n == "logdirectory" {
				fl.mount = idx
			}
		}
	}
	return fl
}

// parsePartition parses a Kafka partition number, 0..MaxInt32, without the
// allocation-free but slower generality of strconv.
func parsePartition(s string) (int32, bool) {
	if len(s) == 0 || len(s) > 10 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return int32(n), n <= math.MaxInt32
}

// duplicate reports (and records as a problem) a mapped series already seen
// in this part; the first occurrence wins. A new series is indexed under the
// sample index it is about to get.
func (p *parser) duplicate(series string) bool {
	i := p.index.insert(maphash.String(p.seed, series), int32(len(p.res.Samples)))
	if i < 0 || p.res.Samples[i].Series != series {
		return false // new, or a hash collision (p ≈ 2⁻⁶⁴): kept, not indexed
	}
	p.duplicateOf(series, i)
	return true
}

// duplicateOf records series as a duplicate of the sample at index first.
func (p *parser) duplicateOf(series string, first int32) {
	p.res.Duplicates++
	p.addProblem(fmt.Sprintf("duplicate series %s (value %g kept from earlier line)", excerpt(series), p.res.Samples[first].Value))
}

// labelString returns the unescaped, interned value of label i of the
// current line ("" when i < 0). last caches the previous result for this
// field: topics and request names come in runs.
func (p *parser) labelString(i int8, last *string) string {
	if i < 0 {
		return ""
	}
	l := p.labels[i]
	if !l.escaped && l.value == *last {
		return *last
	}
	v := l.value
	if l.escaped {
		v = unescape(v)
	}
	s, ok := p.strs[v]
	if !ok {
		s = strings.Clone(v) // v is a view of the read buffer
		p.strs[s] = s
	}
	*last = s
	return s
}

// double makes room for n more elements by doubling the capacity: append's
// 1.25× growth for large slices allocates five times the final size in total.
func double[S ~[]E, E any](s S, n int) S {
	if cap(s)-len(s) >= n {
		return s
	}
	return slices.Grow(s, max(len(s), n, 256))
}
