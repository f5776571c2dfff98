package e2e

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

const (
	setsNamespace = "sets"
	setsZone      = "sets.test"
	setsNodeLabel = "lbdns-e2e/set-node"
)

var setsGVR = schema.GroupVersionResource{Group: "lbdns.io", Version: "v1alpha1", Resource: "loadbalancersets"}

// cloudStandIn stands in for IONOS's cloud controller, which cannot run
// here: it gives each LoadBalancer Service of the namespace that has a node
// selector (cloud.ionos.com/node-selector: kubernetes.io/hostname=<node>) an
// IP that sits on that node, as IONOS gives a Service a secondary IP of a
// node its selector picks. The IP is listed in the Node's addresses (where
// lbdns looks for it) and a TCP server listens on it, standing in for the
// node forwarding to the pods. It is not IONOS's controller: it does not move
// IPs when a node dies; lbdns's replacement is what this test checks.
type cloudStandIn struct {
	e       *env
	ipOf    map[string]netip.Addr // node -> the IP it gives
	mu      sync.Mutex
	servers map[string]net.Listener // by node
}

// watchServices hands every Service of namespace to place, every 100 ms,
// until ctx ends: the loop of the cloud controllers' stand-ins.
func (e *env) watchServices(ctx context.Context, namespace string, place func(*corev1.Service)) {
	for ctx.Err() == nil {
		list, err := e.cp.Client.CoreV1().Services(namespace).List(ctx, metav1.ListOptions{})
		if err == nil {
			for i := range list.Items {
				place(&list.Items[i])
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *cloudStandIn) place(ctx context.Context, t *testing.T, svc *corev1.Service) {
	selector := svc.Annotations["cloud.ionos.com/node-selector"]
	node, ok := strings.CutPrefix(selector, "kubernetes.io/hostname=")
	ip, known := c.ipOf[node]
	if !ok || !known || len(svc.Status.LoadBalancer.Ingress) > 0 || len(svc.Spec.Ports) == 0 {
		return
	}
	c.mu.Lock()
	if c.servers[node] == nil {
		ln, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(svc.Spec.Ports[0].Port)).String())
		if err != nil {
			c.mu.Unlock()
			t.Errorf("stand-in: listening on %s: %v", ip, err)
			return
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				conn.Close()
			}
		}()
		c.servers[node] = ln
	}
	c.mu.Unlock()
	// The set's pods run on that node: the EndpointSlice controller and
	// kubelets do not run here, so the stand-in writes the slice too.
	ready := true
	_, err := c.e.cp.Client.DiscoveryV1().EndpointSlices(setsNamespace).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc.Name, Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.9.1"}, NodeName: &node,
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Logf("stand-in: EndpointSlice of %s: %v", svc.Name, err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
	if _, err := c.e.cp.Client.CoreV1().Services(setsNamespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		t.Logf("stand-in: status of %s: %v", svc.Name, err)
	}
}

// kill stops what a node serves, as when it dies.
func (c *cloudStandIn) kill(node string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ln := c.servers[node]; ln != nil {
		ln.Close()
	}
}

func (c *cloudStandIn) stop() {
	for node := range c.ipOf {
		c.kill(node)
	}
}

// TestLoadBalancerSet runs lbdns with LBDNS_SETS=true on a set of two to
// three Services over three Nodes: it creates two Services pinned to two
// nodes, both are published; when one node goes NotReady (and stops
// serving) lbdns creates a replacement on the third, and a client asking
// throughout never gets fewer than one IP (minServices - 1).
func TestLoadBalancerSet(t *testing.T) {
	e := suite
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dyn := e.setsPrerequisites(t)
	cloud := &cloudStandIn{e: e, ipOf: map[string]netip.Addr{}, servers: map[string]net.Listener{}}
	nodes := []string{"set-n0", "set-n1", "set-n2"}
	for i, n := range nodes {
		cloud.ipOf[n] = netip.MustParseAddr(fmt.Sprintf("127.0.79.%d", 10+i))
		e.createSetNode(t, n, cloud.ipOf[n])
	}
	t.Cleanup(func() {
		cancel()
		e.cleanUpSets(dyn)
		cloud.stop()
		for _, n := range nodes {
			_ = e.cp.Client.CoreV1().Nodes().Delete(context.Background(), n, metav1.DeleteOptions{})
		}
	})
	go e.watchServices(ctx, setsNamespace, func(svc *corev1.Service) { cloud.place(ctx, t, svc) })

	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := e.newLbdns("lbdns-sets", "LBDNS_NAMESPACE="+setsNamespace, "LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES="+setsZone,
		"LBDNS_SETS=true", "LBDNS_SETS_INTERVAL=1s", "LBDNS_DNS_RRL_RATE=0", "LBDNS_TTL=5")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)

	host := "www." + setsZone
	refuseBadSet(ctx, t, dyn)
	svcPort, err := framework.FreePort() // a wildcard listener of the suite may hold a fixed one
	if err != nil {
		t.Fatal(err)
	}
	createSet(ctx, t, dyn, host, svcPort)
	start := time.Now()
	first := waitAnswerCount(t, dnsAddr, host, 2, 60*time.Second)
	record(t, "PASS a LoadBalancerSet of 2: its Services pinned to 2 nodes and published %s after the set was created (%v)",
		time.Since(start).Round(time.Millisecond), first)
	e.replaceDeadNode(ctx, t, cloud, dnsAddr, host, first)
	e.checkSetStatus(t, dyn, l)
	record(t, "PASS the dead node's Service deleted once its replacement was published; the set's status, lbdns's /status and metrics: 2 ready on 2 nodes")
}

