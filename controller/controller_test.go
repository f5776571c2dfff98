package controller

import (
	"context"
	"errors"
	"maps"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/internal/testkube"
	"github.com/lbdns/lbdns/internal/testwait"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
	"github.com/lbdns/lbdns/source/informer"
)

const hostname = "app.example.com"

// backend is a real TCP listener acting as one LB IP.
type backend struct {
	ip   netip.Addr
	port int32
	ln   net.Listener
}

func newBackend(t *testing.T, ip string) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return &backend{ip: ap.Addr(), port: int32(ap.Port()), ln: ln}
}

func service(name string, b *backend, annotations map[string]string) *corev1.Service {
	ann := map[string]string{"lbdns.io/hostname": hostname}
	for k, v := range annotations {
		ann[k] = v
	}
	return testkube.LoadBalancer("default", name, ann, []corev1.ServicePort{{Name: "tcp", Port: b.port}}, b.ip.String())
}

func endpointSlice(service string, ready bool) *discoveryv1.EndpointSlice {
	return testkube.EndpointSlice("default", service, ready, "node-"+service)
}

type harness struct {
	t       *testing.T
	client  *fake.Clientset
	ctl     *Controller
	events  *record.FakeRecorder
	metrics *Metrics
}

func newHarness(t *testing.T, failOpen bool, objs ...any) *harness {
	t.Helper()
	return newHarnessWith(t, func(o *Options) { o.FailOpen = failOpen }, objs...)
}

func newHarnessWith(t *testing.T, configure func(*Options), objs ...any) *harness {
	t.Helper()
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	factory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(informer.Trimmer{AnnotationPrefix: "lbdns.io/"}.Transform))
	svc, eps, nodes := factory.Core().V1().Services(), factory.Discovery().V1().EndpointSlices(), factory.Core().V1().Nodes()
	reader, err := informer.NewCacheReader(svc.Informer(), eps.Informer(), nodes.Informer())
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, client: client, events: record.NewFakeRecorder(1000), metrics: NewMetrics(prometheus.NewRegistry())}
	o := Options{
		Build:    source.Options{AnnotationPrefix: "lbdns.io/", DefaultTTL: 30, KubeProxyHealthPort: 10256},
		FailOpen: true,
		Probe: probe.Options{Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2,
			Concurrency: 8, Funcs: probe.Funcs()},
		Recorder: h.events,
		Metrics:  h.metrics,
	}
	configure(&o)
	h.ctl = New(reader, o)
	if err := h.ctl.AddClusterEventHandlers("", svc.Informer(), eps.Informer(), nodes.Informer()); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		h.create(o)
	}
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	done := make(chan struct{})
	go func() { h.ctl.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; factory.Shutdown() })
	return h
}

