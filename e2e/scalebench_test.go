package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// scaleNamespace holds the benchmark's Services, apart from the suite's.
const scaleNamespace = "scale"

const scaleZone = "scale.test"

// scaleWorkload is what make scalebench creates: Services in hostnames of
// perHost Services each, every one with one LB IP (127.100.0.0/16: nothing is
// probed, lbdns.io/probe=none) and a ready EndpointSlice, as a cloud
// controller and the controller manager would write them.
type scaleWorkload struct {
	services, perHost int
}

func (w scaleWorkload) name(i int) string     { return fmt.Sprintf("s%05d", i) }
func (w scaleWorkload) hostname(i int) string { return fmt.Sprintf("h%04d.%s", i/w.perHost, scaleZone) }
func (w scaleWorkload) ip(i, generation int) netip.Addr {
	n := i + generation*w.services // a change moves a Service to an IP no other one had
	return netip.AddrFrom4([4]byte{127, byte(100 + n>>16), byte(n >> 8), byte(n)})
}

// BenchmarkScale is make scalebench: lbdns and external-dns on the same
// Services of a real kube-apiserver, in one run. It prints a table: lbdns's
// time to ready, resident memory, CPU for creating and for deleting every
// Service, CPU per single change and change -> embedded-DNS answer latency;
// external-dns's (--source=service --once) wall time and peak memory. Run it
// with -benchtime=1x; the numbers are measurements, not assertions.
func BenchmarkScale(b *testing.B) {
	e := suite
	w := scaleWorkload{services: envInt("LBDNS_SCALE_SERVICES", 10000), perHost: 10}
	changes := envInt("LBDNS_SCALE_CHANGES", 100)
	ctx := context.Background()
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scaleNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	table := benchTable{name: "scalebench"}
	l := e.startScaleLbdns(b, "lbdns-scale")
	idle := cpuRate(b, l.Proc, 2*time.Second)
	table.add("lbdns idle CPU", "%.1f ms/s", idle*1000)

	cpu0, start := cpuTime(b, l.Proc), time.Now()
	e.scaleApply(b, w, func(i int) error { return e.createScaleService(ctx, w, i) })
	created := time.Since(start)
	waitMetric(b, l, "lbdns_targets", float64(w.services))
	settle(b, l.Proc)
	table.add(fmt.Sprintf("create %d Services (API, 8 writers)", w.services), "%.1f s wall", created.Seconds())
	table.add("lbdns CPU while they were created", "%.1f s", (cpuTime(b, l.Proc) - cpu0 - idle*time.Since(start).Seconds()))
	table.add("lbdns RSS after the creation storm", "%.0f MB", rss(b, l.Proc))
	l.Stop()

	// A fresh start on the full cluster: time to ready and memory.
	start = time.Now()
	l = e.startScaleLbdns(b, "lbdns-scale-restart")
	table.add("lbdns start -> ready", "%.2f s", time.Since(start).Seconds())
	time.Sleep(3 * time.Second)
	table.add("lbdns RSS, ready (peak)", "%.0f MB (%.0f MB)", rss(b, l.Proc), peakRSS(b, l.Proc))
	heap, _, _ := l.metric("go_memstats_heap_inuse_bytes", nil)
	table.add("lbdns RSS anonymous + file-backed (binary), ready", "%.0f + %.0f MB", procStatusMB(b, l.Proc, "RssAnon:"), procStatusMB(b, l.Proc, "RssFile:"))
	table.add("lbdns Go heap in use, ready", "%.0f MB", heap/(1<<20))
	saveHeapProfile(b, l, "ready")
	for run := 1; run <= 2; run++ {
		wall, peak := e.externalDNSOnce(b)
		table.add(fmt.Sprintf("external-dns --once, run %d: wall (peak RSS)", run), "%.2f s (%.0f MB)", wall.Seconds(), peak)
	}

	// Three rounds of changes: the latency, polling the answer every 2 ms;
	// the CPU, without the polling (answering it costs CPU too); the
	// profile, if asked for (the profiler costs CPU as well).
	idleFull := cpuRate(b, l.Proc, 3*time.Second) // with the 10,000 in place
	lat, _ := e.scaleChanges(b, w, l, 0, changes, true, idleFull)
	_, cpu := e.scaleChanges(b, w, l, changes, changes, false, idleFull)
	if os.Getenv("LBDNS_SCALE_PROFILES") != "" {
		profiled := saveProfile(b, l, "changes", fmt.Sprintf("profile?seconds=%d", changes/2+1))
		e.scaleChanges(b, w, l, 2*changes, changes, false, idleFull)
		<-profiled
	}
	table.add(fmt.Sprintf("one Service change -> DNS answer, p50 / p99 of %d", changes), "%.0f ms / %.0f ms",
		ms(percentile(lat, 50)), ms(percentile(lat, 99)))
	table.add("lbdns CPU per change", "%.2f ms", cpu*1000)

	cpu0, start = cpuTime(b, l.Proc), time.Now()
	e.scaleApply(b, w, func(i int) error {
		return e.cp.Client.CoreV1().Services(scaleNamespace).Delete(ctx, w.name(i), metav1.DeleteOptions{})
	})
	e.scaleApply(b, w, func(i int) error {
		return e.cp.Client.DiscoveryV1().EndpointSlices(scaleNamespace).Delete(ctx, w.name(i), metav1.DeleteOptions{})
	})
	waitMetric(b, l, "lbdns_targets", 0)
	settle(b, l.Proc)
	table.add("lbdns CPU while every Service was deleted", "%.1f s", cpuTime(b, l.Proc)-cpu0-idle*time.Since(start).Seconds())
	l.Stop()
	table.print(fmt.Sprintf("make scalebench: %d Services in %d hostnames, %s", w.services, w.services/w.perHost, time.Now().UTC().Format("2006-01-02")))
}

