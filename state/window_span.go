package state

import "time"

// Span is how far back the window reaches.
func (w *Window) Span() time.Duration { return w.cfg.Span }
