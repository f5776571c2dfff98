// Package source turns Kubernetes objects into hostname claims: which
// Services ask for which hostnames, with which IPs, weights, TTLs and
// probes, and which targets Kubernetes already says to withdraw. It is
// pure: Model is kept up to date one Service at a time from what a Lookup
// returns; package source/informer feeds it from informer caches.
package source

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/bandwidth"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

// TaintToBeDeleted is the taint cluster-autoscaler puts on a Node it is about
// to remove.
const TaintToBeDeleted = "ToBeDeletedByClusterAutoscaler"

// Warning reasons, used as Kubernetes event reasons.
const (
	ReasonInvalidAnnotation      = "InvalidAnnotation"
	ReasonIngressHostnameIgnored = "IngressHostnameIgnored"
	ReasonNotLoadBalancer        = "NotLoadBalancer"
	ReasonExternalDNSConflict    = "ExternalDNSConflict"
)

// externalDNSHostnameAnnotations are external-dns's own hostname annotations
// (v0.22's and the older alpha one).
var externalDNSHostnameAnnotations = []string{"external-dns.kubernetes.io/hostname", "external-dns.alpha.kubernetes.io/hostname"}

// ExternalDNSHostnameAnnotations are external-dns's own hostname annotations,
// which lbdns reads to warn of a conflict (the informer cache keeps them).
func ExternalDNSHostnameAnnotations() []string { return slices.Clone(externalDNSHostnameAnnotations) }

// Options are the global settings Build needs.
type Options struct {
	// Cluster names the cluster of the Services (Key.Cluster): empty for
	// the one lbdns runs in.
	Cluster          string
	AnnotationPrefix string
	// MaxHostnames caps the hostnames one Service may ask for.
	MaxHostnames int
	DefaultTTL   int64
	// MinTTL raises every TTL below it (LBDNS_MIN_TTL; IONOS Cloud DNS
	// refuses TTLs under 60 s); 0: none.
	MinTTL              int64
	KubeProxyHealthPort int
	// NodeBandwidth is a node's bandwidth unless its annotation
	// <prefix>bandwidth says otherwise; 0 counts no capacity.
	NodeBandwidth bandwidth.BitsPerSecond
	// KeepCordoned keeps the IPs of cordoned nodes (LBDNS_WITHDRAW_CORDONED
	// false): Kubernetes no longer takes unschedulable nodes out of cloud
	// load balancers, since that caused outages (kubernetes PR #90823).
	KeepCordoned bool
}

// Warning is a problem with one Service that its owner should see.
type Warning struct {
	Service *corev1.Service
	Reason  string
	Message string
}

// conflictWarning tells the owner of a Service that external-dns's own
// annotation asks for a hostname lbdns publishes.
func conflictWarning(svc *corev1.Service, hostname string) Warning {
	return Warning{Service: svc, Reason: ReasonExternalDNSConflict, Message: fmt.Sprintf(
		"external-dns's own hostname annotation also asks for %s: its service source publishes every IP of this Service unchecked, and its planner keeps only one of the two record sets; remove one of the two annotations", hostname)}
}

// externalDNSConflicts returns the hostnames that the Service asks lbdns
// for and external-dns's own annotations ask external-dns for too.
func externalDNSConflicts(svc *corev1.Service, hostnames []string) []string {
	var out []string
	for _, a := range externalDNSHostnameAnnotations {
		v, ok := svc.Annotations[a]
		if !ok {
			continue
		}
		for raw := range strings.SplitSeq(v, ",") {
			h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
			if slices.Contains(hostnames, h) && !slices.Contains(out, h) {
				out = append(out, h)
			}
		}
	}
	return out
}

