package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The suite's real nodes: a network namespace each, joined to the root
// namespace by a veth pair, running the real kube-proxy against the suite's
// kube-apiserver (reached through a forwarder on the root side of the veth).
// LB IPs sit on a node as on IONOS: an address inside its namespace, routed
// to it from the root namespace. Pods are HTTP servers inside it. Every
// address is inside 10.250.0.0/16 (node links), 10.251.0.0/16 (LB IPs),
// 10.252.0.0/16 (pods) and 10.253.0.0/16 (the link between the nodes), used
// only between namespaces the suite creates.

const (
	kubeProxyBinary = "kube-proxy-v1.36.3"
	kubeProxyToken  = "e2e-kube-proxy-token"
	nodePrefix      = "lbdnse2e-n" // of the namespaces and veths; a stale one is ours
)

// simNode is one real node.
type simNode struct {
	name           string // the Node object's
	netns, hostIf  string
	hostIP, nodeIP netip.Addr
	clusterIP      netip.Addr // on the link between the nodes
	mode           string     // kube-proxy's: iptables or nftables
	proxy          *framework.Proc
	agent          *framework.Proc // the node agent (lbdns agent), as a DaemonSet would run it
	api            net.Listener    // the API server, forwarded
	stopHeartbeat  context.CancelFunc
	down           atomic.Bool // its link is down: no heartbeats, as from a dead kubelet
}

// nodeRanges are the node links, LB IPs and pods of the real nodes.
var nodeRanges = []string{"10.250.0.0/16", "10.251.0.0/16", "10.252.0.0/16", "10.253.0.0/16"}

// kubeProxyModes are the modes of the nodes, in order: the suite runs one
// node in nftables mode.
var kubeProxyModes = []string{"iptables", "nftables"}

// startNodes brings up the real nodes; they are torn down by stopNodes.
// Without root there are none, and the scenarios that need them use a
// stand-in responder instead (they say so).
func (e *env) startNodes(ctx context.Context) error {
	if os.Geteuid() != 0 {
		fmt.Println("e2e: not root, so no network namespaces: node scenarios use a stand-in for kube-proxy")
		return nil
	}
	removeStaleNodes()
	// Nothing sent to these ranges leaves the machine, even while a route
	// to a node is missing.
	for _, r := range nodeRanges {
		if err := framework.IP("route", "replace", "blackhole", r); err != nil {
			return err
		}
	}
	for i, mode := range kubeProxyModes {
		n := &simNode{name: fmt.Sprintf("kp-node-%d", i+1), netns: fmt.Sprintf("%s%d", nodePrefix, i+1),
			hostIf: fmt.Sprintf("%s%dh", nodePrefix, i+1), mode: mode,
			hostIP: netip.AddrFrom4([4]byte{10, 250, byte(i + 1), 1}), nodeIP: netip.AddrFrom4([4]byte{10, 250, byte(i + 1), 2})}
		e.nodes = append(e.nodes, n)
		if err := e.startNode(ctx, n); err != nil {
			return fmt.Errorf("node %s: %w", n.name, err)
		}
	}
	return linkNodes(e.nodes[0], e.nodes[1])
}

// linkNodes joins two nodes by a veth of their own, the cluster's node
// network: a node reaches the other's LB IPs over it, as an in-cluster
// prober does, without the root namespace forwarding anything.
func linkNodes(a, b *simNode) error {
	a.clusterIP, b.clusterIP = netip.MustParseAddr("10.253.0.1"), netip.MustParseAddr("10.253.0.2")
	for _, args := range [][]string{
		{"link", "add", a.clusterIf(), "type", "veth", "peer", "name", b.clusterIf()},
		{"link", "set", a.clusterIf(), "netns", a.netns},
		{"link", "set", b.clusterIf(), "netns", b.netns},
		{"-n", a.netns, "addr", "add", a.clusterIP.String() + "/30", "dev", a.clusterIf()},
		{"-n", b.netns, "addr", "add", b.clusterIP.String() + "/30", "dev", b.clusterIf()},
		{"-n", a.netns, "link", "set", a.clusterIf(), "up"},
		{"-n", b.netns, "link", "set", b.clusterIf(), "up"},
	} {
		if err := framework.IP(args...); err != nil {
			return err
		}
	}
	return nil
}

