package detect

import "slices"

// RobustSlope estimates the slope dy/dx of points sorted by x with a
// half-span Theil–Sen estimator: the median of the slopes of the pairs
// (i, i+⌈n/2⌉). Each point takes part in at most two pairs, so a burst or a
// single outlier moves the estimate far less than a least-squares fit would,
// and the cost is O(n log n) for n ≤ a few hundred points.
//
// xs and ys have equal length; pairs with equal x are skipped. scratch is
// reused to avoid allocation and may be nil. It returns 0 and false when fewer
// than two usable pairs exist.
func RobustSlope(xs, ys []float64, scratch []float64) (slope float64, ok bool, buf []float64) {
	n := len(xs)
	h := (n + 1) / 2
	buf = scratch[:0]
	for i := 0; i+h < n; i++ {
		dx := xs[i+h] - xs[i]
		if dx <= 0 {
			continue
		}
		buf = append(buf, (ys[i+h]-ys[i])/dx)
	}
	if len(buf) == 0 {
		return 0, false, buf
	}
	if len(buf) == 1 {
		if n < 2 {
			return 0, false, buf
		}
		return buf[0], true, buf
	}
	slices.Sort(buf)
	m := len(buf) / 2
	if len(buf)%2 == 1 {
		return buf[m], true, buf
	}
	return (buf[m-1] + buf[m]) / 2, true, buf
}
