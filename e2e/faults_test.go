package e2e

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestFaults injects real faults into the components lbdns depends on and
// checks that lbdns neither hides them nor acts on a broken view.
func TestFaults(t *testing.T) {
	e := suite
	t.Run("zone_transfer_refused", func(t *testing.T) { zoneTransferRefused(t, e) })
	t.Run("paused_leader_writes_nothing_stale", func(t *testing.T) { pausedLeader(t, e, envInt("LBDNS_E2E_PAUSE_CYCLES", 3)) })
	t.Run("blackholed_targets_do_not_starve_live_ones", func(t *testing.T) { blackholed(t, e, envInt("LBDNS_E2E_BLACKHOLED", 300)) })
	t.Run("annotation_bomb", func(t *testing.T) { annotationBomb(t, e) })
	t.Run("rbac_missing", func(t *testing.T) { rbacMissing(t, e) })
	t.Run("flapping_backend_damped", func(t *testing.T) {
		flapping(t, e, time.Duration(envInt("LBDNS_E2E_FLAP_SECONDS", 40))*time.Second)
	})
	t.Run("api_server_outage", func(t *testing.T) {
		apiOutage(t, e, time.Duration(envInt("LBDNS_E2E_API_OUTAGE_SECONDS", 20))*time.Second)
	})
	t.Run("dns_server_outage", func(t *testing.T) {
		for _, secs := range strings.Split(cmp.Or(os.Getenv("LBDNS_E2E_OUTAGES"), "30"), ",") {
			n, err := strconv.Atoi(secs)
			if err != nil {
				t.Fatalf("LBDNS_E2E_OUTAGES: %v", err)
			}
			dnsOutage(t, e, time.Duration(n)*time.Second)
		}
	})
}

// apiOutage: the API server is killed and started again after d. lbdns must
// say meanwhile how old its view is, keep publishing, and see a Service
// created right after the return within seconds, not after client-go's
// reconnect backoff (which grows to 30 s and more during an outage).
func apiOutage(t *testing.T, e *env, d time.Duration) {
	l := e.standalone.faults
	e.cp.APIServer.Kill()
	killed := time.Now()
	if err := framework.WaitFor(30*time.Second, l.name+" noticing the outage", func() error {
		if v, _, err := l.metric("lbdns_cluster_view_age_seconds", nil); err != nil || v <= 0 {
			return fmt.Errorf("view age %v, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	noticed := time.Since(killed)
	time.Sleep(d - noticed)
	age, _, _ := l.metric("lbdns_cluster_view_age_seconds", nil)
	if err := e.cp.RestartAPIServer(); err != nil {
		t.Fatal(err)
	}
	// Ready, not only answering: right after a start, Services cannot get a
	// cluster IP until its allocators have synced ("range is full").
	probe := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "f48-probe", Namespace: namespace},
		Spec: corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}}}
	if err := framework.WaitFor(60*time.Second, "kube-apiserver ready", func() error {
		if err := e.cp.Client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(context.Background()).Error(); err != nil {
			return err
		}
		_, err := e.cp.Client.CoreV1().Services(namespace).Create(context.Background(), probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	host := "api." + zoneFaults
	pairFor(t, e, 48, "f48", host, faultsPrefix)
	published := time.Since(back)
	if published > 10*time.Second {
		t.Fatalf("published %s after the API server returned, over twice the goal of 5s", published.Round(10*time.Millisecond))
	}
	l.waitMetric(t, "lbdns_cluster_view_age_seconds", nil, 0)
	// external-dns --source=crd keeps client-go's grown backoff: restart it
	// so that the scenarios after this one meet a fresh one.
	e.crd.extdns.Proc().Stop()
	record(t, "PASS API server down for %s: noticed after %.1fs (view age %.0fs just before the return); a Service created after the return published %.2fs later (goal <= 5s)",
		d, noticed.Seconds(), age, published.Seconds())
}

// rbacMissing: an lbdns whose ServiceAccount has no RBAC rules. It must
// stay unready and say in its own words, once, which permission is missing
// and what to apply, in the log, /readyz and /status; and become ready once
// the rules are bound.
func rbacMissing(t *testing.T, e *env) {
	ctx := context.Background()
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "lbdns", Name: "norbac"}}
	if _, err := e.cp.Client.CoreV1().ServiceAccounts("lbdns").Create(ctx, sa, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cp.Client.CoreV1().ServiceAccounts("lbdns").Delete(ctx, "norbac", metav1.DeleteOptions{})
	})
	kubeconfig, err := e.tokenKubeconfig(ctx, "norbac")
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.newLbdns("lbdns-norbac", "KUBECONFIG="+kubeconfig, "LBDNS_CACHE_SYNC_TIMEOUT=5m")
	if err != nil {
		t.Fatal(err)
	}
	if l.Proc, err = framework.Start(e.dir, l.name, l.env, e.lbdnsBin); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	var body string
	if err := framework.WaitFor(30*time.Second, "/readyz naming the missing permission", func() error {
		var code int
		code, body, err = framework.HTTPGetCode("http://" + l.http + "/readyz")
		if err != nil || code != http.StatusServiceUnavailable || !strings.Contains(body, "missing permission") {
			return fmt.Errorf("%d %q %v", code, body, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// client-go may try a streaming list (a watch) before the list: either
	// refusal names the resource.
	for _, want := range []string{`cannot (list|watch) resource "services"`, `cannot (list|watch) resource "endpointslices"`,
		`cannot (list|watch) resource "nodes"`, "manifests/base"} {
		if !regexp.MustCompile(want).MatchString(body) {
			t.Errorf("/readyz lacks %q:\n%s", want, body)
		}
	}
	// Once per distinct refusal (a list and a watch of each resource, which
	// may still be arriving now), not once per retry of client-go, which
	// retries each within a second or two.
	const logged = "missing permission: lbdns cannot read the cluster"
	first := l.logCount(t, logged)
	time.Sleep(5 * time.Second)
	if n := l.logCount(t, logged); first < 3 || n > 6 {
		t.Errorf("missing permissions logged %d times, then %d: want at most a list and a watch of each of the 3 resources, no repeats", first, n)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "lbdns-norbac"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "lbdns"},
		Subjects: []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: "lbdns", Name: "norbac"}}}
	if _, err := e.cp.Client.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cp.Client.RbacV1().ClusterRoleBindings().Delete(ctx, binding.Name, metav1.DeleteOptions{})
	})
	bound := time.Now()
	if err := framework.WaitFor(90*time.Second, l.name+" ready after the binding", func() error {
		return framework.HTTPOK("http://" + l.http + "/readyz")
	}); err != nil {
		t.Fatal(err)
	}
	record(t, "PASS without RBAC: unready; /readyz and the log (%d lines, no repeats) name the refused reads of the 3 resources and manifests/base; ready %.1fs after the ClusterRoleBinding",
		first, time.Since(bound).Seconds())
}

