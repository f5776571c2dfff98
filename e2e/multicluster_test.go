package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// mcPrefix is the annotation prefix of the multi-cluster test's Services:
// only its own lbdns reads them.
const mcPrefix = "mc.lbdns.io/"

// TestMultiCluster runs a second real cluster (its own etcd and
// kube-apiserver) beside the suite's, and one lbdns in the suite's cluster
// ("a") that watches cluster "b" through a kubeconfig of lbdns's read-only
// ServiceAccount there. One hostname with a Service in each cluster becomes
// one multi-A set in BIND (standalone rfc2136) and in the embedded DNS; a
// Node NotReady in b withdraws b's IP (the event goes to b); b's
// kube-apiserver killed keeps b's IP published while its probes pass, and a
// backend of b stopped meanwhile is withdrawn by its probe; b's API back, a
// new Service in b is published.
func TestMultiCluster(t *testing.T) {
	e := suite
	ctx := context.Background()
	b, err := framework.StartControlPlane(e.dir, filepath.Join(e.tools, apiserverBinary), "cluster-b")
	t.Cleanup(b.Stop)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("kubectl", "--kubeconfig", b.AdminKubeconfig, "apply", "-k", filepath.Join(e.root, "manifests/base")).CombinedOutput(); err != nil {
		t.Fatalf("kubectl apply -k manifests/base in cluster b: %v\n%s", err, out)
	}
	bKubeconfig := filepath.Join(e.dir, "cluster-b", "lbdns.kubeconfig")
	if err := framework.WriteTokenKubeconfig(ctx, b.Client, "https://"+b.APIAddr, "lbdns", bKubeconfig); err != nil {
		t.Fatal(err)
	}
	l, dnsAddr := e.startMultiClusterLbdns(t, bKubeconfig)
	host, embedded := "mc."+zoneStandalone, "www.mc.test"

	ipA, ipB, ipB2 := "127.0.30.1", "127.0.30.2", "127.0.30.3"
	backendA, backendB := newBackend(t, ipA), newBackend(t, ipB)
	hostnames := host + "," + embedded
	e.createService(t, lbService{name: "mc-a", hostname: hostnames, backend: backendA, prefix: mcPrefix})
	start := time.Now()
	createServiceIn(t, b.Client, lbService{name: "mc-b", hostname: hostnames, backend: backendB, prefix: mcPrefix})
	setNodeAddressesIn(t, b.Client, "b-node-1", true, backendB.ip)
	e.waitDNS(t, host, "A", ipA, ipB)
	mustAnswer(t, dnsAddr, embedded, ipA, ipB)
	joined := time.Since(start)
	if ts, err := l.reasonOf(host, "mc-b"); err != nil || ts.Health != "healthy" {
		t.Errorf("/status of b's target: %+v, %v", ts, err)
	}

	setNodeAddressesIn(t, b.Client, "b-node-1", false, backendB.ip)
	start = time.Now()
	e.waitDNS(t, host, "A", ipA)
	notReady := time.Since(start)
	mustAnswer(t, dnsAddr, embedded, ipA)
	waitEventIn(t, b, "mc-b", "TargetWithdrawn", "NodeNotReady")
	setNodeAddressesIn(t, b.Client, "b-node-1", true, backendB.ip)
	e.waitDNS(t, host, "A", ipA, ipB)

	// b's API server dies: nothing changes while b's probes pass.
	b.APIServer.Kill()
	l.waitMetric(t, "lbdns_cluster_connected", map[string]string{"cluster": "b"}, 0)
	waitClusterStale(t, l, "b")
	if dom, err := renderedPage(l.http, filepath.Join(e.dir, "status-multicluster.png")); err != nil {
		t.Error(err)
	} else if !strings.Contains(dom, "cluster b unreachable") || !strings.Contains(dom, `<span class="muted">b/</span>default/mc-b`) {
		t.Errorf("the status page in Chromium does not mark cluster b unreachable or name b's target")
	}
	stayed := holdsFor(t, e.bind.Addr, host, 3*time.Second, ipA, ipB)
	backendB.Stop()
	start = time.Now()
	e.waitDNS(t, host, "A", ipA)
	probeWithdrawn := time.Since(start)
	backendB.start(t)
	e.waitDNS(t, host, "A", ipA, ipB)

	// b's API server is back: a new Service there joins the hostname.
	if err := b.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitReady(); err != nil {
		t.Fatal(err)
	}
	l.waitMetric(t, "lbdns_cluster_connected", map[string]string{"cluster": "b"}, 1)
	backendB2 := newBackend(t, ipB2)
	start = time.Now()
	createServiceIn(t, b.Client, lbService{name: "mc-b2", hostname: hostnames, backend: backendB2, prefix: mcPrefix})
	e.waitDNS(t, host, "A", ipA, ipB, ipB2)
	newAfterOutage := time.Since(start)
	mustAnswer(t, dnsAddr, embedded, ipA, ipB, ipB2)
	dark := e.darkClusterAtStart(t)
	e.remoteOnly(t, bKubeconfig, ipB, ipB2)
	record(t, "PASS one hostname over clusters a and b (2 kube-apiservers): both IPs in BIND and the embedded DNS %.2fs after b's Service; "+
		"b's Node NotReady -> b's IP withdrawn in %.2fs (event in b); b's kube-apiserver killed -> b's IP stayed published %.0fs, "+
		"b's backend stopped during the outage withdrawn by its probe in %.2fs; b's API back -> a new Service in b published in %.2fs; "+
		"an lbdns whose remote cluster is dark from the start ready in %.2fs (LBDNS_CACHE_SYNC_TIMEOUT=3s), publishing its local cluster; "+
		"one with LBDNS_LOCAL_CLUSTER=false publishes b's IPs only",
		joined.Seconds(), notReady.Seconds(), stayed.Seconds(), probeWithdrawn.Seconds(), newAfterOutage.Seconds(), dark.Seconds())
}

