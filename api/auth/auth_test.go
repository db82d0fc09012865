package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"path"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kwitness/kwitness/detect"
)

func hash(tok string) string {
	h := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(h[:])
}

func TestGlob(t *testing.T) {
	f := func(pat, name string, want bool) {
		t.Helper()
		if got := Glob(pat, name); got != want {
			t.Errorf("Glob(%q, %q) = %v, want %v", pat, name, got, want)
		}
	}
	f("team-a-*", "team-a-orders", true)
	f("team-a-*", "team-a-", true)
	f("team-a-*", "team-b-orders", false)
	f("team-a-*", "xteam-a-orders", false) // anchored at both ends
	f("*-orders", "team-a-orders", true)
	f("*", "", true)
	f("", "", true)
	f("", "a", false)
	f("a*b*c", "aXbYbZc", true)
	f("a*b*c", "aXbYbZ", false)
	f("??", "é1", true) // ? is one character, not one byte
	f("?", "", false)
	f("a/*", "a/b/c", true) // / is not special: group ids may contain it
	f("[ab]", "a", false)   // brackets are literal: no character classes
	f("[ab]", "[ab]", true)
	f("a.*", "abc", false) // not a regular expression
	f("1?", "12", true)
	f(strings.Repeat("*a", 20), strings.Repeat("a", 20)+"b", false) // no exponential backtracking
}

// FuzzGlob: Glob agrees with path.Match wherever their syntaxes coincide
// (no '/', '[', '\\' in the pattern, no '/' in a valid UTF-8 name); on any
// input it does not panic, and "*" matches everything.
func FuzzGlob(f *testing.F) {
	for _, s := range [][2]string{{"team-a-*", "team-a-x"}, {"a*b?c", "aXXbYc"}, {"*", ""}, {"?é*", "xéy"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		got := Glob(pat, name)
		if !Glob("*", name) {
			t.Fatalf("* does not match %q", name)
		}
		if !strings.ContainsAny(name, "*?") && !Glob(name, name) {
			t.Fatalf("%q does not match itself", name)
		}
		if strings.ContainsAny(pat, "/[\\") || strings.Contains(name, "/") || !utf8.ValidString(name) || !utf8.ValidString(pat) {
			return
		}
		want, err := path.Match(pat, name)
		if err == nil && got != want {
			t.Fatalf("Glob(%q, %q) = %v, path.Match = %v", pat, name, got, want)
		}
	})
}

