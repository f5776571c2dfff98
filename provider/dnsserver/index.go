package dnsserver

import (
	"hash/maphash"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/lbdns/lbdns/model"
	"github.com/miekg/dns"
)

// answer is the published set of one name and address family.
type answer struct {
	ips     []netip.Addr
	raw     []net.IP // ips in the form dns.A and dns.AAAA hold, made once per set
	weights []float64
	ttl     uint32
}

// node is one owner name of a zone, and the decision it was built from.
type node struct {
	name string // fully qualified, lower case
	// rrlA and rrlAAAA are the rate-limiting kinds of its answers (see
	// responseKind), made once.
	rrlA, rrlAAAA string
	a, aaaa       answer
	decision      model.Decision
}

// The index is split into shards, so that a snapshot that changes a few
// hostnames copies a few small maps, not maps of every name: the index of
// the next snapshot shares every shard no change touched. Their number
// grows with the hostnames (a power of two, about namesPerShard hostnames
// each, at least minShards), so that a change copies as little among
// 10,000 hostnames as among 100.
const (
	minShards     = 64
	namesPerShard = 16
)

var indexSeed = maphash.MakeSeed()

// shardsFor is the number of shards for n hostnames.
func shardsFor(n int) int {
	shards := minShards
	for shards*namesPerShard < n {
		shards *= 2
	}
	return shards
}

// shardsFit says whether an index of so many shards may go on holding n
// hostnames: until they grow to four times their number or shrink to a
// quarter of it (then the next index is built anew, a cost that many changes
// share).
func shardsFit(shards, n int) bool {
	want := shardsFor(n)
	return 4*shards > want && shards < 4*want
}

func (ix *index) shardOf(name string) int {
	return int(maphash.String(indexSeed, name) & uint64(len(ix.shards)-1))
}

// shardOfBytes is shardOf for a name as bytes (the same hash).
func (ix *index) shardOfBytes(name []byte) int {
	return int(maphash.Bytes(indexSeed, name) & uint64(len(ix.shards)-1))
}

// shard is one part of the index. Its maps are never changed once an index
// that holds it is in use.
type shard struct {
	// nodes holds the owners with addresses, by fully qualified, lower-case
	// name.
	nodes map[string]*node
	// names counts, for each name, the owners with addresses at or below
	// it: a name exists (empty non-terminals answer NODATA, not NXDOMAIN)
	// while its count is above zero.
	names map[string]int
	// byHostname holds every decided hostname's node as the snapshot spells
	// it, so that the next index finds it without canonicalising the name.
	byHostname map[string]*node
	// owned holds the nodes of hostnames a namespace owns, published or not,
	// by fully qualified name: a wildcard of another namespace never answers
	// for them (a drained or refused owner must not fall through to someone
	// else's wildcard).
	owned map[string]*node
}

func newShard(size int) *shard {
	return &shard{nodes: make(map[string]*node, size), names: make(map[string]int, size), byHostname: make(map[string]*node, size),
		owned: map[string]*node{}}
}

func (s *shard) clone() *shard {
	return &shard{nodes: maps.Clone(s.nodes), names: maps.Clone(s.names), byHostname: maps.Clone(s.byHostname), owned: maps.Clone(s.owned)}
}

// index is a snapshot turned into lookups by fully qualified, lower-case name.
type index struct {
	snap   *model.Snapshot
	shards []*shard // len is a power of two
	// owned marks the shards this index copied while it is being built;
	// the others belong to the previous index too.
	owned []bool
	// sorted: its snapshot's hostnames are in order, so the next index may
	// walk them side by side with its own.
	sorted bool
	// byNode splits the weights of IPs that share a node (WeightByNode).
	byNode bool
}

// newIndex indexes a snapshot. The controller carries undecided hostnames
// into the next snapshot unchanged, in chunks it shares with the previous
// one, so the index of the next snapshot rebuilds only the nodes of the
// hostnames in chunks that changed and were decided anew, came or went, in
// copies of the shards they touch.
func newIndex(snap *model.Snapshot, prev *index, byNode bool) *index {
	if prev == nil || !prev.sorted || prev.byNode != byNode || !snap.Hostnames.Sorted() || !shardsFit(len(prev.shards), snap.Hostnames.Len()) {
		return fullIndex(snap, byNode)
	}
	ix := &index{snap: snap, shards: slices.Clone(prev.shards), owned: make([]bool, len(prev.shards)), sorted: true, byNode: byNode}
	snap.Hostnames.Diff(prev.snap.Hostnames, func(old, cur *model.Decision) {
		switch {
		case cur == nil: // gone
			ix.remove(old.Hostname)
		case old == nil: // new
			ix.add(cur.Hostname, newNode(*cur, byNode))
		case !sameDecision(*old, *cur): // decided anew
			ix.remove(cur.Hostname)
			ix.add(cur.Hostname, newNode(*cur, byNode))
		}
	})
	return ix
}

// fullIndex indexes a snapshot from scratch.
func fullIndex(snap *model.Snapshot, byNode bool) *index {
	n := shardsFor(snap.Hostnames.Len())
	ix := &index{snap: snap, byNode: byNode, sorted: snap.Hostnames.Sorted(), shards: make([]*shard, n), owned: make([]bool, n)}
	for i := range ix.shards {
		ix.shards[i], ix.owned[i] = newShard(namesPerShard), true
	}
	for d := range snap.Hostnames.All() {
		ix.add(d.Hostname, newNode(d, byNode))
	}
	return ix
}

