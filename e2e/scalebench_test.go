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
	"k8s.io/client-go/kubernetes"
)

// scaleNamespace holds the benchmark's Services, apart from the suite's.
const scaleNamespace = "scale"

const scaleZone = "scale.test"

// scaleWorkload is what make scalebench creates: Services in hostnames of
// perHost Services each, every one with one LB IP (127.100.0.0/16 and up:
// nothing is probed, lbdns.io/probe=none) and a ready EndpointSlice, as a
// cloud controller and the controller manager would write them. created
// of them exist.
type scaleWorkload struct {
	created, perHost int
}

func (w scaleWorkload) name(i int) string     { return fmt.Sprintf("s%06d", i) }
func (w scaleWorkload) hostname(i int) string { return fmt.Sprintf("h%05d.%s", i/w.perHost, scaleZone) }

// ip is Service i's first LB IP; changedIP the IP of the benchmark's change
// c, one no Service had before.
func (w scaleWorkload) ip(i int) netip.Addr { return ipFrom(127<<24 | 100<<16 + uint32(i)) }
func changedIP(c int) netip.Addr            { return ipFrom(127<<24 | 90<<16 + uint32(c)) }

func ipFrom(n uint32) netip.Addr {
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)})
}

// scalePoint is what make scalebench measured at one size.
type scalePoint struct {
	services          int
	ready             time.Duration // lbdns start -> ready
	rss, peak         float64       // MB, ready and its peak
	cpuPerChange      float64       // seconds
	watched, answered []time.Duration
	extWall           time.Duration // external-dns --once (best of two)
	extPeak, extCPU   float64       // MB; seconds of CPU of that run
}

// BenchmarkScale is make scalebench: lbdns and external-dns on the same
// Services of a real kube-apiserver, in one run, at each size of
// LBDNS_SCALE_SERVICES (a comma-separated list, growing: 1000,10000). At each
// size it prints a table: lbdns's CPU while the Services were created, time
// to ready, resident memory, CPU per single change and change -> DNS answer
// latency; external-dns's (--source=service --once) wall time, CPU and peak
// memory. Over several sizes it ends with a table of them all and draws
// the cost curve into LBDNS_SCALE_PLOT (a PNG). Run it with -benchtime=1x;
// the numbers are measurements, not assertions.
func BenchmarkScale(b *testing.B) {
	e := suite
	sizes := envInts(b, "LBDNS_SCALE_SERVICES", []int{10000})
	changes := envInt("LBDNS_SCALE_CHANGES", 100)
	ctx := context.Background()
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: scaleNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	client := scaleClient(b, e)
	w := scaleWorkload{perHost: 10}
	var points []scalePoint
	changed := 0
	for _, size := range sizes {
		table := benchTable{name: fmt.Sprintf("scalebench %d", size)}
		points = append(points, e.scaleTo(b, client, &w, size, changes, &changed, &table))
		table.print(fmt.Sprintf("make scalebench: %d Services in %d hostnames, %s", size, size/w.perHost, time.Now().UTC().Format("2006-01-02")))
	}
	if len(points) > 1 {
		printScaleCurve(points)
		if path := os.Getenv("LBDNS_SCALE_PLOT"); path != "" {
			if err := plotScaleCurve(path, points); err != nil {
				b.Fatal(err)
			}
			fmt.Printf("scalebench: the cost curve is in %s\n", path)
		}
	}
	if w.created > scaleAPILimit() {
		return // deleting them through the API costs it O(N^2) again (scalerestore_test.go)
	}
	l := e.startScaleLbdns(b, "lbdns-scale-delete")
	settle(b, l.Proc)
	idle := cpuRate(b, l.Proc, 2*time.Second)
	cpu0, start := cpuTime(b, l.Proc), time.Now()
	e.scaleApply(b, 0, w.created, func(i int) error {
		return client.CoreV1().Services(scaleNamespace).Delete(ctx, w.name(i), metav1.DeleteOptions{})
	})
	e.scaleApply(b, 0, w.created, func(i int) error {
		return client.DiscoveryV1().EndpointSlices(scaleNamespace).Delete(ctx, w.name(i), metav1.DeleteOptions{})
	})
	waitMetric(b, l, "lbdns_targets", 0)
	settle(b, l.Proc)
	fmt.Printf("scalebench: lbdns CPU while every Service was deleted: %.1f s\n", cpuTime(b, l.Proc)-cpu0-idle*time.Since(start).Seconds())
	l.Stop()
}

