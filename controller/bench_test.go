package controller

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
)

// fixedCluster is a ClusterReader of one prepared state.
type fixedCluster struct{ c source.Cluster }

func (f fixedCluster) Read() (source.Cluster, error) { return f.c, nil }

// BenchmarkReconcile measures one whole reconcile (read, build, probe sync,
// decide, diff, report, publish) of 10,000 Services in 1,000 hostnames on
// 100 Nodes, unprobed (lbdns.io/probe: none, node probes off) so that no
// probe runs during the benchmark.
func BenchmarkReconcile(b *testing.B) {
	c := source.Cluster{Slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{}, Nodes: map[netip.Addr]*corev1.Node{}}
	ready := true
	for i := range 10000 {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		node := fmt.Sprintf("node-%d", i%100)
		c.Services = append(c.Services, &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name, Annotations: map[string]string{
				"lbdns.io/hostname": fmt.Sprintf("h%d.example.com", i%1000), "lbdns.io/probe": "none", "lbdns.io/node-probe": "off"}},
			Spec:   corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Port: 80}}},
			Status: corev1.ServiceStatus{LoadBalancer: corev1.LoadBalancerStatus{Ingress: []corev1.LoadBalancerIngress{{IP: ip}}}},
		})
		c.Slices[types.NamespacedName{Namespace: "default", Name: name}] = []*discoveryv1.EndpointSlice{{
			Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.200.0.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}, NodeName: &node}},
		}}
		c.Nodes[netip.MustParseAddr(ip)] = &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: node},
			Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
	}
	ctl := New(fixedCluster{c}, Options{
		Build: source.Options{AnnotationPrefix: "lbdns.io/", DefaultTTL: 30, KubeProxyHealthPort: 10256},
		Probe: probe.Options{Interval: 2e9, Timeout: 1e9, Rise: 2, Fall: 2, Concurrency: 64, Funcs: probe.Funcs()},
	})
	ctx := context.Background()
	if err := ctl.reconcile(ctx); err != nil || !ctl.IsReady() {
		b.Fatalf("first reconcile: ready %v, %v", ctl.IsReady(), err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := ctl.reconcile(ctx); err != nil {
			b.Fatal(err)
		}
	}
	if n := len(ctl.Snapshot().Hostnames); n != 1000 {
		b.Fatalf("%d hostnames", n)
	}
}