func (h *harness) create(o any) {
	h.t.Helper()
	ctx := context.Background()
	var err error
	switch o := o.(type) {
	case *corev1.Service:
		_, err = h.client.CoreV1().Services(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *discoveryv1.EndpointSlice:
		_, err = h.client.DiscoveryV1().EndpointSlices(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
	case *corev1.Node:
		_, err = h.client.CoreV1().Nodes().Create(ctx, o, metav1.CreateOptions{})
	}
	if err != nil {
		h.t.Fatal(err)
	}
}

// published returns the published IPs of the hostname and its decision.
func (h *harness) published() ([]string, model.Decision) {
	for _, d := range h.ctl.Snapshot().Hostnames.Slice() {
		if d.Hostname == hostname {
			var ips []string
			for _, t := range d.Published() {
				ips = append(ips, t.IP.String())
			}
			return ips, d
		}
	}
	return nil, model.Decision{}
}

func (h *harness) waitPublished(want ...string) model.Decision {
	h.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, d := h.published()
		if strings.Join(got, " ") == strings.Join(want, " ") {
			return d
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("published %v, want %v; decision %+v", got, want, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitEvent waits for an event that contains every part.
func (h *harness) waitEvent(parts ...string) string {
	h.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e := <-h.events.Events:
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(e, p)
			}
			if ok {
				return e
			}
		case <-timeout:
			h.t.Fatalf("no event with %q", parts)
		}
	}
}

func TestControllerWithdrawsAndRestores(t *testing.T) {
	a, b := newBackend(t, "127.0.0.21"), newBackend(t, "127.0.0.22")
	h := newHarness(t, true, service("a", a, nil), service("b", b, nil), endpointSlice("a", true), endpointSlice("b", true))
	select {
	case <-h.ctl.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("never ready")
	}
	h.waitPublished("127.0.0.21", "127.0.0.22")

	// Pods of a gone: withdrawn at once, with its reason, as an event.
	_, err := h.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), endpointSlice("a", false), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d := h.waitPublished("127.0.0.22")
	if d.Targets[0].Reason != model.NoReadyEndpoints {
		t.Errorf("reason = %q", d.Targets[0].Reason)
	}
	h.waitEvent("Warning", EventTargetWithdrawn, "127.0.0.21", "NoReadyEndpoints")

	// b's backend dies too: nothing healthy, so fail open.
	b.ln.Close()
	d = h.waitPublished("127.0.0.21", "127.0.0.22")
	if !d.FailOpen {
		t.Fatalf("not fail-open: %+v", d)
	}
	h.waitEvent("Warning", EventFailOpen, hostname)
	if v := h.gauge("lbdns_hostname_fail_open", map[string]string{"hostname": hostname}); v != 1 {
		t.Errorf("lbdns_hostname_fail_open = %v", v)
	}

	// a's pods return: a is healthy again, fail-open ends.
	_, err = h.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), endpointSlice("a", true), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d = h.waitPublished("127.0.0.21")
	if d.FailOpen {
		t.Fatal("still fail-open")
	}
	h.waitEvent("Normal", EventTargetRestored, "127.0.0.21")
	if v := testutil.ToFloat64(h.metrics.transitions.WithLabelValues(hostname, "unhealthy")); v < 2 {
		t.Errorf("unhealthy transitions = %v, want >= 2", v)
	}
	if v := h.gauge("lbdns_target_healthy", map[string]string{"cluster": "local", "hostname": hostname, "namespace": "default", "service": "b", "ip": "127.0.0.22"}); v != 0 {
		t.Errorf("lbdns_target_healthy for b = %v", v)
	}

	// Deleting b removes it and its gauges.
	if err := h.client.CoreV1().Services("default").Delete(context.Background(), "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "b's gauges deleted", func() bool {
		return testutil.CollectAndCount(h.metrics.snapshot, "lbdns_target_healthy") == 1
	})
}

func TestControllerNodeSignals(t *testing.T) {
	a, b := newBackend(t, "127.0.0.31"), newBackend(t, "127.0.0.32")
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: "127.0.0.31"}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}},
	}}
	h := newHarness(t, true, service("a", a, nil), service("b", b, nil), endpointSlice("a", true), endpointSlice("b", true), node)
	h.waitPublished("127.0.0.31", "127.0.0.32")

	notReady := node.DeepCopy()
	notReady.Status.Conditions[0].Status = corev1.ConditionFalse
	if _, err := h.client.CoreV1().Nodes().UpdateStatus(context.Background(), notReady, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	d := h.waitPublished("127.0.0.32")
	if d.Targets[0].Reason != model.NodeNotReady || d.Targets[0].Node != "n1" {
		t.Errorf("target a: reason %q node %q", d.Targets[0].Reason, d.Targets[0].Node)
	}

	// Deleted: withdrawn until the IP's probes pass rise times afterwards.
	if err := h.client.CoreV1().Nodes().Delete(context.Background(), "n1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	testwait.For(t, "NodeDeleted", func() bool {
		_, d := h.published()
		return len(d.Targets) > 0 && d.Targets[0].Reason == model.NodeDeleted
	})
	h.waitPublished("127.0.0.31", "127.0.0.32") // the backend still answers: it returns after rise
}