// startScaleLbdns runs lbdns with its embedded DNS for the scale zone and
// waits until it is ready.
func (e *env) startScaleLbdns(b *testing.B, name string) *lbdnsProc {
	return e.runDNSLbdns(b, name, scaleZone, "LBDNS_NAMESPACE="+scaleNamespace, "LBDNS_LOG_LEVEL=info",
		"LBDNS_PROBE_INTERVAL=2s", "LBDNS_PROBE_TIMEOUT=1s", "LBDNS_PROBE_FALL=2", "LBDNS_PROBE_RISE=2")
}

// runDNSLbdns runs an lbdns that answers for zone on a free loopback port,
// without rate limiting and with its profiles served, and waits until it is
// ready: the benchmarks' instance.
func (e *env) runDNSLbdns(b *testing.B, name, zone string, extra ...string) *lbdnsProc {
	port, err := framework.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := e.newLbdns(name, append([]string{"LBDNS_DNS_ADDR=" + addr, "LBDNS_DNS_ZONES=" + zone, "LBDNS_DNS_RRL_RATE=0",
		"LBDNS_PPROF=true"}, extra...)...)
	if err != nil {
		b.Fatal(err)
	}
	l.dns = addr
	if err := l.run(e); err != nil {
		b.Fatal(err)
	}
	return l
}

// saveHeapProfile writes lbdns's heap profile to $LBDNS_SCALE_PROFILES/<name>.pb.gz
// when that directory is set (go tool pprof reads it).
func saveHeapProfile(b *testing.B, l *lbdnsProc, name string) { <-saveProfile(b, l, name, "heap") }

// saveProfile fetches /debug/pprof/<what> in the background into
// $LBDNS_SCALE_PROFILES/<name>.pb.gz, when that directory is set; the
// channel closes when it is written.
func saveProfile(b *testing.B, l *lbdnsProc, name, what string) <-chan struct{} {
	done := make(chan struct{})
	dir := os.Getenv("LBDNS_SCALE_PROFILES")
	if dir == "" {
		close(done)
		return done
	}
	go func() {
		defer close(done)
		resp, err := http.Get("http://" + l.http + "/debug/pprof/" + what)
		if err != nil {
			b.Error(err)
			return
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(resp.Body)
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, name+".pb.gz"), raw, 0o644)
		}
		if err != nil {
			b.Error(err)
		}
	}()
	return done
}

