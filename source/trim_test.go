package source

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
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
