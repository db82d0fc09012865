package api

import (
	"strings"
	"testing"

	"github.com/kwitness/kwitness/state/explain"
)

// FuzzExplainToken fuzzes the Explain page-token decoder: it never panics,
// every error names page_token, and a token it accepts re-encodes to one
// that decodes the same.
func FuzzExplainToken(f *testing.F) {
	f.Add(encodeExplainToken(explain.SectionPartitions, 20, "g:fraud-check"))
	f.Add(encodeExplainToken(explain.SectionTimeline, 0, "b:2"))
	f.Add("")
	f.Add("fHw")
	f.Add("dGltZWxpbmV8LTF8Zzp4")
	f.Fuzz(func(t *testing.T, tok string) {
		sec, off, key, err := decodeExplainToken(tok)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "page_token: ") {
				t.Fatalf("decode %q: error %q does not name page_token", tok, err)
			}
			return
		}
		if off < 0 || key == "" || !explain.KnownSection(sec) || sec == explain.SectionAll {
			t.Fatalf("decode %q accepted %q %d %q", tok, sec, off, key)
		}
		s2, o2, k2, err := decodeExplainToken(encodeExplainToken(sec, off, key))
		if err != nil || s2 != sec || o2 != off || k2 != key {
			t.Fatalf("re-encoded %q %d %q decodes to %q %d %q, %v", sec, off, key, s2, o2, k2, err)
		}
	})
}
