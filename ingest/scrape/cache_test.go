package scrape

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// parseCached parses body with cache c, as Scraper does.
func parseCached(body []byte, opts Options, c *seriesCache) (Result, error) {
	return parseFrom(bytes.NewReader(body), opts.withDefaults(), int64(len(body)), c)
}

// sameAsParse fails unless res, err is what Parse makes of body.
func sameAsParse(t *testing.T, name string, body []byte, opts Options, res Result, err error) {
	t.Helper()
	want, wantErr := Parse(bytes.NewReader(body), opts)
	if fmt.Sprint(err) != fmt.Sprint(wantErr) {
		t.Fatalf("%s: error %v, Parse says %v", name, err, wantErr)
	}
	if !reflect.DeepEqual(res, want) {
		t.Fatalf("%s: cached parse differs from Parse:\n%s\nproblems %v\nParse:\n%s\nproblems %v",
			name, renderAll(res.Samples), res.Problems, renderAll(want.Samples), want.Problems)
	}
}

// editLines returns body with its lines passed through edit.
func editLines(body []byte, edit func(lines []string) []string) []byte {
	lines := strings.SplitAfter(string(body), "\n")
	return []byte(strings.Join(edit(lines), ""))
}

// TestCacheAcrossBodies: one cache parses a sequence of bodies whose series
// change between scrapes; every result must equal Parse's of the same body.
// Each row says what changed, and why it matters to the cache.
func TestCacheAcrossBodies(t *testing.T) {
	base, _ := genExposition(genStyle{profile: ProfileMBean}, 3000, 1)
	lower, _ := genExposition(genStyle{profile: ProfileLowercase, v1: true}, 3000, 1)
	lowerRes, _ := Parse(bytes.NewReader(lower), Options{})
	lowerSeries := lowerRes.Series
	half := editLines(base, func(ls []string) []string {
		return slices.Concat(ls[:1500], ls[1000:1010], ls[1400:1500]) // 110 duplicates
	})
	steps := []struct {
		name string
		body []byte
		opts Options
	}{
		// 1. Cold: every entry is added.
		{"cold", base, Options{}},
		// 2. Same series, new values: every line predicted.
		{"new values", mustGen(genStyle{profile: ProfileMBean}, 3000, 2), Options{}},
		// 3. Every 7th line gone: the prediction misses, the lookup resyncs; the
		// dropped entries are evicted afterwards.
		{"lines removed", editLines(base, func(ls []string) []string {
			var out []string
			for i, l := range ls {
				if i%7 != 3 {
					out = append(out, l)
				}
			}
			return out
		}), Options{}},
		{"lines back", base, Options{}},
		// 4. Reversed order: nothing predicted, everything found by lookup.
		{"reversed", editLines(base, func(ls []string) []string {
			out := slices.Clone(ls)
			slices.Reverse(out)
			return out
		}), Options{}},
		// 5. Renamed topics: new series that look like the old ones.
		{"renamed topics", []byte(strings.ReplaceAll(string(base), "test-topic-1", "test-topic-x")), Options{}},
		// 6. Two expositions concatenated: duplicates are per part.
		{"two parts", append(slices.Clone(base), base...), Options{}},
		// 7. A series repeated within a part: a duplicate, first value kept.
		{"duplicate", editLines(base, func(ls []string) []string {
			return slices.Insert(slices.Clone(ls), 500, ls[400:450]...)
		}), Options{}},
		// 8. Another naming profile on the same target: nothing in common.
		{"lowercase", lower, Options{}},
		// 9. A cache filled by the previous body's series has no room for new
		// ones: they are parsed without it, duplicates still found.
		{"cache full", half, Options{MaxSeries: lowerSeries + 500}},
		// 10. Errors leave the cache usable.
		{"too many series", base, Options{MaxSeries: 100}},
		{"too large", base, Options{MaxBytes: 1000}},
		{"after errors", base, Options{}},
	}
	c := newSeriesCache()
	for _, st := range steps {
		before := len(c.entries)
		res, err := parseCached(st.body, st.opts, c)
		sameAsParse(t, st.name, st.body, st.opts, res, err)
		if n := len(c.entries); n > before && n > st.opts.withDefaults().MaxSeries {
			t.Fatalf("%s: %d entries over the bound", st.name, n)
		}
		if n := len(c.entries); err == nil && n-c.used > n/8 {
			t.Fatalf("%s: %d entries kept, %d used", st.name, n, c.used)
		}
	}
}

func mustGen(st genStyle, lines int, seed uint64) []byte {
	b, _ := genExposition(st, lines, seed)
	return b
}

