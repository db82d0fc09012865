package scrape

import (
	"strings"
	"unsafe"
)

// Chunk sizes of the arena, bytes: small first so a node_exporter scrape
// keeps a few KiB, doubling up to 64 KiB for jmx_exporter's megabytes.
const (
	arenaMinChunk = 4 << 10
	arenaMaxChunk = 64 << 10
)

// arena copies the series text of kept samples into chunks and returns
// strings that view them: one allocation per chunk instead of one per
// sample, and no second pass. A chunk is only ever appended to within its
// capacity, so the bytes behind a returned string never change. A kept
// Sample keeps its chunk alive, never the response body.
type arena struct{ buf []byte }

func (a *arena) copy(s string) string {
	if len(s) == 0 {
		return ""
	}
	if len(s) > arenaMaxChunk/4 {
		return strings.Clone(s)
	}
	if cap(a.buf)-len(a.buf) < len(s) {
		a.buf = make([]byte, 0, min(max(2*cap(a.buf), arenaMinChunk), arenaMaxChunk))
	}
	start := len(a.buf)
	a.buf = append(a.buf, s...)
	return unsafe.String(&a.buf[start], len(s))
}
