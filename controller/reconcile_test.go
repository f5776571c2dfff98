package controller

import (
	"context"
	"fmt"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/internal/testkube"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
)

// A change re-decides only the hostnames it touches: the next snapshot
// carries the others over as they were (their targets are the same array).
func TestReconcileSharesUntouchedHostnames(t *testing.T) {
	ready := true
	c := clusterState{Slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{}, Nodes: map[netip.Addr]*corev1.Node{}}
	for i := range 3 {
		name := fmt.Sprintf("svc-%d", i)
		c.Services = append(c.Services, testkube.LoadBalancer("default", name, map[string]string{
			"lbdns.io/hostname": fmt.Sprintf("h%d.example.com", i), "lbdns.io/probe": "none"},
			[]corev1.ServicePort{{Port: 80}}, fmt.Sprintf("10.0.0.%d", i+1)))
		c.Slices[types.NamespacedName{Namespace: "default", Name: name}] = []*discoveryv1.EndpointSlice{{
			Endpoints: []discoveryv1.Endpoint{{Conditions: discoveryv1.EndpointConditions{Ready: &ready}}}}}
	}
	f := newFixedCluster(c)
	ctl := New(f, Options{Build: source.Options{AnnotationPrefix: "lbdns.io/", DefaultTTL: 30},
		Probe: probe.Options{Interval: 2e9, Timeout: 1e9, Rise: 2, Fall: 2, Concurrency: 1, Funcs: probe.Funcs()}})
	ctl.reconcile(context.Background())
	before := ctl.Snapshot()
	c.Services[1].Status.LoadBalancer.Ingress[0].IP = "10.0.0.99"
	ctl.dirt.addService(serviceRef{NamespacedName: types.NamespacedName{Namespace: "default", Name: "svc-1"}})
	ctl.reconcile(context.Background())
	after := ctl.Snapshot()
	if after.Generation != before.Generation+1 || after.Hostnames.Len() != 3 {
		t.Fatalf("generation %d -> %d, %d hostnames", before.Generation, after.Generation, after.Hostnames.Len())
	}
	for i, d := range after.Hostnames.Slice() {
		shared := d.Pass == before.Hostnames.Slice()[i].Pass
		if shared != (i != 1) {
			t.Errorf("%s: shared with the previous snapshot: %v", d.Hostname, shared)
		}
	}
	if ip := after.Hostnames.Slice()[1].Published()[0].IP.String(); ip != "10.0.0.99" {
		t.Errorf("h1 publishes %s, want the new IP", ip)
	}
}