// flapping: a backend that is up for 1 s and down for 1 s, for d. Without
// damping it is published out of phase, and every flap costs two DNS writes
// and two events. Measured: the share of its down time during which its IP
// was in DNS, the changes of the answer, and lbdns's events on the Service.
func flapping(t *testing.T, e *env, d time.Duration) {
	host := "fl." + zoneFaults
	a, _ := pairFor(t, e, 45, "f45", host, faultsPrefix)
	e.standalone.faults.waitHealthy(t, host, 2)
	var mu sync.Mutex
	down := false
	stop := make(chan struct{})
	flapped := make(chan struct{})
	go func() { // 1 s up, 1 s down, until stop
		defer close(flapped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Second):
			}
			mu.Lock()
			if down = i%2 == 0; down {
				a.Stop()
			} else {
				a.start(t)
			}
			mu.Unlock()
		}
	}()
	var downSamples, publishedWhileDown, changes int
	var last string
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		got, err := framework.Lookup(e.bind.Addr, host, "A")
		if err != nil {
			t.Fatal(err)
		}
		answer := strings.Join(got, ",")
		if last != "" && answer != last {
			changes++
		}
		last = answer
		mu.Lock()
		if down {
			downSamples++
			if slices.Contains(got, a.ip.String()) {
				publishedWhileDown++
			}
		}
		mu.Unlock()
	}
	close(stop)
	<-flapped
	events, err := e.lbdnsEvents("f45-a")
	if err != nil {
		t.Fatal(err)
	}
	share := float64(publishedWhileDown) / float64(max(downSamples, 1))
	record(t, "PASS a backend 1s up / 1s down for %s: its IP in DNS during %.1f%% of its down time, %d DNS changes, %d events (%s)",
		d, 100*share, changes, len(events), strings.Join(events, ", "))
	if changes > 6 || len(events) > 4 {
		t.Errorf("%d DNS changes and %d events while flapping, want <= 6 and <= 4", changes, len(events))
	}
	e.deleteService(t, "f45-a")
	e.deleteService(t, "f45-b")
}

