package controller

import (
	"context"
	"net/netip"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/internal/testkube"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
)

// oneServiceCluster is a cluster with one unprobed Service "web" for
// app.example.com on ip, whose Node is Ready or not.
func oneServiceCluster(ip string, nodeReady bool, minNodes string) fixedCluster {
	svc := testkube.LoadBalancer("default", "web", map[string]string{
		"lbdns.io/hostname": "app.example.com", "lbdns.io/probe": "none", "lbdns.io/min-nodes": minNodes},
		[]corev1.ServicePort{{Port: 80}}, ip)
	return newFixedCluster(clusterState{Services: []*corev1.Service{svc},
		Slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{{Namespace: "default", Name: "web"}: {testkube.EndpointSlice("default", "web", true, "node-1")}},
		Nodes:  map[netip.Addr]*corev1.Node{netip.MustParseAddr(ip): testkube.Node("node-1", ip, nodeReady)},
	})
}

// One hostname in two clusters is one group: both Services' targets, each
// keyed by its cluster, the stricter floor; a Node NotReady in cluster b
// withdraws b's target only, though the same IP (and Node name) exists in
// the local cluster; events go to each cluster's recorder.
func TestClustersFormOneGroup(t *testing.T) {
	local, remote := record.NewFakeRecorder(10), record.NewFakeRecorder(10)
	ctl := New(oneServiceCluster("192.0.2.1", true, "2"), Options{
		Build:    source.Options{AnnotationPrefix: "lbdns.io/", DefaultTTL: 30},
		Probe:    probe.Options{Interval: 2e9, Timeout: 1e9, Rise: 2, Fall: 2, Concurrency: 4, Funcs: probe.Funcs()},
		Recorder: local,
	})
	ctl.AddCluster("b", oneServiceCluster("192.0.2.1", false, "3"), remote)
	ctl.reconcile(context.Background())
	d, ok := decisionOf(ctl.Snapshot(), "app.example.com")
	if !ok || len(d.Targets) != 2 {
		t.Fatalf("decision %+v", d)
	}
	home, b := d.Targets[0], d.Targets[1] // the local cluster ("") sorts first
	if home.Cluster != "" || !home.Published || b.Cluster != "b" || b.Published || b.Reason != model.NodeNotReady {
		t.Errorf("targets: local %+v; b %+v", home, b)
	}
	if h, tg := ctl.size(); h != 1 || tg != 2 {
		t.Errorf("size %d hostnames, %d targets; want one hostname over both clusters, 2 targets", h, tg)
	}
	if d.Floor.Nodes != 3 {
		t.Errorf("floor %+v, want b's 3 nodes", d.Floor)
	}
	if b.Key.String() != "b/default/web/192.0.2.1" || home.Key.String() != "default/web/192.0.2.1" {
		t.Errorf("keys %s and %s", home.Key, b.Key)
	}
	if len(remote.Events) != 1 || len(local.Events) != 1 { // CapacityLow on each cluster's Service
		t.Errorf("%d events to b, %d to the local cluster", len(remote.Events), len(local.Events))
	}
}
