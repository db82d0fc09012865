package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// TestDemoExplain runs the demo until fraud-check's lag finding opens
// (LAG_GROWING, or CONSUMER_STALLED when a partition the redeployed member
// leaves unserviced is overdue first and the stall explains the lag), then
// asks GET /v1/groups/fraud-check:explain why: the narrative names the
// reported deploy and the rebalance that started the lag, every entry it
// rests on is in the bundle, and the cited series resolve through
// GET /v1/series to the cited samples. GET /v1/findings/{id}/plan for the
// finding drafts a plan with a rollback, under the never-applied header.
func TestDemoExplain(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the demo for about a minute")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	opened := newOpenedLog()
	wl, s := runDemo(ctx, t, nil, opened.notify)
	// Generous: the scenario opens within a minute on an idle machine, far
	// later under a loaded -race run.
	opened.waitAny(t, wl.start, 4*time.Minute, fraudCheckLag...)

	// The bundle reflects the sweeps so far: poll until the lag onset is
	// in the window and tied to the deploy (the rebalance is observed at
	// the next describe).
	var b pb.ExplainResponse
	var why *pb.Statement
	entries := map[string]*pb.TimelineEntry{}
	for deadline := time.Now().Add(2 * time.Minute); why == nil; time.Sleep(time.Second) {
		b.Reset()
		getJSON(t, s.HTTPAddr, "/v1/groups/fraud-check:explain", &b)
		why, entries = deployStatement(t, &b)
		if why == nil && time.Now().After(deadline) {
			t.Fatalf("no statement ties the lag onset to the deploy; narrative: %v\ntimeline: %v", b.Narrative, b.Timeline)
		}
	}
	if !strings.Contains(why.Text, "deploy of fraud-check "+demoDeployVersion) {
		t.Errorf("statement does not name the deploy: %q", why.Text)
	}
	t.Logf("narrative: %s", why.Text)
	resolved := 0
	for _, r := range why.Refs {
		for _, c := range entries[r].Citations {
			if c.Series == nil {
				if c.SourceApi != "RecordEvent (POST /v1/events)" {
					t.Errorf("%s entry cites no series and no API: %v", entries[r].Kind, c)
				}
				continue
			}
			checkSeriesREST(t, s.HTTPAddr, entries[r].Kind, c)
			resolved++
		}
	}
	if resolved < 2 { // the committed and end offset series (and the generation's once the rebalance is seen)
		t.Errorf("%d series citations resolved, want at least 2", resolved)
	}
	if b.Budget.Bytes > b.Budget.MaxBytes || b.Budget.MaxBytes != 32<<10 {
		t.Errorf("budget = %v", b.Budget)
	}

	var lagID string
	for _, f := range b.Findings {
		if (f.Kind == "LAG_GROWING" || f.Kind == "CONSUMER_STALLED") && f.Relation == "subject" && lagID == "" {
			lagID = f.Id
		}
	}
	if lagID == "" {
		t.Fatalf("the bundle lists no lag finding of fraud-check: %v", b.Findings)
	}
	var plan pb.DraftPlanResponse
	getJSON(t, s.HTTPAddr, "/v1/findings/"+lagID+"/plan", &plan)
	if !strings.Contains(plan.Header, "never applies it") || len(plan.Proposals) == 0 {
		t.Fatalf("plan = %v", &plan)
	}
	for _, p := range plan.Proposals {
		if p.RollbackNote == "" && len(p.Rollback) == 0 {
			t.Errorf("proposal %q has no rollback", p.Action)
		}
		if p.Approver == nil || p.Approver.Owned || !strings.Contains(p.Approver.Note, "unowned") {
			t.Errorf("proposal %q: approver %v, want the demo's unowned note", p.Action, p.Approver)
		}
	}
	if !slices.ContainsFunc(plan.Proposals, func(p *pb.Proposal) bool {
		return strings.Contains(p.Action, "deploy of fraud-check "+demoDeployVersion)
	}) {
		t.Errorf("no proposal rolls the deploy back: %v", plan.Proposals)
	}
	explainTopicAndBroker(t, s.HTTPAddr, b.Group.Topics[0])
}

