package e2e

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

const namespace = "default"

// lbService describes a LoadBalancer Service for one backend.
type lbService struct {
	name, hostname string
	backend        *backend
	annotations    map[string]string
	local          bool   // externalTrafficPolicy: Local
	prefix         string // of the hostname annotation; empty: lbdns.io/
	namespace      string // empty: default
}

// createService creates the Service, gives it its LB IP as a cloud controller
// would, and writes a ready EndpointSlice as the controller manager would.
func (e *env) createService(t *testing.T, s lbService) *corev1.Service {
	t.Helper()
	return createServiceIn(t, e.cp.Client, s)
}

// createServiceIn is createService in the cluster of client.
func createServiceIn(t *testing.T, client kubernetes.Interface, s lbService) *corev1.Service {
	t.Helper()
	ctx := context.Background()
	ann := map[string]string{cmp.Or(s.prefix, "lbdns.io/") + "hostname": s.hostname}
	for k, v := range s.annotations {
		ann[k] = v
	}
	no := false
	ns := cmp.Or(s.namespace, namespace)
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: s.name, Annotations: ann},
		Spec: corev1.ServiceSpec{
			Type:                          corev1.ServiceTypeLoadBalancer,
			AllocateLoadBalancerNodePorts: &no,
			Selector:                      map[string]string{"app": s.name},
			Ports: []corev1.ServicePort{{Name: "web", Port: int32(s.backend.port),
				TargetPort: intstr.FromInt32(8080), Protocol: corev1.ProtocolTCP}},
		},
	}
	if s.local {
		svc.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	}
	created, err := client.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating Service %s: %v", s.name, err)
	}
	created.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: s.backend.ip.String()}}
	if created, err = client.CoreV1().Services(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("setting the LB IP of %s: %v", s.name, err)
	}
	setEndpointsNS(t, client, ns, s.name, true, "")
	return created
}

// setEndpoints writes the Service's EndpointSlice with one endpoint, ready or
// not, on node (may be empty).
func (e *env) setEndpoints(t *testing.T, service string, ready bool, node string) {
	t.Helper()
	setEndpointsIn(t, e.cp.Client, service, ready, node)
}

func setEndpointsIn(t *testing.T, client kubernetes.Interface, service string, ready bool, node string) {
	t.Helper()
	setEndpointsNS(t, client, namespace, service, ready, node)
}

// setEndpointsNS is setEndpointsIn for a Service of namespace ns.
func setEndpointsNS(t *testing.T, client kubernetes.Interface, ns, service string, ready bool, node string) {
	t.Helper()
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: service + "-e2e",
			Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.0.10"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}
	if node != "" {
		es.Endpoints[0].NodeName = &node
	}
	writeSliceIn(t, client, es)
}

// writeSlice creates the EndpointSlice, or replaces the one of that name.
func (e *env) writeSlice(t *testing.T, es *discoveryv1.EndpointSlice) {
	t.Helper()
	writeSliceIn(t, e.cp.Client, es)
}