func TestControllerWarnsOnceAboutBadAnnotations(t *testing.T) {
	a := newBackend(t, "127.0.0.41")
	h := newHarness(t, true, service("a", a, map[string]string{"lbdns.io/weight": "heavy"}), endpointSlice("a", true))
	h.waitPublished("127.0.0.41")
	h.waitEvent("Warning", source.ReasonInvalidAnnotation, "lbdns.io/weight")
	// Probe results keep triggering reconciles; the warning must not repeat.
	time.Sleep(200 * time.Millisecond)
	for {
		select {
		case e := <-h.events.Events:
			if strings.Contains(e, source.ReasonInvalidAnnotation) {
				t.Fatalf("warning repeated: %s", e)
			}
			continue
		default:
		}
		break
	}
	if _, d := h.published(); d.Targets[0].Weight != source.DefaultWeight {
		t.Errorf("weight = %d, want the default", d.Targets[0].Weight)
	}
}

// With more slow first probes than may run at once, readiness waits one
// probe timeout, not the whole round; targets still pending are marked so.
func TestControllerReadinessIsBoundedByOneTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.51:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // accept, never answer
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	port := int32(netip.MustParseAddrPort(ln.Addr().String()).Port())
	var objs []any
	for i := range 5 {
		name := string(rune('a' + i))
		// A path each: identical checks would share one execution.
		s := service(name, &backend{ip: netip.MustParseAddr("127.0.0.51"), port: port},
			map[string]string{"lbdns.io/probe": "http", "lbdns.io/probe-path": "/" + name})
		objs = append(objs, s, endpointSlice(name, true))
	}
	const timeout = 300 * time.Millisecond
	start := time.Now()
	h := newHarnessWith(t, func(o *Options) { o.Probe.Timeout, o.Probe.Concurrency, o.Probe.Interval = timeout, 1, time.Second }, objs...)
	select {
	case <-h.ctl.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("never ready")
	}
	took := time.Since(start)
	pending := 0
	for _, d := range h.ctl.Snapshot().Hostnames.Slice() {
		for _, td := range d.Targets {
			if td.Pending {
				pending++
			}
		}
	}
	if pending == 0 {
		t.Fatalf("ready after %s with no target pending: readiness waited for the whole round", took)
	}
	t.Logf("ready after %s with %d of 5 targets still waiting for their first probe", took, pending)
}

// A new Service whose EndpointSlice comes after its LB IP was never in DNS:
// no TargetWithdrawn or TargetRestored event for it, until it really is
// withdrawn later.
func TestControllerNoEventsForNewUnhealthyTargets(t *testing.T) {
	a := newBackend(t, "127.0.0.61")
	h := newHarness(t, true)
	testwait.For(t, "ready", h.ctl.IsReady)
	h.create(service("a", a, nil))
	testwait.For(t, "a unhealthy on NoReadyEndpoints", func() bool {
		_, d := h.published()
		return len(d.Targets) == 1 && d.Targets[0].Reason == model.NoReadyEndpoints
	})
	h.create(endpointSlice("a", true))
	testwait.For(t, "a healthy", func() bool {
		_, d := h.published()
		return len(d.Targets) == 1 && d.Targets[0].Healthy
	})
	time.Sleep(100 * time.Millisecond) // let any event of that change arrive
	for drained := false; !drained; {
		select {
		case e := <-h.events.Events:
			if strings.Contains(e, EventTargetWithdrawn) || strings.Contains(e, EventTargetRestored) || strings.Contains(e, EventFailOpen) {
				t.Fatalf("event for a target or hostname that was never in DNS healthy: %q", e)
			}
		default:
			drained = true
		}
	}
	_, err := h.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), endpointSlice("a", false), metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.waitEvent("Warning", EventTargetWithdrawn, "NoReadyEndpoints")
}

