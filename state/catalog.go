package state

import (
	"slices"
	"sync/atomic"
)

// catalog gives series keys dense ids. One writer adds and releases keys;
// readers map ids back to keys through blocks published atomically. A
// reader must only ask for ids below a count the writer published
// afterwards (a Snapshot's Series) and still in use: that publication
// orders the key's write before the read.
//
// Released ids are reused (the most recently released first), so the id
// space — and the rings sized by it — stays bounded by the series alive at
// once rather than growing with every group or topic ever seen. Whoever
// mirrors ids elsewhere (the store) follows the assignments through the
// journal (see assigned).
type catalog[K comparable] struct {
	ids    idIndex[K] // id by key; writer only
	blocks atomic.Pointer[[]*[blockSeries]K]
	n      uint32   // ids handed out so far, released ones included; writer only
	free   []uint32 // released ids; writer only

	// journal lists the ids given or stripped of a key since position
	// jpos, in order, while tracked. Writer only.
	journal []uint32
	jpos    uint64
	tracked bool
}

func newCatalog[K comparable]() *catalog[K] {
	c := &catalog[K]{ids: newIDIndex[K]()}
	c.blocks.Store(&[]*[blockSeries]K{})
	return c
}

// add returns k's id, assigning one (a released id if any, else the next
// new one) if k is not registered. Writer only.
func (c *catalog[K]) add(k K) (id uint32, added bool) {
	if id, ok := c.ids.lookup(k, c.key); ok {
		return id, false
	}
	if n := len(c.free); n > 0 {
		id, c.free = c.free[n-1], c.free[:n-1]
	} else {
		id = c.n
		c.n++
	}
	blocks := *c.blocks.Load()
	if int(id)/blockSeries >= len(blocks) { // a new block: publish the longer list
		blocks = append(slices.Clone(blocks), new([blockSeries]K))
		c.blocks.Store(&blocks)
	}
	blocks[id/blockSeries][id%blockSeries] = k
	c.ids.insert(k, id, c.key)
	if c.tracked {
		c.journal = append(c.journal, id)
	}
	return id, true
}

// release unregisters id's key and frees id for reuse. The caller makes
// sure no reader still holds id. Writer only.
func (c *catalog[K]) release(id uint32) {
	blocks := *c.blocks.Load()
	k := &blocks[id/blockSeries][id%blockSeries]
	c.ids.remove(*k, c.key)
	var zero K
	*k = zero
	c.free = append(c.free, id)
	if c.tracked {
		c.journal = append(c.journal, id)
	}
}

// track starts the journal: from now on assigned reports every id given or
// stripped of a key. Writer only.
func (c *catalog[K]) track() {
	if !c.tracked {
		c.tracked, c.journal, c.jpos = true, nil, 0
	}
}

// assigned returns the ids given or stripped of a key (added or released)
// since journal position from, oldest first (an id may repeat; key tells
// its key now), and the position after them; the slice is valid until the
// next add or release. ok is false when from is older than the journal
// holds: the caller must then treat every id as reassigned. Writer only.
func (c *catalog[K]) assigned(from uint64) (ids []uint32, next uint64, ok bool) {
	end := c.jpos + uint64(len(c.journal))
	if from < c.jpos || from > end {
		return nil, end, false
	}
	return c.journal[from-c.jpos:], end, true
}

// trimJournal drops journal entries before position to, once they are
// many. Writer only.
func (c *catalog[K]) trimJournal(to uint64) {
	if to <= c.jpos || to-c.jpos < 4096 {
		return
	}
	n := min(to-c.jpos, uint64(len(c.journal)))
	c.journal = slices.Delete(c.journal, 0, int(n))
	c.jpos += n
}

// lookup returns k's id if registered. Writer only.
func (c *catalog[K]) lookup(k K) (uint32, bool) {
	return c.ids.lookup(k, c.key)
}

// len is the number of ids handed out, released ones included: the size
// of the id space. Writer only.
func (c *catalog[K]) len() int { return int(c.n) }

// live is the number of keys registered. Writer only.
func (c *catalog[K]) live() int { return c.ids.n }

// key returns the key of id (see the type's contract); the zero key for a
// released id. Safe for readers.
func (c *catalog[K]) key(id uint32) K {
	return (*c.blocks.Load())[id/blockSeries][id%blockSeries]
}

// Journal is a writer-side handle on a catalog for whoever mirrors its ids
// elsewhere (the store): the key of an id, and the ids given or stripped of
// a key since a position. A mirror turns it on with Track, then after each
// Commit reads Assigned from the position it holds, updates its copy, and
// calls Trim with the new position. Writer only: call its methods on the
// window's writer goroutine, between Commit and the next Begin.
type Journal[K comparable] struct{ c *catalog[K] }

// Track starts the journal (positions count from 0); a second call does
// nothing.
func (j Journal[K]) Track() { j.c.track() }

// Assigned returns the ids given or stripped of a key since position from,
// oldest first (an id may repeat; Key tells its key now), and the position
// after them. The slice is valid until the window's next Register. ok is
// false when from is older than the journal holds: the mirror must then
// treat every id as reassigned.
func (j Journal[K]) Assigned(from uint64) (ids []uint32, next uint64, ok bool) {
	return j.c.assigned(from)
}

// Trim lets the journal drop the entries before position to.
func (j Journal[K]) Trim(to uint64) { j.c.trimJournal(to) }

// Key returns the key of id; the zero key for a released id.
func (j Journal[K]) Key(id uint32) K { return j.c.key(id) }
