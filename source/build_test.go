package source

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/internal/testkube"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

var opts = Options{AnnotationPrefix: prefix, DefaultTTL: 30, KubeProxyHealthPort: 10256}

type svcOpt func(*corev1.Service)

func svc(name, hostname string, ips []string, o ...svcOpt) *corev1.Service {
	s := testkube.LoadBalancer("default", name, map[string]string{prefix + "hostname": hostname},
		[]corev1.ServicePort{{Name: "http", Port: 80}, {Name: "admin", Port: 9000}}, ips...)
	for _, f := range o {
		f(s)
	}
	return s
}

func annotate(k, v string) svcOpt {
	return func(s *corev1.Service) { s.Annotations[prefix+k] = v }
}

// annotateRaw sets an annotation without lbdns's prefix.
func annotateRaw(k, v string) svcOpt {
	return func(s *corev1.Service) { s.Annotations[k] = v }
}

func local(hcnp int32) svcOpt {
	return func(s *corev1.Service) {
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
		s.Spec.HealthCheckNodePort = hcnp
	}
}

// slice returns an EndpointSlice for the Service with endpoints on nodes.
func slice(service string, ready bool, nodes ...string) *discoveryv1.EndpointSlice {
	return testkube.EndpointSlice("default", service, ready, nodes...)
}

func node(name, ip string, ready bool, o ...func(*corev1.Node)) *corev1.Node {
	n := testkube.Node(name, ip, ready)
	for _, f := range o {
		f(n)
	}
	return n
}

func cluster(services []*corev1.Service, slices []*discoveryv1.EndpointSlice, nodes []*corev1.Node) Cluster {
	c := Cluster{Services: services, Slices: map[types.NamespacedName][]*discoveryv1.EndpointSlice{}, Nodes: map[netip.Addr]*corev1.Node{}}
	for _, s := range slices {
		k := types.NamespacedName{Namespace: s.Namespace, Name: s.Labels[discoveryv1.LabelServiceName]}
		c.Slices[k] = append(c.Slices[k], s)
	}
	for _, n := range nodes {
		for _, ip := range NodeIPs(n) {
			c.Nodes[ip] = n
		}
	}
	return c
}

