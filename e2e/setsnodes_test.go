package e2e

import (
	"context"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"
)

const (
	setsRealNamespace = "sets-real"
	setsRealPrefix    = "sets.lbdns.io/"
	setsRealLabel     = "lbdns-e2e/set-real"
)

// nodeCloudStandIn stands in for IONOS's cloud controller on the suite's
// real nodes: a Service of the namespace pinned by its node selector
// (kubernetes.io/hostname=<node>) gets an LB IP on that node's uplink, as
// IONOS puts a Service's IP on a node its selector picks; kube-proxy on the
// node forwards it to the pods. It also writes the Service's EndpointSlice
// (every pod of the set, as the EndpointSlice controller would; it does not
// run here). It is not IONOS's controller.
type nodeCloudStandIn struct {
	e      *env
	pods   []podEndpoint
	ipOf   map[string]netip.Addr // node -> its LB IP
	mu     sync.Mutex
	placed map[string]bool
	down   map[string]bool // nodes whose pods are gone (the node died)
}

func (c *nodeCloudStandIn) place(ctx context.Context, t *testing.T, svc *corev1.Service) {
	node, ok := strings.CutPrefix(svc.Annotations["cloud.ionos.com/node-selector"], "kubernetes.io/hostname=")
	ip, known := c.ipOf[node]
	if !ok || !known || len(svc.Status.LoadBalancer.Ingress) > 0 {
		return
	}
	c.mu.Lock()
	if !c.placed[node] {
		for _, n := range c.e.nodes {
			if n.name == node {
				if err := c.e.placeLBIPOn(n, ip, n.uplink()); err != nil {
					t.Errorf("stand-in: placing %s on %s: %v", ip, node, err)
				}
			}
		}
		c.placed[node] = true
	}
	c.mu.Unlock()
	es := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: setsRealNamespace, Name: svc.Name + "-e2e",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptrTo("web"), Port: ptrTo(int32(8080)), Protocol: ptrTo(corev1.ProtocolTCP)}},
	}
	c.mu.Lock()
	down := maps.Clone(c.down)
	c.mu.Unlock()
	for _, p := range c.pods {
		if down[p.node] {
			continue
		}
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{Addresses: []string{p.ip.String()}, NodeName: ptrTo(p.node),
			Conditions: discoveryv1.EndpointConditions{Ready: ptrTo(true), Serving: ptrTo(true), Terminating: ptrTo(false)}})
	}
	if _, err := c.e.cp.Client.DiscoveryV1().EndpointSlices(setsRealNamespace).Create(ctx, es, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Logf("stand-in: EndpointSlice of %s: %v", svc.Name, err)
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
	if _, err := c.e.cp.Client.CoreV1().Services(setsRealNamespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil && !apierrors.IsConflict(err) {
		t.Logf("stand-in: status of %s: %v", svc.Name, err)
	}
}

// scenarioSetScalesWithTraffic: a LoadBalancerSet of one to two Services on
// the two real nodes, with node agents measuring the uplinks. Traffic
// through the first Service's node above half of its (annotated) 40 Mbit/s
// adds a Service on the other node; when the traffic stops, one is drained
// and deleted.
func scenarioSetScalesWithTraffic(t *testing.T, e *env) {
	if len(e.nodes) < 2 {
		t.Skip("needs the real nodes, which need root (CI runs as root)")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	dyn := e.setsPrerequisites(t)
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: setsRealNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	cloud := &nodeCloudStandIn{e: e, ipOf: map[string]netip.Addr{}, placed: map[string]bool{}, down: map[string]bool{}}
	for i, n := range e.nodes[:2] {
		pod, err := n.startPod(netip.AddrFrom4([4]byte{10, 252, 17, byte(i + 1)}))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pod.Stop)
		cloud.pods = append(cloud.pods, podEndpoint{ip: pod.ip, node: n.name})
		cloud.ipOf[n.name] = netip.AddrFrom4([4]byte{10, 251, 17, byte(i + 1)})
		e.labelNode(t, n.name, setsRealLabel, "yes")
		e.annotateNode(t, n.name, setsRealPrefix+"bandwidth", "40M")
	}
	t.Cleanup(func() {
		cancel()
		_ = dyn.Resource(setsGVR).Namespace(setsRealNamespace).Delete(context.Background(), "web", metav1.DeleteOptions{})
		if list, err := e.cp.Client.CoreV1().Services(setsRealNamespace).List(context.Background(), metav1.ListOptions{}); err == nil {
			for _, svc := range list.Items {
				_ = e.cp.Client.CoreV1().Services(setsRealNamespace).Delete(context.Background(), svc.Name, metav1.DeleteOptions{})
			}
		}
	})
	go e.watchServices(ctx, setsRealNamespace, func(svc *corev1.Service) { cloud.place(ctx, t, svc) })
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := e.newLbdns("lbdns-sets-real", "LBDNS_NAMESPACE="+setsRealNamespace, "LBDNS_ANNOTATION_PREFIX="+setsRealPrefix,
		"LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES="+setsZone, "LBDNS_DNS_RRL_RATE=0", "LBDNS_TTL=2",
		"LBDNS_SETS=true", "LBDNS_SETS_INTERVAL=1s",
		"LBDNS_AGENT_PORT="+agentPort, "LBDNS_AGENT_INTERVAL=1s", "LBDNS_AGENT_TOKEN="+agentToken)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	host := "real." + setsZone
	createScalingSet(ctx, t, dyn, host)
	first := waitAnswerCount(t, dnsAddr, host, 1, 60*time.Second)

	start := time.Now()
	stop := sendLoad(t, first[0])
	second := waitAnswerCount(t, dnsAddr, host, 2, 90*time.Second)
	out := time.Since(start)
	sent := stop()
	record(t, "PASS traffic through %s's node (%.0f Mbit/s against 40 Mbit/s x 50 %%) added a second Service on the other node, published %s after the traffic began (%v)",
		first[0], sent/1e6, out.Round(100*time.Millisecond), second)

	stopped := time.Now()
	fewest := 2
	err = framework.WaitFor(90*time.Second, "one Service drained and deleted", func() error {
		got, err := framework.Lookup(dnsAddr, host, "A")
		if err != nil {
			return err
		}
		fewest = min(fewest, len(got))
		list, err := e.cp.Client.CoreV1().Services(setsRealNamespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			return err
		}
		if len(got) != 1 || len(list.Items) != 1 {
			return fmt.Errorf("answer %v, %d Services", got, len(list.Items))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if fewest < 1 {
		t.Fatalf("an answer without IPs while the set scaled in")
	}
	record(t, "PASS the traffic stopped: one Service drained (weight 0), then deleted; %s after the traffic stopped, never fewer than 1 IP",
		time.Since(stopped).Round(100*time.Millisecond))
	killSetNode(t, e, cloud, dnsAddr, host)
}

// killSetNode takes down the real node that carries the set's one Service
// (its link, and its Node NotReady) and waits until a replacement on the
// other node answers, through that node's kube-proxy.
func killSetNode(t *testing.T, e *env, cloud *nodeCloudStandIn, dnsAddr, host string) {
	got, err := framework.Lookup(dnsAddr, host, "A")
	if err != nil || len(got) != 1 {
		t.Fatalf("before the kill: %v, %v", got, err)
	}
	var dead, other *simNode
	for _, n := range e.nodes[:2] {
		if cloud.ipOf[n.name].String() == got[0] {
			dead = n
		} else {
			other = n
		}
	}
	cloud.mu.Lock()
	cloud.down[dead.name] = true
	cloud.mu.Unlock()
	killed := time.Now()
	if err := dead.setLink(false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = dead.setLink(true)
		e.setNodeReady(t, dead.name, true)
	})
	e.setNodeReady(t, dead.name, false)
	want := cloud.ipOf[other.name].String()
	answers, empty := 0, 0
	err = framework.WaitFor(90*time.Second, "a replacement on "+other.name, func() error {
		got, err := framework.Lookup(dnsAddr, host, "A")
		if err != nil {
			return err
		}
		answers++
		if len(got) == 0 {
			empty++
		}
		if len(got) != 1 || got[0] != want {
			return fmt.Errorf("answer %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if empty > 0 {
		t.Fatalf("%d of %d answers had no IP while the set replaced its Service", empty, answers)
	}
	record(t, "PASS node %s died (link down, NotReady): the set's replacement on %s answered through its kube-proxy %s later; no empty answer in %d",
		dead.name, other.name, time.Since(killed).Round(100*time.Millisecond), answers)
}

// createScalingSet creates a set of one to two Services with short
// hysteresis for the test.
func createScalingSet(ctx context.Context, t *testing.T, dyn dynamic.Interface, host string) {
	set := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "lbdns.io/v1alpha1", "kind": "LoadBalancerSet",
		"metadata": map[string]any{"name": "web", "namespace": setsRealNamespace},
		"spec": map[string]any{
			"hostname": host, "minServices": int64(1), "maxServices": int64(2), "targetPercent": int64(50),
			"scaleOutAfter": "3s", "scaleInAfter": "4s", "cooldown": "4s",
			"template": map[string]any{
				"selector": map[string]any{"app": "set-real"},
				"ports":    []any{map[string]any{"name": "web", "port": int64(80), "targetPort": int64(8080), "protocol": "TCP"}},
			},
			"placement": map[string]any{"nodeSelector": map[string]any{setsRealLabel: "yes"}},
		},
	}}
	if _, err := dyn.Resource(setsGVR).Namespace(setsRealNamespace).Create(ctx, set, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// sendLoad downloads from ip:80 in a loop (at most 2 minutes) until the
// returned stop is called, which returns the rate it sent in bits/s.
func sendLoad(t *testing.T, ip string) func() float64 {
	var bytes atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(finished)
		client := &http.Client{Timeout: 5 * time.Second}
		for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
			select {
			case <-done:
				return
			default:
			}
			resp, err := client.Get("http://" + net.JoinHostPort(ip, "80") + "/bytes")
			if err != nil {
				time.Sleep(50 * time.Millisecond)
				continue
			}
			n, _ := io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			bytes.Add(n)
		}
	}()
	return func() float64 {
		close(done)
		<-finished
		return float64(bytes.Load()*8) / time.Since(start).Seconds()
	}
}
