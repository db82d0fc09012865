package api

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

func TestEventFromProto(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	ok := func(n int, req *pb.RecordEventRequest, group string, at time.Time) {
		t.Helper()
		ev, err := eventFromProto(req, now)
		if err != nil || ev.Group != group || ev.AtMs != at.UnixMilli() {
			t.Errorf("%d: %+v, %v; want group %q at %v", n, ev, err, group, at)
		}
	}
	bad := func(n int, req *pb.RecordEventRequest, field string) {
		t.Helper()
		if _, err := eventFromProto(req, now); err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("%d: error %v, want one naming %s", n, err, field)
		}
	}
	ok(1, &pb.RecordEventRequest{Service: "fraud-check"}, "fraud-check", now)                                    // group defaults to the service
	ok(2, &pb.RecordEventRequest{Service: "svc", Labels: map[string]string{"group": "billing"}}, "billing", now) // or the group label
	ok(3, &pb.RecordEventRequest{Service: "svc", Group: "g", Time: timestamppb.New(now.Add(-time.Hour))}, "g", now.Add(-time.Hour))
	bad(4, &pb.RecordEventRequest{}, "service")
	bad(5, &pb.RecordEventRequest{Service: "s", Time: timestamppb.New(now.Add(time.Hour))}, "future")
	bad(6, &pb.RecordEventRequest{Service: strings.Repeat("s", 300)}, "at most")
	labels := map[string]string{}
	for i := range 40 {
		labels[strings.Repeat("k", i+1)] = "v"
	}
	bad(7, &pb.RecordEventRequest{Service: "s", Labels: labels}, "labels")
	bad(8, &pb.RecordEventRequest{Service: "s", Labels: map[string]string{"": "v"}}, "labels")
}