// describe renders groups as "host: svc/ip[reason] ..." for compact asserts.
func describe(groups []model.Group) string {
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "%s:", g.Hostname)
		for _, t := range g.Targets {
			fmt.Fprintf(&b, " %s/%s", t.Service, t.IP)
			if t.Signal != "" {
				fmt.Fprintf(&b, "[%s]", t.Signal)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}

func TestBuildGroupsAndSignals(t *testing.T) {
	tests := []struct {
		name     string
		c        Cluster
		want     string
		warnings []string // reasons
	}{
		{
			name: "two Services, one hostname, A and AAAA",
			c: cluster([]*corev1.Service{
				svc("b", "app.example.com", []string{"192.0.2.2"}),
				svc("a", "app.example.com", []string{"192.0.2.1", "2001:db8::1"}),
			}, []*discoveryv1.EndpointSlice{slice("a", true, "n1"), slice("b", true, "n2")}, nil),
			want: "app.example.com: a/192.0.2.1 a/2001:db8::1 b/192.0.2.2; ",
		},
		{
			name: "comma list puts a Service in two groups",
			c: cluster([]*corev1.Service{svc("a", "x.example.com,y.example.com", []string{"192.0.2.1"})},
				[]*discoveryv1.EndpointSlice{slice("a", true, "n1")}, nil),
			want: "x.example.com: a/192.0.2.1; y.example.com: a/192.0.2.1; ",
		},
		{
			name: "hostname-only ingress is ignored with a warning",
			c: func() Cluster {
				s := svc("a", "app.example.com", []string{"192.0.2.1"})
				s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{Hostname: "lb.cloud.example"})
				return cluster([]*corev1.Service{s}, []*discoveryv1.EndpointSlice{slice("a", true, "n1")}, nil)
			}(),
			want:     "app.example.com: a/192.0.2.1; ",
			warnings: []string{ReasonIngressHostnameIgnored},
		},
		{
			name: "not a LoadBalancer, and no annotation",
			c: func() Cluster {
				s := svc("a", "app.example.com", []string{"192.0.2.1"})
				s.Spec.Type = corev1.ServiceTypeClusterIP
				plain := svc("b", "", []string{"192.0.2.2"})
				delete(plain.Annotations, prefix+"hostname")
				return cluster([]*corev1.Service{s, plain}, nil, nil)
			}(),
			want:     "",
			warnings: []string{ReasonNotLoadBalancer},
		},
		{
			name: "no ready endpoint withdraws every IP of the Service",
			c: cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1"}), svc("b", "app.example.com", []string{"192.0.2.2"})},
				[]*discoveryv1.EndpointSlice{slice("a", false, "n1"), slice("b", true, "n2")}, nil),
			want: "app.example.com: a/192.0.2.1[NoReadyEndpoints] b/192.0.2.2; ",
		},
		{
			name: "no EndpointSlice at all counts as no ready endpoint",
			c:    cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1"})}, nil, nil),
			want: "app.example.com: a/192.0.2.1[NoReadyEndpoints]; ",
		},
		{
			name: "node states",
			c: cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"})},
				[]*discoveryv1.EndpointSlice{slice("a", true, "n1")}, []*corev1.Node{
					node("n1", "192.0.2.1", true),
					node("n2", "192.0.2.2", false),
					node("n3", "192.0.2.3", true, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
					node("n4", "192.0.2.4", true, func(n *corev1.Node) {
						n.Spec.Taints = []corev1.Taint{{Key: TaintToBeDeleted, Effect: corev1.TaintEffectNoSchedule}}
					}),
					node("n5", "192.0.2.5", true, func(n *corev1.Node) { n.Status.Conditions = nil }),
				}),
			want: "app.example.com: a/192.0.2.1 a/192.0.2.2[NodeNotReady] a/192.0.2.3[NodeCordoned] a/192.0.2.4[NodeToBeDeleted] a/192.0.2.5[NodeNotReady]; ",
		},
		{
			name: "externalTrafficPolicy Local needs a ready endpoint on the node holding the IP",
			c: cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1", "192.0.2.2", "192.0.2.9"}, local(31000))},
				[]*discoveryv1.EndpointSlice{slice("a", true, "n1"), slice("a", false, "n2")},
				[]*corev1.Node{node("n1", "192.0.2.1", true), node("n2", "192.0.2.2", true)}),
			want: "app.example.com: a/192.0.2.1 a/192.0.2.2[NoLocalEndpoint] a/192.0.2.9; ",
		},
		{
			name: "bad annotation warns, the Service still works with defaults",
			c: cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1"}, annotate("weight", "heavy"))},
				[]*discoveryv1.EndpointSlice{slice("a", true, "n1")}, nil),
			want:     "app.example.com: a/192.0.2.1; ",
			warnings: []string{ReasonInvalidAnnotation},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			groups, warnings := Build(tt.c, opts)
			if got := describe(groups); got != tt.want {
				t.Errorf("groups:\n got %s\nwant %s", got, tt.want)
			}
			var reasons []string
			for _, w := range warnings {
				reasons = append(reasons, w.Reason)
				if w.Service == nil || w.Message == "" {
					t.Errorf("warning without Service or message: %+v", w)
				}
			}
			if !slices.Equal(reasons, tt.warnings) {
				t.Errorf("warnings = %v, want %v", reasons, tt.warnings)
			}
		})
	}
}

