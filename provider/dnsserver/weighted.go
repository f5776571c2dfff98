package dnsserver

import (
	"math"
	"math/rand/v2"
	"net/netip"
	"sort"
)

// weightedOrder returns the IPs in a random order in which each position is
// filled by weighted choice among the IPs not yet placed, so the first answer
// is each IP with probability weight/sum (Efraimidis–Spirakis: sort by
// u^(1/w) for uniform u).
func weightedOrder(ips []netip.Addr, weights []int) []netip.Addr {
	type keyed struct {
		ip  netip.Addr
		key float64
	}
	ks := make([]keyed, len(ips))
	for i, ip := range ips {
		w := float64(weights[i])
		if w <= 0 {
			w = 1e-9 // cannot happen for published targets; keep them last
		}
		ks[i] = keyed{ip, math.Log(rand.Float64()) / w}
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i].key > ks[j].key })
	out := make([]netip.Addr, len(ks))
	for i, k := range ks {
		out[i] = k.ip
	}
	return out
}
