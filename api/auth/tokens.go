package auth

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// MaxTokenFileBytes bounds the tokens file.
const MaxTokenFileBytes = 1 << 20

// TokenFile is the YAML file of API identities. It holds no secret: each
// token is stored as the hex SHA-256 of the token string (for example
// `printf %s "$TOKEN" | sha256sum`). An entry names either a token hash or a
// client certificate common name.
//
//	tokens:
//	  - name: team-a
//	    sha256: 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
//	    scopes: ["group:team-a-*", "topic:team-a-*"]
//	  - name: ops
//	    sha256: 8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92
//	    scopes: [admin]
//	  - name: team-b-cert
//	    cert_cn: team-b.example.com
//	    scopes: ["group:team-b-*", "topic:team-b-*", "method:List*"]
type TokenFile struct {
	Tokens []TokenEntry `yaml:"tokens"`
}

// TokenEntry is one identity of the tokens file.
type TokenEntry struct {
	Name   string   `yaml:"name"`
	SHA256 string   `yaml:"sha256"`  // hex SHA-256 of the bearer token
	CertCN string   `yaml:"cert_cn"` // or: a verified client certificate's subject common name
	Scopes []string `yaml:"scopes"`
}

// Tokens is a parsed tokens file: identities by token hash and by
// certificate common name.
type Tokens struct {
	byHash []hashed
	byCN   map[string]*Identity
	byName map[string]*Identity
}

type hashed struct {
	sum [sha256.Size]byte
	id  *Identity
}

// ParseTokens decodes a tokens file strictly (unknown keys are errors) and
// validates every entry; errors name the entry, never a token.
func ParseTokens(raw []byte) (*Tokens, error) {
	if len(raw) > MaxTokenFileBytes {
		return nil, fmt.Errorf("tokens file: %d bytes, more than %d", len(raw), MaxTokenFileBytes)
	}
	var f TokenFile
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	t := &Tokens{byCN: map[string]*Identity{}, byName: map[string]*Identity{}}
	names := map[string]bool{}
	var errs []error
	for i, e := range f.Tokens {
		if err := t.add(e, names); err != nil {
			errs = append(errs, fmt.Errorf("tokens[%d] (%s): %w", i, trunc(e.Name), err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(f.Tokens) == 0 {
		return nil, errors.New("tokens file: no tokens")
	}
	return t, nil
}

func (t *Tokens) add(e TokenEntry, names map[string]bool) error {
	if names[e.Name] {
		return errors.New("name: used twice")
	}
	switch {
	case e.Name == "" || len(e.Name) > MaxPatternLen || !utf8.ValidString(e.Name) || strings.ContainsAny(e.Name, "\n\r"):
		return fmt.Errorf("name: required, one line of at most %d bytes of UTF-8", MaxPatternLen)
	case (e.SHA256 == "") == (e.CertCN == ""):
		return errors.New("exactly one of sha256 and cert_cn is required")
	case len(e.Scopes) == 0:
		return errors.New("scopes: at least one (admin, metrics, group:GLOB, topic:GLOB, broker:GLOB, method:GLOB)")
	}
	names[e.Name] = true
	sc, err := ParseScope(e.Scopes)
	if err != nil {
		return err
	}
	id := &Identity{Name: e.Name, Scope: sc}
	t.byName[e.Name] = id
	if e.CertCN != "" {
		if t.byCN[e.CertCN] != nil {
			return fmt.Errorf("cert_cn %q: used twice", trunc(e.CertCN))
		}
		t.byCN[e.CertCN] = id
		return nil
	}
	sum, err := hex.DecodeString(e.SHA256)
	if err != nil || len(sum) != sha256.Size {
		return errors.New("sha256: want 64 hex digits, the SHA-256 of the token (not the token itself)")
	}
	h := hashed{id: id}
	copy(h.sum[:], sum)
	for _, o := range t.byHash {
		if o.sum == h.sum {
			return errors.New("sha256: the same token hash is used twice")
		}
	}
	t.byHash = append(t.byHash, h)
	return nil
}

// ByToken returns the identity of a bearer token, comparing its SHA-256
// with every stored hash in constant time; nil when none matches.
func (t *Tokens) ByToken(token string) *Identity {
	if t == nil || token == "" {
		return nil
	}
	sum := sha256.Sum256([]byte(token))
	var found *Identity
	for _, h := range t.byHash {
		if subtle.ConstantTimeCompare(sum[:], h.sum[:]) == 1 {
			found = h.id
		}
	}
	return found
}

// ByCertCN returns the identity of a verified client certificate's common
// name; nil when none is configured.
func (t *Tokens) ByCertCN(cn string) *Identity {
	if t == nil {
		return nil
	}
	return t.byCN[cn]
}

// tokenSource serves the tokens file, re-reading it when its modification
// time or size changes (checked at most once a second). A file that fails
// to parse keeps the previous tokens and is reported through onErr.
type tokenSource struct {
	path  string
	onErr func(error)

	mu struct {
		sync.Mutex
		tokens  *Tokens
		mod     time.Time
		size    int64
		checked time.Time
	}
}

func newTokenSource(path string, onErr func(error)) (*tokenSource, error) {
	s := &tokenSource{path: path, onErr: onErr}
	if err := s.reloadLocked(time.Now(), true); err != nil {
		return nil, err
	}
	return s, nil
}

// get returns the current tokens, reloading a changed file first.
func (s *tokenSource) get() *Tokens {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	if now.Sub(s.mu.checked) >= time.Second {
		if err := s.reloadLocked(now, false); err != nil {
			s.onErr(err)
		}
	}
	return s.mu.tokens
}

func (s *tokenSource) reloadLocked(now time.Time, force bool) error {
	s.mu.checked = now
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("api.tokens_file: %w", err)
	}
	if !force && fi.ModTime().Equal(s.mu.mod) && fi.Size() == s.mu.size {
		return nil
	}
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("api.tokens_file: %w", err)
	}
	s.mu.mod, s.mu.size = fi.ModTime(), fi.Size() // a bad file is reported once, not every second
	t, err := ParseTokens(raw)
	if err != nil {
		return fmt.Errorf("api.tokens_file %s: %w (the previous tokens stay in force)", s.path, err)
	}
	s.mu.tokens = t
	return nil
}
