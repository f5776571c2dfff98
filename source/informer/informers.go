// Package informer is the informer side of package source: what the
// informer caches keep of Services, EndpointSlices and Nodes, and how small
// (Trimmer, the cached forms, Projecting), and CacheReader, which serves them to the
// incremental source.Model.
package informer

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/lbdns/lbdns/source"
)

const (
	byServiceIndex = "lbdns-by-service"
	byIPIndex      = "lbdns-by-ip"
)

// CacheReader reads Services, their EndpointSlices and Nodes by IP from
// informer caches whose transform is a Trimmer. The objects it returns are
// made from the cached ones on each call, except Nodes, which belong to the
// cache: do not modify them.
type CacheReader struct {
	services, slices, nodes cache.Indexer
	placement               Placement
}

// Placement is the node agents' IP -> node map (nodeagent.Poller).
type Placement interface {
	NodeOf(ip netip.Addr) (string, bool)
	IPsOf(node string) []netip.Addr
}

// SetPlacement makes the agents' map win over Node addresses; call it
// before the informers start.
func (r *CacheReader) SetPlacement(p Placement) { r.placement = p }

// NewCacheReader wires listers over the informers of Services,
// EndpointSlices and Nodes; call it before they start, since it adds indexes
// (EndpointSlices by Service, Nodes by IP).
func NewCacheReader(services, slices, nodes cache.SharedIndexInformer) (*CacheReader, error) {
	err := slices.AddIndexers(cache.Indexers{byServiceIndex: func(obj any) ([]string, error) {
		if name, ok := ServiceOf(obj); ok {
			return []string{name.String()}, nil
		}
		return nil, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("adding EndpointSlice index: %w", err)
	}
	err = nodes.AddIndexers(cache.Indexers{byIPIndex: func(obj any) ([]string, error) {
		n, ok := obj.(*corev1.Node)
		if !ok {
			return nil, nil
		}
		var out []string
		for _, ip := range source.NodeIPs(n) {
			out = append(out, ip.String())
		}
		return out, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("adding Node index: %w", err)
	}
	return &CacheReader{services: services.GetIndexer(), slices: slices.GetIndexer(), nodes: nodes.GetIndexer()}, nil
}

// Service returns a cached Service, or nil.
func (r *CacheReader) Service(name types.NamespacedName) *corev1.Service {
	obj, _, _ := r.services.GetByKey(name.String()) // an indexer's get does not fail
	if s, ok := obj.(*cachedService); ok {
		return s.Service()
	}
	return nil
}

// ServiceNames returns the names of the cached Services that may matter:
// LoadBalancers and any Service with annotations (Build warns about a
// non-LoadBalancer that asks for a hostname).
func (r *CacheReader) ServiceNames() []types.NamespacedName {
	objs := r.services.List()
	out := make([]types.NamespacedName, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*cachedService); ok && s.mayMatter() {
			out = append(out, s.NamespacedName())
		}
	}
	return out
}

// ReadyEndpointsOf implements Lookup, straight from the cached slices:
// building EndpointSlices to read them was a sixth of a start's first pass.
func (r *CacheReader) ReadyEndpointsOf(service types.NamespacedName) []source.ReadyEndpoint {
	objs, _ := r.slices.ByIndex(byServiceIndex, service.String()) // the index exists
	var out []source.ReadyEndpoint
	for _, o := range objs {
		if es, ok := o.(*cachedSlice); ok {
			for _, ep := range es.endpoints {
				if !ep.ready {
					continue
				}
				e := source.ReadyEndpoint{Node: ep.node}
				if !slices.Contains(out, e) {
					out = append(out, e)
				}
			}
		}
	}
	return out
}

// NodeOf implements Lookup: the Node whose agent reports ip, else the Node
// whose status.addresses hold it.
func (r *CacheReader) NodeOf(ip netip.Addr) (*corev1.Node, source.MappedBy) {
	if r.placement != nil {
		if name, ok := r.placement.NodeOf(ip); ok {
			if obj, ok, _ := r.nodes.GetByKey(name); ok {
				if n, ok := obj.(*corev1.Node); ok {
					return n, source.MappedByAgent
				}
			}
		}
	}
	objs, _ := r.nodes.ByIndex(byIPIndex, ip.String())
	for _, o := range objs {
		if n, ok := o.(*corev1.Node); ok {
			return n, source.MappedByNodeAddress
		}
	}
	return nil, ""
}

// IPsOf returns the IPs a Node holds: its status.addresses and those its
// agent reports.
func (r *CacheReader) IPsOf(n *corev1.Node) []netip.Addr {
	ips := source.NodeIPs(n)
	if r.placement != nil {
		ips = append(ips, r.placement.IPsOf(n.Name)...)
	}
	return ips
}

// AllNodes implements Lookup.
func (r *CacheReader) AllNodes() []*corev1.Node {
	objs := r.nodes.List()
	out := make([]*corev1.Node, 0, len(objs))
	for _, o := range objs {
		if n, ok := o.(*corev1.Node); ok {
			out = append(out, n)
		}
	}
	return out
}
