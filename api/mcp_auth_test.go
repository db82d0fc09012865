package api_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	mcpgo "github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/kwitness/kwitness/api/auth"
	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// mcpClient starts an MCP client of the guarded /mcp with the token (none
// when empty) and reports whether initialize succeeded.
func (g *guarded) mcpClient(t *testing.T, tok string) (*client.Client, error) {
	t.Helper()
	var opts []transport.StreamableHTTPCOption
	if tok != "" {
		opts = append(opts, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + tok}))
	}
	c, err := client.NewStreamableHttpClient(g.url+"/mcp", opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Start(t.Context()); err != nil {
		return nil, err
	}
	var init mcpgo.InitializeRequest
	init.Params.ProtocolVersion = mcpgo.LATEST_PROTOCOL_VERSION
	_, err = c.Initialize(t.Context(), init)
	return c, err
}

// TestMCPGuarded: /mcp is behind the same guard as REST — no token, no
// session — and a scoped token's tools see only its team's findings and
// citations.
func TestMCPGuarded(t *testing.T) {
	g := newGuarded(t, nil)
	if _, err := g.mcpClient(t, ""); err == nil {
		t.Fatal("initialize without a token succeeded")
	}
	c, err := g.mcpClient(t, tokTeamA)
	if err != nil {
		t.Fatal(err)
	}
	var req mcpgo.CallToolRequest
	req.Params.Name = "list_findings"
	res, err := c.CallTool(t.Context(), req)
	if err != nil || res.IsError {
		t.Fatalf("list_findings: %v %+v", err, res)
	}
	var list pb.ListFindingsResponse
	if err := protojson.Unmarshal([]byte(res.Content[0].(mcpgo.TextContent).Text), &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Findings) != 1 || list.Findings[0].Id != "fa" {
		t.Fatalf("team-a sees %d findings: %v", len(list.Findings), list.Findings)
	}
	for _, c := range list.Findings[0].Evidence {
		if strings.Contains(c.Series.Text, "team-b") {
			t.Errorf("team-a sees a team-b citation: %s", c.Series.Text)
		}
	}
	req.Params.Name, req.Params.Arguments = "get_finding", map[string]any{"id": "fb"}
	res, err = c.CallTool(t.Context(), req)
	if err != nil || !res.IsError {
		t.Errorf("team-a got team-b's finding: %v %+v", err, res)
	}
}

// TestMCPAudited: an MCP tool call is audited as surface mcp with the
// caller's name and the RPC it made, and the audit log holds no token.
func TestMCPAudited(t *testing.T) {
	g := newGuarded(t, nil)
	c, err := g.mcpClient(t, tokTeamA)
	if err != nil {
		t.Fatal(err)
	}
	var req mcpgo.CallToolRequest
	req.Params.Name, req.Params.Arguments = "list_findings", map[string]any{"group": "team-a-app"}
	if res, err := c.CallTool(t.Context(), req); err != nil || res.IsError {
		t.Fatalf("list_findings: %v %+v", err, res)
	}
	raw, err := os.ReadFile(g.audit)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), tokTeamA) {
		t.Fatalf("audit log holds the token:\n%s", raw)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		var a auth.AuditLine
		if json.Unmarshal([]byte(l), &a) == nil && a.Surface == "mcp" && a.Method == "ListFindings" {
			if a.Caller != "team-a" || a.Filter != "group=team-a-app" || a.Results != 1 || a.Withheld != 1 || a.Status != "OK" {
				t.Fatalf("MCP audit line %+v", a)
			}
			return
		}
	}
	t.Fatalf("no mcp ListFindings audit line in:\n%s", raw)
}
