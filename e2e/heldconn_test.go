package e2e

import (
	"context"
	"fmt"
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
