package source

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/lbdns/lbdns/model"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// Group returns the group of a hostname with every Service that names it
// (no tenancy), its targets sorted by namespace, Service and IP; false when
// no Service asks for it.
func (m *Model) Group(hostname string) (model.Group, bool) {
	claims := m.Claims(hostname)
	if len(claims) == 0 {
		return model.Group{}, false
	}
	g := model.Group{Hostname: hostname}
	for _, c := range claims {
		g.Add(c.Targets, c.Floor)
		if c.ExternalDNSConflict {
			g.ExternalDNSConflicts = append(g.ExternalDNSConflicts, c.Service.String())
		}
	}
	g.Sort()
	return g, true
}

// Build groups the opted-in LoadBalancer Services of c by hostname. Groups
// are sorted by hostname, their targets by namespace, Service and IP.
func Build(c Cluster, o Options) ([]model.Group, []Warning) {
	m := NewModel(o)
	var warnings []Warning
	for _, svc := range c.Services {
		_, _, w := m.Update(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}, svc, c)
		warnings = append(warnings, w...)
	}
	groups := make([]model.Group, 0, len(m.hosts))
	for _, h := range m.Hostnames() {
		g, _ := m.Group(h)
		groups = append(groups, g)
	}
	slices.SortFunc(groups, func(a, b model.Group) int { return strings.Compare(a.Hostname, b.Hostname) })
	return groups, warnings
}

// ReadyEndpointsOf implements Lookup.
func (c Cluster) ReadyEndpointsOf(service types.NamespacedName) []ReadyEndpoint {
	return ReadyEndpoints(c.Slices[service])
}

// NodeOf implements Lookup.
func (c Cluster) NodeOf(ip netip.Addr) (*corev1.Node, MappedBy) {
	if n := c.Nodes[ip]; n != nil {
		return n, MappedByNodeAddress
	}
	return nil, ""
}

// IPsOf returns the addresses of a Node.
func (c Cluster) IPsOf(n *corev1.Node) []netip.Addr { return NodeIPs(n) }

// Cluster is a fixed cluster state for the tests: what Build reads.
type Cluster struct {
	Services []*corev1.Service
	// Slices holds the EndpointSlices of each Service.
	Slices map[types.NamespacedName][]*discoveryv1.EndpointSlice
	// Nodes maps each address in a Node's status.addresses to the Node.
	Nodes map[netip.Addr]*corev1.Node
}

// AllNodes implements Lookup: the Nodes that hold an address, each once.
func (c Cluster) AllNodes() []*corev1.Node {
	var out []*corev1.Node
	for _, n := range c.Nodes {
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}
