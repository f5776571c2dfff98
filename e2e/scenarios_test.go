package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestScenarios runs the scenarios in order against the one environment.
// Each scenario uses its own hostname and its own 127.0.N.0/24 addresses.
func TestScenarios(t *testing.T) {
	steps := []struct {
		name string
		run  func(t *testing.T, e *env)
	}{
		{"01_multi_a_and_aaaa", scenarioMultiA},
		{"02_03_withdraw_and_restore", scenarioWithdrawRestore},
		{"04_fail_open", scenarioFailOpen},
		{"05_no_ready_endpoints", scenarioNoReadyEndpoints},
		{"06_node_not_ready_then_deleted", scenarioNode},
		{"07_local_traffic_healthz_503", scenarioLocalHealthz},
		{"08_weight_zero_drains", scenarioDrain},
		{"09_lbdns_restart_deletes_nothing", scenarioRestart},
		{"10_invalid_annotations", scenarioInvalidAnnotations},
		{"11_service_deleted", scenarioDeleted},
		{"12_unowned_record_survives", scenarioUnowned},
		{"13_kube_proxy_node_probe_and_a_node_that_dies", scenarioKubeProxyNodeProbe},
		{"14_in_cluster_service_probe_cannot_see_a_node_die", scenarioInClusterProbes},
		{"15_capacity_per_hostname", scenarioCapacity},
		{"16_node_agents_map_ips_without_node_addresses", scenarioNodeAgents},
		{"17_set_scales_with_traffic", scenarioSetScalesWithTraffic},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) { s.run(t, suite) })
	}
}

// pair creates the Services <prefix>-a and <prefix>-b for hostname with
// backends on 127.0.n.1 and 127.0.n.2, and waits until both are in DNS.
func pair(t *testing.T, e *env, n int, prefix, hostname string) (a, b *backend) {
	t.Helper()
	return pairFor(t, e, n, prefix, hostname, "")
}

// pairFor is pair with another annotation prefix, which only the lbdns
// instance configured with it reads.
func pairFor(t *testing.T, e *env, n int, prefix, hostname, annotationPrefix string) (a, b *backend) {
	t.Helper()
	a, b = newBackend(t, fmt.Sprintf("127.0.%d.1", n)), newBackend(t, fmt.Sprintf("127.0.%d.2", n))
	e.createService(t, lbService{name: prefix + "-a", hostname: hostname, backend: a, prefix: annotationPrefix})
	e.createService(t, lbService{name: prefix + "-b", hostname: hostname, backend: b, prefix: annotationPrefix})
	e.waitDNS(t, hostname, "A", a.ip.String(), b.ip.String())
	return a, b
}

func scenarioMultiA(t *testing.T, e *env) {
	host := fqdn("s1")
	a, b := newBackend(t, "127.0.1.1"), newBackend(t, "127.0.1.2")
	v6 := newBackend(t, "::1")
	start := time.Now()
	e.createService(t, lbService{name: "s1-a", hostname: host, backend: a})
	e.createService(t, lbService{name: "s1-b", hostname: host, backend: b})
	e.createService(t, lbService{name: "s1-v6", hostname: host, backend: v6})
	e.waitDNS(t, host, "A", "127.0.1.1", "127.0.1.2")
	e.waitDNS(t, host, "AAAA", "::1")
	txt, err := framework.Lookup(e.bind.Addr, "a-"+host, "TXT")
	if err != nil || len(txt) != 1 || !strings.Contains(txt[0], "external-dns/owner=lbdns-e2e") {
		t.Fatalf("TXT ownership record of %s: %v, %v", host, txt, err)
	}
	record(t, "PASS one A RRset with both IPs and an AAAA, in DNS %.1fs after the Services were created", time.Since(start).Seconds())
}

func scenarioWithdrawRestore(t *testing.T, e *env) {
	host := fqdn("s2")
	a, b := pair(t, e, 2, "s2", host)
	a.Stop()
	withdrawn := e.waitDNS(t, host, "A", b.ip.String())
	e.waitMetric(t, "lbdns_target_published", map[string]string{"hostname": host, "ip": a.ip.String()}, 0)
	if ts := e.waitReason(t, host, "s2-a", "ProbeFailed"); !strings.Contains(ts.Detail, "refused") {
		t.Errorf("detail %q does not say the connection was refused", ts.Detail)
	}
	if v, _, _ := e.metric("lbdns_target_transitions_total", map[string]string{"hostname": host, "to": "unhealthy"}); v < 1 {
		t.Errorf("lbdns_target_transitions_total{to=unhealthy} = %v", v)
	}
	a.start(t)
	restored := e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	record(t, "PASS withdrawn %.2fs after the backend stopped (bound %s), restored %.2fs after it returned (bound %s)",
		withdrawn.Seconds(), withdrawBound(), restored.Seconds(), restoreBound())
}

