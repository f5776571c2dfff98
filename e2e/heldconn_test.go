package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKilledBackendWithdrawnAtOnce kills a backend's process with SIGKILL
// while its next probe is an hour away (LBDNS_PROBE_INTERVAL=1h): only the
// close of the connection lbdns holds from its last passing tcp probe can
// withdraw it. The other backend stays; a killed backend that comes back is
// not this scenario's business (the interval finds it).
func TestKilledBackendWithdrawnAtOnce(t *testing.T) {
	e := suite
	const ns, zone = "heldconn", "held.test"
	ctx := context.Background()
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := e.newLbdns("lbdns-heldconn", "LBDNS_NAMESPACE="+ns, "LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES="+zone,
		"LBDNS_PROBE_INTERVAL=1h", "LBDNS_PROBE_TIMEOUT=1s", "LBDNS_PROBE_FALL=1",
		"LBDNS_DNS_RRL_RATE=0") // the answer is polled every 5 ms
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)

	host := "app." + zone
	victim := newTCPBackend(t, e.dir, "127.0.77.1")
	t.Cleanup(victim.Stop)
	other := newTCPBackend(t, e.dir, "127.0.77.2")
	t.Cleanup(other.Stop)
	for i, be := range []*tcpBackend{victim, other} {
		if err := e.createProbedService(ctx, ns, fmt.Sprintf("held-%d", i), host, be.ip, be.port); err != nil {
			t.Fatal(err)
		}
	}
	waitAnswerFrom(t, dnsAddr, host, victim.ip.String(), other.ip.String())
	if err := framework.WaitFor(30*time.Second, "both probe connections held", func() error {
		held, _, err := l.metric("lbdns_probe_held_connections", nil)
		if err == nil && held != 2 {
			err = fmt.Errorf("%v held", held)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}

	checkSerialServerNotHeld(ctx, t, e, l, ns, dnsAddr, "serial."+zone)

	killed := time.Now()
	victim.Stop()
	took, err := waitAnswer(dnsAddr, host, []string{other.ip.String()}, killed, 30*time.Second)
	if err != nil {
		t.Fatalf("the killed backend is still published (its next probe is an hour away): %v", err)
	}
	ts := l.waitReason(t, host, "held-0", "ProbeFailed")
	if !strings.Contains(ts.Detail, "refused") {
		t.Fatalf("the killed backend's reason: %q", ts.Detail)
	}
	// A dying process may still accept one connection while the kernel
	// closes its sockets: then the probe after the close passes, its
	// connection closes too, and the next probe is refused.
	closed, _, _ := l.metric("lbdns_probe_held_closed_total", nil)
	record(t, "PASS a backend killed with SIGKILL (probe interval 1 h) withdrawn after %.0f ms: its held probe connection closed (%v closes counted); the other stays",
		float64(took.Microseconds())/1000, closed)
}

// checkSerialServerNotHeld adds a Service whose server serves one connection
// at a time, with lbdns.io/probe-hold: "false": once it is published, its
// probe connection must be closed, or a client would wait on it for the
// hour until the next probe.
func checkSerialServerNotHeld(ctx context.Context, t *testing.T, e *env, l *lbdnsProc, ns, dnsAddr, host string) {
	ln, err := net.Listen("tcp", "127.0.77.3:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // echo, one connection at a time
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()
	addr := ln.Addr().(*net.TCPAddr)
	if err := e.createProbedService(ctx, ns, "held-serial", host, netip.MustParseAddr("127.0.77.3"), addr.Port,
		"lbdns.io/probe-hold", "false"); err != nil {
		t.Fatal(err)
	}
	waitAnswerFrom(t, dnsAddr, host, "127.0.77.3")
	c, err := net.DialTimeout("tcp", addr.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	got := make([]byte, 4)
	if _, err := c.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "ping" {
		t.Fatalf("a client of the one-connection-at-a-time server was not served (%q, %v): lbdns holds its probe connection", got, err)
	}
	if held, _, err := l.metric("lbdns_probe_held_connections", nil); err != nil || held != 2 {
		t.Fatalf("held connections = %v (%v), want the other two", held, err)
	}
	record(t, "PASS a one-connection-at-a-time server with lbdns.io/probe-hold: \"false\" is published and serves its clients (its probe connection is not held)")
}
