package source

import (
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Trimmer is the informers' transform: it keeps, of each cached object, only
// what Build and the event recorder read, so that the caches cost memory in
// proportion to what lbdns decides on, not to what the cluster stores
// (managedFields, kubectl's last-applied copy, foreign annotations, pod IPs,
// images). It builds a new object rather than clearing fields of the old
// one, so that a field added to the API later is dropped too.
type Trimmer struct {
	// AnnotationPrefix selects the annotations kept on Services and Nodes.
	AnnotationPrefix string
}

// Transform is a cache.TransformFunc.
func (t Trimmer) Transform(obj any) (any, error) {
	switch o := obj.(type) {
	case *corev1.Service:
		return t.service(o), nil
	case *discoveryv1.EndpointSlice:
		return trimSlice(o), nil
	case *corev1.Node:
		return t.node(o), nil
	}
	return obj, nil // a DeletedFinalStateUnknown passes through: it holds an object trimmed before
}

// objectMeta keeps identity (events refer to the object by UID and
// resourceVersion) and the given annotations.
func objectMeta(m metav1.ObjectMeta, annotations map[string]string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion,
		Annotations: annotations}
}

// keep returns the annotations Build reads: lbdns's (by prefix) and
// external-dns's hostname annotations (for ExternalDNSConflict). Nil when
// there are none, as for most Services of a cluster.
func (t Trimmer) keep(a map[string]string) map[string]string {
	var out map[string]string
	for k, v := range a {
		if strings.HasPrefix(k, t.AnnotationPrefix) || slices.Contains(externalDNSHostnameAnnotations, k) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func (t Trimmer) service(s *corev1.Service) *corev1.Service {
	out := &corev1.Service{TypeMeta: s.TypeMeta, ObjectMeta: objectMeta(s.ObjectMeta, t.keep(s.Annotations))}
	out.Spec.Type = s.Spec.Type
	if out.Annotations == nil {
		return out // not opted in: Build only needs to know it exists
	}
	out.Spec.ExternalTrafficPolicy = s.Spec.ExternalTrafficPolicy
	out.Spec.HealthCheckNodePort = s.Spec.HealthCheckNodePort
	for _, p := range s.Spec.Ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.Name, Port: p.Port})
	}
	for _, ing := range s.Status.LoadBalancer.Ingress {
		out.Status.LoadBalancer.Ingress = append(out.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ing.IP, Hostname: ing.Hostname})
	}
	return out
}

// trimSlice keeps the Service label and, of the endpoints, whether they are
// ready and on which node, once per distinct pair: a Service with 200 pods on
// 3 nodes keeps at most 6 endpoints.
func trimSlice(s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	out := &discoveryv1.EndpointSlice{TypeMeta: s.TypeMeta, ObjectMeta: objectMeta(s.ObjectMeta, nil), AddressType: s.AddressType}
	if name, ok := s.Labels[discoveryv1.LabelServiceName]; ok {
		out.Labels = map[string]string{discoveryv1.LabelServiceName: name}
	}
	type pair struct {
		ready bool
		node  string
	}
	seen := map[pair]bool{}
	for _, ep := range s.Endpoints {
		p := pair{ready: ep.Conditions.Ready == nil || *ep.Conditions.Ready}
		if ep.NodeName != nil {
			p.node = *ep.NodeName
		}
		if seen[p] {
			continue
		}
		seen[p] = true
		ready := p.ready
		e := discoveryv1.Endpoint{Conditions: discoveryv1.EndpointConditions{Ready: &ready}}
		if ep.NodeName != nil {
			node := p.node
			e.NodeName = &node
		}
		out.Endpoints = append(out.Endpoints, e)
	}
	return out
}

// node keeps what says whether a Node can carry traffic (Ready, cordoned,
// taints), where its IPs are, its labels and lbdns's annotations.
func (t Trimmer) node(n *corev1.Node) *corev1.Node {
	out := &corev1.Node{TypeMeta: n.TypeMeta, ObjectMeta: objectMeta(n.ObjectMeta, t.keep(n.Annotations))}
	out.Labels = n.Labels
	out.Spec.Unschedulable = n.Spec.Unschedulable
	out.Spec.Taints = n.Spec.Taints
	out.Status.Addresses = n.Status.Addresses
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out.Status.Conditions = []corev1.NodeCondition{{Type: c.Type, Status: c.Status}}
		}
	}
	return out
}