// LBDNS_WITHDRAW_CORDONED=false keeps a cordoned node's IP; the rest of the
// node signals stay.
func TestBuildKeepCordoned(t *testing.T) {
	c := cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1", "192.0.2.2"})},
		[]*discoveryv1.EndpointSlice{slice("a", true, "n1")}, []*corev1.Node{
			node("n1", "192.0.2.1", true, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
			node("n2", "192.0.2.2", false, func(n *corev1.Node) { n.Spec.Unschedulable = true }),
		})
	o := opts
	o.KeepCordoned = true
	groups, _ := Build(c, o)
	if got, want := describe(groups), "app.example.com: a/192.0.2.1 a/192.0.2.2[NodeNotReady]; "; got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

// LBDNS_MIN_TTL raises a TTL below it, with a note on the target.
func TestBuildMinTTL(t *testing.T) {
	c := cluster([]*corev1.Service{
		svc("a", "app.example.com", []string{"192.0.2.1"}, annotate("ttl", "5")),
		svc("b", "app.example.com", []string{"192.0.2.2"}, annotate("ttl", "300")),
	}, []*discoveryv1.EndpointSlice{slice("a", true, "n1"), slice("b", true, "n1")}, nil)
	o := opts
	o.MinTTL = 60
	groups, _ := Build(c, o)
	ts := groups[0].Targets
	if ts[0].TTL != 60 || len(ts[0].Notes) != 1 || !strings.Contains(ts[0].Notes[0], "raised to 60") || ts[1].TTL != 300 || len(ts[1].Notes) != 0 {
		t.Fatalf("TTLs %d %v, %d %v", ts[0].TTL, ts[0].Notes, ts[1].TTL, ts[1].Notes)
	}
}

func TestBuildSettings(t *testing.T) {
	c := cluster([]*corev1.Service{
		svc("a", "app.example.com", []string{"192.0.2.1"}, annotate("weight", "7"), annotate("ttl", "60")),
		svc("b", "app.example.com", []string{"192.0.2.2"}),
	}, []*discoveryv1.EndpointSlice{slice("a", true, "n1"), slice("b", true, "n1")}, nil)
	groups, _ := Build(c, opts)
	ts := groups[0].Targets
	if ts[0].Weight != 7 || ts[0].TTL != 60 || ts[1].Weight != DefaultWeight || ts[1].TTL != 30 {
		t.Fatalf("weights/TTLs = %d/%d, %d/%d", ts[0].Weight, ts[0].TTL, ts[1].Weight, ts[1].TTL)
	}
}

func TestProbeSpec(t *testing.T) {
	tests := []struct {
		name     string
		s        *corev1.Service
		want     string
		problems int
	}{
		{"default: tcp on the first port", svc("a", "app.example.com", nil), "tcp:80", 0},
		{"named probe port", svc("a", "app.example.com", nil, annotate("probe-port", "admin")), "tcp:9000", 0},
		{"numeric probe port", svc("a", "app.example.com", nil, annotate("probe-port", "8443")), "tcp:8443", 0},
		{"unknown port name falls back", svc("a", "app.example.com", nil, annotate("probe-port", "nope")), "tcp:80", 1},
		{"http with path", svc("a", "app.example.com", nil, annotate("probe", "http"), annotate("probe-path", "/healthz")), "http:80/healthz", 0},
		{"none", svc("a", "app.example.com", nil, annotate("probe", "none")), "", 0},
		{"tcp without holding", svc("a", "app.example.com", nil, annotate("probe-hold", "false")), "tcp:80(no-hold)", 0},
		{"probe-hold has no effect on http", svc("a", "app.example.com", nil, annotate("probe", "http"), annotate("probe-hold", "false")), "http:80/", 0},
		{"auto node probe with healthCheckNodePort", svc("a", "app.example.com", nil, local(31234)), "tcp:80,healthcheck-node-port:31234/healthz", 0},
		{"node probe off", svc("a", "app.example.com", nil, local(31234), annotate("node-probe", "off")), "tcp:80", 0},
		{"kube-proxy node probe", svc("a", "app.example.com", nil, annotate("node-probe", "kube-proxy")), "tcp:80,kube-proxy:10256/healthz", 0},
		{"healthcheck-node-port without one", svc("a", "app.example.com", nil, annotate("node-probe", "healthcheck-node-port")), "tcp:80", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			settings, _ := ParseAnnotations(prefix, DefaultMaxHostnames, tt.s.Annotations)
			spec, problems := probeSpec(tt.s, settings, opts)
			if spec.String() != tt.want || len(problems) != tt.problems {
				t.Errorf("spec = %q (%v), want %q with %d problems", spec, problems, tt.want, tt.problems)
			}
		})
	}
	// The HTTP Host header is the first hostname, unless it is a wildcard.
	s := svc("a", "app.example.com", nil, annotate("probe", "https"))
	settings, _ := ParseAnnotations(prefix, DefaultMaxHostnames, s.Annotations)
	if spec, _ := probeSpec(s, settings, opts); spec.Checks[0].Host != "app.example.com" || spec.Checks[0].Kind != probe.HTTPS {
		t.Errorf("https check = %+v", spec.Checks[0])
	}
}