func scenarioFailOpen(t *testing.T, e *env) {
	host := fqdn("s4")
	a, b := pair(t, e, 4, "s4", host)
	a.Stop()
	b.Stop()
	e.waitMetric(t, "lbdns_hostname_fail_open", map[string]string{"hostname": host}, 1)
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String()) // one may have left before the other failed
	e.holdDNS(t, 2*extdnsInterval+time.Second, host, "A", a.ip.String(), b.ip.String())
	b.start(t)
	e.waitMetric(t, "lbdns_hostname_fail_open", map[string]string{"hostname": host}, 0)
	e.waitDNS(t, host, "A", b.ip.String())
	record(t, "PASS all backends down: both IPs stayed published, lbdns_hostname_fail_open=1; ended when one returned")
}

func scenarioNoReadyEndpoints(t *testing.T, e *env) {
	host := fqdn("s5")
	a, b := pair(t, e, 5, "s5", host)
	e.setEndpoints(t, "s5-a", false, "")
	took := e.waitDNS(t, host, "A", b.ip.String())
	e.waitReason(t, host, "s5-a", "NoReadyEndpoints")
	e.setEndpoints(t, "s5-a", true, "")
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	record(t, "PASS withdrawn %.2fs after the EndpointSlice lost its ready endpoint (no probe wait; bound %s)", took.Seconds(), extdnsDelay)
}

func scenarioNode(t *testing.T, e *env) {
	host := fqdn("s6")
	a, b := newBackend(t, "127.0.6.1"), newBackend(t, "127.0.6.2")
	e.setNode(t, "node-s6", a.ip, true)
	e.createService(t, lbService{name: "s6-a", hostname: host, backend: a})
	e.createService(t, lbService{name: "s6-b", hostname: host, backend: b})
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	e.setNode(t, "node-s6", a.ip, false)
	notReady := e.waitDNS(t, host, "A", b.ip.String())
	e.waitReason(t, host, "s6-a", "NodeNotReady")
	// The node goes away, and with it what answered on its IP.
	e.deleteNode(t, "node-s6")
	a.Stop()
	e.waitReason(t, host, "s6-a", "NodeDeleted")
	e.holdDNS(t, 2*extdnsInterval, host, "A", b.ip.String())
	record(t, "PASS withdrawn %.2fs after the Node went NotReady (bound %s); still withdrawn after the Node was deleted", notReady.Seconds(), extdnsDelay)
}

