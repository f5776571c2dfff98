package dnsserver

import (
	"net"
	"net/netip"
	"strings"

	"github.com/miekg/dns"

	"github.com/lbdns/lbdns/health"
)

// answer is the published set of one name and address family.
type answer struct {
	ips     []netip.Addr
	raw     []net.IP // ips in the form dns.A and dns.AAAA hold, made once per set
	weights []int
	ttl     uint32
}

// node is one owner name of a zone, and the decision it was built from.
type node struct {
	name string // fully qualified, lower case
	// rrlA and rrlAAAA are the rate-limiting kinds of its answers (see
	// responseKind), made once.
	rrlA, rrlAAAA string
	a, aaaa       answer
	decision      health.Decision
}

// index is a snapshot turned into lookups by fully qualified, lower-case name.
type index struct {
	snap  *health.Snapshot
	nodes map[string]*node
	// names holds every name that exists: owners and their parents up to the
	// zones (empty non-terminals answer NODATA, not NXDOMAIN).
	names map[string]bool
	// byHostname finds a hostname's node as the snapshot spells it, so that
	// the next index reuses it without canonicalising the name again.
	byHostname map[string]*node
}

// newIndex indexes a snapshot. Nodes of hostnames whose decision is the one
// prev was built from are reused: the controller carries undecided hostnames
// into the next snapshot unchanged, so one change rebuilds one node.
func newIndex(snap *health.Snapshot, prev *index) *index {
	ix := &index{snap: snap, nodes: make(map[string]*node, len(snap.Hostnames)), names: make(map[string]bool, len(snap.Hostnames)),
		byHostname: make(map[string]*node, len(snap.Hostnames))}
	for _, d := range snap.Hostnames {
		var n *node
		if prev != nil {
			if old := prev.byHostname[d.Hostname]; old != nil && sameDecision(old.decision, d) {
				n = old
			}
		}
		if n == nil {
			n = newNode(d)
		}
		ix.byHostname[d.Hostname] = n
		if len(n.a.ips) == 0 && len(n.aaaa.ips) == 0 {
			continue
		}
		ix.nodes[n.name] = n
		for p := n.name; p != "."; p = parent(p) {
			if ix.names[p] {
				break // its parents are in already
			}
			ix.names[p] = true
		}
	}
	return ix
}

// sameDecision reports whether two decisions are one: the same hostname
// with the same targets array (a decision made anew has a new one).
func sameDecision(a, b health.Decision) bool {
	return a.Hostname == b.Hostname && a.TTL == b.TTL && len(a.Targets) == len(b.Targets) && len(a.Targets) > 0 &&
		&a.Targets[0] == &b.Targets[0]
}

// newNode builds the answers of one hostname: its published IPs by family,
// an IP behind two Services once with both weights.
func newNode(d health.Decision) *node {
	n := &node{name: dns.CanonicalName(d.Hostname), decision: d}
	n.rrlA, n.rrlAAAA = "A/"+n.name, "AAAA/"+n.name
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
		a.raw = append(a.raw, ip.AsSlice())
		a.weights = append(a.weights, weight[ip])
		a.ttl = uint32(d.TTL)
	}
	return n
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