// createScaleService creates Service i with its LB IP and a ready
// EndpointSlice.
func (e *env) createScaleService(ctx context.Context, w scaleWorkload, i int) error {
	no := false
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: scaleNamespace, Name: w.name(i), Labels: map[string]string{"app": w.name(i)},
			Annotations: map[string]string{"lbdns.io/hostname": w.hostname(i), "lbdns.io/probe": "none"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
			Selector: map[string]string{"app": w.name(i)},
			Ports:    []corev1.ServicePort{{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	created, err := e.cp.Client.CoreV1().Services(scaleNamespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: w.ip(i, 0).String()}}
	if _, err := e.cp.Client.CoreV1().Services(scaleNamespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return err
	}
	ready := true
	_, err = e.cp.Client.DiscoveryV1().EndpointSlices(scaleNamespace).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: scaleNamespace, Name: w.name(i),
			Labels: map[string]string{discoveryv1.LabelServiceName: w.name(i)}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	return err
}

// scaleApply runs f for every Service index on 8 writers.
func (e *env) scaleApply(b *testing.B, w scaleWorkload, f func(i int) error) {
	next := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil && !apierrors.IsNotFound(err) {
					mu.Lock()
					firstErr = cmpErr(firstErr, fmt.Errorf("Service %d: %w", i, err))
					mu.Unlock()
				}
			}
		})
	}
	for i := range w.services {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}