// scaleTo grows the workload to size Services with an lbdns watching, then
// measures a fresh lbdns and external-dns on them.
func (e *env) scaleTo(b *testing.B, client kubernetes.Interface, w *scaleWorkload, size, changes int, changed *int, table *benchTable) scalePoint {
	ctx := context.Background()
	p := scalePoint{services: size}
	l := e.startScaleLbdns(b, fmt.Sprintf("lbdns-scale-%d", size))
	settle(b, l.Proc)
	idle := cpuRate(b, l.Proc, 2*time.Second)
	cpu0, start := cpuTime(b, l.Proc), time.Now()
	apiLimit := scaleAPILimit()
	e.scaleApply(b, w.created, min(size, apiLimit), func(i int) error { return createScaleService(ctx, client, *w, i) })
	how := "API, 8 writers"
	if size > apiLimit {
		e.restoreScaleServices(ctx, b, *w, max(w.created, apiLimit), size)
		how = fmt.Sprintf("API up to %d, then written to etcd", apiLimit)
	}
	created := time.Since(start)
	waitMetric(b, l, "lbdns_targets", float64(size))
	settle(b, l.Proc)
	table.add(fmt.Sprintf("create Services %d-%d (%s)", w.created, size-1, how), "%.1f s wall", created.Seconds())
	table.add("lbdns CPU while they were created", "%.1f s", cpuTime(b, l.Proc)-cpu0-idle*time.Since(start).Seconds())
	table.add("lbdns RSS after the creation storm", "%.0f MB", rss(b, l.Proc))
	w.created = size
	l.Stop()

	// A fresh start on the full cluster: time to ready and memory. The API
	// server's CPU meanwhile says how much of the machine it took: both
	// need it at once, and its own background work (its repair loops list
	// every Service and IPAddress) varies between runs.
	quietAfter, idleAPI := waitQuiet(b, e.cp.APIServer, 0.25, 3*time.Minute)
	table.add("kube-apiserver quiet before the start: waited (its CPU then)", "%.0f s (%.0f %% of a core)",
		quietAfter.Seconds(), idleAPI*100)
	api0 := cpuTime(b, e.cp.APIServer)
	// The first read after the creation costs the API server more than the
	// next ones: the second is the floor of a start.
	for read := 1; read <= 2; read++ {
		floor, objects, err := apiFloor(ctx, client, scaleNamespace)
		if err != nil {
			b.Fatal(err)
		}
		table.add(fmt.Sprintf("the API server's floor, read %d: a client that only reads the same watch-lists (objects; API server CPU)", read),
			"%.2f s (%d; %.1f s)", floor.Seconds(), objects, cpuTime(b, e.cp.APIServer)-api0)
		waitQuiet(b, e.cp.APIServer, 0.25, time.Minute)
		api0 = cpuTime(b, e.cp.APIServer)
	}
	start = time.Now()
	l = e.startDNSLbdns(b, fmt.Sprintf("lbdns-scale-%d-restart", size), scaleZone, scaleLbdnsEnv...)
	defer l.Stop()
	profiled := saveStartProfile(b, l, fmt.Sprintf("start-%d", size))
	if err := l.waitReady(); err != nil {
		b.Fatal(err)
	}
	p.ready = time.Since(start)
	api := cpuTime(b, e.cp.APIServer) - api0
	startCPU := cpuTime(b, l.Proc)
	<-profiled
	table.add("lbdns start -> ready", "%.2f s", p.ready.Seconds())
	table.add("CPU from start to ready: lbdns, kube-apiserver", "%.1f s, %.1f s", startCPU, api)
	time.Sleep(10 * time.Second)
	p.rss, p.peak = rss(b, l.Proc), peakRSS(b, l.Proc)
	anon, file := procStatusMB(b, l.Proc, "RssAnon:"), procStatusMB(b, l.Proc, "RssFile:")
	table.add("lbdns RSS 10 s after ready (peak)", "%.0f MB (%.0f MB)", p.rss, p.peak)
	table.add("lbdns RSS anonymous + file-backed (binary)", "%.0f + %.0f MB", anon, file)
	heap, _, _ := l.metric("go_memstats_heap_inuse_bytes", nil) // a scrape: after the RSS
	table.add("lbdns Go heap in use", "%.0f MB", heap/(1<<20))
	// A scrape renders two series per target: what Prometheus costs.
	table.add("lbdns RSS after one /metrics scrape", "%.0f MB", rss(b, l.Proc))
	saveHeapProfile(b, l, fmt.Sprintf("ready-%d", size))
	for run := 1; run <= 2; run++ {
		wall, peak, cpu := e.externalDNSOnce(b)
		table.add(fmt.Sprintf("external-dns --once, run %d: wall, CPU (peak RSS)", run), "%.2f s, %.2f s (%.0f MB)", wall.Seconds(), cpu, peak)
		if run == 1 || wall < p.extWall {
			p.extWall, p.extCPU, p.extPeak = wall, cpu, peak
		}
	}

	// Three rounds of changes: the latency, polling the answer every
	// millisecond; the CPU, without the polling (answering it costs CPU
	// too); the profile, if asked for (the profiler costs CPU as well).
	idleFull := cpuRate(b, l.Proc, 3*time.Second)
	lat, _ := e.scaleChanges(b, client, *w, l, changed, changes, true, idleFull)
	// Go's runtime collects garbage at least every 2 minutes, whatever
	// happens: at 100,000 Services such a collection cost about 0.2 s, which
	// fell into some rounds of changes and not into others (0.8 against 2.5
	// ms per change in two runs). Collect right before the round, so that
	// the round counts what the changes cost; the steady cost is reported.
	// The idle rate stays the one measured before: after a collection the
	// runtime returns memory to the system for a while at about 1 % of a
	// core, and 1 % of a core is 5 ms per change 500 ms apart (measured
	// then, it made the CPU per change negative). Counted in the round, it
	// only makes the figure a little high.
	gcCPU := forceGC(b, l)
	table.add("a full garbage collection (forced; Go runs one at least every 2 minutes)", "%.2f s of CPU", gcCPU)
	settle(b, l.Proc)
	_, p.cpuPerChange = e.scaleChanges(b, client, *w, l, changed, changes, false, idleFull)
	if os.Getenv("LBDNS_SCALE_PROFILES") != "" {
		profiled := saveProfile(b, l, fmt.Sprintf("changes-%d", size), fmt.Sprintf("profile?seconds=%d", changes/2+1))
		e.scaleChanges(b, client, *w, l, changed, changes, false, idleFull)
		<-profiled
	}
	p.watched, p.answered = splitChangeTimes(lat)
	table.add(fmt.Sprintf("status PATCH answered -> watch event, p50 / p99 of %d", changes), "%.1f ms / %.1f ms",
		ms(percentile(p.watched, 50)), ms(percentile(p.watched, 99)))
	table.add(fmt.Sprintf("status PATCH answered -> DNS answer, p50 / p99 of %d", changes), "%.1f ms / %.1f ms",
		ms(percentile(p.answered, 50)), ms(percentile(p.answered, 99)))
	table.add("lbdns CPU per change", "%.2f ms", p.cpuPerChange*1000)
	return p
}

