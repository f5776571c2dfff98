package source

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"
)

// The node-selector check tells where the IP sits against what the selector
// picks, and which picked nodes run no ready pod; it never changes health.
func TestNodeSelectorCheck(t *testing.T) {
	pool := func(v string) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Labels = map[string]string{"lb-pool": v} }
	}
	nodes := []*corev1.Node{
		node("n1", "192.0.2.1", true, pool("a")), node("n2", "192.0.2.102", true, pool("a")),
		node("n3", "192.0.2.103", false, pool("a")), // NotReady: the cloud puts no IP there
		node("n4", "192.0.2.2", true, pool("b")),
	}
	selector := func(sel string) svcOpt {
		return func(s *corev1.Service) { s.Annotations[AnnotationIONOSNodeSelector] = sel }
	}
	tests := []struct {
		name     string
		svc      *corev1.Service
		slice    *discoveryv1.EndpointSlice
		warnings []string // reason: words of the message
		notes    int      // on the first target
	}{
		{name: "no selector", svc: svc("s", "x.example.com", []string{"192.0.2.1"}), slice: slice("s", true, "n1")},
		{name: "pods on every picked node", svc: svc("s", "x.example.com", []string{"192.0.2.1"}, selector("lb-pool=a")),
			slice: slice("s", true, "n1", "n2")},
		{name: "a picked node without pods", svc: svc("s", "x.example.com", []string{"192.0.2.1"}, selector("lb-pool=a")),
			slice: slice("s", true, "n1"), warnings: []string{"NodeSelectorWithoutPods: lb-pool=a picks node(s) n2 that run no ready endpoint"}, notes: 1},
		{name: "Local: traffic dropped", svc: svc("s", "x.example.com", []string{"192.0.2.1"}, selector("lb-pool=a"), local(30000)),
			slice: slice("s", true, "n1"), warnings: []string{"NodeSelectorWithoutPods: externalTrafficPolicy Local its traffic is dropped"}, notes: 1},
		{name: "IP on a node the selector does not pick", svc: svc("s", "x.example.com", []string{"192.0.2.2"}, selector("lb-pool=a")),
			slice: slice("s", true, "n1", "n2", "n4"), warnings: []string{"NodeSelectorMismatch: 192.0.2.2 sits on node n4, which its node-selector lb-pool=a does not pick"}, notes: 1},
		{name: "picks no Ready node", svc: svc("s", "x.example.com", []string{"192.0.2.1"}, selector("lb-pool=c")),
			slice: slice("s", true, "n1"), warnings: []string{"NodeSelectorMismatch: 192.0.2.1 sits on node n1", "NodeSelectorMismatch: lb-pool=c picks no Ready node"}, notes: 2},
		{name: "pods of unknown nodes: not compared", svc: svc("s", "x.example.com", []string{"192.0.2.1"}, selector("lb-pool=a")),
			slice: slice("s", true, "")},
		{name: "bad selector", svc: svc("s", "x.example.com", []string{"192.0.2.1"}, selector("lb-pool==(")),
			slice: slice("s", true, "n1"), warnings: []string{"InvalidAnnotation: cloud.ionos.com/node-selector"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "pods of unknown nodes: not compared" {
				tt.slice.Endpoints[0].NodeName = nil
			}
			c := cluster([]*corev1.Service{tt.svc}, []*discoveryv1.EndpointSlice{tt.slice}, nodes)
			m := NewModel(opts)
			_, _, warnings := m.Update(types.NamespacedName{Namespace: tt.svc.Namespace, Name: tt.svc.Name}, tt.svc, c)
			if len(warnings) != len(tt.warnings) {
				t.Fatalf("warnings %+v, want %d", warnings, len(tt.warnings))
			}
			for i, w := range tt.warnings {
				reason, words, _ := strings.Cut(w, ": ")
				if warnings[i].Reason != reason || !strings.Contains(warnings[i].Message, words) {
					t.Errorf("warning %s: %s, want %s", warnings[i].Reason, warnings[i].Message, w)
				}
			}
			g, _ := m.Group("x.example.com")
			if tg := g.Targets[0]; len(tg.Notes) != tt.notes || tg.Signal != "" && tt.svc.Spec.ExternalTrafficPolicy == "" {
				t.Errorf("target %+v: want %d notes and no signal", tg, tt.notes)
			}
			if got := len(m.NodeSelectorServices()); got != len(tt.svc.Annotations)-1 {
				t.Errorf("%d Services with a node-selector", got)
			}
		})
	}
}
