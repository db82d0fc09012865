package mcp

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	pb "github.com/kwitness/kwitness/proto/kwitness/v1"
)

// marshalOpts renders answers with the proto field names, as the REST API
// and citations spell them.
var marshalOpts = protojson.MarshalOptions{UseProtoNames: true}

func marshal(m proto.Message) (string, error) {
	b, err := marshalOpts.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("mcp: render %T: %w", m, err)
	}
	return string(b), nil
}

// errTooBig says an answer does not fit its budget even with every list cut.
var errTooBig = errors.New("mcp: the answer does not fit the byte budget even with its lists cut")

// fit renders the answer with the most items k ≤ n that fits budget
// bytes: render(k)'s text, plus note(k) as a second text when not empty.
// It returns the result and k. Answer size grows with k, so the largest
// fitting k is found by bisection.
func fit(budget, n int, render func(k int) (string, error), note func(k int) string) (*mcp.CallToolResult, int, error) {
	size := func(k int) (string, int, error) {
		text, err := render(k)
		return text, len(text) + len(note(k)), err
	}
	text, sz, err := size(n)
	if err != nil {
		return nil, 0, err
	}
	k := n
	if sz > budget {
		var ferr error
		k = sort.Search(n, func(k int) bool { // the first k that does not fit
			_, sz, err := size(k)
			if err != nil {
				ferr = err
			}
			return sz > budget
		}) - 1
		if ferr != nil {
			return nil, 0, ferr
		}
		if k < 0 {
			return nil, 0, errTooBig
		}
		text, _, _ = size(k)
	}
	if msg := note(k); msg != "" {
		return cutResult(text, msg), k, nil
	}
	return mcp.NewToolResultText(text), k, nil
}

// whenCut returns note for k < n and nothing for k = n.
func whenCut(n int, note func(k int) string) func(int) string {
	return func(k int) string {
		if k < n {
			return note(k)
		}
		return ""
	}
}

// cutNote joins what was cut into one note; "" when nothing was.
func cutNote(says ...string) string {
	says = slices.DeleteFunc(says, func(s string) bool { return s == "" })
	if len(says) == 0 {
		return ""
	}
	return "cut: " + strings.Join(says, "; ")
}

// cutResult is an answer with its note saying what was left out.
func cutResult(text, note string) *mcp.CallToolResult {
	return &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(text), mcp.NewTextContent(note)}}
}

// sortByLag orders partitions largest lag first; gaps (-1) go last.
func sortByLag(ps []*pb.PartitionLag) {
	slices.SortStableFunc(ps, func(a, b *pb.PartitionLag) int { return cmp.Compare(b.Lag, a.Lag) })
}
