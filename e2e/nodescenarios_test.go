package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	podIP := netip.MustParseAddr("10.252.13.1")
	pod, err := n.startPod(podIP)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pod.stop)
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
	_ = n.proxy.cmd.Process.Signal(syscall.SIGKILL)
	<-n.proxy.done
	killed := e.waitDNS(t, host, "A", other.ip.String())
	if err := httpOK("http://" + net.JoinHostPort(lbIP.String(), "80") + "/"); err != nil {
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
	if !strings.Contains(ts.Detail, "timeout") {
		t.Errorf("detail %q: a dead node's probes time out, they are not refused", ts.Detail)
	}
	node, err := e.client.CoreV1().Nodes().Get(context.Background(), n.name, metav1.GetOptions{})
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
	record(t, "PASS (real kube-proxy, %s mode) withdrawn %.2fs after the ToBeDeleted taint (503), %.2fs after kube-proxy was killed "+
		"(refused; its rules still served the LB IP), %.2fs after the node's link went down (%s) while its Node object still said Ready; bound %s",
		n.mode, tainted.Seconds(), killed.Seconds(), died.Seconds(), trim(ts.Detail, 60), withdrawBound())
}

// taintNode adds or removes a NoSchedule taint of the given key.
func (e *env) taintNode(t *testing.T, name, key string, on bool) {
	t.Helper()
	ctx := context.Background()
	err := waitFor(10*time.Second, "tainting "+name, func() error {
		node, err := e.client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
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
		_, err = e.client.CoreV1().Nodes().Update(ctx, node, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
