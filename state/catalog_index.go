package state

import "hash/maphash"

// idIndex finds a catalog id by key: an open-addressing hash table (linear
// probing) of id+1 per slot, 0 for an empty slot. The keys live once, in
// the catalog's blocks; the table holds 4-byte ids and no pointers, where a
// map[K]uint32 would hold a second copy of every key. Writer only.
type idIndex[K comparable] struct {
	seed  maphash.Seed
	slots []uint32 // len is 0 or a power of two
	n     int      // ids in the table
}

func newIDIndex[K comparable]() idIndex[K] { return idIndex[K]{seed: maphash.MakeSeed()} }

func (x *idIndex[K]) home(k K) int {
	return int(maphash.Comparable(x.seed, k) & uint64(len(x.slots)-1))
}

// find returns the slot holding k's id, or the empty slot where k would go
// (found false). key maps an id to its key. The table must not be empty.
func (x *idIndex[K]) find(k K, key func(uint32) K) (slot int, found bool) {
	mask := len(x.slots) - 1
	for i := x.home(k); ; i = (i + 1) & mask {
		s := x.slots[i]
		if s == 0 {
			return i, false
		}
		if key(s-1) == k {
			return i, true
		}
	}
}

// lookup returns k's id.
func (x *idIndex[K]) lookup(k K, key func(uint32) K) (uint32, bool) {
	if x.n == 0 {
		return 0, false
	}
	i, ok := x.find(k, key)
	return x.slots[i] - 1, ok
}

// insert adds id, whose key is k and not in the table, keeping the table
// at most 3/4 full.
func (x *idIndex[K]) insert(k K, id uint32, key func(uint32) K) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow(key)
	}
	i, _ := x.find(k, key)
	x.slots[i] = id + 1
	x.n++
}

// grow doubles the table (at least 64 slots) and re-inserts every id.
func (x *idIndex[K]) grow(key func(uint32) K) {
	old := x.slots
	x.slots = make([]uint32, max(64, 2*len(old)))
	for _, s := range old {
		if s != 0 {
			i, _ := x.find(key(s-1), key)
			x.slots[i] = s
		}
	}
}

// remove deletes k's id, if present, shifting back the entries after it
// that would otherwise be cut off from their home slot.
func (x *idIndex[K]) remove(k K, key func(uint32) K) {
	if x.n == 0 {
		return
	}
	i, ok := x.find(k, key)
	if !ok {
		return
	}
	mask := len(x.slots) - 1
	for j := (i + 1) & mask; x.slots[j] != 0; j = (j + 1) & mask {
		h := x.home(key(x.slots[j] - 1))
		// The entry at j may move to the hole at i unless its home lies
		// cyclically in (i, j].
		if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
			x.slots[i] = x.slots[j]
			i = j
		}
	}
	x.slots[i] = 0
	x.n--
}
