package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// scenarioKubeProxyNodeProbe: lbdns.io/node-probe: kube-proxy asks the real
// kube-proxy of the node that carries the IP (its :10256/healthz), on the
// node in nftables mode: the node marked ToBeDeletedByClusterAutoscaler
// (503, nodeEligible false), kube-proxy killed (refused, while its rules
// still carry traffic to the pod, so the Service probe alone would pass),
// and the node dying for real (its link down: probes time out, while its
// Node object still says Ready, as it would until the node lifecycle
// controller's grace period ran out).
func scenarioKubeProxyNodeProbe(t *testing.T, e *env) {
	if len(e.nodes) < 2 {
		t.Skip("needs the real nodes, which need root (CI runs as root)")
	}
	n := e.nodes[1]
	if lease, err := e.cp.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease).Get(context.Background(), n.name, metav1.GetOptions{}); err != nil ||
		lease.Spec.HolderIdentity == nil || *lease.Spec.HolderIdentity != n.name {
		t.Errorf("the node's Lease, as its kubelet would renew it: %v, %v", lease, err)
	}
	podIP := netip.MustParseAddr("10.252.13.1")
	pod, err := n.startPod(podIP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pod.Stop)
	// Each fault has a hostname of its own: three flips of one target in a
	// row would be damped as flapping, rightly.
	step := func(i int) (host string, lbIP netip.Addr, other *backend) {
		host = fqdn(fmt.Sprintf("s13-%d", i))
		lbIP = netip.AddrFrom4([4]byte{10, 251, 13, byte(i)})
		if err := e.placeLBIP(n, lbIP); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("s13-%d", i)
		e.createService(t, lbService{name: name + "-a", hostname: host, backend: &backend{ip: lbIP, port: 80},
			annotations: map[string]string{"lbdns.io/node-probe": "kube-proxy"}})
		e.setPodEndpoints(t, name+"-a", podEndpoint{ip: podIP, node: n.name, ready: true, serving: true})
		other = newBackend(t, fmt.Sprintf("127.0.13.%d", i))
		e.createService(t, lbService{name: name + "-b", hostname: host, backend: other})
		waitHealthz(t, net.JoinHostPort(lbIP.String(), "10256"), http.StatusOK)
		e.waitDNS(t, host, "A", lbIP.String(), other.ip.String())
		return host, lbIP, other
	}

	// 1. The cluster autoscaler is about to delete the node.
	host, lbIP, other := step(1)
	e.taintNode(t, n.name, "ToBeDeletedByClusterAutoscaler", true)
	if body := waitHealthz(t, net.JoinHostPort(lbIP.String(), "10256"), http.StatusServiceUnavailable); !strings.Contains(body, `"nodeEligible":false`) {
		t.Errorf("kube-proxy's 503 for a node being deleted says %s", body)
	}
	tainted := e.waitDNS(t, host, "A", other.ip.String())
	if ts := e.waitReason(t, host, "s13-1-a", "ProbeFailed"); !strings.Contains(ts.Detail, "kube-proxy") || !strings.Contains(ts.Detail, "503") {
		t.Errorf("detail %q does not name the kube-proxy probe and its 503", ts.Detail)
	}
	e.taintNode(t, n.name, "ToBeDeletedByClusterAutoscaler", false)
	waitHealthz(t, net.JoinHostPort(lbIP.String(), "10256"), http.StatusOK)
	e.waitDNS(t, host, "A", lbIP.String(), other.ip.String())

	// 2. kube-proxy dies; its rules stay and still carry the traffic.
	host, lbIP, other = step(2)
	_ = n.proxy.Cmd.Process.Signal(syscall.SIGKILL)
	<-n.proxy.Done()
	killed := e.waitDNS(t, host, "A", other.ip.String())
	if err := framework.HTTPOK("http://" + net.JoinHostPort(lbIP.String(), "80") + "/"); err != nil {
		t.Errorf("kube-proxy's rules no longer carry traffic after it died: %v", err)
	}
	if ts := e.waitReason(t, host, "s13-2-a", "ProbeFailed"); !strings.Contains(ts.Detail, "refused") {
		t.Errorf("detail %q: want the refused connection of a dead kube-proxy", ts.Detail)
	}
	if err := e.startKubeProxy(n); err != nil {
		t.Fatal(err)
	}
	e.waitDNS(t, host, "A", lbIP.String(), other.ip.String())

	// 3. The node dies: its link goes down, nothing answers, probes time out.
	host, lbIP, other = step(3)
	if err := n.setLink(false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.setLink(true) })
	died := e.waitDNS(t, host, "A", other.ip.String())
	ts := e.waitReason(t, host, "s13-3-a", "ProbeFailed")
	if !timedOut(ts.Detail) {
		t.Errorf("detail %q: a dead node's probes time out, they are not refused", ts.Detail)
	}
	node, err := e.cp.Client.CoreV1().Nodes().Get(context.Background(), n.name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !nodeReady(node) {
		t.Errorf("the Node object of the dead node is already NotReady: the scenario no longer shows the probe alone")
	}
	if err := n.setLink(true); err != nil {
		t.Fatal(err)
	}
	e.waitDNS(t, host, "A", lbIP.String(), other.ip.String())
	// A probe of a dead node takes its whole timeout (the suite's 500 ms).
	record(t, "PASS (real kube-proxy, %s mode) withdrawn %.2fs after the ToBeDeleted taint (503), %.2fs after kube-proxy was killed "+
		"(refused; its rules still served the LB IP), %.2fs after the node's link went down (%s) while its Node object still said Ready; "+
		"bound %s, %s with timeouts", n.mode, tainted.Seconds(), killed.Seconds(), died.Seconds(), trim(ts.Detail, 60), withdrawBound(),
		withdrawBound()+time.Duration(probeFall)*500*time.Millisecond)
}

