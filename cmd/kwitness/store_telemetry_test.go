package main

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/kwitness/kwitness/api"
	"github.com/kwitness/kwitness/detect"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
	"github.com/kwitness/kwitness/state"
)

// TestDemoBrokerCitationsResolve runs the demo (embedded kfake, simulated
// broker endpoints, the whole sidecar with its store) until its broker
// scenarios have opened, then resolves every broker citation of every
// finding through QuerySeries on a server that reads the store alone (no
// telemetry window). The sidecar's window holds every sweep at full
// resolution, so each citation summarises raw samples: the stored samples
// in the cited window must give exactly the cited first, last, min, max
// and count, and no more gaps than the citation counted (the window also
// counts the sweeps before a series existed as gaps; the store does not).
func TestDemoBrokerCitationsResolve(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about half a minute")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	opened := newOpenedLog()
	wl, s := runDemo(ctx, t, func(cfg *Config) {
		cfg.Window.Recent = 600 // longer than the run at one sweep a second: no decimation
	}, opened.notify)
	opened.waitAll(t, wl.start, 100*time.Second, "DISK_FILL_FORECAST ", "UNDER_REPLICATED ", "REPLICA_SKEW ", "DISK_SKEW ")

	srv := api.NewServer(s.findings, s.window, s.cfg.Lag).WithHistory(s.store, nil)
	cited := 0
	for _, f := range s.findings.List(state.FindingFilter{Broker: -1}) {
		for _, c := range f.Evidence {
			if strings.HasPrefix(c.Series.Metric, "kafka_broker_") {
				checkBrokerCitation(t, srv, f, c)
				cited++
			}
		}
	}
	if cited == 0 {
		t.Fatal("no broker citation checked")
	}
	t.Logf("%d broker citations resolved", cited)
}

// checkBrokerCitation queries c's series over its window and compares the
// summary of the raw samples with the citation's.
func checkBrokerCitation(t *testing.T, srv *api.Server, f detect.Finding, c detect.Citation) {
	t.Helper()
	resp, err := srv.QuerySeries(context.Background(), &pb.QuerySeriesRequest{
		Series: c.Series.String(), From: timestamppb.New(c.From), To: timestamppb.New(c.To),
	})
	if err != nil {
		t.Errorf("%s: citation %s does not resolve from the store: %v", f.Kind, c.Series, err)
		return
	}
	var got detect.Citation
	for _, s := range resp.Samples {
		if s.Gap {
			got.Gaps++
			continue
		}
		v := s.FloatValue
		if got.Count == 0 {
			got.First, got.Min, got.Max = v, v, v
		}
		got.Count++
		got.Last, got.Min, got.Max = v, math.Min(got.Min, v), math.Max(got.Max, v)
	}
	if got.Count != c.Count || got.First != c.First || got.Last != c.Last || got.Min != c.Min || got.Max != c.Max || got.Gaps > c.Gaps {
		t.Errorf("%s: %s [%s, %s]: raw samples give count %d, gaps %d, first %g, last %g, min %g, max %g; cited count %d, gaps %d, first %g, last %g, min %g, max %g",
			f.Kind, c.Series, c.From.Format(time.TimeOnly), c.To.Format(time.TimeOnly),
			got.Count, got.Gaps, got.First, got.Last, got.Min, got.Max, c.Count, c.Gaps, c.First, c.Last, c.Min, c.Max)
	}
}
