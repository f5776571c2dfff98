package informer

import (
	"reflect"
	"strings"
	"testing"

	"github.com/lbdns/lbdns/internal/testkube"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"
)

func trimmed(t *testing.T, tr Trimmer, svc *corev1.Service) *corev1.Service {
	t.Helper()
	out, err := tr.Transform(svc)
	if err != nil {
		t.Fatal(err)
	}
	return out.(*cachedService).Service()
}

// The cache keeps only the annotations lbdns reads, bounded; of a Service
// that is not a LoadBalancer, only that it asks for a hostname.
func TestTrimKeepsOnlyWhatLbdnsReads(t *testing.T) {
	tr := Trimmer{AnnotationPrefix: "lbdns.io/"}
	huge := strings.Repeat("x", 200<<10)
	lb := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", Annotations: map[string]string{
		"lbdns.io/hostname": "a.example.com", "lbdns.io/junk": huge, "lbdns.io/weight": huge, "other.io/x": "y"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	got := trimmed(t, tr, lb).Annotations
	if len(got) != 2 || got["lbdns.io/hostname"] != "a.example.com" || len(got["lbdns.io/weight"]) != maxKeptValue {
		t.Fatalf("kept %d annotations, weight of %d bytes", len(got), len(got["lbdns.io/weight"]))
	}
	cip := lb.DeepCopy()
	cip.Spec.Type = corev1.ServiceTypeClusterIP
	cip.Annotations["lbdns.io/hostname"] = huge
	got = trimmed(t, tr, cip).Annotations
	if v, ok := got["lbdns.io/hostname"]; len(got) != 1 || !ok || v != "" {
		t.Fatalf("ClusterIP Service kept %v", len(got))
	}
}

// LBDNS_ANNOTATION_FILTER: a Service it does not select does not opt in.
func TestTrimAnnotationFilter(t *testing.T) {
	sel, err := labels.Parse("team=a")
	if err != nil {
		t.Fatal(err)
	}
	tr := Trimmer{AnnotationPrefix: "lbdns.io/", AnnotationFilter: sel}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: "n", Annotations: map[string]string{"lbdns.io/hostname": "a.example.com"}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer}}
	if got := trimmed(t, tr, svc).Annotations; len(got) != 0 {
		t.Fatalf("unselected Service kept %v", got)
	}
	svc.Annotations["team"] = "a"
	if got := trimmed(t, tr, svc).Annotations; got["lbdns.io/hostname"] != "a.example.com" {
		t.Fatalf("selected Service kept %v", got)
	}
}

const prefix = "lbdns.io/"

func TestTrimmer(t *testing.T) {
	tr := Trimmer{AnnotationPrefix: prefix}
	n := testkube.Node("n1", "192.0.2.1", true)
	n.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet"}}
	n.Annotations = map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}", prefix + "bandwidth": "10G"}
	n.Status.Images = []corev1.ContainerImage{{Names: []string{"big"}}}
	n.Status.Conditions = append(n.Status.Conditions, corev1.NodeCondition{Type: corev1.NodeMemoryPressure, Status: corev1.ConditionFalse})
	out, _ := tr.Transform(n)
	gotNode := out.(*corev1.Node)
	if gotNode.ManagedFields != nil || len(gotNode.Annotations) != 1 || gotNode.Annotations[prefix+"bandwidth"] != "10G" || gotNode.Status.Images != nil {
		t.Errorf("Node not trimmed: %+v", gotNode)
	}
	if c := gotNode.Status.Conditions; len(c) != 1 || c[0].Type != corev1.NodeReady || c[0].Status != corev1.ConditionTrue || len(gotNode.Status.Addresses) != 1 {
		t.Errorf("Trimmer dropped the Ready condition or the addresses: %+v", gotNode.Status)
	}

	s := testkube.LoadBalancer("default", "a", map[string]string{prefix + "hostname": "app.example.com", prefix + "weight": "5",
		"external-dns.kubernetes.io/hostname": "app.example.com", "helm.sh/chart": "x"}, []corev1.ServicePort{{Name: "http", Port: 80}}, "192.0.2.1")
	s.Spec.Selector = map[string]string{"app": "a"}
	s.Spec.ClusterIPs = []string{"10.96.0.1"}
	out, _ = tr.Transform(s)
	gotSvc := out.(*cachedService).Service()
	if len(gotSvc.Annotations) != 3 || gotSvc.Annotations["helm.sh/chart"] != "" || gotSvc.Spec.Selector != nil || gotSvc.Spec.ClusterIPs != nil {
		t.Errorf("Service not trimmed: %+v", gotSvc)
	}
	if gotSvc.UID != s.UID || gotSvc.Name != s.Name || gotSvc.Namespace != s.Namespace || gotSvc.ResourceVersion != s.ResourceVersion ||
		gotSvc.Spec.Type != corev1.ServiceTypeLoadBalancer || gotSvc.Spec.Ports[0].Port != s.Spec.Ports[0].Port ||
		gotSvc.Status.LoadBalancer.Ingress[0].IP != "192.0.2.1" {
		t.Errorf("Trimmer dropped what Build reads: %+v", gotSvc)
	}
	if got := out.(*cachedService).DeepCopyObject().(*cachedService).Service(); !reflect.DeepEqual(got, gotSvc) {
		t.Errorf("a deep copy differs: %+v", got)
	}
	plain := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{"x": "y"}}, Spec: corev1.ServiceSpec{Ports: s.Spec.Ports}}
	if out, _ := tr.Transform(plain); out.(*cachedService).Service().Annotations != nil || out.(*cachedService).Service().Spec.Ports != nil {
		t.Errorf("a Service that does not opt in keeps more than its identity: %+v", out)
	}

	es := testkube.EndpointSlice("default", "a", true, "n1")
	for range 50 { // many pods on two nodes, some not ready
		es.Endpoints = append(es.Endpoints, es.Endpoints[0], testkube.EndpointSlice("default", "a", false, "n2").Endpoints[0])
	}
	out, _ = tr.Transform(es)
	gotSlice := out.(*cachedSlice)
	if len(gotSlice.endpoints) != 2 || gotSlice.service != "a" || !gotSlice.hasLabel {
		t.Errorf("EndpointSlice: %d endpoints (want one per ready/node pair: 2), service %q", len(gotSlice.endpoints), gotSlice.service)
	}
	if name, ok := ServiceOf(out); !ok || name.Name != "a" || name.Namespace != es.Namespace {
		t.Errorf("the Service of a cached EndpointSlice: %v %v", name, ok)
	}
	if ep := gotSlice.endpoints; !ep[0].ready || ep[0].node != "n1" || ep[1].ready || ep[1].node != "n2" {
		t.Errorf("endpoints after trimming: %+v", ep)
	}
}

// The informer keys a cached object on every event: by its own name, without
// building an ObjectMeta.
func TestCachedObjectsKeyWithoutCopies(t *testing.T) {
	svc := testkube.LoadBalancer("web", "a", map[string]string{"lbdns.io/hostname": "a.example.com"}, nil, "192.0.2.1")
	obj, err := Trimmer{AnnotationPrefix: "lbdns.io/"}.Transform(svc)
	if err != nil {
		t.Fatal(err)
	}
	if key, err := cache.MetaNamespaceKeyFunc(obj); err != nil || key != "web/a" {
		t.Fatalf("key %q, %v", key, err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = cache.MetaNamespaceKeyFunc(obj) }); n > 1 {
		t.Errorf("keying a cached Service allocates %.0f times, want at most the key itself", n)
	}
}