func TestParseTokens(t *testing.T) {
	good := "tokens:\n  - name: a\n    sha256: " + hash("tok-a") + "\n    scopes: [\"group:team-a-*\", metrics]\n" +
		"  - name: c\n    cert_cn: team-c.example\n    scopes: [admin]\n"
	toks, err := ParseTokens([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if id := toks.ByToken("tok-a"); id == nil || id.Name != "a" || !id.Allows(Group, "team-a-x") || id.Allows(Group, "team-b-x") || !id.AllowsMetrics() || id.Admin() {
		t.Fatalf("token a: %+v", id)
	}
	if toks.ByToken("tok-b") != nil || toks.ByToken("") != nil || toks.ByToken(hash("tok-a")) != nil {
		t.Fatal("an unknown token, an empty one or the hash itself authenticated")
	}
	if id := toks.ByCertCN("team-c.example"); id == nil || !id.Admin() {
		t.Fatalf("cert c: %+v", id)
	}
	f := func(raw, want string) {
		t.Helper()
		_, err := ParseTokens([]byte(raw))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseTokens(%q) = %v, want an error naming %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "tok-secret") {
			t.Errorf("error %q holds the token", err)
		}
	}
	f("", "no tokens")
	f("tokens:\n  - name: a\n    token: tok-secret\n    scopes: [admin]\n", "field token not found")
	f("tokens:\n  - name: a\n    sha256: tok-secret\n    scopes: [admin]\n", "64 hex digits")
	f("tokens:\n  - name: a\n    sha256: "+hash("x")+"\n", "scopes: at least one")
	f("tokens:\n  - name: a\n    sha256: "+hash("x")+"\n    scopes: [\"group:\"]\n", "empty pattern")
	f("tokens:\n  - name: a\n    sha256: "+hash("x")+"\n    scopes: [\"regex:.*\"]\n", "want admin, metrics")
	f("tokens:\n  - name: a\n    sha256: "+hash("x")+"\n    cert_cn: c\n    scopes: [admin]\n", "exactly one of sha256 and cert_cn")
	f("tokens:\n  - name: a\n    sha256: "+hash("x")+"\n    scopes: [admin]\n  - name: a\n    sha256: "+hash("y")+"\n    scopes: [admin]\n", "used twice")
	f("tokens:\n  - name: a\n    sha256: "+hash("x")+"\n    scopes: [admin]\n  - name: b\n    sha256: "+hash("x")+"\n    scopes: [admin]\n", "same token hash")
	f("tokens:\n  - sha256: "+hash("x")+"\n    scopes: [admin]\n", "name: required")
}

// TestVisibility: a non-admin identity sees a subject only when every name
// it carries is in scope; cluster-wide subjects are admin-only.
func TestVisibility(t *testing.T) {
	sc, err := ParseScope([]string{"group:team-a-*", "topic:team-a-*", "broker:1"})
	if err != nil {
		t.Fatal(err)
	}
	id := &Identity{Name: "a", Scope: sc}
	f := func(group, topic string, broker int32, want bool) {
		t.Helper()
		if got := id.VisibleSubject(group, topic, broker); got != want {
			t.Errorf("VisibleSubject(%q, %q, %d) = %v, want %v", group, topic, broker, got, want)
		}
	}
	f("team-a-app", "team-a-orders", -1, true)
	f("team-a-app", "team-b-orders", -1, false) // a shared topic of another team
	f("team-b-app", "team-a-orders", -1, false)
	f("", "team-a-orders", -1, true)
	f("", "", 1, true)
	f("", "", 2, false)
	f("", "", -1, false) // cluster-wide
	var off *Identity    // auth off
	if !off.VisibleSubject("", "", -1) || !off.Allows(Group, "x") || !off.AllowsMethod("Anything") {
		t.Error("a nil identity (auth off) is restricted")
	}
	series := func(labels ...string) []detect.Label {
		var out []detect.Label
		for i := 0; i < len(labels); i += 2 {
			out = append(out, detect.Label{Name: labels[i], Value: labels[i+1]})
		}
		return out
	}
	for _, c := range []struct {
		labels []detect.Label
		want   bool
	}{
		{series("cluster", "c", "group", "team-a-app", "partition", "0", "topic", "team-a-orders"), true},
		{series("cluster", "c", "group", "team-a-app", "partition", "0", "topic", "team-b-orders"), false},
		{series("broker", "1", "cluster", "c"), true},
		{series("broker", "x", "cluster", "c"), false},
		{series("cluster", "c"), false},
	} {
		if got := id.VisibleSeries(c.labels); got != c.want {
			t.Errorf("VisibleSeries(%v) = %v, want %v", c.labels, got, c.want)
		}
	}
}

// FuzzParseTokens: any input either fails (and returns no tokens) or yields
// identities each found by its name, and the empty token never
// authenticates. It never panics.
func FuzzParseTokens(f *testing.F) {
	f.Add([]byte("tokens:\n  - name: a\n    sha256: " + hash("t") + "\n    scopes: [\"group:a-*\", admin]\n"))
	f.Add([]byte("tokens:\n  - name: c\n    cert_cn: x\n    scopes: [metrics]\n"))
	f.Add([]byte("tokens: [{name: a, sha256: zz, scopes: []}]"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		toks, err := ParseTokens(raw)
		if err != nil {
			if toks != nil {
				t.Fatal("tokens and an error")
			}
			return
		}
		if toks.ByToken("") != nil {
			t.Fatal("the empty token authenticates")
		}
		for _, h := range toks.byHash {
			if toks.byName[h.id.Name] != h.id {
				t.Fatalf("identity %q not found by name", h.id.Name)
			}
		}
	})
}

// FuzzParseScope: a parsed scope's patterns are non-empty valid UTF-8 of
// at most MaxPatternLen bytes, and a pattern matches itself when it has no
// wildcard. It never panics.
func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"group:team-a-*", "admin", "metrics", "method:List*", "broker:1?", "topic:", "x:y", "group:\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, item string) {
		sc, err := ParseScope([]string{item})
		if err != nil {
			return
		}
		for _, pats := range [][]string{sc.Groups, sc.Topics, sc.Brokers, sc.Methods} {
			for _, p := range pats {
				if p == "" || len(p) > MaxPatternLen || !utf8.ValidString(p) {
					t.Fatalf("pattern %q accepted", p)
				}
				if !strings.ContainsAny(p, "*?") && !Glob(p, p) {
					t.Fatalf("%q does not match itself", p)
				}
			}
		}
	})
}