// uplink is the name of the node's end of its veth to the root namespace.
func (n *simNode) uplink() string { return strings.TrimSuffix(n.hostIf, "h") + "n" }

// clusterIf is the name of the node's end of the node network.
func (n *simNode) clusterIf() string { return strings.TrimSuffix(n.hostIf, "h") + "c" }

func (e *env) startNode(ctx context.Context, n *simNode) error {
	peer := n.uplink()
	for _, args := range [][]string{
		{"netns", "add", n.netns},
		{"link", "add", n.hostIf, "type", "veth", "peer", "name", peer},
		{"link", "set", peer, "netns", n.netns},
		{"addr", "add", n.hostIP.String() + "/30", "dev", n.hostIf},
		{"link", "set", n.hostIf, "up"},
		{"-n", n.netns, "addr", "add", n.nodeIP.String() + "/30", "dev", peer},
		{"-n", n.netns, "link", "set", peer, "up"},
		{"-n", n.netns, "link", "set", "lo", "up"},
		{"-n", n.netns, "route", "add", "default", "via", n.hostIP.String()},
	} {
		if err := framework.IP(args...); err != nil {
			return err
		}
	}
	var err error
	if n.api, err = framework.Forward(net.JoinHostPort(n.hostIP.String(), "6443"), e.cp.APIAddr); err != nil {
		return err
	}
	if err := e.createNode(ctx, n); err != nil {
		return err
	}
	hbCtx, cancel := context.WithCancel(context.Background())
	n.stopHeartbeat = cancel
	go e.heartbeat(hbCtx, n)
	if err := e.startKubeProxy(n); err != nil {
		return err
	}
	return e.startAgent(n)
}

// startAgent runs the node agent inside the node's namespace, on the node's
// IP, as the DaemonSet runs it with hostNetwork.
func (e *env) startAgent(n *simNode) error {
	var err error
	n.agent, err = framework.Start(e.dir, "agent-"+n.name, []string{"LBDNS_AGENT_ADDR=" + net.JoinHostPort(n.nodeIP.String(), agentPort),
		"LBDNS_AGENT_NODE_NAME=" + n.name, "LBDNS_AGENT_TOKEN=" + agentToken}, "ip", "netns", "exec", n.netns, e.lbdnsBin, "agent")
	return err
}

// startKubeProxy runs the real kube-proxy inside the node's namespace, as
// the user system:kube-proxy (the built-in system:node-proxier binding).
func (e *env) startKubeProxy(n *simNode) error {
	kubeconfig := filepath.Join(e.dir, n.name+".kubeconfig")
	if err := framework.WriteKubeconfig(kubeconfig, "https://"+net.JoinHostPort(n.hostIP.String(), "6443"), "kube-proxy", kubeProxyToken); err != nil {
		return err
	}
	args := []string{"netns", "exec", n.netns,
		filepath.Join(e.tools, kubeProxyBinary), "--kubeconfig=" + kubeconfig, "--hostname-override=" + n.name,
		"--proxy-mode=" + n.mode, "--healthz-bind-address=0.0.0.0:10256", "--metrics-bind-address=127.0.0.1:10249",
		"--conntrack-max-per-core=0", "--conntrack-tcp-timeout-established=0", "--conntrack-tcp-timeout-close-wait=0",
		"--iptables-min-sync-period=0s"}
	// LBDNS_E2E_KUBE_PROXY_ARGS tries the scenarios against other kube-proxy
	// settings (say, --nodeport-addresses=primary).
	args = append(args, strings.Fields(os.Getenv("LBDNS_E2E_KUBE_PROXY_ARGS"))...)
	var err error
	n.proxy, err = framework.Start(e.dir, "kube-proxy-"+n.name, nil, "ip", args...)
	if err != nil {
		return err
	}
	return framework.WaitFor(60*time.Second, "kube-proxy on "+n.name+" to be healthy", func() error {
		if n.proxy.Exited() {
			return fmt.Errorf("kube-proxy exited:\n%s", n.proxy.Tail(20))
		}
		return framework.HTTPOK("http://" + net.JoinHostPort(n.nodeIP.String(), "10256") + "/healthz")
	})
}

