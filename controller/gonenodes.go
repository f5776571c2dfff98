package controller

import (
	"net/netip"
	"sync"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

// goneNodes remembers the IPs of deleted Nodes. A deleted Node is no longer in
// the informer cache, so without this memory its IPs would look like IPs on no
// Node at all, and stay published. An IP stays withdrawn until a Node holds it
// again, or until the probes of a target with that IP passed rise times after
// the deletion. It is the only place that knows of deleted Nodes: decisions
// read its view, and the prober is never told.
type goneNodes struct {
	rise int

	mu  sync.Mutex
	ips map[model.ClusterIP]*goneNode
}

type goneNode struct {
	node string
	// rounds holds, per probed target of the IP, the probe rounds it had
	// recorded when the deletion was first weighed: only later rounds count.
	rounds map[model.Key]uint64
}

func newGoneNodes(rise int) *goneNodes {
	return &goneNodes{rise: max(rise, 1), ips: map[model.ClusterIP]*goneNode{}}
}

// Add records that node of cluster, holding ips, was deleted just now.
func (g *goneNodes) Add(cluster, node string, ips []netip.Addr) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, ip := range ips {
		g.ips[model.ClusterIP{Cluster: cluster, IP: ip}] = &goneNode{node: node}
	}
}

// Len returns how many IPs are remembered.
func (g *goneNodes) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.ips)
}

// IPs returns the remembered IPs.
func (g *goneNodes) IPs() []model.ClusterIP {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make([]model.ClusterIP, 0, len(g.ips))
	for ip := range g.ips {
		out = append(out, ip)
	}
	return out
}

// Forget drops an IP that no target has any more.
func (g *goneNodes) Forget(ip model.ClusterIP) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.ips, ip)
}

// Weigh weighs the remembered IPs among targets (the IPs whose hostnames are
// being decided, with their targets) and returns those that still count as
// on a deleted Node, with the name of that Node. It forgets IPs a Node holds
// again (held) and IPs whose probes passed rise times since; IPs not in
// targets are left for a pass that decides them.
func (g *goneNodes) Weigh(held func(model.ClusterIP) bool, targets map[model.ClusterIP][]model.Key,
	probes map[model.Key]probe.Status) map[model.ClusterIP]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	out := make(map[model.ClusterIP]string, len(targets))
	for ip, keys := range targets {
		gone, ok := g.ips[ip]
		if !ok {
			continue
		}
		if held(ip) || gone.recovered(keys, probes, g.rise) {
			delete(g.ips, ip)
			continue
		}
		out[ip] = gone.node
	}
	return out
}

// recovered reports whether some probed target of the IP has passed rise
// probes, all recorded after the deletion was first weighed (a little after
// the deletion itself, which errs on the side of withdrawing).
func (gone *goneNode) recovered(keys []model.Key, probes map[model.Key]probe.Status, rise int) bool {
	if gone.rounds == nil {
		gone.rounds = map[model.Key]uint64{}
	}
	for _, k := range keys {
		st, probed := probes[k]
		if !probed {
			continue
		}
		base, seen := gone.rounds[k]
		if !seen || st.Rounds < base { // new, or its prober restarted
			gone.rounds[k] = st.Rounds
			continue
		}
		if st.Successes >= rise && st.Rounds-base >= uint64(rise) {
			return true
		}
	}
	return false
}