// scenarioLocalHealthz: an IP of a Service with externalTrafficPolicy: Local
// sits on a node whose real kube-proxy says, on the healthCheckNodePort, that
// the node has no local endpoint: lbdns withdraws it by that node probe
// alone (the Service probe is off, and the LB IP is in no Node's addresses,
// so no Kubernetes signal names the node).
func scenarioLocalHealthz(t *testing.T, e *env) {
	if len(e.nodes) < 2 {
		t.Log("stand-in for kube-proxy: the suite runs without root, so without real nodes")
		scenarioLocalHealthzStandIn(t, e)
		return
	}
	host := fqdn("s7")
	n1, n2 := e.nodes[0], e.nodes[1]
	lbIP, pod1IP, pod2IP := netip.MustParseAddr("10.251.7.1"), netip.MustParseAddr("10.252.7.1"), netip.MustParseAddr("10.252.7.2")
	for _, p := range []struct {
		n  *simNode
		ip netip.Addr
	}{{n1, pod1IP}, {n2, pod2IP}} {
		pod, err := p.n.startPod(p.ip)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pod.Stop)
	}
	if err := e.placeLBIP(n1, lbIP); err != nil {
		t.Fatal(err)
	}
	svc := e.createService(t, lbService{name: "s7-a", hostname: host, backend: &backend{ip: lbIP, port: 80}, local: true,
		annotations: map[string]string{"lbdns.io/probe": "none"}})
	if svc.Spec.HealthCheckNodePort == 0 {
		t.Fatal("the API server allocated no healthCheckNodePort for externalTrafficPolicy: Local")
	}
	healthz := net.JoinHostPort(lbIP.String(), strconv.Itoa(int(svc.Spec.HealthCheckNodePort)))
	e.setPodEndpoints(t, "s7-a", podEndpoint{ip: pod1IP, node: n1.name, ready: true, serving: true})
	b := newBackend(t, "127.0.7.2")
	e.createService(t, lbService{name: "s7-b", hostname: host, backend: b})
	waitHealthz(t, healthz, http.StatusOK)
	e.waitDNS(t, host, "A", lbIP.String(), b.ip.String())

	// The pod moves to node 2: node 1's kube-proxy answers 503, and lbdns
	// withdraws the IP on node 1 although the Service has a ready endpoint.
	e.setPodEndpoints(t, "s7-a", podEndpoint{ip: pod2IP, node: n2.name, ready: true, serving: true})
	if body := waitHealthz(t, healthz, http.StatusServiceUnavailable); !strings.Contains(body, `"localEndpoints": 0`) {
		t.Errorf("kube-proxy's 503 says %s", body)
	}
	took := e.waitDNS(t, host, "A", b.ip.String())
	if ts := e.waitReason(t, host, "s7-a", "ProbeFailed"); !strings.Contains(ts.Detail, "healthcheck-node-port") || !strings.Contains(ts.Detail, "503") {
		t.Errorf("detail %q does not name the node probe and its 503", ts.Detail)
	}
	if v, _, _ := e.metric("lbdns_probes_total", map[string]string{"kind": "healthcheck-node-port", "result": "failure"}); v < 1 {
		t.Errorf("lbdns_probes_total{kind=healthcheck-node-port,result=failure} = %v", v)
	}

	// Back on node 1 but terminating, still serving: kube-proxy counts no
	// local endpoint (503) while the LB IP still carries traffic to it.
	e.setPodEndpoints(t, "s7-a", podEndpoint{ip: pod1IP, node: n1.name, serving: true, terminating: true})
	if body := waitHealthz(t, healthz, http.StatusServiceUnavailable); !strings.Contains(body, `"localEndpoints": 0`) {
		t.Errorf("kube-proxy's answer for a terminating endpoint: %s", body)
	}
	if err := framework.HTTPOK("http://" + net.JoinHostPort(lbIP.String(), "80") + "/"); err != nil {
		t.Errorf("the LB IP no longer reaches the terminating, serving pod: %v", err)
	}

	// Ready on node 1 again: 200, and the IP is back.
	e.setPodEndpoints(t, "s7-a", podEndpoint{ip: pod1IP, node: n1.name, ready: true, serving: true})
	waitHealthz(t, healthz, http.StatusOK)
	e.waitDNS(t, host, "A", lbIP.String(), b.ip.String())
	record(t, "PASS (real kube-proxy, %s mode) withdrawn %.2fs after the pod left the node (healthCheckNodePort 503; bound %s); "+
		"a terminating, serving endpoint: 503 while the LB IP still served; back after 200", n1.mode, took.Seconds(), withdrawBound())
}

// scenarioLocalHealthzStandIn is scenarioLocalHealthz with a responder in
// kube-proxy's place, for runs without root.
func scenarioLocalHealthzStandIn(t *testing.T, e *env) {
	host := fqdn("s7")
	a, b := newBackend(t, "127.0.7.1"), newBackend(t, "127.0.7.2")
	svc := e.createService(t, lbService{name: "s7-a", hostname: host, backend: a, local: true})
	if svc.Spec.HealthCheckNodePort == 0 {
		t.Fatal("the API server allocated no healthCheckNodePort for externalTrafficPolicy: Local")
	}
	hz := newHealthz(t, a.ip, svc.Spec.HealthCheckNodePort)
	e.createService(t, lbService{name: "s7-b", hostname: host, backend: b})
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	hz.local.Store(0)
	took := e.waitDNS(t, host, "A", b.ip.String())
	if ts := e.waitReason(t, host, "s7-a", "ProbeFailed"); !strings.Contains(ts.Detail, "healthcheck-node-port") || !strings.Contains(ts.Detail, "503") {
		t.Errorf("detail %q does not name the node probe and its 503", ts.Detail)
	}
	if v, _, _ := e.metric("lbdns_probes_total", map[string]string{"kind": "healthcheck-node-port", "result": "failure"}); v < 1 {
		t.Errorf("lbdns_probes_total{kind=healthcheck-node-port,result=failure} = %v", v)
	}
	hz.local.Store(1)
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	record(t, "PASS withdrawn %.2fs after healthCheckNodePort /healthz said 503 (bound %s); back after 200", took.Seconds(), withdrawBound())
}

