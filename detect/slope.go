package detect

import "slices"

// RobustSlope estimates the slope dy/dx of points sorted by x with a
// half-span Theil–Sen estimator: the median of the slopes of the pairs
// (i, i+⌈n/2⌉). Each point takes part in at most two pairs, so a burst or a
// single outlier moves the estimate far less than a least-squares fit would,
// and the median is found by selection in O(n) on average.
//
// xs and ys have equal length; pairs with equal x are skipped. scratch is
// reused to avoid allocation and may be nil; its order on return is
// unspecified. It returns 0 and false when no usable pair exists (fewer than
// two points, or all x equal).
func RobustSlope(xs, ys []float64, scratch []float64) (slope float64, ok bool, buf []float64) {
	n := len(xs)
	h := (n + 1) / 2
	buf = scratch[:0]
	nan := false
	for i := 0; i+h < n; i++ {
		dx := xs[i+h] - xs[i]
		if dx <= 0 {
			continue
		}
		s := (ys[i+h] - ys[i]) / dx
		nan = nan || s != s
		buf = append(buf, s)
	}
	if len(buf) == 0 {
		return 0, false, buf
	}
	if len(buf) == 1 {
		return buf[0], true, buf
	}
	// The median by selection, not a full sort; NaN slopes keep the sorted
	// path so that they order as slices.Sort orders them.
	m := len(buf) / 2
	if nan {
		slices.Sort(buf)
	} else {
		nthElement(buf, m)
	}
	if len(buf)%2 == 1 {
		return buf[m], true, buf
	}
	lo := buf[m-1]
	if !nan {
		lo = slices.Max(buf[:m]) // selection leaves the lower half unordered
	}
	return (lo + buf[m]) / 2, true, buf
}

// nthElement reorders a (free of NaN) so that a[k] holds the value a sorted
// copy holds at k and a[:k] ≤ a[k] ≤ a[k+1:]: quickselect with a
// median-of-three pivot, O(len(a)) on average instead of a full sort.
func nthElement(a []float64, k int) {
	lo, hi := 0, len(a)-1
	for hi-lo > 12 {
		mid := lo + (hi-lo)/2
		if a[mid] < a[lo] {
			a[mid], a[lo] = a[lo], a[mid]
		}
		if a[hi] < a[lo] {
			a[hi], a[lo] = a[lo], a[hi]
		}
		if a[hi] < a[mid] {
			a[hi], a[mid] = a[mid], a[hi]
		}
		p, i, j := a[mid], lo, hi
		for i <= j { // Hoare partition: a[lo:j+1] ≤ p, a[j+1:i] == p, a[i:hi+1] ≥ p
			for a[i] < p {
				i++
			}
			for p < a[j] {
				j--
			}
			if i <= j {
				a[i], a[j] = a[j], a[i]
				i, j = i+1, j-1
			}
		}
		switch {
		case k <= j:
			hi = j
		case k >= i:
			lo = i
		default:
			return
		}
	}
	for i := lo + 1; i <= hi; i++ { // insertion sort of the last few
		for j := i; j > lo && a[j] < a[j-1]; j-- {
			a[j], a[j-1] = a[j-1], a[j]
		}
	}
}
