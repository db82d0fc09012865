package scrape

import (
	"hash/maphash"
	"slices"
)

// seriesCache remembers, across the scrapes of one target, what each series
// of its body parsed to: an exporter writes the same series in the same
// order every time and only the values change. A line that starts with the
// series text the cache predicts (the one that followed the previous line
// last time) skips name, label and mapping work: one comparison, then its
// value. A line it does not predict is looked up by its exact series text,
// found by a skim; only a text it does not hold is parsed in full and added.
// So new, vanished and reordered series are handled (jmx_exporter reorders
// some families between scrapes: a third of the MSK fixture's second
// capture), and the prediction picks up again after each known line.
//
// An entry depends only on the bytes of its series text (metric name and
// label set exactly as written), never on the value or on other lines, so a
// cached line yields exactly what the full parse yields. Lines whose series
// text is malformed, or whose partition label is not a partition (a problem
// reported every time), are never cached.
//
// Memory bound: at most Options.MaxSeries entries (104 bytes each, plus
// 16 to 32 bytes of index) and Options.MaxBytes bytes of series text, both
// of the parse that adds them; a full cache parses the extra lines without
// it. After a successful parse, the entries it did not use are dropped once
// they are more than an eighth of all, so between scrapes the cache holds
// the last body's series and at most 1/7 as many stale ones: about 160
// bytes per series plus its text, 4.9 MB for the 2.4 MB MSK fixture (19 850
// series, 1.7 MB of series text).
//
// A seriesCache is not safe for concurrent use; Scraper serialises it.
type seriesCache struct {
	entries []cacheEntry
	index   seriesSet    // hash of the series text → entries index
	seed    maphash.Seed // of the hashes
	text    arena        // the series text of the entries
	bytes   int64        // series text bytes held by entries

	maxEntries int   // Options.MaxSeries of the current parse
	maxBytes   int64 // Options.MaxBytes of the current parse

	part     uint32 // stamp of the current part; grows by one per part, over all scrapes
	first    uint32 // stamp of the current parse's first part
	expect   int32  // entry predicted for the next sample line, -1 for none
	last     int32  // entry of the previous sample line of this parse, -1 at its start
	head     int32  // entry of the first sample line of the last parse, -1 for none
	used     int    // entries used by the current parse
	cold     bool   // the current parse began with no entries: lookup is skipped
	samplesN int    // samples of the last successful parse: the next one's capacity
}

// cacheEntry is what one series text parsed to.
type cacheEntry struct {
	// tmpl is the sample the line yields, without its value. tmpl.Series is
	// the series text, shared by the samples of every scrape.
	tmpl   Sample
	next   int32  // entry of the sample line that followed this one last, -1 for none
	part   uint32 // stamp of the last part a line used this entry in
	sample int32  // index in Result.Samples of the sample kept in that part
	labels bool   // the series text has a label set (ends with '}')
	want   bool   // the value is parsed (a mapped family), not only checked
	keep   bool   // the line yields tmpl (a signal, well-formed fields)
	total  bool   // the family name carries jmx_exporter 1.x's extra `_total`
	prof   Profile
}

func newSeriesCache() *seriesCache {
	return &seriesCache{index: newSeriesSet(0), seed: maphash.MakeSeed(), expect: -1, last: -1, head: -1}
}

// bytesPerLine underestimates the bytes of a jmx_exporter line (84–97 in
// the generated bodies, 95 in the MSK fixture) to size an empty cache.
const bytesPerLine = 80

// begin starts a parse with the limits of opts (defaults applied); sizeHint
// is the body size in bytes, or -1.
func (c *seriesCache) begin(opts Options, sizeHint int64) {
	c.maxEntries, c.maxBytes = opts.MaxSeries, opts.MaxBytes
	c.cold = len(c.entries) == 0
	if c.cold && sizeHint > 0 {
		n := int(min(sizeHint, opts.MaxBytes) / bytesPerLine)
		n = min(n, opts.MaxSeries)
		c.entries = make([]cacheEntry, 0, n)
		c.index = newSeriesSet(n)
	}
	c.part++
	c.first = c.part
	c.expect, c.last, c.used = c.head, -1, 0
}

// newPart starts the next part of the current parse: duplicates are
// detected per part.
func (c *seriesCache) newPart() { c.part++ }

// predict returns the predicted entry if sample line s starts with its series
// text in a way that makes the full parse end the series at the same byte,
// else -1.
func (c *seriesCache) predict(s string) int32 {
	i := c.expect
	if i < 0 {
		return -1
	}
	e := &c.entries[i]
	n := len(e.tmpl.Series)
	if len(s) <= n || s[:n] != e.tmpl.Series {
		return -1
	}
	if e.labels {
		return i // a label set ends at its first unquoted '}', whatever follows
	}
	// A bare name must end at a blank that no label set follows.
	if charClass[s[n]]&cBlank == 0 {
		return -1
	}
	if j := skipBlank(s, n); j < len(s) && s[j] == '{' {
		return -1
	}
	return i
}

