package source

import (
	"fmt"
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

const (
	lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
	byServiceIndex        = "lbdns-by-service"
)

// Trim is an informer transform that drops what lbdns never reads from cached
// objects: managedFields, kubectl's last-applied copy, and a Node's image
// list and volumes. It keeps Node conditions, addresses, taints.
func Trim(obj any) (any, error) {
	if m, err := meta.Accessor(obj); err == nil {
		m.SetManagedFields(nil)
		if a := m.GetAnnotations(); a[lastAppliedAnnotation] != "" {
			trimmed := make(map[string]string, len(a)-1)
			for k, v := range a {
				if k != lastAppliedAnnotation {
					trimmed[k] = v
				}
			}
			m.SetAnnotations(trimmed)
		}
	}
	if n, ok := obj.(*corev1.Node); ok {
		n.Status.Images = nil
		n.Status.VolumesAttached = nil
		n.Status.VolumesInUse = nil
	}
	return obj, nil
}

// ClusterReader reads a Cluster from informer caches.
type ClusterReader struct {
	services corelisters.ServiceLister
	slices   cache.Indexer
	nodes    corelisters.NodeLister
}

// NewClusterReader wires listers over the informers of Services,
// EndpointSlices and Nodes; call it before they start, since it adds an
// index to the EndpointSlice informer.
func NewClusterReader(services, slices, nodes cache.SharedIndexInformer) (*ClusterReader, error) {
	err := slices.AddIndexers(cache.Indexers{byServiceIndex: func(obj any) ([]string, error) {
		s, ok := obj.(*discoveryv1.EndpointSlice)
		if !ok {
			return nil, nil
		}
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			return nil, nil
		}
		return []string{s.Namespace + "/" + name}, nil
	}})
	if err != nil {
		return nil, fmt.Errorf("adding EndpointSlice index: %w", err)
	}
	return &ClusterReader{services: corelisters.NewServiceLister(services.GetIndexer()), slices: slices.GetIndexer(),
		nodes: corelisters.NewNodeLister(nodes.GetIndexer())}, nil
}

// Read lists the cached Services, their EndpointSlices and the Nodes by IP.
// The returned objects belong to the cache: do not modify them.
func (r *ClusterReader) Read() (Cluster, error) {
	svcs, err := r.services.List(labels.Everything())
	if err != nil {
		return Cluster{}, fmt.Errorf("listing Services: %w", err)
	}
	c := Cluster{Slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{}, Nodes: map[netip.Addr]*corev1.Node{}}
	for _, s := range svcs {
		if s.Spec.Type != corev1.ServiceTypeLoadBalancer && len(s.Annotations) == 0 {
			continue
		}
		c.Services = append(c.Services, s)
		objs, err := r.slices.ByIndex(byServiceIndex, s.Namespace+"/"+s.Name)
		if err != nil {
			return Cluster{}, fmt.Errorf("listing EndpointSlices: %w", err)
		}
		key := types.NamespacedName{Namespace: s.Namespace, Name: s.Name}
		for _, o := range objs {
			if es, ok := o.(*discoveryv1.EndpointSlice); ok {
				c.Slices[key] = append(c.Slices[key], es)
			}
		}
	}
	nodes, err := r.nodes.List(labels.Everything())
	if err != nil {
		return Cluster{}, fmt.Errorf("listing Nodes: %w", err)
	}
	for _, n := range nodes {
		for _, ip := range NodeIPs(n) {
			c.Nodes[ip] = n
		}
	}
	return c, nil
}

// NodeIPs returns the IP addresses in a Node's status.
func NodeIPs(n *corev1.Node) []netip.Addr {
	var ips []netip.Addr
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips
}
