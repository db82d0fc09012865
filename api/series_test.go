package api

import (
	"reflect"
	"strings"
	"testing"

	"github.com/kwitness/kwitness/detect"
)

func TestParseSeriesText(t *testing.T) {
	ok := func(n int, in string, want detect.SeriesRef) {
		t.Helper()
		got, err := ParseSeriesText(in)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%d: ParseSeriesText(%q) = %+v, %v; want %+v", n, in, got, err, want)
		}
	}
	bad := func(n int, in, wantErr string) {
		t.Helper()
		if _, err := ParseSeriesText(in); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%d: ParseSeriesText(%q) error %v, want one containing %q", n, in, err, wantErr)
		}
	}
	ok(1, `m{}`, detect.SeriesRef{Metric: "m"})
	ok(2, `kafka_consumergroup_committed_offset{cluster="c",group="g",partition="0",topic="t"}`, detect.SeriesRef{
		Metric: "kafka_consumergroup_committed_offset",
		Labels: []detect.Label{{Name: "cluster", Value: "c"}, {Name: "group", Value: "g"}, {Name: "partition", Value: "0"}, {Name: "topic", Value: "t"}},
	})
	ok(3, `m{group="a\"b,c}"}`, detect.SeriesRef{Metric: "m", Labels: []detect.Label{{Name: "group", Value: `a"b,c}`}}}) // quotes and braces in a group id
	bad(4, `m`, "want name{")
	bad(5, `{a="b"}`, "want name{")
	bad(6, `m{a=b}`, "bad label")
	bad(7, `m{a="b}`, "unterminated")
	bad(8, `m{b="1",a="2"}`, "sorted")
	bad(9, `m{a="1" b="2"}`, "','")
	bad(10, `m{a="1",}`, "','")
	bad(11, `9m{}`, "bad metric name")
}

// FuzzParseSeriesText: parsing never panics; whatever parses renders back
// (SeriesRef.String) to text that parses to the same reference.
func FuzzParseSeriesText(f *testing.F) {
	for _, s := range []string{`m{}`, `a{b="c",d="e\n"}`, `m{group="a\"b"}`, `m{a="1",}`, `{`, `m{a=""}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseSeriesText(s)
		if err != nil {
			return
		}
		again, err := ParseSeriesText(ref.String())
		if err != nil || !reflect.DeepEqual(again, ref) {
			t.Fatalf("round trip of %q: %q → %+v, %v", s, ref.String(), again, err)
		}
	})
}