func scenarioDrain(t *testing.T, e *env) {
	host := fqdn("s8")
	a, b := pair(t, e, 8, "s8", host)
	e.annotate(t, "s8-a", "lbdns.io/weight", "0")
	took := e.waitDNS(t, host, "A", b.ip.String())
	e.waitReason(t, host, "s8-a", "Drained")
	e.annotate(t, "s8-a", "lbdns.io/weight", "50")
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	record(t, "PASS weight 0 drained the IP in %.2fs; weight 50 restored it", took.Seconds())
}

func scenarioRestart(t *testing.T, e *env) {
	host := fqdn("s9")
	a, b := pair(t, e, 9, "s9", host)
	restartsBefore := e.connector.extdns.Restarts()
	e.connector.lbdns.Stop()
	// external-dns fails its polls and is restarted meanwhile; DNS must hold.
	e.holdDNS(t, 2*extdnsInterval+time.Second, host, "A", a.ip.String(), b.ip.String())
	if err := e.connector.lbdns.run(e); err != nil {
		t.Fatalf("restarting lbdns: %v", err)
	}
	e.holdDNS(t, 2*extdnsInterval, host, "A", a.ip.String(), b.ip.String())
	e.waitDNS(t, fqdn("s1"), "A", "127.0.1.1", "127.0.1.2")
	if e.connector.extdns.Restarts() == restartsBefore {
		t.Errorf("external-dns never failed a poll while lbdns was down: was lbdns really stopped?")
	}
	record(t, "PASS lbdns down for %s and restarted: no answer changed (external-dns restarted %d times)",
		2*extdnsInterval+time.Second, e.connector.extdns.Restarts()-restartsBefore)
}

func scenarioInvalidAnnotations(t *testing.T, e *env) {
	host := fqdn("s10")
	a, b := newBackend(t, "127.0.10.1"), newBackend(t, "127.0.10.2")
	e.createService(t, lbService{name: "s10-bad", hostname: host, backend: a,
		annotations: map[string]string{"lbdns.io/weight": "heavy", "lbdns.io/ttl": "-5", "lbdns.io/probe": "icmp"}})
	e.createService(t, lbService{name: "s10-good", hostname: host, backend: b})
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String()) // the bad one works on defaults
	var events []string
	err := framework.WaitFor(30*time.Second, "InvalidAnnotation events on s10-bad", func() error {
		var err error
		if events, err = e.warningEvents("s10-bad"); err != nil {
			return err
		}
		joined := strings.Join(events, "\n")
		for _, a := range []string{"lbdns.io/weight", "lbdns.io/ttl", "lbdns.io/probe"} {
			if !strings.Contains(joined, "InvalidAnnotation") || !strings.Contains(joined, a) {
				return fmt.Errorf("no event about %s in %q", a, events)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if good, err := e.warningEvents("s10-good"); err != nil || len(good) != 0 {
		t.Errorf("Warning events on the good Service: %v, %v", good, err)
	}
	e.waitDNS(t, fqdn("s1"), "A", "127.0.1.1", "127.0.1.2") // others unaffected
	record(t, "PASS %d Warning events on the bad Service; it and every other Service kept working", len(events))
}

func scenarioDeleted(t *testing.T, e *env) {
	host := fqdn("s11")
	_, b := pair(t, e, 11, "s11", host)
	e.deleteService(t, "s11-a")
	took := e.waitDNS(t, host, "A", b.ip.String())
	e.deleteService(t, "s11-b")
	gone := e.waitDNS(t, host, "A")
	e.waitDNS(t, "a-"+host, "TXT")
	record(t, "PASS deleted Service left DNS in %.2fs; last Service deleted: A and TXT gone in %.2fs", took.Seconds(), gone.Seconds())
}

// A record in the zone that lbdns does not own survives all of the above.
func scenarioUnowned(t *testing.T, e *env) {
	got, err := framework.Lookup(e.bind.Addr, fqdn("unmanaged"), "A")
	if err != nil || len(got) != 1 || got[0] != "192.0.2.250" {
		t.Fatalf("unmanaged.%s = %v, %v", zone, got, err)
	}
	list, err := e.cp.Client.CoreV1().Services(namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	record(t, "PASS unmanaged.%s still answers 192.0.2.250 (%d Services in the cluster)", zone, len(list.Items))
}