// mutable returns shard i, copied first if the previous index holds it.
func (ix *index) mutable(i int) *shard {
	if !ix.owned[i] {
		ix.shards[i], ix.owned[i] = ix.shards[i].clone(), true
	}
	return ix.shards[i]
}

func (ix *index) add(hostname string, n *node) {
	ix.mutable(ix.shardOf(hostname)).byHostname[hostname] = n
	if n.decision.Owner != "" {
		ix.mutable(ix.shardOf(n.name)).owned[n.name] = n
	}
	if !n.hasAddresses() {
		return
	}
	ix.mutable(ix.shardOf(n.name)).nodes[n.name] = n
	for p := n.name; p != "."; p = parent(p) {
		ix.mutable(ix.shardOf(p)).names[p]++
	}
}

func (ix *index) remove(hostname string) {
	n := ix.shards[ix.shardOf(hostname)].byHostname[hostname]
	if n == nil {
		return
	}
	delete(ix.mutable(ix.shardOf(hostname)).byHostname, hostname)
	if s := ix.shards[ix.shardOf(n.name)]; s.owned[n.name] == n {
		delete(ix.mutable(ix.shardOf(n.name)).owned, n.name)
	}
	if !n.hasAddresses() {
		return
	}
	if s := ix.shards[ix.shardOf(n.name)]; s.nodes[n.name] == n { // not a hostname spelt otherwise that replaced it
		delete(ix.mutable(ix.shardOf(n.name)).nodes, n.name)
	}
	for p := n.name; p != "."; p = parent(p) {
		s := ix.mutable(ix.shardOf(p))
		if s.names[p]--; s.names[p] <= 0 {
			delete(s.names, p)
		}
	}
}

func (n *node) hasAddresses() bool { return len(n.a.ips) > 0 || len(n.aaaa.ips) > 0 }

// node returns the owner of name with addresses, or nil.
func (ix *index) node(name string) *node { return ix.shards[ix.shardOf(name)].nodes[name] }

// nodeOfBytes is node for a name as bytes, without allocating.
func (ix *index) nodeOfBytes(name []byte) *node {
	return ix.shards[ix.shardOfBytes(name)].nodes[string(name)]
}

func (ix *index) exists(name string) bool { return ix.shards[ix.shardOf(name)].names[name] > 0 }

// sameDecision reports whether two decisions are one: the same hostname
// decided in the same numbered pass (model.Decision.Pass).
func sameDecision(a, b model.Decision) bool {
	return a.Hostname == b.Hostname && a.Pass != 0 && a.Pass == b.Pass
}

// newNode builds the answers of one hostname: its published IPs by family,
// an IP behind two Services once with both weights. With byNode, the weight
// of an IP is divided by the number of the hostname's IPs of its family on
// its node, so that a node's share of first answers is the mean weight of its
// IPs, as if it had one: the node is the unit of capacity, not the IP.
func newNode(d model.Decision, byNode bool) *node {
	n := &node{name: dns.CanonicalName(d.Hostname), decision: d}
	n.rrlA, n.rrlAAAA = "A/"+n.name, "AAAA/"+n.name
	weight := map[netip.Addr]int{}
	nodeOf := map[netip.Addr]string{}
	var order []netip.Addr
	for i := range d.Targets {
		t := &d.Targets[i]
		if !t.Published {
			continue
		}
		if _, seen := weight[t.IP]; !seen {
			order = append(order, t.IP)
		}
		weight[t.IP] += t.Weight // one IP behind two Services counts twice
		if byNode && t.Node != "" {
			nodeOf[t.IP] = t.Node
		}
	}
	type nodeFamily struct {
		node string
		v4   bool
	}
	share := map[nodeFamily]int{} // distinct IPs per node and family
	if byNode {
		for ip, node := range nodeOf {
			share[nodeFamily{node, ip.Is4()}]++
		}
	}
	for _, ip := range order {
		a := &n.aaaa
		if ip.Is4() {
			a = &n.a
		}
		w := float64(weight[ip])
		if k := share[nodeFamily{nodeOf[ip], ip.Is4()}]; k > 1 {
			w /= float64(k)
		}
		a.ips = append(a.ips, ip)
		a.raw = append(a.raw, ip.AsSlice())
		a.weights = append(a.weights, w)
		a.ttl = uint32(d.TTL)
	}
	return n
}

// lookup returns the node of name, following a wildcard owner ("*.parent")
// when name itself has none, unless another namespace owns name: then name
// exists without addresses (NODATA).
func (ix *index) lookup(name string) (*node, bool) {
	if n := ix.node(name); n != nil {
		return n, true
	}
	if ix.exists(name) {
		return nil, true // an empty non-terminal
	}
	if p := parent(name); p != "." {
		if n := ix.node("*." + p); n != nil {
			if o := ix.shards[ix.shardOf(name)].owned[name]; o != nil && o.decision.Owner != n.decision.Owner {
				return nil, true
			}
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