// explainTopicAndBroker asks GET /v1/topics/{topic}:explain for the topic
// fraud-check reads and GET /v1/brokers/{id}:explain for the leader of its
// first partition: Metadata's layout, the readers and the broker's load
// are there, and every narrative reference is in its bundle.
func explainTopicAndBroker(t *testing.T, addr, topic string) {
	t.Helper()
	var tb pb.ExplainResponse
	getJSON(t, addr, "/v1/topics/"+url.PathEscape(topic)+":explain", &tb)
	deployStatement(t, &tb) // checks the references
	ts := tb.Topic
	if ts == nil || ts.PartitionCount == 0 || len(ts.Partitions) == 0 || !slices.Contains(ts.ConsumerGroups, "fraud-check") {
		t.Fatalf("topic %s: state %v", topic, ts)
	}
	p := ts.Partitions[0]
	if p.Leader < 0 || len(p.Replicas) == 0 || p.LogEndOffset <= 0 || ts.ProduceRate <= 0 {
		t.Fatalf("topic %s: partition %v, produce rate %v", topic, p, ts.ProduceRate)
	}
	if len(tb.Narrative) == 0 || !strings.HasPrefix(tb.Narrative[0].Text, "Topic "+topic+" has ") || tb.Budget.Bytes > tb.Budget.MaxBytes {
		t.Errorf("topic %s: narrative %v, budget %v", topic, tb.Narrative, tb.Budget)
	}
	var bb pb.ExplainResponse
	getJSON(t, addr, fmt.Sprintf("/v1/brokers/%d:explain", p.Leader), &bb)
	deployStatement(t, &bb)
	bs := bb.Broker
	if bs == nil || !bs.Registered || bs.Leaders < 1 || !slices.Contains(bs.TopicsLed, topic) {
		t.Fatalf("broker %d: state %v", p.Leader, bs)
	}
	if len(bb.Narrative) == 0 || !strings.HasPrefix(bb.Narrative[0].Text, fmt.Sprintf("Broker %d is registered", p.Leader)) {
		t.Errorf("broker %d: narrative %v", p.Leader, bb.Narrative)
	}
	t.Logf("topic: %s", tb.Narrative[0].Text)
	t.Logf("broker: %s", bb.Narrative[0].Text)
}

// deployStatement returns the narrative statement that rests on a lag
// onset and a reported deploy, and the timeline by id; every reference of
// every statement must be in the bundle.
func deployStatement(t *testing.T, b *pb.ExplainResponse) (*pb.Statement, map[string]*pb.TimelineEntry) {
	t.Helper()
	entries := map[string]*pb.TimelineEntry{}
	for _, e := range b.Timeline {
		entries[e.Id] = e
	}
	findings := map[string]bool{}
	for _, f := range b.Findings {
		findings[f.Id] = true
	}
	var why *pb.Statement
	for _, st := range b.Narrative {
		kinds := map[string]bool{}
		for _, r := range st.Refs {
			if entries[r] == nil && !findings[r] && r != "state" && r != "owner" {
				t.Errorf("statement %q refers to %q, which the bundle does not hold", st.Text, r)
			}
			if e := entries[r]; e != nil {
				kinds[e.Kind] = true
			}
		}
		if kinds["LAG_ONSET"] && kinds["DEPLOY"] {
			why = st
		}
	}
	return why, entries
}

// getJSON GETs path from the HTTP API, wants 200 and decodes the body.
func getJSON(t *testing.T, addr, path string, m proto.Message) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s %v", path, resp.StatusCode, body, err)
	}
	if err := protojson.Unmarshal(body, m); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// checkSeriesREST resolves a citation through GET /v1/series and compares
// the first and last raw samples of its window with the cited values.
func checkSeriesREST(t *testing.T, addr, what string, c *pb.Citation) {
	t.Helper()
	q := url.Values{"series": {c.Series.Text}, "from": {c.From.AsTime().Format(time.RFC3339Nano)}, "to": {c.To.AsTime().Format(time.RFC3339Nano)}}
	var resp pb.QuerySeriesResponse
	getJSON(t, addr, "/v1/series?"+q.Encode(), &resp)
	var present []*pb.Sample
	for _, s := range resp.Samples {
		if !s.Gap {
			present = append(present, s)
		}
	}
	if len(present) == 0 || len(present) < int(c.Count) {
		t.Errorf("%s: %s: %d raw samples, citation counted %d", what, c.Series.Text, len(present), c.Count)
		return
	}
	a, z := present[0], present[len(present)-1]
	if !a.Time.AsTime().Equal(c.From.AsTime()) || float64(a.Value) != c.First || !z.Time.AsTime().Equal(c.To.AsTime()) || float64(z.Value) != c.Last {
		js, _ := json.Marshal(map[string]any{"first": [2]any{a.Time.AsTime(), a.Value}, "last": [2]any{z.Time.AsTime(), z.Value}})
		t.Errorf("%s: %s: raw ends %s differ from cited %v=%g, %v=%g", what, c.Series.Text, js, c.From.AsTime(), c.First, c.To.AsTime(), c.Last)
	}
}