// A Service with two hostnames puts its target into both groups: in every
// snapshot, both must carry the same verdict and the same probe status, also
// while the probes flap and reconciles run back to back.
func TestControllerOneVerdictPerTargetInEverySnapshot(t *testing.T) {
	a := newBackend(t, "127.0.0.71")
	svc := service("a", a, map[string]string{"lbdns.io/hostname": hostname + ",other.example.com"})
	h := newHarnessWith(t, func(o *Options) { o.Probe.Rise, o.Probe.Fall, o.FailOpen = 1, 1, false }, svc, endpointSlice("a", true))
	testwait.For(t, "ready", h.ctl.IsReady)

	addr := a.ln.Addr().String()
	stop := make(chan struct{})
	flapped := make(chan struct{})
	go func() { // close and reopen the backend every 30 ms
		defer close(flapped)
		ln := a.ln
		for i := 0; i < 200; i++ { // until the test has seen enough, at most 6 s
			select {
			case <-stop:
				ln.Close()
				return
			case <-time.After(30 * time.Millisecond):
			}
			if i%2 == 0 {
				ln.Close()
				continue
			}
			var err error
			if ln, err = net.Listen("tcp", addr); err != nil {
				return
			}
			go func(ln net.Listener) {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}(ln)
		}
		ln.Close()
	}()
	defer func() { close(stop); <-flapped }()

	generations := map[uint64]bool{}
	// At least 2 s of snapshots, longer on a loaded machine until the probes
	// flapped enough to test anything (at most 6 s).
	start := time.Now()
	for since := time.Duration(0); since < 2*time.Second || len(generations) < 4 && since < 6*time.Second; since = time.Since(start) {
		snap := h.ctl.Snapshot()
		generations[snap.Generation] = true
		var seen []model.TargetDecision
		for _, d := range snap.Hostnames.Slice() {
			seen = append(seen, d.Targets...)
		}
		if len(seen) != 2 {
			t.Fatalf("generation %d: %d targets, want the one target in 2 groups", snap.Generation, len(seen))
		}
		x, y := seen[0], seen[1]
		if x.Health() != y.Health() || x.Reason != y.Reason || x.ProbeStatus != y.ProbeStatus || !x.Since.Equal(y.Since) {
			t.Fatalf("generation %d: one target, two verdicts:\n%+v\n%+v", snap.Generation, x, y)
		}
		time.Sleep(time.Millisecond)
	}
	if len(generations) < 4 {
		t.Fatalf("saw %d generations: the probes did not flap enough to test anything", len(generations))
	}
	t.Logf("%d generations, each with one verdict per target", len(generations))
}

// After a time jump, Fresh holds writes back until every published probed
// target was probed again and a reconcile saw it.
func TestControllerFreshAfterATimeJump(t *testing.T) {
	a := newBackend(t, "127.0.0.81")
	h := newHarness(t, true, service("a", a, nil), endpointSlice("a", true))
	h.waitPublished("127.0.0.81")
	if err := h.ctl.Fresh(); err != nil {
		t.Fatalf("fresh before any jump: %v", err)
	}
	// A 5 s gap between two clock ticks, as after SIGSTOP and SIGCONT.
	now := time.Now()
	h.ctl.fresh.mu.Lock()
	h.ctl.fresh.lastTick = now.Add(-5 * time.Second)
	h.ctl.fresh.mu.Unlock()
	if err := h.ctl.Fresh(); !errors.Is(err, ErrStaleView) {
		t.Fatalf("during the jump: %v, want ErrStaleView", err)
	}
	testwait.For(t, "the clock watcher to see the jump", func() bool {
		h.ctl.fresh.mu.Lock()
		defer h.ctl.fresh.mu.Unlock()
		return !h.ctl.fresh.jumpedAt.IsZero() || h.ctl.fresh.lastTick.After(now)
	})
	testwait.For(t, "fresh after a probe round", func() bool { return h.ctl.Fresh() == nil })
	for _, d := range h.ctl.Snapshot().Hostnames.Slice() {
		for _, td := range d.Targets {
			if !td.ProbeStatus.LastProbe.After(now) {
				t.Errorf("%s fresh with a probe from %s, before the jump at %s", td.IP, td.ProbeStatus.LastProbe, now)
			}
		}
	}
}

// gauge returns the value of the snapshot gauge series with exactly these
// labels, or -1 when there is none.
func (h *harness) gauge(name string, labels map[string]string) float64 {
	h.t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(h.metrics.snapshot)
	families, err := reg.Gather()
	if err != nil {
		h.t.Fatal(err)
	}
	for _, f := range families {
		for _, m := range f.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			if f.GetName() == name && maps.Equal(got, labels) {
				return m.GetGauge().GetValue()
			}
		}
	}
	return -1
}
