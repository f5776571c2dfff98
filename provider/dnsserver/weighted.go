package dnsserver

import (
	"cmp"
	"math"
	"math/rand/v2"
	"slices"
)

// weightedOrder returns the positions of weights in a random order in which
// each place is filled by weighted choice among the positions not yet
// placed, so the first answer is each IP with probability weight/sum
// (Efraimidis–Spirakis: sort by u^(1/w) for uniform u).
func weightedOrder(weights []float64) []int {
	return weightedOrderInto(make([]int, 0, len(weights)), weights)
}

// weightedOrderInto is weightedOrder appending to dst.
func weightedOrderInto(dst []int, weights []float64) []int {
	type keyed struct {
		pos int
		key float64
	}
	var buf [8]keyed // most names have a few IPs: no allocation for the keys
	ks := buf[:0]
	equal := true // then u orders as u^(1/w) does: no logarithm (the common case)
	for _, w := range weights {
		equal = equal && w == weights[0] && w > 0
	}
	for i, w := range weights {
		if w <= 0 {
			w = 1e-9 // cannot happen for published targets; keep them last
		}
		key := rand.Float64()
		if !equal {
			key = math.Log(key) / w
		}
		ks = append(ks, keyed{i, key})
	}
	slices.SortFunc(ks, func(a, b keyed) int { return cmp.Compare(b.key, a.key) })
	for _, k := range ks {
		dst = append(dst, k.pos)
	}
	return dst
}
