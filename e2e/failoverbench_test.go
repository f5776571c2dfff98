package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// failoverProfile is one set of probe settings the failover benchmark runs.
type failoverProfile struct {
	name     string
	interval time.Duration
	fast     time.Duration // LBDNS_PROBE_FAST_INTERVAL; equal to interval turns fastinter off
}

// BenchmarkFailover is part of make failbench: a backend is stopped and
// started again, rounds times per probe profile, and each time it measures
// how long the embedded DNS takes to drop its IP from the answers and to
// answer it again. It runs with and without the fast interval in the same
// run, at the default probes (2 s, fall 2, rise 2) and at 500 ms.
func BenchmarkFailover(b *testing.B) {
	rounds := envInt("LBDNS_FAILOVER_ROUNDS", 50)
	table := benchTable{name: "failbench"}
	for i, p := range []failoverProfile{
		{"default probes (2s, fall 2, rise 2), fast interval 500ms", 2 * time.Second, 500 * time.Millisecond},
		{"default probes, no fast interval", 2 * time.Second, 2 * time.Second},
		{"500ms probes, fast interval 125ms", 500 * time.Millisecond, 125 * time.Millisecond},
		{"500ms probes, no fast interval", 500 * time.Millisecond, 500 * time.Millisecond},
	} {
		withdraw, restore := suite.failoverRounds(b, p, i, rounds)
		table.add(p.name+": withdrawn, p50 / p99", "%.2f s / %.2f s", percentile(withdraw, 50).Seconds(), percentile(withdraw, 99).Seconds())
		table.add(p.name+": restored, p50 / p99", "%.2f s / %.2f s", percentile(restore, 50).Seconds(), percentile(restore, 99).Seconds())
	}
	table.print(fmt.Sprintf("make failbench (embedded DNS): backend stop -> answer without it, start -> answer with it, %d rounds each, %s",
		rounds, time.Now().UTC().Format("2006-01-02")))
}

// failoverRounds runs one profile: its own namespace, lbdns instance and two
// Services of one hostname with real TCP backends on 127.0.78.x.
func (e *env) failoverRounds(b *testing.B, p failoverProfile, n, rounds int) (withdraw, restore []time.Duration) {
	ctx := context.Background()
	ns := fmt.Sprintf("failover-%d", n)
	if _, err := e.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	port, err := freePort()
	if err != nil {
		b.Fatal(err)
	}
	l, err := e.newLbdns("lbdns-"+ns, "LBDNS_DNS_ADDR="+fmt.Sprintf("127.0.0.1:%d", port), "LBDNS_DNS_ZONES=failover.test",
		"LBDNS_DNS_RRL_RATE=0", "LBDNS_NAMESPACE="+ns, "LBDNS_LOG_LEVEL=info", "LBDNS_PROBE_INTERVAL="+p.interval.String(),
		"LBDNS_PROBE_TIMEOUT="+min(time.Second, p.interval/2).String(), "LBDNS_PROBE_FALL=2", "LBDNS_PROBE_RISE=2",
		"LBDNS_PROBE_FAST_INTERVAL="+p.fast.String(),
		"LBDNS_FLAP_HALF_LIFE=0") // the rounds flap the backend on purpose: damping would hold it withdrawn
	if err != nil {
		b.Fatal(err)
	}
	l.dns = fmt.Sprintf("127.0.0.1:%d", port)
	if err := l.run(e); err != nil {
		b.Fatal(err)
	}
	defer l.stop()
	hostname := fmt.Sprintf("fo%d.failover.test", n)
	backends := []*tcpBackend{newTCPBackend(b, fmt.Sprintf("127.0.78.%d", 2*n+1)), newTCPBackend(b, fmt.Sprintf("127.0.78.%d", 2*n+2))}
	for i, be := range backends {
		e.createProbedService(b, ns, fmt.Sprintf("s%d", i), hostname, be)
		defer be.stop()
	}
	both := []string{backends[0].ip.String(), backends[1].ip.String()}
	waitAnswer(b, l.dns, hostname, both)
	victim := backends[0]
	for range rounds {
		// Stop at a random moment of the probe cycle, as a real failure would.
		time.Sleep(time.Duration(rand.Int64N(int64(p.interval))))
		victim.stop()
		withdraw = append(withdraw, waitAnswer(b, l.dns, hostname, both[1:]))
		victim.start(b)
		restore = append(restore, waitAnswer(b, l.dns, hostname, both))
	}
	return withdraw, restore
}

// createProbedService creates a LoadBalancer Service probed over TCP on the
// backend's port, with its LB IP and a ready EndpointSlice.
func (e *env) createProbedService(b *testing.B, ns, name, hostname string, be *tcpBackend) {
	ctx := context.Background()
	no, ready := false, true
	svc, err := e.client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: map[string]string{"lbdns.io/hostname": hostname}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
			Ports: []corev1.ServicePort{{Name: "web", Port: int32(be.port), Protocol: corev1.ProtocolTCP}}},
	}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: be.ip.String()}}
	if _, err := e.client.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		b.Fatal(err)
	}
	_, err = e.client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.2.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	if err != nil {
		b.Fatal(err)
	}
}

// waitAnswer polls the embedded DNS every 5 ms until the A answer of name is
// want, and returns how long that took.
func waitAnswer(b *testing.B, dnsAddr, name string, want []string) time.Duration {
	start := time.Now()
	want = sorted(want)
	for deadline := start.Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got, err := lookup(dnsAddr, name, "A")
		if err == nil && slices.Equal(got, want) {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			b.Fatalf("%s never answered %v (last: %v, %v)", name, want, got, err)
		}
	}
}

// tcpBackend is a TCP listener that can stop (connections refused, as
// when a process dies) and start again on the same address.
type tcpBackend struct {
	ip   netip.Addr
	port int
	ln   net.Listener
}

func newTCPBackend(b *testing.B, ip string) *tcpBackend {
	be := &tcpBackend{ip: netip.MustParseAddr(ip)}
	be.start(b)
	be.port = be.ln.Addr().(*net.TCPAddr).Port
	return be
}

func (be *tcpBackend) start(b *testing.B) {
	addr := fmt.Sprintf("%s:%d", be.ip, be.port)
	var err error
	for range 50 { // the old socket may linger a moment
		if be.ln, err = net.Listen("tcp", addr); err == nil || !strings.Contains(err.Error(), "in use") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		b.Fatal(err)
	}
	go func(ln net.Listener) {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}(be.ln)
}

func (be *tcpBackend) stop() { be.ln.Close() }