// TestCacheLineShapes: each row is a pair of bodies parsed in turn with one
// cache, where the second body's lines start with the first body's series
// text but must not be taken for it (or must, when the parse agrees).
func TestCacheLineShapes(t *testing.T) {
	f := func(first, second string) {
		t.Helper()
		c := newSeriesCache()
		for i, body := range []string{first, second, second} {
			res, err := parseCached([]byte(body), Options{}, c)
			sameAsParse(t, fmt.Sprintf("%q body %d", body, i), []byte(body), Options{}, res, err)
		}
	}
	ldr := "kafka_server_ReplicaManager_Value"
	size := "kafka_log_Log_Value"
	// 1. A bare name followed by a label set: another series.
	f("kafka_server_replicamanager_leadercount 1\n", "kafka_server_replicamanager_leadercount {a=\"b\"} 2\n")
	// 2. A longer name that starts with the cached one.
	f("kafka_server_replicamanager_leadercount 1\n", "kafka_server_replicamanager_leadercountx 2\n")
	// 3. A value right after the name (`a+1`), and a tab before the value.
	f("kafka_server_replicamanager_leadercount 1\n", "kafka_server_replicamanager_leadercount+1\nkafka_server_replicamanager_leadercount\t3\n")
	// 4. Nothing after the series: a problem, every time.
	f(ldr+"{name=\"LeaderCount\",} 1\n", ldr+"{name=\"LeaderCount\",}\n"+ldr+"{name=\"LeaderCount\",} x\n")
	// 5. No blank between label set and value, and a timestamp.
	f(ldr+"{name=\"LeaderCount\",} 1\n", ldr+"{name=\"LeaderCount\",}7 1574380800000\n")
	// 6. A bad partition label is reported on every scrape.
	f(size+"{name=\"Size\",topic=\"t\",partition=\"x\",} 1\n", size+"{name=\"Size\",topic=\"t\",partition=\"x\",} 1\n")
	// 7. A value out of float64's range: rejected for a mapped series, not
	// for a skimmed one.
	f(size+"{name=\"Size\",topic=\"t\",partition=\"0\",} 1\n"+size+"{name=\"Other\",} 1\n",
		size+"{name=\"Size\",topic=\"t\",partition=\"0\",} 1e400\n"+size+"{name=\"Other\",} 1e400\n")
	// 8. Escaped label values: the series text is the key, escapes and all.
	f(size+"{name=\"Size\",topic=\"a\\\"b\",partition=\"0\",} 1\n", size+"{name=\"Size\",topic=\"a\\\"b\",partition=\"0\",} 2\n"+size+"{name=\"Size\",topic=\"a\\\\\"b\",partition=\"0\",} 3\n")
	// 9. Same series in a second part, then repeated within it.
	f(ldr+"{name=\"LeaderCount\",} 1\n", "# TYPE "+ldr+" gauge\n"+ldr+"{name=\"LeaderCount\",} 1\n# TYPE "+ldr+" gauge\n"+ldr+"{name=\"LeaderCount\",} 2\n"+ldr+"{name=\"LeaderCount\",} 3\n")
}

// TestScraperMatchesScrape scrapes a changing body with one Scraper; each
// result must equal the package-level Scrape of the same body.
func TestScraperMatchesScrape(t *testing.T) {
	var body []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		serveText(body).ServeHTTP(w, r)
	}))
	defer srv.Close()
	sc, err := NewScraper(srv.Client(), Target{URL: srv.URL, BrokerID: 1}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(3) {
		body = mustGen(genStyle{profile: ProfileMBean}, 2000+int(seed)*100, seed)
		got, err := sc.Scrape(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want, err := Scrape(context.Background(), srv.Client(), Target{URL: srv.URL, BrokerID: 1}, Options{})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("seed %d: %v; Scraper and Scrape differ", seed, err)
		}
	}
	if _, err := NewScraper(nil, Target{URL: srv.URL}, Options{MaxSeries: -1}); err == nil {
		t.Fatal("bad options accepted")
	}
}

// FuzzCache parses two bodies in turn with one series cache, then the second
// again, each with default options and with tiny limits. Invariants:
//
//   - Every cached parse returns exactly what Parse returns for the same
//     body and options: samples (values, strings, order), parts, profile,
//     counters, problems and error. The cache only changes the speed.
//   - The cache never grows past Options.MaxSeries entries in a parse that
//     adds entries, and after a successful parse at most an eighth of its
//     entries are ones that parse did not use.
func FuzzCache(f *testing.F) {
	seeds := fuzzSeeds(f)
	for i, seed := range seeds {
		f.Add([]byte(seed), []byte(seeds[(i+1)%len(seeds)]))
		f.Add([]byte(seed), []byte(seed+seed))
	}
	f.Fuzz(func(t *testing.T, first, second []byte) {
		for _, opts := range []Options{{}, {MaxSeries: 3, MaxBytes: 256}} {
			c := newSeriesCache()
			for i, body := range [][]byte{first, second, second} {
				before := len(c.entries)
				res, err := parseCached(body, opts, c)
				sameAsParse(t, fmt.Sprintf("body %d", i), body, opts, res, err)
				n := len(c.entries)
				if n > before && n > opts.withDefaults().MaxSeries {
					t.Fatalf("body %d: %d entries over the bound", i, n)
				}
				if err == nil && n-c.used > n/8 {
					t.Fatalf("body %d: %d entries kept, %d used", i, n, c.used)
				}
			}
		}
	})
}