// checkSetStatus waits until the set deleted the Service of the dead node
// and reports two ready Services on two nodes.
func (e *env) checkSetStatus(t *testing.T, dyn dynamic.Interface, l *lbdnsProc) {
	ctx := context.Background()
	err := framework.WaitFor(30*time.Second, "the dead node's Service deleted and the status current", func() error {
		list, err := e.cp.Client.CoreV1().Services(setsNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		var names []string
		for _, svc := range list.Items {
			names = append(names, svc.Name+"@"+svc.Labels["lbdns.io/set-node"])
		}
		if len(names) != 2 {
			return fmt.Errorf("Services %v", names)
		}
		set, err := dyn.Resource(setsGVR).Namespace(setsNamespace).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		ready, _, _ := unstructured.NestedInt64(set.Object, "status", "ready")
		nodes, _, _ := unstructured.NestedStringSlice(set.Object, "status", "nodes")
		if ready != 2 || len(nodes) != 2 || containsString(nodes, "set-n0") {
			return fmt.Errorf("status ready %d, nodes %v", ready, nodes)
		}
		var st struct {
			Sets []struct {
				Name   string
				Status struct{ Ready, Desired int }
			}
		}
		if err := l.status(&st); err != nil {
			return err
		}
		if len(st.Sets) != 1 || st.Sets[0].Name != "web" || st.Sets[0].Status.Ready != 2 || st.Sets[0].Status.Desired != 2 {
			return fmt.Errorf("/status sets %+v", st.Sets)
		}
		if v, _, err := l.metric("lbdns_set_services", map[string]string{"set": "web", "state": "Ready"}); err != nil || v != 2 {
			return fmt.Errorf("lbdns_set_services{state=Ready} = %v (%v)", v, err)
		}
		if v, _, err := l.metric("lbdns_set_actions_total", map[string]string{"set": "web", "action": "Delete"}); err != nil || v != 1 {
			return fmt.Errorf("lbdns_set_actions_total{action=Delete} = %v (%v)", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// cleanUpSets deletes the set, its Services and their slices: no garbage
// collector runs in the suite, and other instances watch every namespace.
func (e *env) cleanUpSets(dyn dynamic.Interface) {
	ctx := context.Background()
	_ = dyn.Resource(setsGVR).Namespace(setsNamespace).Delete(ctx, "web", metav1.DeleteOptions{})
	if list, err := e.cp.Client.CoreV1().Services(setsNamespace).List(ctx, metav1.ListOptions{}); err == nil {
		for _, svc := range list.Items {
			_ = e.cp.Client.CoreV1().Services(setsNamespace).Delete(ctx, svc.Name, metav1.DeleteOptions{})
		}
	}
	_ = e.cp.Client.DiscoveryV1().EndpointSlices(setsNamespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{})
}

// replaceDeadNode takes the node of one published IP down and waits for the
// set to be whole again, polling the answer throughout.
func (e *env) replaceDeadNode(ctx context.Context, t *testing.T, cloud *cloudStandIn, dnsAddr, host string, before []string) {
	var victim string
	for node, ip := range cloud.ipOf {
		if ip.String() == before[0] {
			victim = node
		}
	}
	fewest, polls := 2, 0
	killed := time.Now()
	cloud.kill(victim)
	e.setNodeReady(t, victim, false)
	var after []string
	err := framework.WaitFor(90*time.Second, "the set whole again on other nodes", func() error {
		got, err := framework.Lookup(dnsAddr, host, "A")
		if err != nil {
			return err
		}
		polls++
		fewest = min(fewest, len(got))
		if len(got) != 2 || containsString(got, before[0]) {
			return fmt.Errorf("answer %v", got)
		}
		after = got
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(killed)
	if fewest < 1 {
		t.Fatalf("a client got %d IPs while the set replaced a Service (minServices 2: at least 1)", fewest)
	}
	record(t, "PASS node %s NotReady: a replacement published on another node %s later (%v -> %v); fewest IPs seen in %d answers: %d",
		victim, took.Round(time.Millisecond), before, after, polls, fewest)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// waitAnswerCount waits until the answer holds n IPs and returns them.
func waitAnswerCount(t *testing.T, dnsAddr, host string, n int, limit time.Duration) []string {
	t.Helper()
	var got []string
	if err := framework.WaitFor(limit, fmt.Sprintf("%d IPs for %s", n, host), func() error {
		var err error
		got, err = framework.Lookup(dnsAddr, host, "A")
		if err == nil && len(got) != n {
			err = fmt.Errorf("answer %v", got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// setsPrerequisites installs the CRD and the RBAC of manifests/sets and
// the namespace, and returns a dynamic client.
func (e *env) setsPrerequisites(t *testing.T) dynamic.Interface {
	out, err := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "apply", "-k", filepath.Join(e.root, "manifests/sets")).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply -k manifests/sets: %v\n%s", err, out)
	}
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: setsNamespace}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", e.cp.AdminKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := framework.WaitFor(30*time.Second, "the LoadBalancerSet CRD served", func() error {
		_, err := dyn.Resource(setsGVR).Namespace(setsNamespace).List(context.Background(), metav1.ListOptions{})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return dyn
}

// createSetNode creates a Ready Node with the set's node label.
func (e *env) createSetNode(t *testing.T, name string, ip netip.Addr) {
	ctx := context.Background()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name, setsNodeLabel: "yes"}}}
	created, err := e.cp.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: ip.String()}}
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
		LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := e.cp.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func createSet(ctx context.Context, t *testing.T, dyn dynamic.Interface, host string, port int) {
	set := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "lbdns.io/v1alpha1", "kind": "LoadBalancerSet",
		"metadata": map[string]any{"name": "web", "namespace": setsNamespace},
		"spec": map[string]any{
			"hostname": host, "minServices": int64(2), "maxServices": int64(3),
			"template": map[string]any{
				"selector": map[string]any{"app": "web"},
				"ports":    []any{map[string]any{"name": "web", "port": int64(port), "protocol": "TCP"}},
			},
			"placement": map[string]any{"nodeSelector": map[string]any{setsNodeLabel: "yes"}},
		},
	}}
	if _, err := dyn.Resource(setsGVR).Namespace(setsNamespace).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// refuseBadSet checks that the API server refuses, by the CRD's schema, a
// set whose minimum exceeds its maximum and one without ports.
func refuseBadSet(ctx context.Context, t *testing.T, dyn dynamic.Interface) {
	for name, spec := range map[string]map[string]any{
		"min above max": {"hostname": "bad." + setsZone, "minServices": int64(3), "maxServices": int64(2),
			"template": map[string]any{"selector": map[string]any{"app": "x"}, "ports": []any{map[string]any{"port": int64(80)}}}},
		"no ports": {"hostname": "bad." + setsZone, "minServices": int64(1), "maxServices": int64(2),
			"template": map[string]any{"selector": map[string]any{"app": "x"}, "ports": []any{}}},
	} {
		set := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "lbdns.io/v1alpha1", "kind": "LoadBalancerSet",
			"metadata": map[string]any{"name": "bad", "namespace": setsNamespace}, "spec": spec}}
		if _, err := dyn.Resource(setsGVR).Namespace(setsNamespace).Create(ctx, set, metav1.CreateOptions{}); err == nil || !apierrors.IsInvalid(err) {
			_ = dyn.Resource(setsGVR).Namespace(setsNamespace).Delete(ctx, "bad", metav1.DeleteOptions{})
			t.Fatalf("a set with %s: %v, want refused as invalid", name, err)
		}
	}
	record(t, "PASS the API server refuses a set with minServices above maxServices and one without ports (the CRD's schema)")
}

// TestLoadBalancerSetWithoutItsRBAC runs lbdns with LBDNS_SETS=true under a
// ServiceAccount bound to manifests/base's role only: it may read the cluster
// but not the sets. It must stop and say what to apply, not wait silently.
func TestLoadBalancerSetWithoutItsRBAC(t *testing.T) {
	e := suite
	ctx := context.Background()
	e.setsPrerequisites(t) // the CRD is served; the ServiceAccount below lacks its role
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "lbdns", Name: "nosets"}}
	if _, err := e.cp.Client.CoreV1().ServiceAccounts("lbdns").Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lbdns-nosets"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "lbdns"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "lbdns", Name: "nosets"}}}
	if _, err := e.cp.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cp.Client.RbacV1().ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
		_ = e.cp.Client.CoreV1().ServiceAccounts("lbdns").Delete(ctx, sa.Name, metav1.DeleteOptions{})
	})
	kubeconfig, err := e.tokenKubeconfig(ctx, "nosets")
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.newLbdns("lbdns-nosets", "KUBECONFIG="+kubeconfig, "LBDNS_SETS=true", "LBDNS_CACHE_SYNC_TIMEOUT=3s",
		"LBDNS_NAMESPACE="+setsNamespace)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.start(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	select {
	case <-l.Done():
	case <-time.After(60 * time.Second):
		t.Fatalf("lbdns without the sets' RBAC still runs after 60 s:\n%s", l.Tail(10))
	}
	if tail := l.Tail(20); !strings.Contains(tail, "manifests/sets") {
		t.Fatalf("lbdns stopped without naming manifests/sets:\n%s", tail)
	}
	record(t, "PASS lbdns with LBDNS_SETS=true but without the sets' RBAC stops and names manifests/sets")
}

// TestLoadBalancerSetRefusals: a dry-run set creates nothing and says what
// it would do; a set in a namespace that does not own its hostname (another
// namespace's Service names it first) creates nothing and says why.
func TestLoadBalancerSetRefusals(t *testing.T) {
	e := suite
	ctx := context.Background()
	dyn := e.setsPrerequisites(t)
	owner := "sets-owner"
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: owner}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	taken := "taken." + setsZone
	if err := e.createProbedService(ctx, owner, "first", taken, netip.MustParseAddr("127.0.79.30"), 9); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cp.Client.CoreV1().Services(owner).Delete(ctx, "first", metav1.DeleteOptions{})
		_ = dyn.Resource(setsGVR).Namespace(setsNamespace).Delete(ctx, "dry", metav1.DeleteOptions{})
		_ = dyn.Resource(setsGVR).Namespace(setsNamespace).Delete(ctx, "thief", metav1.DeleteOptions{})
	})
	l, err := e.newLbdns("lbdns-sets-refusals", "LBDNS_SETS=true", "LBDNS_SETS_INTERVAL=1s")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	for name, spec := range map[string]map[string]any{
		"dry":   {"hostname": "dry." + setsZone, "dryRun": true},
		"thief": {"hostname": taken},
	} {
		spec["minServices"], spec["maxServices"] = int64(2), int64(2)
		spec["template"] = map[string]any{"selector": map[string]any{"app": name}, "ports": []any{map[string]any{"port": int64(80)}}}
		set := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "lbdns.io/v1alpha1", "kind": "LoadBalancerSet",
			"metadata": map[string]any{"name": name, "namespace": setsNamespace}, "spec": spec}}
		if _, err := dyn.Resource(setsGVR).Namespace(setsNamespace).Create(ctx, set, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	err = framework.WaitFor(30*time.Second, "both sets refused with reasons", func() error {
		dry, err := dyn.Resource(setsGVR).Namespace(setsNamespace).Get(ctx, "dry", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if d, _, _ := unstructured.NestedString(dry.Object, "status", "lastDecision"); !strings.HasPrefix(d, "dry run") {
			return fmt.Errorf("dry run's last decision %q", d)
		}
		thief, err := dyn.Resource(setsGVR).Namespace(setsNamespace).Get(ctx, "thief", metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(thief.Object, "status", "conditions")
		for _, c := range conds {
			if m, _ := c.(map[string]any); m["type"] == "HostnameAllowed" && m["status"] == "False" && strings.Contains(fmt.Sprint(m["message"]), owner) {
				return nil
			}
		}
		return fmt.Errorf("thief's conditions %v", conds)
	})
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.cp.Client.CoreV1().Services(setsNamespace).List(ctx, metav1.ListOptions{LabelSelector: "lbdns.io/set"})
	if err != nil || len(list.Items) != 0 {
		t.Fatalf("Services created by refused sets: %d, %v", len(list.Items), err)
	}
	record(t, "PASS a dry-run set created nothing and reported what it would do; a set for a name namespace %s owns created nothing, condition HostnameAllowed=False naming the owner", owner)
}
