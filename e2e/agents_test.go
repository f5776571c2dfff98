package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// agentPort is where the suite's node agents serve, on each node's IP.
const agentPort = "9798"

// agentToken is the shared secret the suite's agents require.
const agentToken = "e2e-agent-token"

// agentsPrefix is the annotation prefix of the agents scenario's Services:
// only its own lbdns, which asks the agents, reads them.
const agentsPrefix = "agents.lbdns.io/"

// scenarioNodeAgents: the real node agents (lbdns agent) run inside the two
// real nodes' namespaces (started with the nodes), where the LB IPs sit on the nodes' uplinks and in
// no Node's status.addresses. An lbdns with LBDNS_AGENT_PORT maps every IP
// to its node from the agents' answers: capacity (2 nodes, 4 Gbit/s) and
// SharedNode (two IPs on node 2) work; traffic through node 1 shows in
// lbdns_node_transmit_bits_per_second; node 1 NotReady withdraws its IP;
// node 2's agent killed keeps its IPs where they were (a failed read is not
// "the node holds nothing"), marked not answering.
func scenarioNodeAgents(t *testing.T, e *env) {
	if len(e.nodes) < 2 {
		t.Skip("needs the real nodes, which need root (CI runs as root)")
	}
	n1, n2 := e.nodes[0], e.nodes[1]
	host := "s16.agents.test"
	ips := []netip.Addr{netip.MustParseAddr("10.251.16.1"), netip.MustParseAddr("10.251.16.2"), netip.MustParseAddr("10.251.16.3")}
	for i, n := range []*simNode{n1, n2, n2} {
		pod, err := n.startPod(netip.AddrFrom4([4]byte{10, 252, 16, byte(i + 1)}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pod.Stop)
		if err := e.placeLBIPOn(n, ips[i], n.uplink()); err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("s16-%d", i+1)
		e.createService(t, lbService{name: name, hostname: host, backend: &backend{ip: ips[i], port: 80}, prefix: agentsPrefix})
		e.setPodEndpoints(t, name, podEndpoint{ip: pod.ip, node: n.name, ready: true, serving: true})
	}
	l, err := e.newLbdns("lbdns-agents", "LBDNS_AGENT_PORT="+agentPort, "LBDNS_AGENT_INTERVAL=1s", "LBDNS_ANNOTATION_PREFIX="+agentsPrefix,
		"LBDNS_AGENT_TOKEN="+agentToken)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	e.agents = l // kept for the check of the dashboard's metrics; stopped with the suite
	waitMapped(t, l, host, map[string]string{"s16-1": n1.name, "s16-2": n2.name, "s16-3": n2.name})
	mapped := time.Since(start)
	waitCapacityOf(t, l, host, 2, 4e9, n2.name)
	e.waitEvent(t, nil, "s16-3", "SharedNode", "Warning", "node "+n2.name, ips[1].String(), ips[2].String())

	tx := sendThrough(t, l, ips[0], n1)
	// Without the token, an agent tells nothing.
	if resp, err := http.Get("http://" + net.JoinHostPort(n1.nodeIP.String(), agentPort) + "/v1/node"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("an agent asked without its token: %v, %v; want 401", resp, err)
	} else {
		resp.Body.Close()
	}

	t.Cleanup(func() { e.setNodeReady(t, n1.name, true) })
	e.setNodeReady(t, n1.name, false)
	l.waitReason(t, host, "s16-1", "NodeNotReady")
	e.setNodeReady(t, n1.name, true)
	l.waitReason(t, host, "s16-1", "")

	n2.agent.Kill()
	t.Cleanup(func() {
		if err := e.startAgent(n2); err != nil {
			t.Error(err)
		}
	})
	err = framework.WaitFor(20*time.Second, "node 2's agent marked not answering", func() error {
		var st struct {
			Agents []struct {
				Node, LastError string
				Answering       bool
			}
		}
		if err := l.status(&st); err != nil {
			return err
		}
		for _, a := range st.Agents {
			if a.Node == n2.name && !a.Answering && a.LastError != "" {
				return nil
			}
		}
		return fmt.Errorf("agents %+v", st.Agents)
	})
	if err != nil {
		t.Error(err)
	}
	if v, _, err := l.metric("lbdns_agent_up", map[string]string{"node": n2.name}); err != nil || v != 0 {
		t.Errorf("lbdns_agent_up{node=%s} = %g, %v after its agent was killed", n2.name, v, err)
	}
	waitMapped(t, l, host, map[string]string{"s16-2": n2.name, "s16-3": n2.name}) // kept, not forgotten
	waitCapacityOf(t, l, host, 2, 4e9, n2.name)
	shot := filepath.Join(e.dir, "status-agents.png")
	dom, err := renderedPage(l.http, shot)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{">" + n1.name + ` <span class="muted">(agent)</span>`, "Node agents", "not answering",
		"share node " + n2.name, "Capacity: <strong>4Gbit/s</strong> on 2 nodes"} {
		if !strings.Contains(dom, want) {
			t.Errorf("the status page in Chromium lacks %q", want)
		}
	}
	record(t, "PASS agents in 2 real nodes mapped 3 LB IPs held in no Node's addresses %.2fs after lbdns started: 2 nodes, 4 Gbit/s, SharedNode on %s; "+
		"%.0f Mbit/s sent through node 1 measured by its agent (which refuses requests without its token); node 1 NotReady -> its IP withdrawn; node 2's agent killed -> its IPs stay mapped, agent marked down; "+
		"Chromium rendered the status page with the agents (%s)", mapped.Seconds(), n2.name, tx/1e6, filepath.Base(shot))
}

// waitMapped waits until each Service's target in /status sits on the node
// given, mapped by the node agent.
func waitMapped(t *testing.T, l *lbdnsProc, hostname string, want map[string]string) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s mapped by the agents to %v", hostname, want), func() error {
		var st struct {
			Hostnames []struct {
				Hostname string
				Targets  []struct{ Service, Node, NodeMappedBy string }
			}
		}
		if err := l.status(&st); err != nil {
			return err
		}
		for _, h := range st.Hostnames {
			if h.Hostname != hostname {
				continue
			}
			for _, tg := range h.Targets {
				if node, ok := want[tg.Service]; ok && (tg.Node != node || tg.NodeMappedBy != "agent") {
					return fmt.Errorf("%s on %q by %q", tg.Service, tg.Node, tg.NodeMappedBy)
				}
			}
			return nil
		}
		return fmt.Errorf("no hostname %s", hostname)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitCapacityOf waits until an instance's /status gives the hostname's
// capacity and names the shared node.
func waitCapacityOf(t *testing.T, l *lbdnsProc, hostname string, nodes int, bits float64, shared string) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s on %d nodes, %g bits/s, %s shared", hostname, nodes, bits, shared), func() error {
		c, err := l.capacityOf(hostname)
		if err != nil {
			return err
		}
		if c.Nodes != nodes || c.BitsPerSecond != bits || len(c.SharedNodes) != 1 || c.SharedNodes[0].Node != shared {
			return fmt.Errorf("/status says %+v", c)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// sendThrough downloads from the pod behind lbIP on node n for a few
// seconds (bounded) and waits until lbdns reports what the node's uplink
// sent, per interface and for the hostname; it returns that rate.
func sendThrough(t *testing.T, l *lbdnsProc, lbIP netip.Addr, n *simNode) float64 {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second}
	var rate float64
	err := framework.WaitFor(30*time.Second, "the agent's measure of node 1's traffic", func() error {
		for range 20 {
			resp, err := client.Get("http://" + net.JoinHostPort(lbIP.String(), "80") + "/bytes")
			if err != nil {
				return err
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		v, _, err := l.metric("lbdns_node_transmit_bits_per_second", map[string]string{"node": n.name, "interface": n.uplink()})
		if err != nil || v < 10e6 {
			return fmt.Errorf("lbdns_node_transmit_bits_per_second = %g, %v", v, err)
		}
		h, _, err := l.metric("lbdns_hostname_transmit_bits_per_second", map[string]string{"hostname": "s16.agents.test"})
		if err != nil || h < v {
			return fmt.Errorf("lbdns_hostname_transmit_bits_per_second = %g (node 1 alone sends %g), %v", h, v, err)
		}
		rate = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return rate
}

// setNodeReady sets a Node's Ready condition, as its kubelet (or the node
// lifecycle controller) would.
func (e *env) setNodeReady(t *testing.T, name string, ready bool) {
	t.Helper()
	ctx := context.Background()
	node, err := e.cp.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	for i := range node.Status.Conditions {
		if node.Status.Conditions[i].Type == corev1.NodeReady {
			node.Status.Conditions[i].Status, node.Status.Conditions[i].LastTransitionTime = status, metav1.Now()
		}
	}
	if _, err := e.cp.Client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting Node %s Ready=%v: %v", name, ready, err)
	}
}
