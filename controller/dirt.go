package controller

import (
	"net/netip"
	"sync"

	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/health"
)

// dirt is what changed since the last reconcile, so that a reconcile
// recomputes only what a change touches: Services (an update of the
// Service or of its EndpointSlices), IPs whose Node changed, targets whose
// probe state changed. Event handlers and the prober add to it from their
// goroutines; the loop takes it.
type dirt struct {
	mu       sync.Mutex
	services map[types.NamespacedName]bool
	ips      map[netip.Addr]bool
	keys     map[health.Key]bool
	// all asks for every Service to be read again (the first pass).
	all bool
	// nodes says a Node changed: Services with a node-selector look again.
	nodes bool
	// recheck asks to look again at holds that may have ended without any
	// change to announce it: deleted Nodes, flap damping.
	recheck bool
	// redecide asks to decide every hostname again with current probe
	// statuses (after a time jump, results that changed no state matter).
	redecide bool
}

func newDirt() *dirt {
	return &dirt{services: map[types.NamespacedName]bool{}, ips: map[netip.Addr]bool{}, keys: map[health.Key]bool{}, all: true}
}

func (d *dirt) addService(n types.NamespacedName) {
	d.mu.Lock()
	d.services[n] = true
	d.mu.Unlock()
}

// addNode marks what a change of a Node touches: its IPs (before and after
// the change) and every node-selector.
func (d *dirt) addNode(ips []netip.Addr) {
	d.mu.Lock()
	d.nodes = true
	for _, ip := range ips {
		d.ips[ip] = true
	}
	d.mu.Unlock()
}

func (d *dirt) addKey(k health.Key) {
	d.mu.Lock()
	d.keys[k] = true
	d.mu.Unlock()
}

func (d *dirt) setRecheck() {
	d.mu.Lock()
	d.recheck = true
	d.mu.Unlock()
}

func (d *dirt) setRedecide() {
	d.mu.Lock()
	d.redecide = true
	d.mu.Unlock()
}

// take returns what changed and starts collecting anew.
func (d *dirt) take() *dirt {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := &dirt{services: d.services, ips: d.ips, keys: d.keys, all: d.all, nodes: d.nodes, recheck: d.recheck, redecide: d.redecide}
	d.services, d.ips, d.keys = map[types.NamespacedName]bool{}, map[netip.Addr]bool{}, map[health.Key]bool{}
	d.all, d.nodes, d.recheck, d.redecide = false, false, false, false
	return out
}
