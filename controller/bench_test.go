package controller

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/internal/testkube"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
)

// clusterState is a prepared state of a cluster.
type clusterState struct {
	Services []*corev1.Service
	// Slices holds the EndpointSlices of each Service.
	Slices map[types.NamespacedName][]*discoveryv1.EndpointSlice
	// Nodes maps each address in a Node's status.addresses to the Node.
	Nodes map[netip.Addr]*corev1.Node
}

// fixedCluster is a ClusterReader of one prepared state.
type fixedCluster struct {
	clusterState
	byName map[types.NamespacedName]*corev1.Service
}

func (f fixedCluster) ReadyEndpointsOf(service types.NamespacedName) []source.ReadyEndpoint {
	return source.ReadyEndpoints(f.Slices[service])
}

func (f fixedCluster) NodeOf(ip netip.Addr) (*corev1.Node, source.MappedBy) {
	if n := f.Nodes[ip]; n != nil {
		return n, source.MappedByNodeAddress
	}
	return nil, ""
}

func (f fixedCluster) IPsOf(n *corev1.Node) []netip.Addr { return source.NodeIPs(n) }

// AllNodes returns each Node once (Nodes holds one per address).
func (f fixedCluster) AllNodes() []*corev1.Node {
	byName := map[string]*corev1.Node{}
	for _, n := range f.Nodes {
		byName[n.Name] = n
	}
	return slices.Collect(maps.Values(byName))
}

func newFixedCluster(c clusterState) fixedCluster {
	f := fixedCluster{clusterState: c, byName: map[types.NamespacedName]*corev1.Service{}}
	for _, s := range c.Services {
		f.byName[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	return f
}

func (f fixedCluster) Service(n types.NamespacedName) *corev1.Service { return f.byName[n] }

func (f fixedCluster) ServiceNames() []types.NamespacedName {
	out := make([]types.NamespacedName, 0, len(f.byName))
	for n := range f.byName {
		out = append(out, n)
	}
	return out
}

// benchController returns a ready controller over 10,000 Services in 1,000
// hostnames on 100 Nodes, unprobed (lbdns.io/probe: none, node probes off)
// so that no probe runs during a benchmark.
func benchController(b *testing.B) (*Controller, fixedCluster) {
	c := clusterState{Slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{}, Nodes: map[netip.Addr]*corev1.Node{}}
	for i := range 10000 {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		node := fmt.Sprintf("node-%d", i%100)
		c.Services = append(c.Services, testkube.LoadBalancer("default", name, map[string]string{
			"lbdns.io/hostname": fmt.Sprintf("h%d.example.com", i%1000), "lbdns.io/probe": "none", "lbdns.io/node-probe": "off"},
			[]corev1.ServicePort{{Port: 80}}, ip))
		c.Slices[types.NamespacedName{Namespace: "default", Name: name}] = []*discoveryv1.EndpointSlice{
			testkube.EndpointSlice("default", name, true, node)}
		c.Nodes[netip.MustParseAddr(ip)] = testkube.Node(node, ip, true)
	}
	f := newFixedCluster(c)
	ctl := New(f, Options{
		Build: source.Options{AnnotationPrefix: "lbdns.io/", DefaultTTL: 30, KubeProxyHealthPort: 10256},
		Probe: probe.Options{Interval: 2e9, Timeout: 1e9, Rise: 2, Fall: 2, Concurrency: 64, Funcs: probe.Funcs()},
	})
	ctl.reconcile(context.Background())
	if !ctl.IsReady() || ctl.Snapshot().Hostnames.Len() != 1000 {
		b.Fatalf("first reconcile: ready %v, %d hostnames", ctl.IsReady(), ctl.Snapshot().Hostnames.Len())
	}
	return ctl, f
}

// BenchmarkReconcileAll measures a reconcile of every Service and hostname,
// as at start.
func BenchmarkReconcileAll(b *testing.B) {
	ctl, _ := benchController(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		ctl.dirt.mu.Lock()
		ctl.dirt.all = true
		ctl.dirt.mu.Unlock()
		ctl.reconcile(ctx)
	}
}

// BenchmarkReconcileOneChange measures a reconcile after one Service moved to
// another LB IP: the common case, which must cost in proportion to the
// change, not to the 10,000 Services.
func BenchmarkReconcileOneChange(b *testing.B) {
	ctl, f := benchController(b)
	ctx := context.Background()
	svc := f.Services[4242]
	name := types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name}
	ips := []string{svc.Status.LoadBalancer.Ingress[0].IP, "10.250.0.1"}
	gen := ctl.Snapshot().Generation
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		svc.Status.LoadBalancer.Ingress[0].IP = ips[i%2]
		ctl.dirt.addService(serviceRef{NamespacedName: name})
		ctl.reconcile(ctx)
	}
	if ctl.Snapshot().Generation == gen {
		b.Fatal("the change never reached a snapshot")
	}
}
