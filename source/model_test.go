package source

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/lbdns/lbdns/model"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// One Service's update touches exactly the hostnames it asked for before and
// asks for now, and reports the targets it lost.
func TestModelUpdate(t *testing.T) {
	a := svc("a", "x.example.com,y.example.com", []string{"192.0.2.1", "192.0.2.2"})
	b := svc("b", "y.example.com", []string{"192.0.2.3"})
	c := cluster([]*corev1.Service{a, b}, []*discoveryv1.EndpointSlice{slice("a", true, "n1"), slice("b", true, "n1")},
		[]*corev1.Node{node("n1", "192.0.2.1", true)})
	m := NewModel(opts)
	nameA, nameB := types.NamespacedName{Namespace: a.Namespace, Name: "a"}, types.NamespacedName{Namespace: b.Namespace, Name: "b"}
	for _, s := range []*corev1.Service{a, b} {
		m.Update(types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, s, c)
	}
	if h, tg := m.Size(); h != 2 || tg != 3 {
		t.Fatalf("size %d hostnames, %d targets; want 2, 3", h, tg)
	}
	if g, _ := m.Group("y.example.com"); len(g.Targets) != 3 || g.Targets[0].Service != "a" || g.Targets[2].Service != "b" {
		t.Fatalf("y.example.com: %+v", g.Targets)
	}
	if g, _ := m.Group("x.example.com"); g.Targets[0].Node != "n1" || g.Targets[1].Node != "" {
		t.Errorf("x.example.com: nodes %q %q, want n1 and none", g.Targets[0].Node, g.Targets[1].Node)
	}

	// a moves to z and loses one IP.
	a2 := svc("a", "z.example.com", []string{"192.0.2.1"})
	hostnames, removed, _ := m.Update(nameA, a2, c)
	slices.Sort(hostnames)
	if want := []string{"x.example.com", "y.example.com", "z.example.com"}; !slices.Equal(hostnames, want) {
		t.Errorf("touched %v, want %v", hostnames, want)
	}
	if len(removed) != 1 || removed[0].IP.String() != "192.0.2.2" {
		t.Errorf("removed %v, want the target on 192.0.2.2", removed)
	}
	if _, ok := m.Group("x.example.com"); ok {
		t.Error("x.example.com still exists with no Service asking for it")
	}
	if got := m.ServicesOn(netip.MustParseAddr("192.0.2.1")); len(got) != 1 || got[0] != nameA {
		t.Errorf("Services on 192.0.2.1: %v", got)
	}

	// b is deleted: only y is touched, every index forgets it.
	hostnames, removed, _ = m.Update(nameB, nil, c)
	if !slices.Equal(hostnames, []string{"y.example.com"}) || len(removed) != 1 {
		t.Errorf("deleting b touched %v, removed %v", hostnames, removed)
	}
	if m.HostnamesOf(nameB) != nil || len(m.ServicesOn(netip.MustParseAddr("192.0.2.3"))) != 0 || !slices.Equal(m.Hostnames(), []string{"z.example.com"}) {
		t.Errorf("b is still known: hostnames %v", m.Hostnames())
	}
	if h, tg := m.Size(); h != 1 || tg != 1 {
		t.Errorf("size %d hostnames, %d targets; want 1, 1", h, tg)
	}
}

// Build, the whole-cluster path, and the Model agree on a cluster.
func TestBuildIsTheModelOfAllServices(t *testing.T) {
	c := cluster([]*corev1.Service{svc("a", "x.example.com", []string{"192.0.2.1"}), svc("b", "x.example.com", []string{"192.0.2.1"})},
		[]*discoveryv1.EndpointSlice{slice("a", false, "n1"), slice("b", true, "n1")}, nil)
	groups, _ := Build(c, opts)
	if len(groups) != 1 || len(groups[0].Targets) != 2 || groups[0].Targets[0].Signal != model.NoReadyEndpoints || groups[0].Targets[1].Signal != "" {
		t.Fatalf("groups %+v", groups)
	}
}

// A hostname's floor is the strictest its Services set, field by field.
func TestModelGroupFloor(t *testing.T) {
	a := svc("a", "x.example.com", []string{"192.0.2.1"})
	a.Annotations[prefix+AnnotationMinNodes] = "3"
	b := svc("b", "x.example.com", []string{"192.0.2.2"})
	b.Annotations[prefix+AnnotationMinNodes] = "2"
	b.Annotations[prefix+AnnotationMinCapacity] = "1.5G"
	c := cluster([]*corev1.Service{a, b}, nil, nil)
	m := NewModel(opts)
	for _, s := range []*corev1.Service{a, b} {
		m.Update(types.NamespacedName{Namespace: s.Namespace, Name: s.Name}, s, c)
	}
	if g, _ := m.Group("x.example.com"); g.Floor != (model.Floor{Nodes: 3, BitsPerSecond: 1.5e9}) {
		t.Errorf("floor %+v, want 3 nodes and 1.5G", g.Floor)
	}
}