// taintNode adds or removes a NoSchedule taint of the given key.
func (e *env) taintNode(t *testing.T, name, key string, on bool) {
	t.Helper()
	ctx := context.Background()
	err := framework.WaitFor(10*time.Second, "tainting "+name, func() error {
		node, err := e.cp.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		var taints []corev1.Taint
		for _, tt := range node.Spec.Taints {
			if tt.Key != key {
				taints = append(taints, tt)
			}
		}
		if on {
			taints = append(taints, corev1.Taint{Key: key, Value: "1700000000", Effect: corev1.TaintEffectNoSchedule})
		}
		node.Spec.Taints = taints
		_, err = e.cp.Client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// timedOut reports whether a probe's error is a timeout (of the dial, or of
// the whole request), not a refusal.
func timedOut(detail string) bool {
	return strings.Contains(detail, "timeout") || strings.Contains(detail, "deadline exceeded")
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// inClusterPrefix is the annotation prefix of the lbdns that runs inside
// node 1: it reads only the Services of scenario 14.
const inClusterPrefix = "incluster.lbdns.io/"

// scenarioInClusterProbes proves the README's warning with the real thing:
// lbdns runs inside node 1, as in-cluster, and probes two LB IPs that sit on
// node 2. Node 2 dies. The Service probe (tcp to the Service port) is
// answered by node 1's own kube-proxy, which sends it to a pod on node 1, so
// it keeps passing and that dead IP stays published; the node probe
// (kube-proxy's :10256, not a Service port) goes to node 2 and times out.
func scenarioInClusterProbes(t *testing.T, e *env) {
	if len(e.nodes) < 2 {
		t.Skip("needs the real nodes, which need root (CI runs as root)")
	}
	n1, n2 := e.nodes[0], e.nodes[1]
	podIP := netip.MustParseAddr("10.252.14.1")
	pod, err := n1.startPod(podIP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pod.Stop)
	host := "s14.incluster.test"
	svcIP, nodeIP := netip.MustParseAddr("10.251.14.1"), netip.MustParseAddr("10.251.14.2")
	for _, s := range []struct {
		name string
		ip   netip.Addr
		ann  map[string]string
	}{
		{"s14-service-probe", svcIP, map[string]string{inClusterPrefix + "node-probe": "off"}},
		{"s14-node-probe", nodeIP, map[string]string{inClusterPrefix + "probe": "none", inClusterPrefix + "node-probe": "kube-proxy"}},
	} {
		if err := e.placeLBIP(n2, s.ip); err != nil {
			t.Fatal(err)
		}
		e.createService(t, lbService{name: s.name, hostname: host, backend: &backend{ip: s.ip, port: 80}, annotations: s.ann, prefix: inClusterPrefix})
		e.setPodEndpoints(t, s.name, podEndpoint{ip: podIP, node: n1.name, ready: true, serving: true})
	}
	l := e.inClusterLbdns(t, n1)
	health := func(service string) targetStatus {
		ts, _ := l.reasonOf(host, service)
		return ts
	}
	err = framework.WaitFor(30*time.Second, "both targets healthy from inside node 1", func() error {
		for _, s := range []string{"s14-service-probe", "s14-node-probe"} {
			if ts := health(s); ts.Health != "healthy" {
				return fmt.Errorf("%s: %+v", s, ts)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	if err := n2.setLink(false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n2.setLink(true) })
	start := time.Now()
	ts := l.waitReason(t, host, "s14-node-probe", "ProbeFailed")
	took := time.Since(start)
	if !strings.Contains(ts.Detail, "kube-proxy") || !timedOut(ts.Detail) {
		t.Errorf("the node probe's detail %q: want kube-proxy's healthz timing out", ts.Detail)
	}
	// The Service probe never notices: node 1's kube-proxy answers it.
	for deadline := time.Now().Add(3 * probeInterval * probeFall); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if ts := health("s14-service-probe"); ts.Health != "healthy" || !ts.Published {
			t.Fatalf("the Service probe saw node 2 die (%+v): the warning in the README no longer holds on this kube-proxy", ts)
		}
	}
	if err := n2.setLink(true); err != nil {
		t.Fatal(err)
	}
	err = framework.WaitFor(30*time.Second, "the node probe's target back", func() error {
		if ts := health("s14-node-probe"); ts.Health != "healthy" {
			return fmt.Errorf("%+v", ts)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	record(t, "PASS (real kube-proxy, %s mode on the prober's node) node 2 died: the node probe withdrew its IP after %.2fs (%s); "+
		"the Service probe, answered by node 1's own kube-proxy, kept the other dead IP healthy and published for %s", n1.mode,
		took.Seconds(), trim(ts.Detail, 50), 3*probeInterval*probeFall)
}

// inClusterLbdns runs lbdns inside a node's namespace, as a pod on that node
// would, reaching the API server through the node's forwarder.
func (e *env) inClusterLbdns(t *testing.T, n *simNode) *lbdnsProc {
	t.Helper()
	cfg, err := clientcmd.LoadFromFile(e.lbdnsKubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = "https://" + net.JoinHostPort(n.hostIP.String(), "6443")
	}
	kubeconfig := filepath.Join(e.dir, "lbdns-in-"+n.name+".kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, kubeconfig); err != nil {
		t.Fatal(err)
	}
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.newLbdns("lbdns-in-"+n.name, "KUBECONFIG="+kubeconfig, "LBDNS_ANNOTATION_PREFIX="+inClusterPrefix,
		fmt.Sprintf("LBDNS_HTTP_ADDR=%s:%d", n.nodeIP, port), "LBDNS_FLAP_HALF_LIFE=0")
	if err != nil {
		t.Fatal(err)
	}
	l.http, l.netns = fmt.Sprintf("%s:%d", n.nodeIP, port), n.netns
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l
}