// forceGC makes lbdns collect its garbage now (a heap profile after a
// collection, which its pprof handler serves) and returns the CPU it took.
func forceGC(b *testing.B, l *lbdnsProc) float64 {
	cpu0 := cpuTime(b, l.Proc)
	if _, err := framework.HTTPGet("http://" + l.http + "/debug/pprof/heap?gc=1"); err != nil {
		b.Fatal(err)
	}
	return cpuTime(b, l.Proc) - cpu0
}

// startScaleLbdns runs lbdns with its embedded DNS for the scale zone and
// waits until it is ready.
func (e *env) startScaleLbdns(b *testing.B, name string) *lbdnsProc {
	return e.runDNSLbdns(b, name, scaleZone, scaleLbdnsEnv...)
}

var scaleLbdnsEnv = []string{"LBDNS_NAMESPACE=" + scaleNamespace, "LBDNS_LOG_LEVEL=info",
	"LBDNS_PROBE_INTERVAL=2s", "LBDNS_PROBE_TIMEOUT=1s", "LBDNS_PROBE_FALL=2", "LBDNS_PROBE_RISE=2"}

// saveStartProfile profiles lbdns's first LBDNS_SCALE_START_PROFILE seconds
// into LBDNS_SCALE_PROFILES, when both are set. Apart from the other
// profiles: it slows the start it measures (at 1,000 Services, ready 0.74 s
// instead of 0.15 s).
func saveStartProfile(b *testing.B, l *lbdnsProc, name string) <-chan struct{} {
	seconds := envInt("LBDNS_SCALE_START_PROFILE", 0)
	if os.Getenv("LBDNS_SCALE_PROFILES") == "" || seconds == 0 {
		done := make(chan struct{})
		close(done)
		return done
	}
	if err := framework.WaitFor(10*time.Second, "lbdns's HTTP server", func() error {
		_, err := framework.HTTPGet("http://" + l.http + "/healthz")
		return err
	}); err != nil {
		b.Fatal(err)
	}
	return saveProfile(b, l, name, fmt.Sprintf("profile?seconds=%d", seconds))
}

