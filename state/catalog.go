package state

import (
	"slices"
	"sync/atomic"
)

// catalog gives series keys dense ids. One writer adds keys; readers map ids
// back to keys through blocks published atomically. A reader must only ask
// for ids below a count the writer published afterwards (a Snapshot's
// Series): that publication orders the key's write before the read.
type catalog[K comparable] struct {
	ids    map[K]uint32 // writer only
	blocks atomic.Pointer[[]*[blockSeries]K]
}

func newCatalog[K comparable]() *catalog[K] {
	c := &catalog[K]{ids: map[K]uint32{}}
	c.blocks.Store(&[]*[blockSeries]K{})
	return c
}

// add returns k's id, registering it if new. Writer only.
func (c *catalog[K]) add(k K) (id uint32, added bool) {
	if id, ok := c.ids[k]; ok {
		return id, false
	}
	id = uint32(len(c.ids))
	c.ids[k] = id
	blocks := *c.blocks.Load()
	if int(id)/blockSeries >= len(blocks) { // a new block: publish the longer list
		blocks = append(slices.Clone(blocks), new([blockSeries]K))
		c.blocks.Store(&blocks)
	}
	blocks[id/blockSeries][id%blockSeries] = k
	return id, true
}

// lookup returns k's id if registered. Writer only.
func (c *catalog[K]) lookup(k K) (uint32, bool) {
	id, ok := c.ids[k]
	return id, ok
}

// len is the number of keys registered. Writer only.
func (c *catalog[K]) len() int { return len(c.ids) }

// key returns the key of id (see the type's contract). Safe for readers.
func (c *catalog[K]) key(id uint32) K {
	return (*c.blocks.Load())[id/blockSeries][id%blockSeries]
}
