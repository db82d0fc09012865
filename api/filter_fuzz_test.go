package api

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kwitness/kwitness/detect"
)

// FuzzParseFilter fuzzes every argument of ParseFilter. Invariants:
//   - it never panics;
//   - on success the filter reflects the input: group and topic verbatim;
//     state, kind and severity empty (match all) or exactly one value whose
//     name equals the input ignoring case (strings.EqualFold); broker -1 when
//     unset, else the given id, which is ≥ 0;
//   - on error the message starts with the name of an argument, and that
//     argument alone is rejected with the same message — the error names the
//     bad argument, not an innocent one.
func FuzzParseFilter(f *testing.F) {
	f.Add("firing", "LAG_GROWING", "warning", "g", "t", true, int32(1))
	f.Add("RESOLVED", "consumer_stalled", "Critical", "", "", false, int32(0))
	f.Add("open", "lag", "high", "g", "t", true, int32(-1))
	f.Add("", "", "", strings.Repeat("g", 997), "", false, int32(0))
	f.Add("", "lag_growıng", "", "", "", false, int32(0)) // ToUpper("ı") is "I", but they are not the same letter
	f.Add("", "", "İnfo", "", "", false, int32(0))        // ToLower("İ") is "i", likewise
	f.Add("FİRING", "", "", "", "", false, int32(0))
	f.Add("", "conſumer_ſtalled", "", "", "", false, int32(0)) // long s folds to s: EqualFold accepts it
	f.Fuzz(func(t *testing.T, state, kind, severity, group, topic string, hasBroker bool, broker int32) {
		a := FilterArgs{State: state, Kind: kind, Severity: severity, Group: group, Topic: topic}
		if hasBroker {
			a.Broker = &broker
		}
		q, err := ParseFilter(a)
		if err != nil {
			checkFilterError(t, a, err)
			return
		}
		if q.Group != group || q.Topic != topic {
			t.Fatalf("group %q topic %q became %q %q", group, topic, q.Group, q.Topic)
		}
		if (state == "") != (len(q.States) == 0) || len(q.States) > 1 || len(q.States) == 1 && !strings.EqualFold(q.States[0].String(), state) {
			t.Fatalf("state %q became %v", state, q.States)
		}
		if (kind == "") != (len(q.Kinds) == 0) || len(q.Kinds) > 1 || len(q.Kinds) == 1 && (!detect.KnownKind(q.Kinds[0]) || !strings.EqualFold(string(q.Kinds[0]), kind)) {
			t.Fatalf("kind %q became %v", kind, q.Kinds)
		}
		if (severity == "") != (q.MinSeverity == 0) || severity != "" && !strings.EqualFold(q.MinSeverity.String(), severity) {
			t.Fatalf("severity %q became %v", severity, q.MinSeverity)
		}
		if want := int32(-1); hasBroker && (broker < 0 || q.Broker != broker) || !hasBroker && q.Broker != want {
			t.Fatalf("broker %v (set %v) became %d", broker, hasBroker, q.Broker)
		}
	})
}

func checkFilterError(t *testing.T, a FilterArgs, err error) {
	t.Helper()
	alone := map[string]FilterArgs{
		"state": {State: a.State}, "kind": {Kind: a.Kind}, "severity": {Severity: a.Severity},
		"group": {Group: a.Group}, "topic": {Topic: a.Topic}, "broker": {Broker: a.Broker},
	}
	name, _, _ := strings.Cut(err.Error(), " ")
	name = strings.TrimSuffix(name, ":")
	only, ok := alone[name]
	if !ok {
		t.Fatalf("error %q names no argument", err)
	}
	if _, err2 := ParseFilter(only); err2 == nil || err2.Error() != err.Error() {
		t.Fatalf("error %q blames %s, but %s alone gives %v", err, name, name, err2)
	}
}

// FuzzPageToken fuzzes the page-token codec. Invariants:
//   - decodePageToken never panics, whatever the client sends, and any error
//     names page_token;
//   - a token it accepts re-encodes to a token that decodes to the same
//     position (id and opened time);
//   - encode → decode round-trips every position a listed finding can have:
//     a non-empty id and an opened time in the int64-nanosecond range the
//     token carries (years 1678–2262; sweep times are wall-clock times).
func FuzzPageToken(f *testing.F) {
	f.Add("MTc3MjM2NjQwMDAwMDAwMDAwMHxh", int64(1772366400), int64(0), "a")
	f.Add("", int64(0), int64(999999999), "0123456789abcdef-mx2k3f")
	f.Add("LTF8eHx5", int64(-1), int64(1), "x|y")
	f.Add("!!", int64(9223372036), int64(854775807), "\x00")
	f.Fuzz(func(t *testing.T, tok string, sec, nsec int64, id string) {
		p, err := decodePageToken(tok)
		switch {
		case err != nil && !strings.HasPrefix(err.Error(), "page_token: "):
			t.Fatalf("decode %q: error %q does not name page_token", tok, err)
		case err == nil:
			again, err := decodePageToken(encodePageToken(p))
			if err != nil || again.ID != p.ID || !again.OpenedAt.Equal(p.OpenedAt) {
				t.Fatalf("decode %q = %q@%v; re-encoded it decodes to %q@%v, %v", tok, p.ID, p.OpenedAt, again.ID, again.OpenedAt, err)
			}
		}
		opened := time.Unix(sec, nsec)
		if id == "" || opened.Before(time.Unix(0, math.MinInt64)) || opened.After(time.Unix(0, math.MaxInt64)) {
			return // not a position a finding can have
		}
		in := detect.Finding{ID: id, OpenedAt: opened}
		out, err := decodePageToken(encodePageToken(in))
		if err != nil || out.ID != id || !out.OpenedAt.Equal(opened) {
			t.Fatalf("%q@%v round-tripped to %q@%v, %v", id, opened, out.ID, out.OpenedAt, err)
		}
	})
}