// scaleChanges moves one Service at a time to a new LB IP (changes first to
// first+n-1 of the run), 500 ms apart, and measures lbdns's CPU per change
// (above idle) and, with poll, the time from the API server's answer to the
// first embedded-DNS answer that holds the new IP.
func (e *env) scaleChanges(b *testing.B, w scaleWorkload, l *lbdnsProc, first, n int, poll bool, idle float64) ([]time.Duration, float64) {
	ctx := context.Background()
	var lat []time.Duration
	cpu0, start := cpuTime(b, l.Proc), time.Now()
	for c := first; c < first+n; c++ {
		i := (c * 7919) % w.services // spread over the hostnames
		svc, err := e.cp.Client.CoreV1().Services(scaleNamespace).Get(ctx, w.name(i), metav1.GetOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ip := w.ip(i, 1+c)
		svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
		if _, err := e.cp.Client.CoreV1().Services(scaleNamespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
			b.Fatal(err)
		}
		accepted := time.Now()
		for deadline := accepted.Add(10 * time.Second); poll; time.Sleep(2 * time.Millisecond) {
			got, err := framework.Lookup(l.dns, w.hostname(i), "A")
			if err == nil && slices.Contains(got, ip.String()) {
				lat = append(lat, time.Since(accepted))
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("%s never answered %s (last: %v, %v)", w.hostname(i), ip, got, err)
			}
		}
		// One after another, not a storm: further apart than the gap
		// between two reconciles.
		time.Sleep(500 * time.Millisecond)
	}
	cpu := cpuTime(b, l.Proc) - cpu0 - idle*time.Since(start).Seconds()
	return lat, cpu / float64(n)
}

// externalDNSOnce runs external-dns's service source once over the same
// Services (one name per Service from --fqdn-template, the in-memory
// provider) and returns its wall time and peak RSS in MB.
func (e *env) externalDNSOnce(b *testing.B) (time.Duration, float64) {
	start := time.Now()
	p, err := framework.Start(e.dir, "external-dns-once", nil, filepath.Join(e.tools, extdnsBinary),
		"--source=service", "--service-type-filter=LoadBalancer", "--namespace="+scaleNamespace,
		"--fqdn-template={{.Name}}."+scaleZone, "--provider=inmemory", "--inmemory-zone="+scaleZone,
		"--registry=txt", "--txt-owner-id=scalebench", "--policy=sync", "--once",
		"--kubeconfig="+e.cp.AdminKubeconfig, "--metrics-address=127.0.0.1:0", "--log-level=warning")
	if err != nil {
		b.Fatal(err)
	}
	select {
	case <-p.Done():
	case <-time.After(5 * time.Minute):
		p.Kill()
		b.Fatal("external-dns --once did not finish in 5 minutes")
	}
	wall := time.Since(start)
	if !p.Cmd.ProcessState.Success() {
		b.Fatalf("external-dns --once failed:\n%s", p.Tail(20))
	}
	ru := p.Cmd.ProcessState.SysUsage().(*syscall.Rusage)
	return wall, float64(ru.Maxrss) / 1024 // KiB -> MB (MiB)
}

// waitMetric waits until an lbdns gauge has a value.
func waitMetric(b *testing.B, l *lbdnsProc, name string, want float64) {
	err := framework.WaitFor(5*time.Minute, fmt.Sprintf("%s = %g", name, want), func() error {
		v, _, err := l.metric(name, nil)
		if err != nil {
			return err
		}
		if v != want {
			return fmt.Errorf("%s = %g", name, v)
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// settle waits until the process is idle: under 20 ms of CPU in 500 ms.
func settle(b *testing.B, p *framework.Proc) {
	for range 120 {
		before := cpuTime(b, p)
		time.Sleep(500 * time.Millisecond)
		if cpuTime(b, p)-before < 0.02 {
			return
		}
	}
	b.Fatalf("%s never became idle", p.Name)
}

// cpuRate measures a process's CPU seconds per second over d.
func cpuRate(b *testing.B, p *framework.Proc, d time.Duration) float64 {
	before := cpuTime(b, p)
	time.Sleep(d)
	return (cpuTime(b, p) - before) / d.Seconds()
}

// cpuTime returns the CPU seconds a process's threads have used, to the
// nanosecond (schedstat), summed over its threads.
func cpuTime(b *testing.B, p *framework.Proc) float64 {
	dir := fmt.Sprintf("/proc/%d/task", p.Pid())
	tasks, err := os.ReadDir(dir)
	if err != nil {
		b.Fatal(err)
	}
	var ns float64
	for _, t := range tasks {
		raw, err := os.ReadFile(filepath.Join(dir, t.Name(), "schedstat"))
		if err != nil {
			continue // a thread that just ended
		}
		f := strings.Fields(string(raw))
		v, _ := strconv.ParseFloat(f[0], 64)
		ns += v
	}
	return ns / 1e9
}

// rss and peakRSS read VmRSS and VmHWM in MB (MiB).
func rss(b *testing.B, p *framework.Proc) float64     { return procStatusMB(b, p, "VmRSS:") }
func peakRSS(b *testing.B, p *framework.Proc) float64 { return procStatusMB(b, p, "VmHWM:") }

func procStatusMB(b *testing.B, p *framework.Proc, field string) float64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(string(raw), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == field {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, p.Pid())
	return 0
}

func percentile(d []time.Duration, p int) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchTable is a benchmark's printed result: a line per measurement as it
// is taken (prefixed by the benchmark's name), then a markdown table.
type benchTable struct {
	name string
	rows [][2]string
}

func (t *benchTable) add(what, format string, args ...any) {
	t.rows = append(t.rows, [2]string{what, fmt.Sprintf(format, args...)})
	fmt.Printf("%s: %-58s %s\n", t.name, what, t.rows[len(t.rows)-1][1])
}

func (t *benchTable) print(title string) {
	fmt.Printf("\n%s\n\n| measurement | value |\n|---|---|\n", title)
	for _, r := range t.rows {
		fmt.Printf("| %s | %s |\n", r[0], r[1])
	}
}
