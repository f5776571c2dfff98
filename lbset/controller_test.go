package lbset

import (
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// fakeView is lbdns's view as a test sets it.
type fakeView struct {
	nodes     []*corev1.Node
	published map[string]bool // service name
	refuse    string          // MayClaim's answer when not ""
}

func (v *fakeView) Nodes() []*corev1.Node                         { return v.nodes }
func (v *fakeView) ReadyNodesOf(_, _ string) []string             { return nil }
func (v *fakeView) Traffic(netip.Addr) (float64, bool)            { return 0, false }
func (v *fakeView) Bandwidth(*corev1.Node) float64                { return 2e9 }
func (v *fakeView) Published(_, _, svc string, _ netip.Addr) bool { return v.published[svc] }
func (v *fakeView) MayClaim(_, _ string) (bool, string)           { return v.refuse == "", v.refuse }

func readyNode(name string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{DefaultNodeLabel: name}},
		Status: corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}}}
}

// harness runs the controller against fake clients holding one set.
type harness struct {
	ctl  *Controller
	kube *fake.Clientset
	dyn  *dynamicfake.FakeDynamicClient
	view *fakeView
	set  *LoadBalancerSet
}

func newHarness(t *testing.T, set *LoadBalancerSet) *harness {
	set.TypeMeta = metav1.TypeMeta{APIVersion: Group + "/" + Version, Kind: Kind}
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(set)
	if err != nil {
		t.Fatal(err)
	}
	dyn := dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GroupVersionResource: Kind + "List"}, &unstructured.Unstructured{Object: obj})
	h := &harness{kube: fake.NewClientset(), dyn: dyn, set: set,
		view: &fakeView{nodes: []*corev1.Node{readyNode("n0"), readyNode("n1"), readyNode("n2")}, published: map[string]bool{}}}
	h.ctl = New(h.kube, dyn, h.view, Options{AnnotationPrefix: "lbdns.io/", DrainFor: time.Minute, Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time { return t0 }})
	return h
}

func (h *harness) sync(t *testing.T) Outcome {
	t.Helper()
	list, err := h.kube.CoreV1().Services(h.set.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var svcs []*corev1.Service
	for i := range list.Items {
		svcs = append(svcs, &list.Items[i])
	}
	out := h.ctl.Sync(context.Background(), "", []*LoadBalancerSet{h.set}, svcs)
	if len(out) != 1 {
		t.Fatalf("%d outcomes", len(out))
	}
	u, err := h.dyn.Resource(GroupVersionResource).Namespace(h.set.Namespace).Get(context.Background(), h.set.Name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if h.set, err = FromUnstructured(u.Object); err != nil {
		t.Fatal(err)
	}
	return out[0]
}

func (h *harness) services(t *testing.T) []corev1.Service {
	list, err := h.kube.CoreV1().Services(h.set.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return list.Items
}

// A new set creates its minimum of Services on distinct nodes and says so
// in its status; a dry run only says what it would do.
func TestControllerCreatesMinimum(t *testing.T) {
	h := newHarness(t, testSet())
	if o := h.sync(t); o.Err != nil || len(o.Written) != 2 {
		t.Fatalf("outcome %+v", o)
	}
	svcs := h.services(t)
	if len(svcs) != 2 || svcs[0].Labels[LabelNode] == svcs[1].Labels[LabelNode] {
		t.Fatalf("services %+v", svcs)
	}
	if h.set.Status.Desired != 2 || h.set.Status.Ready != 0 || len(h.set.Status.Services) != 0 || h.set.Status.LastDecision == "" {
		t.Fatalf("status %+v", h.set.Status)
	}

	dry := testSet()
	dry.Spec.DryRun = true
	h = newHarness(t, dry)
	if o := h.sync(t); len(o.Plan.Actions) != 2 || len(o.Written) != 0 || len(h.services(t)) != 0 {
		t.Fatalf("dry run wrote: %+v", o)
	}
	if h.set.Status.LastDecision[:8] != "dry run," {
		t.Fatalf("dry run status %q", h.set.Status.LastDecision)
	}
}

// A namespace that may not claim the hostname gets no Service, and the
// status says why; so does an invalid spec.
func TestControllerRefusesWhatItMayNotDo(t *testing.T) {
	h := newHarness(t, testSet())
	h.view.refuse = "app.example.com belongs to namespace team-b"
	h.sync(t)
	if len(h.services(t)) != 0 || conditionOf(h.set, "HostnameAllowed") != metav1.ConditionFalse {
		t.Fatalf("services %d, status %+v", len(h.services(t)), h.set.Status.Conditions)
	}
	bad := testSet()
	bad.Spec.MinServices = 9
	long := testSet()
	long.Name = strings.Repeat("x", MaxNameLength+1)
	for _, set := range []*LoadBalancerSet{bad, long} {
		h = newHarness(t, set)
		h.sync(t)
		if len(h.services(t)) != 0 || conditionOf(h.set, "Valid") != metav1.ConditionFalse {
			t.Fatalf("invalid set %s: services %d, status %+v", set.Name, len(h.services(t)), h.set.Status.Conditions)
		}
	}
}

// A Service that merely carries the set's label is never touched, even when
// the set has more Services than it wants.
func TestControllerLeavesForeignServicesAlone(t *testing.T) {
	h := newHarness(t, testSet())
	s, _ := SettingsOf(h.set.Spec)
	foreign := NewService(h.set, s, "lbdns.io/", 7, "n2", "n2")
	foreign.OwnerReferences = nil
	if _, err := h.kube.CoreV1().Services(h.set.Namespace).Create(context.Background(), foreign, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		h.sync(t)
		for _, svc := range h.services(t) {
			h.view.published[svc.Name] = true
		}
	}
	names := map[string]bool{}
	for _, svc := range h.services(t) {
		names[svc.Name] = true
	}
	if !names["web-7"] || len(names) != 3 {
		t.Fatalf("services %v", names)
	}
}

func conditionOf(set *LoadBalancerSet, typ string) metav1.ConditionStatus {
	for _, c := range set.Status.Conditions {
		if c.Type == typ {
			return c.Status
		}
	}
	return ""
}