// darkClusterAtStart starts an lbdns whose remote cluster does not answer
// at all (nothing listens at its address): it must get ready after
// LBDNS_CACHE_SYNC_TIMEOUT with the local cluster, say why in its log and
// /status, and publish the local Services (mc-a, in its embedded DNS).
func (e *env) darkClusterAtStart(t *testing.T) time.Duration {
	t.Helper()
	port, err := framework.FreePort() // nothing listens there
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig := filepath.Join(e.dir, "dark.kubeconfig")
	if err := framework.WriteKubeconfig(kubeconfig, fmt.Sprintf("https://127.0.0.1:%d", port), "lbdns", "no-token"); err != nil {
		t.Fatal(err)
	}
	dnsPort, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", dnsPort)
	l, err := e.newLbdns("lbdns-mc-dark", "LBDNS_ANNOTATION_PREFIX="+mcPrefix, "LBDNS_CLUSTERS=dark="+kubeconfig,
		"LBDNS_CACHE_SYNC_TIMEOUT=3s", "LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES=mc.test", "LBDNS_DNS_RRL_EXEMPT=127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	ready := time.Since(start)
	t.Cleanup(l.Stop)
	l.waitLog(t, "remote cluster not synced")
	waitClusterStale(t, l, "dark")
	mustAnswer(t, dnsAddr, "www.mc.test", "127.0.30.1")
	return ready
}

// remoteOnly starts an lbdns with LBDNS_LOCAL_CLUSTER=false that watches
// cluster b alone: its embedded DNS answers b's IPs, not the local one's.
func (e *env) remoteOnly(t *testing.T, bKubeconfig string, want ...string) {
	t.Helper()
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := e.newLbdns("lbdns-mc-remote-only", "LBDNS_ANNOTATION_PREFIX="+mcPrefix, "LBDNS_LOCAL_CLUSTER=false",
		"LBDNS_CLUSTERS=b="+bKubeconfig, "LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES=mc.test", "LBDNS_DNS_RRL_EXEMPT=127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	mustAnswer(t, dnsAddr, "www.mc.test", want...)
}

// startMultiClusterLbdns runs an lbdns in the suite's cluster ("a") that
// also watches cluster b, writes to BIND (zone std.test, owner lbdns-mc)
// and answers mc.test itself; it returns the instance and its DNS address.
func (e *env) startMultiClusterLbdns(t *testing.T, bKubeconfig string) (*lbdnsProc, string) {
	t.Helper()
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	bindHost, bindPort, _ := strings.Cut(e.bind.Addr, ":")
	l, err := e.newLbdns("lbdns-mc", "LBDNS_ANNOTATION_PREFIX="+mcPrefix, "LBDNS_CLUSTER_NAME=a", "LBDNS_CLUSTERS=b="+bKubeconfig,
		"LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST="+bindHost, "LBDNS_RFC2136_PORT="+bindPort,
		"LBDNS_RFC2136_ZONE="+zoneStandalone, "LBDNS_RFC2136_TSIG_KEYNAME="+tsigKeyName, "LBDNS_RFC2136_TSIG_SECRET="+e.bind.TSIGSecret,
		"LBDNS_TXT_OWNER_ID=lbdns-mc", "LBDNS_DOMAIN_FILTER="+zoneStandalone, "LBDNS_SYNC_INTERVAL=5s",
		"LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES=mc.test", "LBDNS_DNS_RRL_EXEMPT=127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l, dnsAddr
}

// mustAnswer waits until a DNS server answers name with exactly these A
// records.
func mustAnswer(t *testing.T, addr, name string, want ...string) {
	t.Helper()
	if _, err := waitAnswer(addr, name, want, time.Now(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// holdsFor checks every 200 ms for d that BIND keeps answering name with
// exactly these A records, and returns d.
func holdsFor(t *testing.T, addr, name string, d time.Duration, want ...string) time.Duration {
	t.Helper()
	slices.Sort(want)
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		got, err := framework.Lookup(addr, name, "A")
		slices.Sort(got)
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("%s changed to %v (%v) while it should have stayed %v", name, got, err, want)
		}
	}
	return d
}

// waitClusterStale waits until /status marks a cluster unreachable.
func waitClusterStale(t *testing.T, l *lbdnsProc, cluster string) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, "cluster "+cluster+" marked unreachable in /status", func() error {
		var st struct {
			Clusters []struct {
				Name      string
				Connected bool
				LostSince *time.Time
			}
		}
		if err := l.status(&st); err != nil {
			return err
		}
		for _, c := range st.Clusters {
			if c.Name == cluster && !c.Connected && c.LostSince != nil {
				return nil
			}
		}
		return fmt.Errorf("clusters %+v", st.Clusters)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitEventIn waits for an event of reason on a Service of cluster cp whose
// message holds words.
func waitEventIn(t *testing.T, cp *framework.ControlPlane, svc, reason, words string) {
	t.Helper()
	err := framework.WaitFor(20*time.Second, fmt.Sprintf("a %s event on %s in its cluster", reason, svc), func() error {
		list, err := cp.Client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{
			FieldSelector: "involvedObject.name=" + svc + ",reason=" + reason})
		if err != nil {
			return err
		}
		for _, ev := range list.Items {
			if strings.Contains(ev.Message, words) {
				return nil
			}
		}
		return fmt.Errorf("%d events, none saying %q", len(list.Items), words)
	})
	if err != nil {
		t.Error(err)
	}
}