// runDNSLbdns runs an lbdns that answers for zone on a free loopback port,
// without rate limiting and with its profiles served, and waits until it is
// ready: the benchmarks' instance.
func (e *env) runDNSLbdns(b *testing.B, name, zone string, extra ...string) *lbdnsProc {
	l := e.startDNSLbdns(b, name, zone, extra...)
	if err := l.waitReady(); err != nil {
		b.Fatal(err)
	}
	return l
}

// startDNSLbdns is runDNSLbdns without the wait.
func (e *env) startDNSLbdns(b *testing.B, name, zone string, extra ...string) *lbdnsProc {
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
	if err := l.start(e); err != nil {
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
func createScaleService(ctx context.Context, client kubernetes.Interface, w scaleWorkload, i int) error {
	no := false
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: scaleNamespace, Name: w.name(i), Labels: map[string]string{"app": w.name(i)},
			Annotations: map[string]string{"lbdns.io/hostname": w.hostname(i), "lbdns.io/probe": "none"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
			Selector: map[string]string{"app": w.name(i)},
			Ports:    []corev1.ServicePort{{Name: "web", Port: 80, Protocol: corev1.ProtocolTCP}}},
	}
	created, err := client.CoreV1().Services(scaleNamespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: w.ip(i).String()}}
	if _, err := client.CoreV1().Services(scaleNamespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		return err
	}
	ready := true
	_, err = client.DiscoveryV1().EndpointSlices(scaleNamespace).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: scaleNamespace, Name: w.name(i),
			Labels: map[string]string{discoveryv1.LabelServiceName: w.name(i)}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.244.1.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	return err
}

// scaleApply runs f for the Service indexes from to to-1 on 8 writers.
func (e *env) scaleApply(b *testing.B, from, to int, f func(i int) error) {
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
	for i := from; i < to; i++ {
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

// externalDNSOnce runs external-dns's service source once over the same
// Services (one name per Service from --fqdn-template, the in-memory
// provider) and returns its wall time, peak RSS in MB and CPU seconds.
// external-dns has no incremental path: with --events, every change is such
// a full pass over every Service.
func (e *env) externalDNSOnce(b *testing.B) (time.Duration, float64, float64) {
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
	st := p.Cmd.ProcessState
	ru := st.SysUsage().(*syscall.Rusage)
	return wall, float64(ru.Maxrss) / 1024, (st.UserTime() + st.SystemTime()).Seconds() // KiB -> MB (MiB)
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

// waitQuiet waits, up to limit, until p uses less than rate of a core over
// 2 s, and returns how long that took and its rate then. After a storm of
// 100,000 Services written to etcd, the API server kept 1.4 cores busy for
// minutes (a start measured then took 16.5 s instead of 7.4 s): the start
// is measured against the API server serving it, not digesting the storm.
func waitQuiet(b *testing.B, p *framework.Proc, rate float64, limit time.Duration) (time.Duration, float64) {
	start := time.Now()
	for {
		r := cpuRate(b, p, 2*time.Second)
		if r < rate || time.Since(start) > limit {
			return time.Since(start), r
		}
	}
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
