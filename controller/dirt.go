package controller

import (
	"net/netip"
	"sync"

	"github.com/lbdns/lbdns/model"
	"k8s.io/apimachinery/pkg/types"
)

// serviceRef names a Service in one cluster ("" is the one lbdns runs in).
type serviceRef struct {
	cluster string
	types.NamespacedName
}

// refOf returns the Service of a target.
func refOf(k model.Key) serviceRef {
	return serviceRef{cluster: k.Cluster, NamespacedName: types.NamespacedName{Namespace: k.Namespace, Name: k.Service}}
}

// dirt is what changed since the last reconcile, so that a reconcile
// recomputes only what a change touches: Services (an update of the
// Service or of its EndpointSlices), IPs whose Node changed, targets whose
// probe state changed. Event handlers and the prober add to it from their
// goroutines; the loop takes it.
type dirt struct {
	mu       sync.Mutex
	services map[serviceRef]bool
	ips      map[model.ClusterIP]bool
	keys     map[model.Key]bool
	// all asks for every Service to be read again (the first pass, and a
	// cluster whose caches synced late).
	all bool
	// nodes holds the clusters whose Nodes changed: their Services with a
	// node-selector look again.
	nodes map[string]bool
	// recheck asks to look again at holds that may have ended without any
	// change to announce it: deleted Nodes, flap damping.
	recheck bool
	// redecide asks to decide every hostname again with current probe
	// statuses (after a time jump, results that changed no state matter).
	redecide bool
}

func newDirt() *dirt {
	d := &dirt{all: true}
	d.reset()
	return d
}

func (d *dirt) reset() {
	d.services, d.ips, d.keys, d.nodes = map[serviceRef]bool{}, map[model.ClusterIP]bool{}, map[model.Key]bool{}, map[string]bool{}
}

// addService marks a Service, unless every Service is to be read anyway:
// at a start the initial lists bring 200,000 events for 100,000 Services
// before the first pass, which reads them all. The informer stores an
// object before its handlers run, so a pass that takes the mark "all"
// after a handler ran reads what that handler saw.
func (d *dirt) addService(r serviceRef) {
	d.mu.Lock()
	if !d.all {
		d.services[r] = true
	}
	d.mu.Unlock()
}

// addNode marks what a change of a Node of cluster touches: its IPs (before
// and after the change) and every node-selector of the cluster.
func (d *dirt) addNode(cluster string, ips []netip.Addr) {
	d.mu.Lock()
	d.nodes[cluster] = true
	for _, ip := range ips {
		d.ips[model.ClusterIP{Cluster: cluster, IP: ip}] = true
	}
	d.mu.Unlock()
}

func (d *dirt) addKey(k model.Key) {
	d.mu.Lock()
	d.keys[k] = true
	d.mu.Unlock()
}

func (d *dirt) setAll() {
	d.mu.Lock()
	d.all = true
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
	d.reset()
	d.all, d.recheck, d.redecide = false, false, false
	return out
}

// empty reports whether nothing changed: a reconcile of it would decide
// nothing anew.
func (d *dirt) empty() bool {
	return len(d.services) == 0 && len(d.ips) == 0 && len(d.keys) == 0 && len(d.nodes) == 0 && !d.all && !d.recheck && !d.redecide
}