func writeSliceIn(t *testing.T, client kubernetes.Interface, es *discoveryv1.EndpointSlice) {
	t.Helper()
	ctx := context.Background()
	slices := client.DiscoveryV1().EndpointSlices(es.Namespace)
	cur, err := slices.Get(ctx, es.Name, metav1.GetOptions{})
	if err == nil {
		es.ResourceVersion = cur.ResourceVersion
		_, err = slices.Update(ctx, es, metav1.UpdateOptions{})
	} else {
		_, err = slices.Create(ctx, es, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("writing EndpointSlice %s: %v", es.Name, err)
	}
}

// annotate sets (or, with an empty value, removes) an annotation.
func (e *env) annotate(t *testing.T, service, key, value string) {
	t.Helper()
	e.annotateIn(t, namespace, service, key, value)
}

// annotateIn is annotate for a Service of namespace ns.
func (e *env) annotateIn(t *testing.T, ns, service, key, value string) {
	t.Helper()
	ctx := context.Background()
	svc, err := e.cp.Client.CoreV1().Services(ns).Get(ctx, service, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if value == "" {
		delete(svc.Annotations, key)
	} else {
		svc.Annotations[key] = value
	}
	if _, err := e.cp.Client.CoreV1().Services(ns).Update(ctx, svc, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("annotating %s: %v", service, err)
	}
}

func (e *env) deleteService(t *testing.T, name string) {
	t.Helper()
	if err := e.cp.Client.CoreV1().Services(namespace).Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting Service %s: %v", name, err)
	}
}

// setNode creates or updates a Node holding ip, as a kubelet reports it.
func (e *env) setNode(t *testing.T, name string, ip netip.Addr, ready bool) {
	t.Helper()
	e.setNodeAddresses(t, name, ready, ip)
}

// setNodeAddresses writes a Node with these addresses (ExternalIP) and a
// Ready condition.
func (e *env) setNodeAddresses(t *testing.T, name string, ready bool, ips ...netip.Addr) {
	t.Helper()
	setNodeAddressesIn(t, e.cp.Client, name, ready, ips...)
}

func setNodeAddressesIn(t *testing.T, client kubernetes.Interface, name string, ready bool, ips ...netip.Addr) {
	t.Helper()
	ctx := context.Background()
	nodes := client.CoreV1().Nodes()
	n, err := nodes.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		if n, err = nodes.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating Node %s: %v", name, err)
		}
	}
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	now := metav1.Now()
	n.Status.Addresses = nil
	for _, ip := range ips {
		n.Status.Addresses = append(n.Status.Addresses, corev1.NodeAddress{Type: corev1.NodeExternalIP, Address: ip.String()})
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "E2E",
		LastHeartbeatTime: now, LastTransitionTime: now}}
	if _, err := nodes.UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("updating Node %s: %v", name, err)
	}
}

func (e *env) deleteNode(t *testing.T, name string) {
	t.Helper()
	if err := e.cp.Client.CoreV1().Nodes().Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
		t.Fatalf("deleting Node %s: %v", name, err)
	}
}

// warningEvents returns the reasons of the Warning events lbdns sent on a
// Service.
func (e *env) warningEvents(name string) ([]string, error) {
	return e.warningEventsIn(namespace, name)
}

// warningEventsIn is warningEvents for a Service of namespace ns.
func (e *env) warningEventsIn(ns, name string) ([]string, error) {
	list, err := e.cp.Client.CoreV1().Events(ns).List(context.Background(), metav1.ListOptions{
		FieldSelector: "involvedObject.name=" + name + ",type=Warning"})
	if err != nil {
		return nil, err
	}
	var reasons []string
	for _, ev := range list.Items {
		// lbdns's own: kube-apiserver's repair loop warns on Services too
		// (ClusterIPNotAllocated when it lists a Service before its
		// IPAddress), which made scenario 10 fail once.
		if ev.Source.Component != "lbdns" && ev.ReportingController != "lbdns" {
			continue
		}
		reasons = append(reasons, ev.Reason+": "+ev.Message)
	}
	return reasons, nil
}

// backend is a real HTTP server on one IP, acting as what an LB IP leads to.
// It can stop accepting (the listener closes: connection refused) and start
// again on the same address.
type backend struct {
	ip   netip.Addr
	port int
	mu   sync.Mutex
	srv  *http.Server
}

func newBackend(t *testing.T, ip string) *backend {
	t.Helper()
	b := &backend{ip: netip.MustParseAddr(ip)}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatalf("listening on %s: %v", ip, err)
	}
	b.port = ln.Addr().(*net.TCPAddr).Port
	b.serve(ln)
	t.Cleanup(b.Stop)
	return b
}

func (b *backend) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	}), ReadHeaderTimeout: 5 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

func (b *backend) Stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		_ = b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", net.JoinHostPort(b.ip.String(), strconv.Itoa(b.port)))
	if err != nil {
		t.Fatalf("re-listening on %s:%d: %v", b.ip, b.port, err)
	}
	b.serve(ln)
}

// healthz answers like kube-proxy's healthCheckNodePort server: 200 while the
// node has local endpoints, 503 without.
type healthz struct {
	local atomic.Int32
	srv   *http.Server
}

func newHealthz(t *testing.T, ip netip.Addr, port int32) *healthz {
	t.Helper()
	h := &healthz{}
	h.local.Store(1)
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(int(port))))
	if err != nil {
		t.Fatalf("healthz listen: %v", err)
	}
	h.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := h.local.Load()
		w.Header().Set("Content-Type", "application/json")
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		fmt.Fprintf(w, `{"service":{"namespace":"default","name":"e2e"},"localEndpoints":%d}`, n)
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = h.srv.Serve(ln) }()
	t.Cleanup(func() { _ = h.srv.Close() })
	return h
}