// lineKey names the series text of a sample line: its length n (0 when
// unknown) and its hash h.
type lineKey struct {
	n int
	h uint64
}

// lookup finds the entry of sample line s by its series text, which it
// finds by skimming (see seriesEnd). It returns the entry, or -1 with the
// key of a text the cache does not hold (n is 0 when the text could not be
// told without the full parse, or it collides with another's hash).
func (c *seriesCache) lookup(s string) (int32, lineKey) {
	if c.cold { // nearly every line is new: the full parse comes anyway
		return -1, lineKey{}
	}
	n := seriesEnd(s)
	if n == 0 {
		return -1, lineKey{}
	}
	h := c.hash(s[:n])
	switch i := c.find(s[:n], h); i {
	case -1:
		return -1, lineKey{n: n, h: h}
	case -2:
		return -1, lineKey{}
	default:
		return i, lineKey{}
	}
}

// seriesEnd returns the length of the series text that starts sample line
// s, found without checking names or label pairs, or 0 when only the full
// parse can tell (no name, an unterminated label set, a name not followed by
// a blank, no value). Where the full parse of s succeeds, it ends the series
// text at the same byte: a label set ends at its first unquoted '}'. So a
// text the cache holds, which parsed once, parses the same again.
func seriesEnd(s string) int {
	n := scanName(s)
	if n == 0 {
		return 0
	}
	switch j := skipBlank(s, n); {
	case j < len(s) && s[j] == '{':
		end, msg := skimLabels(s, j+1)
		if msg != "" {
			return 0
		}
		return end
	case j > n && j < len(s):
		return n
	}
	return 0
}

// find returns the entry of series text s, whose hash is h (see hash), or
// -1. A different series text under the same hash (p ≈ 2⁻⁶⁴) is reported
// as -2: that line is not cached.
func (c *seriesCache) find(s string, h uint64) int32 {
	i := c.index.find(h)
	if i >= 0 && c.entries[i].tmpl.Series != s {
		return -2
	}
	return i
}

func (c *seriesCache) hash(s string) uint64 { return maphash.String(c.seed, s) }

// room reports whether an entry for series text s fits the bound.
func (c *seriesCache) room(s string) bool {
	return len(c.entries) < c.maxEntries && c.bytes+int64(len(s)) <= c.maxBytes
}

// add stores e under series text series of hash h, copying the text (a view
// of the read buffer), and returns its index. The text must not be in the
// cache yet (find returned -1).
func (c *seriesCache) add(e cacheEntry, series string, h uint64) int32 {
	e.tmpl.Series = c.text.copy(series)
	e.labels = series[len(series)-1] == '}'
	e.next = -1
	i := int32(len(c.entries))
	c.entries = append(c.entries, e)
	c.index.insert(h, i)
	c.bytes += int64(len(series))
	return i
}

// visit marks entry i as used by the current sample line and returns it,
// with whether a line of the current part already used it. It records the
// order of the lines for the next prediction.
func (c *seriesCache) visit(i int32) (e *cacheEntry, again bool) {
	if c.last >= 0 {
		c.entries[c.last].next = i
	} else {
		c.head = i
	}
	e = &c.entries[i]
	c.expect, c.last = e.next, i
	if e.part < c.first {
		c.used++
	}
	again = e.part == c.part
	e.part = c.part
	return e, again
}

// end closes a successful parse that kept samples samples. Once more than
// an eighth of the entries went unused by it, they are dropped: a body
// whose series churn pays for a compaction every few scrapes, not each.
func (c *seriesCache) end(samples int) {
	c.samplesN = samples
	switch n := len(c.entries); {
	case n-c.used > n/8:
		c.compact()
	case cap(c.entries) > n+n/4: // sized from the body size
		c.entries = slices.Clone(c.entries)
	}
}

// compact keeps only the entries used by the current parse, copying their
// text to fresh chunks so that dropped text is not kept alive.
func (c *seriesCache) compact() {
	old := c.entries
	moved := make([]int32, len(old))
	c.entries = make([]cacheEntry, 0, c.used)
	c.index = newSeriesSet(c.used)
	c.text, c.bytes = arena{}, 0
	for i := range old {
		moved[i] = -1
		if old[i].part >= c.first {
			moved[i] = c.add(old[i], old[i].tmpl.Series, c.hash(old[i].tmpl.Series))
			c.entries[moved[i]].next = old[i].next
		}
	}
	for i := range c.entries {
		if n := c.entries[i].next; n >= 0 {
			c.entries[i].next = moved[n]
		}
	}
	if c.head >= 0 {
		c.head = moved[c.head] // used by this parse, so kept
	}
}