// serviceTargets returns a Service's settings (the hostnames it asks for,
// the floor it sets, whom it shares with) and its targets.
func serviceTargets(svc *corev1.Service, look Lookup, o Options) (Settings, []model.Target, []Warning) {
	var warnings []Warning
	warn := func(reason, format string, args ...any) {
		warnings = append(warnings, Warning{Service: svc, Reason: reason, Message: fmt.Sprintf(format, args...)})
	}
	if _, ok := svc.Annotations[o.AnnotationPrefix+AnnotationHostname]; !ok {
		return Settings{}, nil, nil
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		warn(ReasonNotLoadBalancer, "Service has %s%s but is of type %s, not LoadBalancer: ignored",
			o.AnnotationPrefix, AnnotationHostname, svc.Spec.Type)
		return Settings{}, nil, warnings
	}
	settings, errs := ParseAnnotations(o.AnnotationPrefix, o.MaxHostnames, svc.Annotations)
	for _, err := range errs {
		warn(ReasonInvalidAnnotation, "%v", err)
	}
	if len(settings.Hostnames) == 0 {
		return settings, nil, warnings
	}

	spec, specWarnings := probeSpec(svc, settings, o)
	for _, m := range specWarnings {
		warn(ReasonInvalidAnnotation, "%s", m)
	}
	ttl := settings.TTL
	if ttl == 0 {
		ttl = o.DefaultTTL
	}
	base := model.Target{Weight: settings.Weight, TTL: ttl, ProbeSpec: spec}
	if ttl < o.MinTTL { // a note, not a warning: the Service is fine, the provider needs more
		base.TTL = o.MinTTL
		base.Notes = []string{fmt.Sprintf("TTL %d s raised to %d s (LBDNS_MIN_TTL)", ttl, o.MinTTL)}
	}
	targets := ingressTargets(svc, base, look, o, warn)
	return settings, targets, warnings
}

// nodeBandwidth is the bandwidth of a node: its annotation, or the default.
// A bad annotation is told on the Service and the default is used.
func nodeBandwidth(node *corev1.Node, o Options, warn func(reason, format string, args ...any)) bandwidth.BitsPerSecond {
	v, ok := node.Annotations[o.AnnotationPrefix+AnnotationBandwidth]
	if !ok {
		return o.NodeBandwidth
	}
	b, err := bandwidth.Parse(v)
	if err != nil {
		warn(ReasonInvalidAnnotation, "Node %s: annotation %s%s: %v; using %s", node.Name, o.AnnotationPrefix, AnnotationBandwidth, err, o.NodeBandwidth)
		return o.NodeBandwidth
	}
	return b
}

// ingressTargets returns one target per load balancer ingress IP, like base,
// with the signals Kubernetes raises for it.
func ingressTargets(svc *corev1.Service, base model.Target, look Lookup, o Options, warn func(reason, format string, args ...any)) []model.Target {
	ready := look.ReadyEndpointsOf(types.NamespacedName{Namespace: svc.Namespace, Name: svc.Name})
	var targets []model.Target
	var nodes []*corev1.Node // of each target, nil when unknown
	seen := map[netip.Addr]bool{}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IP == "" {
			if ing.Hostname != "" {
				warn(ReasonIngressHostnameIgnored, "load balancer ingress %q has no IP and cannot join an A/AAAA record: ignored", ing.Hostname)
			}
			continue
		}
		ip, err := netip.ParseAddr(ing.IP)
		if err != nil || seen[ip.Unmap()] {
			continue
		}
		ip = ip.Unmap()
		seen[ip] = true
		t := base
		t.Key = model.Key{Cluster: o.Cluster, Namespace: svc.Namespace, Service: svc.Name, IP: ip}
		node, by := look.NodeOf(ip)
		if node != nil {
			t.Node, t.NodeMappedBy, t.NodeBandwidth = node.Name, string(by), float64(nodeBandwidth(node, o, warn))
		}
		t.Signal, t.SignalDetail = signal(svc, ready, node, o.KeepCordoned)
		targets = append(targets, t)
		nodes = append(nodes, node)
	}
	checkNodeSelector(svc, targets, nodes, ready, look, warn)
	return targets
}

// signal returns why Kubernetes says to withdraw the target, if it does.
func signal(svc *corev1.Service, ready []ReadyEndpoint, node *corev1.Node, keepCordoned bool) (model.Reason, string) {
	if len(ready) == 0 {
		return model.NoReadyEndpoints, "the Service has no ready endpoint"
	}
	if node == nil {
		return "", "" // a Node deleted a moment ago is the controller's memory, not the cluster's
	}
	if r, d := nodeSignal(node); r != "" && !(keepCordoned && r == model.NodeCordoned) {
		return r, d
	}
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		for _, ep := range ready {
			if ep.Node == node.Name {
				return "", ""
			}
		}
		return model.NoLocalEndpoint, fmt.Sprintf("externalTrafficPolicy is Local and node %s has no ready endpoint", node.Name)
	}
	return "", ""
}

