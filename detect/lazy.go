package detect

// Lazy views. Reading and converting a partition's whole window is most of
// the cost of a sweep, and most partitions are healthy. A LazyView hands out
// GroupTopics whose partition windows are empty until Load; the lag detector
// first asks for a PartitionSummary — a handful of values from the newest
// sweeps — and reads the whole window only when the summary cannot prove the
// partition OK. The proof is exact: a partition the summary calls OK is one
// EvaluatePartition would call OK over the full window (tests compare both).

// LazyView is a ConsumerView that fills partition windows on demand.
type LazyView interface {
	ConsumerView
	// Summary describes partition j of gt as judged with cfg (its Window,
	// TroughSpan and MinGrowth).
	Summary(gt *GroupTopic, j int, cfg *LagConfig) PartitionSummary
	// Load fills gt.Partitions[j].Window, all columns. Loading twice is
	// harmless.
	Load(gt *GroupTopic, j int)
	// LoadOffsets fills Times, Committed and End only (Start stays nil).
	LoadOffsets(gt *GroupTopic, j int)
}

// PartitionSummary is what a lazy view reads cheaply about a partition.
type PartitionSummary struct {
	ToMs           int64 // newest sweep
	Committed, End int64 // at the newest sweep; Gap when absent
	// StuckForMs is EvaluatePartition's StuckForMs, valid when StuckKnown:
	// the view found, within the newest sweeps, where the committed offset
	// last moved (or lag was 0).
	StuckForMs int64
	StuckKnown bool
	// TroughLag is EvaluatePartition's LagTrough; Gap when the view could
	// not tell (the newest sweeps it holds do not cover the trough span) or
	// did not need to (no lag, a possible decrease, or an unknown stuck time
	// decide without it).
	TroughLag int64
	// FirstLag is the lag at the window's first sample with both offsets
	// present; Gap when the view could not tell or did not need to: also
	// when TroughLag < MinGrowth, since FirstLag ≥ 0 then cannot make the
	// growth reach MinGrowth.
	FirstLag int64
	// NoDecrease: the committed offset did not decrease between consecutive
	// sweeps within the window (and was never incomparable across a gap).
	NoDecrease bool
}

// loaded reports whether partition j of gt has its window.
func loaded(gt *GroupTopic, j int) bool { return gt.Partitions[j].Window.Times != nil }

// ensureLoaded loads partition j's whole window (log start offsets
// included) if v is lazy and it is not loaded yet.
func ensureLoaded(v ConsumerView, gt *GroupTopic, j int) {
	if lv, ok := v.(LazyView); ok && gt.Partitions[j].Window.Start == nil {
		lv.Load(gt, j)
	}
}

// fastVerdict returns the verdict the summary and the rhythm (already fed
// the newest sweep) prove, or false when the whole window must be read. It
// mirrors evaluatePartition: only UNKNOWN (newest sweep a gap) and OK are
// decided here.
func fastVerdict(cfg LagConfig, s PartitionSummary, g GroupContext, rh *Rhythm) (PartitionLag, bool) {
	r := PartitionLag{Lag: Gap, Committed: Gap, End: Gap}
	if s.Committed == Gap || s.End == Gap {
		return r, true // unknown, as evaluatePartition
	}
	r.Committed, r.End, r.ToMs, r.Status = s.Committed, s.End, s.ToMs, StatusOK
	r.Lag = lagOf(s.End, s.Committed)
	if !s.NoDecrease { // a rewind may be in the window
		return r, false
	}
	if r.Lag == 0 {
		return r, true
	}
	if !s.StuckKnown && !rh.Learned() {
		return r, false // the fallback needs the window's stuck time
	}
	if st, _ := classifyLagging(cfg, s.ToMs, s.StuckForMs, g, rh); st != StatusOK {
		return r, false
	}
	r.StuckForMs, r.LagFirst, r.LagTrough = s.StuckForMs, s.FirstLag, s.TroughLag
	return r, true
}