// annotationBomb: a Service whose hostname annotation is 250 KB of
// thousands of bad names (anyone who may create a Service can do this). It
// must cost lbdns little log and memory, and leave other hostnames'
// withdrawals as fast as ever.
func annotationBomb(t *testing.T, e *env) {
	l := e.standalone.faults
	logSize := func() int64 {
		fi, err := os.Stat(l.Log)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	rss := func() float64 {
		v, _, err := l.metric("process_resident_memory_bytes", nil)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	var value strings.Builder
	for i := 0; value.Len() < 250_000; i++ {
		fmt.Fprintf(&value, "bad_%d!.bomb.test,", i)
	}
	logBefore, rssBefore := logSize(), rss()
	bomb := lbService{name: "f46-bomb", hostname: value.String(), prefix: faultsPrefix,
		backend: &backend{ip: netip.MustParseAddr("127.0.46.9"), port: 80}}
	e.createMany(t, 1, func(int) lbService { return bomb })
	t.Cleanup(func() { e.deleteService(t, bomb.name) })

	// Another hostname's withdrawal, with the bomb in the cluster.
	host := "bomb." + zoneFaults
	a, b := pairFor(t, e, 47, "f47", host, faultsPrefix)
	l.waitHealthy(t, host, 2)
	a.Stop()
	withdrawn := e.waitDNS(t, host, "A", b.ip.String())
	rssPeak := rssBefore
	for range 20 { // a few more seconds of reconciles with the bomb in place
		rssPeak = max(rssPeak, rss())
		time.Sleep(100 * time.Millisecond)
	}
	logGrowth := logSize() - logBefore
	events, err := e.warningEvents(bomb.name)
	if err != nil {
		t.Fatal(err)
	}
	eventBytes := 0
	for _, ev := range events {
		eventBytes += len(ev)
	}
	if logGrowth > 1<<20 || rssPeak-rssBefore > 20<<20 {
		t.Fatalf("a 250 KB annotation cost %d bytes of log and %.1f MB of RSS, want < 1 MB and < 20 MB", logGrowth, (rssPeak-rssBefore)/(1<<20))
	}
	record(t, "PASS a 250 KB hostname annotation: %d KB of log in all (debug level), RSS +%.1f MB, %d Warning event(s) of %d bytes; another hostname withdrawn %.2fs after its backend stopped",
		logGrowth>>10, (rssPeak-rssBefore)/(1<<20), len(events), eventBytes, withdrawn.Seconds())
}

// lbdnsEvents returns lbdns's events on a Service, one entry per event
// (repeats that the recorder aggregated count each).
func (e *env) lbdnsEvents(name string) ([]string, error) {
	list, err := e.cp.Client.CoreV1().Events(namespace).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, ev := range list.Items {
		if ev.Source.Component != "lbdns" {
			continue
		}
		for range max(ev.Count, 1) {
			out = append(out, ev.Reason)
		}
	}
	return out, nil
}

// dnsOutage: BIND is down (killed: connections refused) for d while a
// backend dies; every sync in between fails at once, and the backoff grows.
// Once BIND answers again, the withdrawal must reach it within seconds,
// however long the outage was.
func dnsOutage(t *testing.T, e *env, d time.Duration) {
	host := "o." + zoneFaults
	a, b := pairFor(t, e, 44, "f44", host, faultsPrefix)
	e.bind.Kill()
	a.Stop()
	time.Sleep(d)
	if err := e.bind.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := framework.WaitFor(30*time.Second, "BIND answering again", func() error {
		_, err := framework.Lookup(e.bind.Addr, "unmanaged."+zoneFaults, "A")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	took := e.waitDNS(t, host, "A", b.ip.String())
	if took > 10*time.Second {
		t.Fatalf("withdrawal %s after BIND answered again, over twice the goal of 5s", took.Round(10*time.Millisecond))
	}
	record(t, "PASS BIND down for %s while a backend died: withdrawal in DNS %.2fs after BIND answered again (goal <= 5s)", d, took.Seconds())
	a.start(t)
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	e.deleteService(t, "f44-a")
	e.deleteService(t, "f44-b")
	e.waitDNS(t, host, "A")
}

// envInt reads a positive number from the environment (make failbench sets
// larger ones), else def.
// envOr is the environment variable name, or def when it is empty.
func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// blackholed: n LoadBalancer Services whose IPs drop every packet (iptables
// DROP on 127.66.0.0/16), so that each probe holds its slot for the whole
// timeout. A new pair of Services must still be probed and published at
// once, and a live IP that goes dark (its packets dropped too) must be
// withdrawn within interval x fall + timeout + 1 s.
func blackholed(t *testing.T, e *env, n int) {
	const blackhole = "127.66.0.0/16"
	iptables(t, "-I", "INPUT", "-d", blackhole, "-j", "DROP")
	t.Cleanup(func() { iptables(t, "-D", "INPUT", "-d", blackhole, "-j", "DROP") })
	start := time.Now()
	e.createMany(t, n, func(i int) lbService {
		return lbService{name: fmt.Sprintf("bh-%d", i), hostname: "bh.blackhole.test", prefix: faultsPrefix,
			backend: &backend{ip: netip.AddrFrom4([4]byte{127, 66, byte(i >> 8), byte(i)}), port: 80}}
	})
	t.Cleanup(func() { e.deleteMany(t, n, func(i int) string { return fmt.Sprintf("bh-%d", i) }) })
	l := e.standalone.faults
	if err := framework.WaitFor(60*time.Second, fmt.Sprintf("%d blackholed targets probed and down", n), func() error {
		down, err := l.countHealth("bh.blackhole.test", "unhealthy")
		if err == nil && down < n {
			err = fmt.Errorf("%d of %d down", down, n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	created := time.Since(start)

	host := "b." + zoneFaults
	pairStart := time.Now()
	a, b := pairFor(t, e, 43, "f43", host, faultsPrefix)
	inDNS := time.Since(pairStart)
	// Both are published before their first probe (nothing else is known to
	// work): wait until both are up, so that what follows is a live
	// target's failure, not a first probe.
	l.waitHealthy(t, host, 2)
	dark := a.ip.String() + "/32"
	iptables(t, "-I", "INPUT", "-d", dark, "-j", "DROP")
	var darkOnce sync.Once
	undark := func() { darkOnce.Do(func() { iptables(t, "-D", "INPUT", "-d", dark, "-j", "DROP") }) }
	t.Cleanup(undark) // also when the scenario fails before it is lit again
	withdrawn := e.waitDNS(t, host, "A", b.ip.String())
	bound := time.Duration(probeFall)*probeInterval + 500*time.Millisecond + time.Second
	if withdrawn > 2*bound {
		t.Fatalf("withdrawal took %s, over twice the bound %s: live targets are starved", withdrawn.Round(10*time.Millisecond), bound)
	}
	// It comes back: the down pool is full of the blackholed targets' probes,
	// each holding its slot for the whole timeout, but a recently failed
	// target gets the next free slot.
	undark()
	restored := e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	restoreBound := time.Duration(probeRise)*probeInterval + 500*time.Millisecond + time.Second
	if restored > 2*restoreBound {
		t.Fatalf("restore took %s, over twice the bound %s: a returning target is queued behind dead ones", restored.Round(10*time.Millisecond), restoreBound)
	}
	record(t, "PASS %d blackholed targets (down after %.1fs): a new pair in DNS after %.2fs; a live IP that went dark withdrawn after %.2fs (interval x fall + timeout + 1s = %s), back in DNS %.2fs after it answered again (interval x rise + timeout + 1s = %s)",
		n, created.Seconds(), inDNS.Seconds(), withdrawn.Seconds(), bound, restored.Seconds(), restoreBound)
}

// iptables runs iptables with args; the scenario fails if it cannot.
func iptables(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("iptables", args...).CombinedOutput(); err != nil {
		t.Fatalf("iptables %v: %v\n%s", args, err, out)
	}
}

// createMany creates n Services (with their LB IPs, without EndpointSlices)
// from 16 goroutines.
func (e *env) createMany(t *testing.T, n int, svc func(i int) lbService) {
	t.Helper()
	errs := parallel(n, 16, func(i int) error {
		s := svc(i)
		created, err := e.cp.Client.CoreV1().Services(namespace).Create(context.Background(), &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: s.name, Annotations: map[string]string{cmp.Or(s.prefix, "lbdns.io/") + "hostname": s.hostname}},
			Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer,
				Ports: []corev1.ServicePort{{Name: "web", Port: int32(s.backend.port), TargetPort: intstr.FromInt32(8080)}}},
		}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: s.backend.ip.String()}}
		_, err = e.cp.Client.CoreV1().Services(namespace).UpdateStatus(context.Background(), created, metav1.UpdateOptions{})
		return err
	})
	if errs != nil {
		t.Fatalf("creating %d Services: %v", n, errs)
	}
}

func (e *env) deleteMany(t *testing.T, n int, name func(i int) string) {
	if err := parallel(n, 16, func(i int) error {
		return e.cp.Client.CoreV1().Services(namespace).Delete(context.Background(), name(i), metav1.DeleteOptions{})
	}); err != nil {
		t.Errorf("deleting Services: %v", err)
	}
}

// parallel runs f(0..n-1) on workers goroutines and returns the errors.
func parallel(n, workers int, f func(i int) error) error {
	var mu sync.Mutex
	var errs []error
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// waitHealthy waits until n targets of hostname are healthy in /status. A
// new target is published before its first probe when nothing else is known
// to work; a scenario about a live target's failure starts after this.
func (l *lbdnsProc) waitHealthy(t *testing.T, hostname string, n int) {
	t.Helper()
	if err := framework.WaitFor(30*time.Second, fmt.Sprintf("%d targets of %s healthy", n, hostname), func() error {
		if got, err := l.countHealth(hostname, "healthy"); err != nil || got != n {
			return fmt.Errorf("%d healthy, %v", got, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// countHealth counts the targets of a hostname in /status with the health.
func (l *lbdnsProc) countHealth(hostname, health string) (int, error) {
	resp, err := http.Get("http://" + l.http + "/status")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var st struct {
		Hostnames []struct {
			Hostname string
			Targets  []struct{ Health string }
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return 0, err
	}
	n := 0
	for _, h := range st.Hostnames {
		for _, tg := range h.Targets {
			if h.Hostname == hostname && tg.Health == health {
				n++
			}
		}
	}
	return n, nil
}

// pausedLeader: SIGSTOP the standalone leader longer than the lease; the
// other replica takes over and withdraws a stopped backend; SIGCONT the old
// leader, whose sync timer is overdue and whose view is from before the
// pause. Its stale view must never reach BIND: the withdrawn IP must not
// come back while the old leader wakes up.
func pausedLeader(t *testing.T, e *env, cycles int) {
	var takeovers, held []float64
	for i := range cycles {
		// A new pair each cycle: stopping and starting one backend again
		// and again would be flapping, and flap damping would hold it.
		host := fmt.Sprintf("p%d.%s", i, zoneStandalone)
		a, b := pair(t, e, 100+i, fmt.Sprintf("f42c%d", i), host)
		leader, other, err := e.standalone.leader()
		if err != nil {
			t.Fatal(err)
		}
		paused := time.Now()
		if err := syscall.Kill(leader.Pid(), syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		cont := func() { _ = syscall.Kill(leader.Pid(), syscall.SIGCONT) }
		t.Cleanup(cont)
		other.waitMetric(t, "lbdns_leader", nil, 1)
		a.Stop()
		e.waitDNS(t, host, "A", b.ip.String())
		takeovers = append(takeovers, time.Since(paused).Seconds())
		cont()
		woke := time.Now()
		// Longer than LBDNS_SYNC_INTERVAL (5s) and the woken leader's
		// lease: any stale write would show here.
		e.holdDNS(t, 7*time.Second, host, "A", b.ip.String())
		held = append(held, time.Since(woke).Seconds())
		e.deleteService(t, fmt.Sprintf("f42c%d-a", i))
		e.deleteService(t, fmt.Sprintf("f42c%d-b", i))
	}
	record(t, "PASS %d pause/resume cycles of the leader (lease %s, sync interval 5s): no stale write; takeover and withdrawal after %.1f-%.1fs of pause; DNS held the fresh set %.0fs after each resume",
		cycles, leaseDuration, slices.Min(takeovers), slices.Max(takeovers), slices.Min(held))
}

// zoneTransferRefused: BIND starts refusing zone transfers (allow-transfer
// none, reloaded with SIGHUP) while it still accepts updates. external-dns's
// rfc2136 provider reads that as an empty zone; lbdns must count failed
// syncs, say why once, show it in /status, write nothing planned from the
// refused read, and catch up once transfers work again.
func zoneTransferRefused(t *testing.T, e *env) {
	host := "a." + zoneFaults
	a, b := pairFor(t, e, 41, "f41", host, faultsPrefix)
	l := e.standalone.faults

	e.setTransfersRefused(t, true)
	t.Cleanup(func() { e.setTransfersRefused(t, false) })
	refusedAt := time.Now()
	a.Stop() // a health change: lbdns syncs at once and must not trust the read
	if err := framework.WaitFor(30*time.Second, "rfc2136 sync errors", func() error {
		if v, _, err := l.metric("lbdns_sync_total", map[string]string{"output": "rfc2136", "result": "error"}); err != nil || v < 3 {
			return fmt.Errorf("%v errors, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing planned from the refused read reached BIND: the RRset is the
	// one from before, though a is withdrawn in lbdns.
	e.holdDNS(t, time.Second, host, "A", a.ip.String(), b.ip.String())
	out, err := l.output("rfc2136")
	if err != nil || !out.Failing || !strings.Contains(out.LastError, "refused") || out.FailingSince == nil {
		t.Fatalf("/status output rfc2136 = %+v, %v; want failing with the refusal", out, err)
	}
	logged := l.logCount(t, "sync failing")
	if logged != 1 {
		t.Errorf("%q logged %d times for %d failed syncs, want once per state change", "sync failing", logged, out.Failures)
	}

	e.setTransfersRefused(t, false)
	allowedAt := time.Now()
	e.waitDNS(t, host, "A", b.ip.String())
	l.waitLog(t, "sync recovered")
	record(t, "PASS BIND refused AXFR for %.1fs: %d syncs failed, logged once, /status said %q, nothing written; withdrawn %.1fs after transfers worked again",
		allowedAt.Sub(refusedAt).Seconds(), out.Failures, trim(out.LastError, 80), time.Since(allowedAt).Seconds())
}

// setTransfersRefused rewrites named.conf, reloads BIND with SIGHUP, and
// waits until a TSIG-signed AXFR of zoneFaults gets the expected answer.
func (e *env) setTransfersRefused(t *testing.T, refused bool) {
	t.Helper()
	var refuse []string
	if refused {
		refuse = []string{zoneFaults}
	}
	if err := e.bind.WriteConf(refuse...); err != nil {
		t.Fatal(err)
	}
	if err := e.bind.Reload(); err != nil {
		t.Fatal(err)
	}
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("AXFR of %s refused=%v", zoneFaults, refused), func() error {
		m := new(dns.Msg)
		m.SetAxfr(dns.Fqdn(zoneFaults))
		m.SetTsig(dns.Fqdn(tsigKeyName), dns.HmacSHA256, 300, time.Now().Unix())
		tr := &dns.Transfer{TsigSecret: map[string]string{dns.Fqdn(tsigKeyName): e.bind.TSIGSecret}}
		envs, err := tr.In(m, e.bind.Addr)
		if err != nil {
			return err
		}
		var failed error
		for env := range envs {
			if env.Error != nil {
				failed = env.Error
			}
		}
		if (failed != nil) != refused {
			return fmt.Errorf("transfer error %v", failed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// outputStatus is one output in lbdns's /status.
type outputStatus struct {
	Output, LastError string
	Failing           bool
	FailingSince      *time.Time
	Failures          int
	DryRun            bool
	WouldChange       []plannedChange
}

// plannedChange is a change a dry run would make, in /status.
type plannedChange struct {
	Action, Name string
	Records      []string
}

func (l *lbdnsProc) output(name string) (outputStatus, error) {
	resp, err := http.Get("http://" + l.http + "/status")
	if err != nil {
		return outputStatus{}, err
	}
	defer resp.Body.Close()
	var st struct{ Outputs []outputStatus }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return outputStatus{}, err
	}
	for _, o := range st.Outputs {
		if o.Output == name {
			return o, nil
		}
	}
	return outputStatus{}, fmt.Errorf("no output %s in /status", name)
}

// logCount counts the log lines of the instance that contain s.
func (l *lbdnsProc) logCount(t *testing.T, s string) int {
	t.Helper()
	b, err := os.ReadFile(l.Log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

func (l *lbdnsProc) waitLog(t *testing.T, s string) {
	t.Helper()
	if err := framework.WaitFor(30*time.Second, l.name+" logging "+s, func() error {
		if l.logCount(t, s) == 0 {
			return fmt.Errorf("not logged yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
