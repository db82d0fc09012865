package scrape

import (
	"strconv"
	"strings"
)

// Byte classes of the text format (legacy, non-UTF-8 names).
const (
	cNameStart  = 1 << iota // [a-zA-Z_:] starts a metric name
	cName                   // [a-zA-Z0-9_:] continues a metric name
	cLabelStart             // [a-zA-Z_] starts a label name
	cLabel                  // [a-zA-Z0-9_] continues a label name
	cBlank                  // ' ' or '\t'
	cNotFloat               // [pPxX_]: hex floats and digit separators, which Prometheus rejects
)

var charClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		digit := c >= '0' && c <= '9'
		if letter || c == ':' {
			t[c] |= cNameStart | cName
		}
		if digit {
			t[c] |= cName | cLabel
		}
		if letter {
			t[c] |= cLabelStart | cLabel
		}
	}
	for _, c := range "pPxX_" {
		t[c] |= cNotFloat
	}
	t[' '] = cBlank
	t['\t'] = cBlank
	return t
}()

// skipBlank returns the index of the first non-blank byte of s at or after i.
func skipBlank(s string, i int) int {
	for i < len(s) && charClass[s[i]]&cBlank != 0 {
		i++
	}
	return i
}

// tokenEnd returns the index of the first blank byte of s at or after i.
func tokenEnd(s string, i int) int {
	for i < len(s) && charClass[s[i]]&cBlank == 0 {
		i++
	}
	return i
}

// scanName returns the length of the metric name that starts s (0 if none).
func scanName(s string) int {
	if len(s) == 0 || charClass[s[0]]&cNameStart == 0 {
		return 0
	}
	i := 1
	for i < len(s) && charClass[s[i]]&cName != 0 {
		i++
	}
	return i
}

// scanLabelName returns the end of the label name that starts at s[i] (i if none).
func scanLabelName(s string, i int) int {
	if i >= len(s) || charClass[s[i]]&cLabelStart == 0 {
		return i
	}
	i++
	for i < len(s) && charClass[s[i]]&cLabel != 0 {
		i++
	}
	return i
}

// quoted describes a label value found by scanQuoted.
type quoted struct {
	end      int  // index of the closing quote, -1 if there is none
	escaped  bool // holds a backslash escape
	nonASCII bool // holds a byte ≥ 0x80, so UTF-8 validity must be checked
}

// scanQuoted finds the end of a label value that starts at s[i], just after
// its opening quote. Values are short (topic names, numbers), so one plain
// loop beats strings.IndexByte's call overhead and a second pass for UTF-8.
func scanQuoted(s string, i int) quoted {
	var q quoted
	var high byte
	for i < len(s) {
		c := s[i]
		switch {
		case c == '"':
			q.end, q.nonASCII = i, high >= 0x80
			return q
		case c == '\\':
			if i+1 < len(s) {
				high |= s[i+1]
			}
			i += 2
			q.escaped = true
		default:
			high |= c
			i++
		}
	}
	q.end = -1
	return q
}

// unescape resolves the label-value escapes of the text format (\\, \", \n).
// Like Prometheus' own parser it keeps any other backslash sequence verbatim.
func unescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) {
			switch s[i+1] {
			case '\\', '"':
				c = s[i+1]
				i++
			case 'n':
				c = '\n'
				i++
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// parseValue parses a sample value: Go float syntax as accepted by
// strconv.ParseFloat, which covers Java's 5.7778761E7, +Inf, -Inf and NaN,
// minus hex floats and digit underscores (rejected by Prometheus too).
func parseValue(s string) (float64, bool) {
	if v, ok := fastFloat(s); ok {
		return v, true
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&cNotFloat != 0 {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil
}

// floatSyntax reports whether s is a value strconv.ParseFloat would read,
// without computing it (and without ParseFloat's range check): skimmed lines
// need the check, not the number, and JMX's denormal rates such as
// 2.964393875E-314 cost strconv a slow multi-precision path.
func floatSyntax(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	if rest := s[i:]; rest != "" && rest[0] > '9' { // letters: only Inf, Infinity, NaN
		return strings.EqualFold(rest, "inf") || strings.EqualFold(rest, "infinity") ||
			i == 0 && strings.EqualFold(rest, "nan")
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		start := i
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		}
		if i == start {
			return false
		}
	}
	return i == len(s)
}

// pow10 holds the powers of ten that float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// fastFloat parses the common decimal forms (113330.0, 5.722026886E9, -3)
// when the result is exact: at most 15 significant digits and a decimal
// exponent within ±22, so one IEEE multiplication or division by an exact
// power of ten rounds correctly (Clinger's fast path, as strconv's own). It
// reports false for anything else, which parseValue hands to strconv.
func fastFloat(s string) (float64, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		neg = s[i] == '-'
		i++
	}
	var mant uint64
	digits, exp, sawDigit := 0, 0, false
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		mant, sawDigit = mant*10+uint64(s[i]-'0'), true
		if mant != 0 {
			digits++
		}
	}
	if i < len(s) && s[i] == '.' {
		for i++; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			mant, sawDigit = mant*10+uint64(s[i]-'0'), true
			if mant != 0 {
				digits++
			}
			exp--
		}
	}
	if !sawDigit || digits > 15 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, ok := fastExp(s[i+1:])
		if !ok {
			return 0, false
		}
		exp += e
		i = len(s)
	}
	if i != len(s) || exp < -22 || exp > 22 {
		return 0, false
	}
	v := float64(mant)
	if exp >= 0 {
		v *= pow10[exp]
	} else {
		v /= pow10[-exp]
	}
	if neg {
		v = -v
	}
	return v, true
}

// fastExp parses a short decimal exponent: an optional sign and 1–3 digits.
func fastExp(s string) (int, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if len(s) == 0 || len(s) > 3 {
		return 0, false
	}
	e := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		e = e*10 + int(s[i]-'0')
	}
	if neg {
		e = -e
	}
	return e, true
}

// validTimestamp accepts the integer milliseconds of the Prometheus text
// format and the float seconds of OpenMetrics. The value is not used.
func validTimestamp(s string) bool {
	if _, err := strconv.ParseInt(s, 10, 64); err == nil {
		return true
	}
	_, ok := parseValue(s)
	return ok
}

// metricTypes are the TYPE words of the text format and OpenMetrics, compared
// case-insensitively as prometheus/common/expfmt does.
var metricTypes = []string{
	"counter", "gauge", "histogram", "summary", "untyped",
	"unknown", "info", "stateset", "gaugehistogram", "gauge_histogram",
}

func validType(s string) bool {
	for _, t := range metricTypes {
		if strings.EqualFold(s, t) {
			return true
		}
	}
	return false
}

// excerpt quotes at most 80 bytes of a line for a problem message.
func excerpt(s string) string {
	const max = 80
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}
