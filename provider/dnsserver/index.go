package dnsserver

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/lbdns/lbdns/health"
)

// answer is the published set of one name and address family.
type answer struct {
	ips     []netip.Addr
	weights []int
	ttl     uint32
}

// node is one owner name of a zone.
type node struct {
	a, aaaa answer
}

// index is a snapshot turned into lookups by fully qualified, lower-case name.
type index struct {
	snap  *health.Snapshot
	nodes map[string]*node
	// names holds every name that exists: owners and their parents up to the
	// zones (empty non-terminals answer NODATA, not NXDOMAIN).
	names map[string]bool
}

func newIndex(snap *health.Snapshot) *index {
	ix := &index{snap: snap, nodes: map[string]*node{}, names: map[string]bool{}}
	for _, d := range snap.Hostnames {
		name := dns.CanonicalName(d.Hostname)
		n := &node{}
		weight := map[netip.Addr]int{}
		var order []netip.Addr
		for _, t := range d.Published() {
			if _, seen := weight[t.IP]; !seen {
				order = append(order, t.IP)
			}
			weight[t.IP] += t.Weight // one IP behind two Services counts twice
		}
		for _, ip := range order {
			a := &n.aaaa
			if ip.Is4() {
				a = &n.a
			}
			a.ips = append(a.ips, ip)
			a.weights = append(a.weights, weight[ip])
			a.ttl = uint32(d.TTL)
		}
		if len(order) == 0 {
			continue
		}
		ix.nodes[name] = n
		for p := name; p != "."; p = parent(p) {
			ix.names[p] = true
		}
	}
	return ix
}

// lookup returns the node of name, following a wildcard owner ("*.parent")
// when name itself has none.
func (ix *index) lookup(name string) (*node, bool) {
	if n, ok := ix.nodes[name]; ok {
		return n, true
	}
	if ix.names[name] {
		return nil, true // an empty non-terminal
	}
	if p := parent(name); p != "." {
		if n, ok := ix.nodes["*."+p]; ok {
			return n, true
		}
	}
	return nil, false
}

func parent(name string) string {
	i := strings.IndexByte(name, '.')
	if i < 0 || i == len(name)-1 {
		return "."
	}
	return name[i+1:]
}
