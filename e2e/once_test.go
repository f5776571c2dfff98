package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lbdns/lbdns/e2e/framework"
)

// A first contact with a production zone, as a user makes it against the
// real BIND: LBDNS_DRY_RUN plans, shows the plan in /status and changes
// nothing; lbdns --once then writes once and exits 0; --once against a
// server that refuses exits 1 and says why.
func TestDryRunAndOnce(t *testing.T) {
	e := suite
	const prefix = "once.lbdns.io/"
	host := "once." + zoneStandalone
	e.createService(t, lbService{name: "once", hostname: host, backend: newBackend(t, "127.0.35.1"), prefix: prefix})
	settings := append(rfc2136Env(e.bind, zoneStandalone), "LBDNS_ANNOTATION_PREFIX="+prefix, "LBDNS_TXT_OWNER_ID=lbdns-once")

	// The dry run: the plan in /status, nothing in BIND.
	dry, err := e.newLbdns("lbdns-dry-run", append(settings, "LBDNS_DRY_RUN=true")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := dry.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dry.Stop)
	var o outputStatus
	err = framework.WaitFor(30*time.Second, "the dry run's plan in /status", func() error {
		var err error
		if o, err = dry.output("rfc2136"); err == nil && (!o.DryRun || !slices.ContainsFunc(o.WouldChange, func(c plannedChange) bool {
			return c.Action == "create" && c.Name == host+" A" && slices.Equal(c.Records, []string{"127.0.35.1"})
		})) {
			err = fmt.Errorf("output %+v", o)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a few syncs: still nothing written
	if got, err := framework.Lookup(e.bind.Addr, host, "A"); err != nil || len(got) != 0 {
		t.Fatalf("%s = %v, %v after a dry run: want nothing written", host, got, err)
	}
	if !strings.Contains(dry.Tail(1000), "dry run: would change") {
		t.Error("the dry run did not log its plan")
	}
	// lbdns status, as an operator would read the running instance.
	status, err := exec.Command(e.lbdnsBin, "status", "--addr", dry.http, "--hostname", host).CombinedOutput()
	if err != nil || !strings.Contains(string(status), "output rfc2136 dry run: would make") ||
		!strings.Contains(string(status), "127.0.35.1") || !strings.Contains(string(status), "healthy") {
		t.Fatalf("lbdns status: %v\n%s", err, status)
	}

	// --once writes and exits 0.
	start := time.Now()
	out, err := e.runOnce(settings...)
	if err != nil {
		t.Fatalf("lbdns --once: %v\n%s", err, tail(out, 20))
	}
	took := time.Since(start)
	if got, err := framework.Lookup(e.bind.Addr, host, "A"); err != nil || !slices.Equal(got, []string{"127.0.35.1"}) {
		t.Fatalf("%s = %v, %v after --once", host, got, err)
	}

	// --once with a wrong TSIG secret: BIND refuses, the exit code says so.
	bad := slices.Clone(settings)
	bad = append(bad, "LBDNS_RFC2136_TSIG_SECRET=d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCE=")
	out, err = e.runOnce(bad...)
	if err == nil || !strings.Contains(out, "rfc2136") {
		t.Fatalf("lbdns --once refused by BIND: %v\n%s", err, tail(out, 20))
	}
	record(t, "PASS dry run: plan in /status and the log, BIND untouched; --once wrote in %.1fs and exited 0; refused by BIND it exited 1", took.Seconds())
}

// runOnce runs lbdns --once with the suite's settings and env, and returns
// its output; the error is its exit.
func (e *env) runOnce(env ...string) (string, error) {
	l, err := e.newLbdns("lbdns-once", env...)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.lbdnsBin, "--once")
	cmd.Env = l.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(parts[max(0, len(parts)-lines):], "\n")
}

// lbdns status --pod reads a pod's /status through the API server's proxy,
// as an operator without a port-forward does: an lbdns inside a real node,
// and a Pod object at its address (the API server dials the pod's IP).
func TestStatusThroughPodProxy(t *testing.T) {
	e := suite
	if len(e.nodes) == 0 {
		t.Skip("no real nodes without root (network namespaces): the API server cannot reach a pod address")
	}
	n := e.nodes[0]
	l := e.inClusterLbdns(t, n)
	_, port, _ := strings.Cut(l.http, ":")
	ctx := context.Background()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "lbdns-status", Namespace: "lbdns"},
		Spec: corev1.PodSpec{NodeName: n.name, ServiceAccountName: "lbdns", AutomountServiceAccountToken: ptrTo(false),
			Containers: []corev1.Container{{Name: "lbdns", Image: "ghcr.io/lbdns/lbdns:test"}}}}
	created, err := e.cp.Client.CoreV1().Pods("lbdns").Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.cp.Client.CoreV1().Pods("lbdns").Delete(ctx, pod.Name, metav1.DeleteOptions{}) })
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIP: n.nodeIP.String(), PodIPs: []corev1.PodIP{{IP: n.nodeIP.String()}}}
	if _, err := e.cp.Client.CoreV1().Pods("lbdns").UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.lbdnsBin, "status", "--pod", "lbdns/lbdns-status:"+port)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+e.cp.AdminKubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "lbdns ready, generation") {
		t.Fatalf("lbdns status --pod: %v\n%s", err, out)
	}
	record(t, "PASS lbdns status --pod read /status of an lbdns in node %s through the API server's pod proxy", n.name)
}
