package auth

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxPatternLen bounds one scope pattern, in bytes.
const MaxPatternLen = 256

// Scope is what one identity may see and call. The zero Scope sees nothing.
type Scope struct {
	Admin   bool // sees and may call everything, /metrics included
	Metrics bool // may read /metrics
	// Patterns per kind: a name is allowed when one of its kind's patterns
	// matches it. Methods: no pattern allows every method.
	Groups, Topics, Brokers, Methods []string
}

// ParseScope parses scope strings: "admin", "metrics" and "KIND:GLOB" with
// KIND one of group, topic, broker, method. A glob has '*' (any run of
// characters, '/' included) and '?' (one character); nothing else is special.
func ParseScope(items []string) (Scope, error) {
	var s Scope
	var errs []error
	for i, it := range items {
		if err := s.add(it); err != nil {
			errs = append(errs, fmt.Errorf("scopes[%d]: %w", i, err))
		}
	}
	return s, errors.Join(errs...)
}

func (s *Scope) add(item string) error {
	switch item {
	case "admin":
		s.Admin = true
		return nil
	case "metrics":
		s.Metrics = true
		return nil
	}
	kind, pat, ok := strings.Cut(item, ":")
	k, known := kindNames[kind]
	switch {
	case !ok || !known:
		return fmt.Errorf("%q: want admin, metrics, or group:, topic:, broker:, method: followed by a glob", trunc(item))
	case pat == "":
		return fmt.Errorf("%q: empty pattern", item)
	case len(pat) > MaxPatternLen:
		return fmt.Errorf("%q: pattern longer than %d bytes", trunc(item), MaxPatternLen)
	case !utf8.ValidString(pat):
		return fmt.Errorf("%q: pattern is not valid UTF-8", trunc(item))
	}
	switch k {
	case Group:
		s.Groups = append(s.Groups, pat)
	case Topic:
		s.Topics = append(s.Topics, pat)
	case Broker:
		s.Brokers = append(s.Brokers, pat)
	case Method:
		s.Methods = append(s.Methods, pat)
	}
	return nil
}

func (s Scope) allows(k Kind, name string) bool {
	var pats []string
	switch k {
	case Group:
		pats = s.Groups
	case Topic:
		pats = s.Topics
	case Broker:
		pats = s.Brokers
	case Method:
		return s.allowsMethod(name)
	}
	return anyMatch(pats, name)
}

func (s Scope) allowsMethod(m string) bool {
	return len(s.Methods) == 0 || anyMatch(s.Methods, m)
}

func anyMatch(pats []string, name string) bool {
	for _, p := range pats {
		if Glob(p, name) {
			return true
		}
	}
	return false
}

// Glob reports whether name matches pattern, where '*' matches any run of
// bytes and '?' one UTF-8 character; every other character matches itself.
// It runs in O(len(pattern)·len(name)) at worst (no backtracking blow-up).
func Glob(pattern, name string) bool {
	px, nx := 0, 0
	starP, starN := -1, 0 // position after the last '*' and the name position it resumes at
	for nx < len(name) {
		if px < len(pattern) {
			switch c := pattern[px]; c {
			case '*':
				starP, starN = px+1, nx
				px++
				continue
			case '?':
				_, w := utf8.DecodeRuneInString(name[nx:])
				px, nx = px+1, nx+w
				continue
			default:
				if name[nx] == c {
					px, nx = px+1, nx+1
					continue
				}
			}
		}
		if starP < 0 {
			return false
		}
		_, w := utf8.DecodeRuneInString(name[starN:])
		starN += w
		px, nx = starP, starN
	}
	for px < len(pattern) && pattern[px] == '*' {
		px++
	}
	return px == len(pattern)
}

func trunc(s string) string {
	if len(s) > 64 {
		s = s[:64] + "…"
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
