// Package nth finds the k-th smallest element of a slice in linear
// expected time (quickselect with a three-way partition), with the order
// slices.Sort uses — a NaN is less than every number — so that
//
//	Nth(s, k) == (slices.Sort(s); s[k])
//
// for every input: a median taken with Nth is bit for bit the median
// taken by sorting, without the n log n.
package nth

import "cmp"

// less is slices.Sort's order: cmp.Less, in which a NaN is less than any
// number.
func less[T cmp.Ordered](a, b T) bool { return cmp.Less(a, b) }

// Nth reorders s so that s[k] is the element slices.Sort would put there,
// everything before it no greater and everything after no less, and
// returns it. It panics if k is out of range.
func Nth[T cmp.Ordered](s []T, k int) T {
	if k < 0 || k >= len(s) {
		panic("nth: index out of range")
	}
	lo, hi := 0, len(s) // the k-th is in s[lo:hi]
	seed := uint64(len(s))*0x9e3779b97f4a7c15 + 1
	for hi-lo > 1 {
		// A pseudo-random pivot: image data is not adversarial, but
		// sorted or banded runs are common.
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		p := s[lo+int(seed%uint64(hi-lo))]
		// Three ways: [lo,lt) < p, [lt,gt) == p, [gt,hi) > p.
		lt, i, gt := lo, lo, hi
		for i < gt {
			switch {
			case less(s[i], p):
				s[lt], s[i] = s[i], s[lt]
				lt++
				i++
			case less(p, s[i]):
				gt--
				s[i], s[gt] = s[gt], s[i]
			default:
				i++
			}
		}
		switch {
		case k < lt:
			hi = lt
		case k >= gt:
			lo = gt
		default:
			return s[k]
		}
	}
	return s[k]
}

// Median returns the median of s as sorting it and taking the middle
// would (the mean of the two middle elements for an even length), and
// reorders s. It panics on an empty slice.
func Median[T float32 | float64](s []T) T {
	n := len(s)
	hi := Nth(s, n/2)
	if n%2 == 1 {
		return hi
	}
	lo := s[0]
	for _, v := range s[1 : n/2] {
		if less(lo, v) {
			lo = v
		}
	}
	return (lo + hi) / 2
}
