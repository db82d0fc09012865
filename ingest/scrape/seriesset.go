package scrape

// seriesSet maps series hashes to sample indexes for duplicate detection
// (and to entries in seriesCache): an
// open-addressing table with linear probing, so the common miss costs one
// probe (one cache line) where a Go map lookup plus insert costs two. Not
// safe for concurrent use.
type seriesSet struct {
	slots []slot
	n     int // occupied slots
}

type slot struct {
	hash uint64 // 0 marks an empty slot; hashes are forced non-zero
	idx  int32  // sample index
}

// newSeriesSet sizes the table for about n entries at most 3/4 full.
func newSeriesSet(n int) seriesSet {
	size := 64
	for size*3 < n*4 {
		size *= 2
	}
	return seriesSet{slots: make([]slot, size)}
}

// insert stores idx under h and returns -1, or, when h is already present,
// leaves the table unchanged and returns the index stored under it.
func (s *seriesSet) insert(h uint64, idx int32) int32 {
	h |= 1 << 63 // non-zero; the low bits pick the slot
	if (s.n+1)*4 > len(s.slots)*3 {
		s.grow()
	}
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i].hash {
		case 0:
			s.slots[i] = slot{hash: h, idx: idx}
			s.n++
			return -1
		case h:
			return s.slots[i].idx
		}
	}
}

// find returns the index stored under h, or -1.
func (s *seriesSet) find(h uint64) int32 {
	h |= 1 << 63
	mask := uint64(len(s.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		switch s.slots[i].hash {
		case 0:
			return -1
		case h:
			return s.slots[i].idx
		}
	}
}

// grow doubles the table and reinserts every entry.
func (s *seriesSet) grow() {
	old := s.slots
	*s = seriesSet{slots: make([]slot, 2*len(old))}
	for _, sl := range old {
		if sl.hash != 0 {
			s.insert(sl.hash, sl.idx)
		}
	}
}

// reset empties the table, keeping its size.
func (s *seriesSet) reset() {
	clear(s.slots)
	s.n = 0
}