// A Service that asks external-dns itself for a name lbdns publishes gets a
// warning, and the group says which Service.
func TestBuildExternalDNSConflict(t *testing.T) {
	c := cluster([]*corev1.Service{
		svc("a", "app.example.com,other.example.com", []string{"192.0.2.1"}, annotateRaw("external-dns.kubernetes.io/hostname", "App.example.com.")),
		svc("b", "app.example.com", []string{"192.0.2.2"}, annotateRaw("external-dns.alpha.kubernetes.io/hostname", "elsewhere.example.com")),
	}, []*discoveryv1.EndpointSlice{slice("a", true, "n1"), slice("b", true, "n1")}, nil)
	groups, warnings := Build(c, opts)
	var conflicts []string
	for _, w := range warnings {
		if w.Reason == ReasonExternalDNSConflict {
			conflicts = append(conflicts, w.Service.Name+": "+w.Message)
		}
	}
	if len(conflicts) != 1 || !strings.HasPrefix(conflicts[0], "a: ") || !strings.Contains(conflicts[0], "app.example.com") {
		t.Fatalf("conflict warnings %q, want one for a's app.example.com", conflicts)
	}
	for _, g := range groups {
		want := []string(nil)
		if g.Hostname == "app.example.com" {
			want = []string{"default/a"}
		}
		if !slices.Equal(g.ExternalDNSConflicts, want) {
			t.Errorf("%s: conflicts %v, want %v", g.Hostname, g.ExternalDNSConflicts, want)
		}
	}
}

// A target on a known node carries the node's bandwidth: its annotation, or
// LBDNS_NODE_BANDWIDTH; a bad annotation is told on the Service and the
// default is used.
func TestBuildNodeBandwidth(t *testing.T) {
	o := opts
	o.NodeBandwidth = 2e9
	annotated := func(v string) func(*corev1.Node) {
		return func(n *corev1.Node) { n.Annotations = map[string]string{prefix + AnnotationBandwidth: v} }
	}
	c := cluster([]*corev1.Service{svc("a", "app.example.com", []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.9"})},
		[]*discoveryv1.EndpointSlice{slice("a", true, "n1")},
		[]*corev1.Node{node("n1", "192.0.2.1", true), node("n2", "192.0.2.2", true, annotated("10G")), node("n3", "192.0.2.3", true, annotated("fast"))})
	groups, warnings := Build(c, o)
	want := map[string]float64{"192.0.2.1": 2e9, "192.0.2.2": 10e9, "192.0.2.3": 2e9, "192.0.2.9": 0}
	for _, tg := range groups[0].Targets {
		if tg.NodeBandwidth != want[tg.IP.String()] {
			t.Errorf("%s on %q: %g bits/s, want %g", tg.IP, tg.Node, tg.NodeBandwidth, want[tg.IP.String()])
		}
	}
	if len(warnings) != 1 || warnings[0].Reason != ReasonInvalidAnnotation || !strings.Contains(warnings[0].Message, "Node n3") ||
		!strings.Contains(warnings[0].Message, prefix+"bandwidth") || !strings.Contains(warnings[0].Message, "using 2G") {
		t.Errorf("warnings: %+v", warnings)
	}
}