// createNode writes the Node object as a kubelet would: its InternalIP and
// a Ready condition.
func (e *env) createNode(ctx context.Context, n *simNode) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n.name, Labels: map[string]string{"kubernetes.io/hostname": n.name}}}
	created, err := e.cp.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		created, err = e.cp.Client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
	}
	if err != nil {
		return err
	}
	now := metav1.Now()
	created.Status.Addresses = []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: n.nodeIP.String()},
		{Type: corev1.NodeHostName, Address: n.name}}
	created.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
		Reason: "KubeletReady", LastHeartbeatTime: now, LastTransitionTime: now}}
	_, err = e.cp.Client.CoreV1().Nodes().UpdateStatus(ctx, created, metav1.UpdateOptions{})
	return err
}

// heartbeat renews the node's Lease in kube-node-lease and its Ready
// condition's heartbeat every 10 s, as a kubelet does, while the node's
// link is up.
func (e *env) heartbeat(ctx context.Context, n *simNode) {
	e.renewNodeLease(ctx, n)
	for t := time.NewTicker(10 * time.Second); ; {
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		if n.down.Load() {
			continue
		}
		e.renewNodeLease(ctx, n)
		node, err := e.cp.Client.CoreV1().Nodes().Get(ctx, n.name, metav1.GetOptions{})
		if err != nil {
			continue
		}
		for i := range node.Status.Conditions {
			if node.Status.Conditions[i].Type == corev1.NodeReady {
				node.Status.Conditions[i].LastHeartbeatTime = metav1.Now()
			}
		}
		_, _ = e.cp.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{})
	}
}

// stopNodes tears the nodes down: kube-proxy, forwarders, heartbeats,
// namespaces (with their veths, addresses and routes), Node objects.
func (e *env) stopNodes() {
	for _, n := range e.nodes {
		if n.stopHeartbeat != nil {
			n.stopHeartbeat()
		}
		n.proxy.Stop()
		n.agent.Stop()
		if n.api != nil {
			n.api.Close()
		}
	}
	e.nodes = nil
	removeStaleNodes()
}

// removeStaleNodes deletes every namespace, veth and blackhole route of
// ours, also those a killed run left behind.
func removeStaleNodes() {
	for _, r := range nodeRanges {
		_ = exec.Command("ip", "route", "del", "blackhole", r).Run()
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], nodePrefix) {
			_ = framework.IP("netns", "del", f[0])
		}
	}
	links, _ := exec.Command("ip", "-o", "link", "show").Output()
	for _, line := range strings.Split(string(links), "\n") {
		if f := strings.Fields(line); len(f) > 1 && strings.HasPrefix(f[1], nodePrefix) {
			_ = framework.IP("link", "del", strings.SplitN(strings.TrimSuffix(f[1], ":"), "@", 2)[0])
		}
	}
}

// placeLBIP puts an LB IP on a node: an address inside its namespace, and a
// route to it from the root namespace.
func (e *env) placeLBIP(n *simNode, lbIP netip.Addr) error {
	return e.placeLBIPOn(n, lbIP, "lo")
}

// placeLBIPOn is placeLBIP with the address on the node's interface dev.
func (e *env) placeLBIPOn(n *simNode, lbIP netip.Addr, dev string) error {
	if err := framework.IP("-n", n.netns, "addr", "add", lbIP.String()+"/32", "dev", dev); err != nil {
		return err
	}
	for _, other := range e.nodes {
		if other != n && n.clusterIP.IsValid() {
			if err := framework.IP("-n", other.netns, "route", "replace", lbIP.String()+"/32", "via", n.clusterIP.String()); err != nil {
				return err
			}
		}
	}
	return framework.IP("route", "replace", lbIP.String()+"/32", "via", n.nodeIP.String())
}