// nodeSignal says whether a Node can no longer carry traffic.
func nodeSignal(node *corev1.Node) (model.Reason, string) {
	ready := false
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			ready = cond.Status == corev1.ConditionTrue
		}
	}
	if !ready {
		return model.NodeNotReady, fmt.Sprintf("node %s is not Ready", node.Name)
	}
	if node.Spec.Unschedulable {
		return model.NodeCordoned, fmt.Sprintf("node %s is cordoned", node.Name)
	}
	for _, taint := range node.Spec.Taints {
		if taint.Key == TaintToBeDeleted {
			return model.NodeToBeDeleted, fmt.Sprintf("node %s is marked %s", node.Name, TaintToBeDeleted)
		}
	}
	return "", ""
}

// ReadyEndpoint is a ready endpoint of a Service, as Build needs it: the
// node it runs on, "" when its EndpointSlice does not say.
type ReadyEndpoint struct{ Node string }

// ReadyEndpoints returns the ready endpoints of a Service's EndpointSlices,
// one per node. A nil ready condition means ready, as the EndpointSlice API
// says.
func ReadyEndpoints(eps []*discoveryv1.EndpointSlice) []ReadyEndpoint {
	var ready []ReadyEndpoint
	for _, s := range eps {
		for _, ep := range s.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			e := ReadyEndpoint{}
			if ep.NodeName != nil {
				e.Node = *ep.NodeName
			}
			if !slices.Contains(ready, e) {
				ready = append(ready, e)
			}
		}
	}
	return ready
}

// probeSpec builds the checks for a Service's targets from its settings.
func probeSpec(svc *corev1.Service, s Settings, o Options) (probe.Spec, []string) {
	var spec probe.Spec
	var problems []string
	if s.Probe != ProbeNone && len(svc.Spec.Ports) > 0 {
		port := int(svc.Spec.Ports[0].Port)
		if s.ProbePort != "" {
			if p, ok := resolvePort(svc, s.ProbePort); ok {
				port = p
			} else {
				problems = append(problems, fmt.Sprintf("annotation %s%s=%q: the Service has no port of that name; using port %d",
					o.AnnotationPrefix, AnnotationProbePort, s.ProbePort, port))
			}
		}
		c := probe.Check{Kind: s.Probe, Port: port, NoHold: s.NoHold && s.Probe == probe.TCP}
		if s.Probe != probe.TCP {
			c.Path = s.ProbePath
			if h := s.Hostnames[0]; h[0] != '*' {
				c.Host = h
			}
		}
		spec.Checks = append(spec.Checks, c)
	}
	hcnp := int(svc.Spec.HealthCheckNodePort)
	switch s.NodeProbe {
	case NodeProbeAuto:
		if hcnp != 0 {
			spec.Checks = append(spec.Checks, probe.Check{Kind: probe.HealthCheckNodePort, Port: hcnp, Path: "/healthz"})
		}
	case NodeProbeHealthCheckNodePort:
		if hcnp != 0 {
			spec.Checks = append(spec.Checks, probe.Check{Kind: probe.HealthCheckNodePort, Port: hcnp, Path: "/healthz"})
		} else {
			problems = append(problems, fmt.Sprintf("annotation %s%s=%s: the Service has no healthCheckNodePort (it needs externalTrafficPolicy: Local); no node probe",
				o.AnnotationPrefix, AnnotationNodeProbe, NodeProbeHealthCheckNodePort))
		}
	case NodeProbeKubeProxy:
		spec.Checks = append(spec.Checks, probe.Check{Kind: probe.KubeProxy, Port: o.KubeProxyHealthPort, Path: "/healthz"})
	}
	return spec, problems
}

// resolvePort finds a port by number (any number is accepted) or by the name
// of a Service port.
func resolvePort(svc *corev1.Service, ref string) (int, bool) {
	if n, err := strconv.Atoi(ref); err == nil {
		return n, true
	}
	for _, p := range svc.Spec.Ports {
		if p.Name == ref {
			return int(p.Port), true
		}
	}
	return 0, false
}
