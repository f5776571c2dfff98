package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// capacityStatus is a hostname's capacity in /status.
type capacityStatus struct {
	Nodes         int
	BitsPerSecond float64
	Bandwidth     string
	UnmappedIPs   int
	Low           bool
	SharedNodes   []struct {
		Node string
		IPs  []string
	}
}

func (l *lbdnsProc) capacityOf(hostname string) (capacityStatus, error) {
	var st struct {
		Hostnames []struct {
			Hostname string
			Capacity capacityStatus
		}
	}
	if err := l.status(&st); err != nil {
		return capacityStatus{}, err
	}
	for _, h := range st.Hostnames {
		if h.Hostname == hostname {
			return h.Capacity, nil
		}
	}
	return capacityStatus{}, fmt.Errorf("no hostname %s", hostname)
}

// waitCapacity waits until /status and the gauges say the hostname's
// published IPs sit on nodes nodes worth bits bits/s.
func (e *env) waitCapacity(t *testing.T, hostname string, nodes int, bits float64) time.Duration {
	t.Helper()
	start := time.Now()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s on %d nodes, %g bits/s", hostname, nodes, bits), func() error {
		c, err := e.connector.lbdns.capacityOf(hostname)
		if err != nil {
			return err
		}
		if c.Nodes != nodes || c.BitsPerSecond != bits {
			return fmt.Errorf("/status says %+v", c)
		}
		labels := map[string]string{"hostname": hostname}
		if v, _, err := e.metric("lbdns_hostname_capacity_bits_per_second", labels); err != nil || v != bits {
			return fmt.Errorf("lbdns_hostname_capacity_bits_per_second = %g, %v", v, err)
		}
		if v, _, err := e.metric("lbdns_hostname_nodes", labels); err != nil || v != float64(nodes) {
			return fmt.Errorf("lbdns_hostname_nodes = %g, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// scenarioCapacity: three Services whose IPs sit on three nodes (6 Gbit/s at
// the default 2G; one Service sets lbdns.io/min-nodes: 3), one IP moved onto
// a node that already carries another (4 Gbit/s: the node counts once; a
// SharedNode warning on both Services, and /status names the node; the
// embedded DNS, weighting by node, puts each node first in half of the
// answers; below the floor: CapacityLow), a node NotReady (its IP withdrawn:
// 2 Gbit/s, CapacityLow told again), a node's own bandwidth annotation (10
// Gbit/s), and the IPs back on three nodes (CapacityRestored).
func scenarioCapacity(t *testing.T, e *env) {
	host, dnsHost := fqdn("s15"), "s15."+zoneEmbedded
	var ips []string
	for i := 1; i <= 3; i++ {
		b := newBackend(t, fmt.Sprintf("127.0.15.%d", i))
		s := lbService{name: fmt.Sprintf("s15-%d", i), hostname: host + "," + dnsHost, backend: b}
		if i == 1 {
			s.annotations = map[string]string{"lbdns.io/min-nodes": "3"}
		}
		e.createService(t, s)
		e.setNodeAddresses(t, fmt.Sprintf("cap-%d", i), true, b.ip)
		ips = append(ips, b.ip.String())
	}
	t.Cleanup(func() {
		for i := 1; i <= 3; i++ {
			_ = e.cp.Client.CoreV1().Nodes().Delete(context.Background(), fmt.Sprintf("cap-%d", i), metav1.DeleteOptions{})
		}
	})
	e.waitDNS(t, host, "A", ips...)
	e.waitCapacity(t, host, 3, 6e9)
	e.waitCapacityLow(t, host, false)

	ip := func(i int) string { return ips[i-1] }
	told := e.eventTally(t) // the setup passed through low states too
	e.setNodeAddresses(t, "cap-2", true, mustAddr(ip(2)), mustAddr(ip(3)))
	e.setNodeAddresses(t, "cap-3", true, mustAddr("127.0.15.99"))
	shared := e.waitCapacity(t, host, 2, 4e9)
	// Both Services of the shared node are told, once by each lbdns that
	// sends events (the suite runs several on the same Services): a repeat
	// would raise an Event's count.
	for _, svc := range []string{"s15-2", "s15-3"} {
		e.waitEvent(t, told, svc, "SharedNode", "Warning", "node cap-2", ip(2), ip(3))
	}
	if c, err := e.connector.lbdns.capacityOf(host); err != nil || len(c.SharedNodes) != 1 || c.SharedNodes[0].Node != "cap-2" || len(c.SharedNodes[0].IPs) != 2 {
		t.Errorf("/status shared nodes: %+v, %v", c, err)
	}
	byNode := e.firstByNode(t, dnsHost, ip(1), ip(2), ip(3))
	e.waitCapacityLow(t, host, true)
	e.waitEvent(t, told, "s15-3", "CapacityLow", "Warning", "4Gbit/s on 2 nodes, below its floor of 3 nodes")

	told = e.eventTally(t)
	e.setNodeAddresses(t, "cap-1", false, mustAddr(ip(1)))
	e.waitDNS(t, host, "A", ip(2), ip(3))
	e.waitCapacity(t, host, 1, 2e9)
	e.waitEvent(t, told, "s15-1", "CapacityLow", "Warning", "2Gbit/s on 1 node, below its floor of 3 nodes")

	e.annotateNode(t, "cap-2", "lbdns.io/bandwidth", "10G")
	e.waitCapacity(t, host, 1, 10e9)

	told = e.eventTally(t)
	e.setNodeAddresses(t, "cap-1", true, mustAddr(ip(1)))
	e.setNodeAddresses(t, "cap-3", true, mustAddr(ip(3)))
	e.setNodeAddresses(t, "cap-2", true, mustAddr(ip(2)))
	e.waitCapacity(t, host, 3, 14e9)
	e.waitCapacityLow(t, host, false)
	e.waitEvent(t, told, "s15-2", "CapacityRestored", "Normal", "14Gbit/s on 3 nodes again")
	e.checkNodeSelector(t, host)
	record(t, "PASS 3 nodes -> 6 Gbit/s; an IP moved onto a node that carries another -> 2 nodes, 4 Gbit/s (seen in %.2fs), SharedNode, "+
		"CapacityLow against min-nodes 3; %s; a node NotReady -> 1 node, 2 Gbit/s, CapacityLow again; its bandwidth annotation 10G -> 10 Gbit/s; "+
		"back on 3 nodes -> 14 Gbit/s, CapacityRestored; a node-selector that picks a node without pods -> NodeSelectorWithoutPods, "+
		"its IP moved to a node it does not pick -> NodeSelectorMismatch", shared.Seconds(), byNode)
}

// checkNodeSelector: a Service pinned by the IONOS node-selector to the
// nodes labelled lbdns-e2e/pool=a (cap-1, which holds its IP and its pod,
// and cap-3, which runs no pod of it) is warned NodeSelectorWithoutPods
// naming cap-3; with its IP moved onto cap-2, which the selector does not
// pick, NodeSelectorMismatch. /status notes both on the target.
func (e *env) checkNodeSelector(t *testing.T, capHost string) {
	const sel = "lbdns-e2e/pool=a"
	e.labelNode(t, "cap-1", "lbdns-e2e/pool", "a")
	e.labelNode(t, "cap-3", "lbdns-e2e/pool", "a")
	b := newBackend(t, "127.0.15.4")
	e.setNodeAddresses(t, "cap-1", true, mustAddr("127.0.15.1"), b.ip)
	e.createService(t, lbService{name: "s15-sel", hostname: fqdn("s15sel"), backend: b,
		annotations: map[string]string{"cloud.ionos.com/node-selector": sel}})
	e.setEndpoints(t, "s15-sel", true, "cap-1")
	e.waitEvent(t, nil, "s15-sel", "NodeSelectorWithoutPods", "Warning", "node-selector "+sel+" picks node(s) cap-3 that run no ready endpoint")
	e.waitNote(t, fqdn("s15sel"), "picks node(s) cap-3 without a ready endpoint")

	told := e.eventTally(t)
	e.setNodeAddresses(t, "cap-1", true, mustAddr("127.0.15.1"))
	e.setNodeAddresses(t, "cap-2", true, mustAddr("127.0.15.2"), b.ip)
	e.waitEvent(t, told, "s15-sel", "NodeSelectorMismatch", "Warning", "127.0.15.4 sits on node cap-2, which its node-selector "+sel+" does not pick")
	e.waitNote(t, fqdn("s15sel"), "sits on node cap-2")
}

// waitNote waits until a target of hostname carries a note in /status that
// holds words.
func (e *env) waitNote(t *testing.T, hostname, words string) {
	t.Helper()
	err := framework.WaitFor(20*time.Second, fmt.Sprintf("a note %q on %s in /status", words, hostname), func() error {
		var st struct {
			Hostnames []struct {
				Hostname string
				Targets  []struct{ Notes []string }
			}
		}
		if err := e.connector.lbdns.status(&st); err != nil {
			return err
		}
		for _, h := range st.Hostnames {
			for _, tg := range h.Targets {
				for _, n := range tg.Notes {
					if h.Hostname == hostname && strings.Contains(n, words) {
						return nil
					}
				}
			}
		}
		return fmt.Errorf("not yet")
	})
	if err != nil {
		t.Error(err)
	}
}

func (e *env) labelNode(t *testing.T, name, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	if _, err := e.cp.Client.CoreV1().Nodes().Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("labelling Node %s: %v", name, err)
	}
}

// waitCapacityLow waits until /status and lbdns_hostname_capacity_low say
// whether the hostname is below its floor.
func (e *env) waitCapacityLow(t *testing.T, hostname string, low bool) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s capacity low = %v", hostname, low), func() error {
		c, err := e.connector.lbdns.capacityOf(hostname)
		if err != nil {
			return err
		}
		if c.Low != low {
			return fmt.Errorf("/status says %+v", c)
		}
		if v, _, err := e.metric("lbdns_hostname_capacity_low", map[string]string{"hostname": hostname}); err != nil || (v == 1) != low {
			return fmt.Errorf("lbdns_hostname_capacity_low = %g, %v", v, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitEvent waits for an event of reason on a Service whose message holds
// every one of words, and checks that no lbdns sent it twice.
// eventTally is the count of every Event in the test namespace, by name:
// what was told before an action, so that waitEvent can require the action
// to be told exactly once more (a setup passes through states that are told
// too, and the event recorder folds a repeat into the old Event's count).
type eventTally map[string]int32

func (e *env) eventTally(t *testing.T) eventTally {
	t.Helper()
	list, err := e.cp.Client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tally := eventTally{}
	for _, ev := range list.Items {
		tally[ev.Name] = ev.Count
	}
	return tally
}

// waitEvent waits for an Event of kind and reason on svc whose message holds
// every word, told once since before was taken (nil: once ever).
func (e *env) waitEvent(t *testing.T, before eventTally, svc, reason, kind string, words ...string) {
	t.Helper()
	err := framework.WaitFor(20*time.Second, fmt.Sprintf("a %s event on %s saying %q", reason, svc, words), func() error {
		list, err := e.cp.Client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + svc + ",reason=" + reason})
		if err != nil {
			return err
		}
		var seen []string
	events:
		for _, ev := range list.Items {
			for _, w := range words {
				if !strings.Contains(ev.Message, w) {
					seen = append(seen, ev.Message)
					continue events
				}
			}
			if ev.Count == before[ev.Name] {
				seen = append(seen, fmt.Sprintf("%s (x%d, as before)", ev.Message, ev.Count))
				continue
			}
			if ev.Type != kind || ev.Count != before[ev.Name]+1 {
				return fmt.Errorf("event %s x%d (x%d before): %s", ev.Type, ev.Count, before[ev.Name], ev.Message)
			}
			return nil
		}
		return fmt.Errorf("none yet; others: %q", seen)
	})
	if err != nil {
		t.Error(err)
	}
}

// firstByNode asks the embedded DNS (LBDNS_DNS_WEIGHT_BY_NODE=true) 2,000 times
// for name, whose IP alone sits on one node and IPs shared and shared2 on
// another, all of weight 100: each node should come first in half of the
// answers (weighting by IP would give the lone IP a third).
func (e *env) firstByNode(t *testing.T, name, alone, shared, shared2 string) string {
	t.Helper()
	err := framework.WaitFor(30*time.Second, name+" on 2 nodes in the embedded DNS's /status", func() error {
		c, err := e.embedded.lbdns.capacityOf(name)
		if err == nil && c.Nodes != 2 {
			err = fmt.Errorf("/status says %+v", c)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	first := map[string]int{}
	for range n {
		r := exchange(t, e, "udp", name, dns.TypeA)
		if len(r.Answer) != 3 {
			t.Fatalf("%d answers, want 3: %v", len(r.Answer), r.Answer)
		}
		first[r.Answer[0].(*dns.A).A.String()]++
	}
	lone, pair := float64(first[alone])/n, float64(first[shared]+first[shared2])/n
	if lone < 0.45 || lone > 0.55 {
		t.Errorf("the IP alone on its node came first in %.3f of %d answers, want 0.50 ± 0.05 (%v)", lone, n, first)
	}
	return fmt.Sprintf("weighted by node, the lone IP came first in %.1f%% and the two IPs of the shared node in %.1f%% of %d answers (50%% each expected)",
		100*lone, 100*pair, n)
}

func (e *env) annotateNode(t *testing.T, name, key, value string) {
	t.Helper()
	patch := fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}}}`, key, value)
	if _, err := e.cp.Client.CoreV1().Nodes().Patch(context.Background(), name, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatalf("annotating Node %s: %v", name, err)
	}
}

func mustAddr(s string) netip.Addr { return netip.MustParseAddr(s) }