// setLink takes the node's end of its link down (the node dies: packets to
// it are lost on the way, so probes time out, and its kubelet sends no
// heartbeat) or up again.
func (n *simNode) setLink(up bool) error {
	state := "down"
	if up {
		state = "up"
	}
	n.down.Store(!up)
	if err := framework.IP("-n", n.netns, "link", "set", n.uplink(), state); err != nil {
		return err
	}
	return framework.IP("-n", n.netns, "link", "set", n.clusterIf(), state)
}

// podBulkBytes is what a pod's /bytes sends.
const podBulkBytes = 8 << 20

// pod is an HTTP server listening inside a node's namespace on a pod IP of
// its own.
type pod struct {
	ip  netip.Addr
	srv *http.Server
}

// startPod serves HTTP 200 on ip:8080 inside the node's namespace.
func (n *simNode) startPod(ip netip.Addr) (*pod, error) {
	if err := framework.IPIgnoreExists("-n", n.netns, "addr", "add", ip.String()+"/32", "dev", "lo"); err != nil {
		return nil, err
	}
	var ln net.Listener
	err := framework.InNetns(n.netns, func() error {
		var err error
		ln, err = net.Listen("tcp", net.JoinHostPort(ip.String(), "8080"))
		return err
	})
	if err != nil {
		return nil, err
	}
	p := &pod{ip: ip, srv: &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bytes" { // traffic for the agents' throughput
			_, _ = w.Write(make([]byte, podBulkBytes))
			return
		}
		_, _ = fmt.Fprintf(w, "pod %s\n", ip)
	}), ReadHeaderTimeout: 5 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

func (p *pod) Stop() { _ = p.srv.Close() }

// podEndpoint is one endpoint of an EndpointSlice that kube-proxy reads.
type podEndpoint struct {
	ip                          netip.Addr
	node                        string
	ready, serving, terminating bool
}

// setPodEndpoints writes the Service's EndpointSlice (the one createService
// made) with real pod endpoints on port 8080, named as the Service port.
func (e *env) setPodEndpoints(t *testing.T, service string, eps ...podEndpoint) {
	t.Helper()
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: service + "-e2e",
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptrTo("web"), Port: ptrTo(int32(8080)), Protocol: ptrTo(corev1.ProtocolTCP)}},
	}
	for _, ep := range eps {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{ep.ip.String()}, NodeName: ptrTo(ep.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(ep.ready), Serving: ptrTo(ep.serving), Terminating: ptrTo(ep.terminating)}})
	}
	e.writeSlice(t, es)
}

func ptrTo[T any](v T) *T { return &v }

// healthzOf asks kube-proxy's health check server what a cloud load
// balancer would: the status code and the body.
func healthzOf(addr string) (int, string, error) {
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), nil
}

// waitHealthz waits until kube-proxy's health check at addr answers code.
func waitHealthz(t *testing.T, addr string, code int) string {
	t.Helper()
	var body string
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s/healthz to answer %d", addr, code), func() error {
		got, b, err := healthzOf(addr)
		if err != nil {
			return err
		}
		if body = b; got != code {
			return fmt.Errorf("answered %d: %s", got, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

// renewNodeLease writes the node's Lease as a kubelet renews it.
func (e *env) renewNodeLease(ctx context.Context, n *simNode) {
	leases := e.cp.Client.CoordinationV1().Leases(corev1.NamespaceNodeLease)
	now := metav1.NewMicroTime(time.Now())
	lease, err := leases.Get(ctx, n.name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, _ = leases.Create(ctx, &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: n.name},
			Spec: coordinationv1.LeaseSpec{HolderIdentity: ptrTo(n.name), LeaseDurationSeconds: ptrTo(int32(40)), RenewTime: &now}},
			metav1.CreateOptions{})
		return
	}
	if err == nil {
		lease.Spec.RenewTime = &now
		_, _ = leases.Update(ctx, lease, metav1.UpdateOptions{})
	}
}
