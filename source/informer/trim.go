package informer

import (
	"slices"
	"strings"

	"github.com/lbdns/lbdns/source"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Trimmer is the informers' transform: it keeps, of each cached object, only
// what Build and the event recorder read, in compact forms (cached.go), so
// that the caches cost memory in proportion to what lbdns decides on, not to
// what the cluster stores
// (managedFields, kubectl's last-applied copy, foreign annotations, pod IPs,
// images). It builds a new object rather than clearing fields of the old
// one, so that a field added to the API later is dropped too.
type Trimmer struct {
	// AnnotationPrefix selects the annotations kept on Services and Nodes.
	AnnotationPrefix string
	// AnnotationFilter, when set, keeps lbdns's annotations only on the
	// Services whose annotations it matches: the others do not opt in
	// (LBDNS_ANNOTATION_FILTER, like external-dns's --annotation-filter).
	AnnotationFilter labels.Selector
}

// Transform is a cache.TransformFunc: Services and EndpointSlices become
// the cache's compact forms (cached.go), Nodes trimmed Nodes.
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

// maxKeptValue bounds a kept annotation value. The API server allows 256 KB
// of annotations per object; what lbdns reads fits in far less (1,000
// hostnames of 64 characters), and longer values are cut.
const maxKeptValue = 64 << 10

// keep returns the annotations Build reads of a Node: lbdns's bandwidth.
// Nil when there are none, as for most Nodes.
func (t Trimmer) keep(a map[string]string) map[string]string {
	var out map[string]string
	for _, k := range source.NodeAnnotations() {
		if v, ok := a[t.AnnotationPrefix+k]; ok {
			if out == nil {
				out = map[string]string{}
			}
			out[t.AnnotationPrefix+k] = bounded(v)
		}
	}
	return out
}

// keptOnService reports whether Build reads a Service annotation: lbdns's
// own, external-dns's hostname annotations (for ExternalDNSConflict) and the
// IONOS node-selector (for its check).
func (t Trimmer) keptOnService(annotation string) bool {
	if name, ok := strings.CutPrefix(annotation, t.AnnotationPrefix); ok && lbdnsServiceAnnotations[name] {
		return true
	}
	return foreignServiceAnnotations[annotation]
}

// lbdnsServiceAnnotations (after the prefix) and foreignServiceAnnotations
// are the Service annotations Build reads.
var (
	lbdnsServiceAnnotations   = setOf(source.ServiceAnnotations())
	foreignServiceAnnotations = setOf(append(source.ExternalDNSHostnameAnnotations(), source.AnnotationIONOSNodeSelector))
)

func setOf(keys []string) map[string]bool {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	return set
}

func bounded(v string) string {
	if len(v) > maxKeptValue {
		return v[:maxKeptValue]
	}
	return v
}

func (t Trimmer) service(s *corev1.Service) *cachedService {
	out := &cachedService{identity: identityOf(s.ObjectMeta), created: s.CreationTimestamp.Unix(), typ: s.Spec.Type}
	if t.AnnotationFilter != nil && !t.AnnotationFilter.Empty() && !t.AnnotationFilter.Matches(labels.Set(s.Annotations)) {
		return out
	}
	if s.Spec.Type != corev1.ServiceTypeLoadBalancer {
		// Build only warns that it is not a LoadBalancer: it needs to know
		// the hostname annotation is there, not what it says.
		if _, asks := s.Annotations[t.AnnotationPrefix+source.AnnotationHostname]; asks {
			out.annotations = []keyValue{{key: t.AnnotationPrefix + source.AnnotationHostname}}
		}
		return out
	}
	for k, v := range s.Annotations {
		if t.keptOnService(k) {
			out.annotations = append(out.annotations, keyValue{key: k, value: bounded(v)})
		}
	}
	if out.annotations == nil {
		return out // not opted in: Build only needs to know it exists
	}
	slices.SortFunc(out.annotations, func(a, b keyValue) int { return strings.Compare(a.key, b.key) })
	out.policy = s.Spec.ExternalTrafficPolicy
	out.healthCheckNodePort = s.Spec.HealthCheckNodePort
	for _, p := range s.Spec.Ports {
		out.ports = append(out.ports, servicePort{name: p.Name, port: p.Port})
	}
	for _, ing := range s.Status.LoadBalancer.Ingress {
		out.ingress = append(out.ingress, ingress{ip: ing.IP, hostname: ing.Hostname})
	}
	return out
}

// trimSlice keeps the Service label and, of the endpoints, whether they are
// ready and on which node, once per distinct pair: a Service with 200 pods on
// 3 nodes keeps at most 6 endpoints.
func trimSlice(s *discoveryv1.EndpointSlice) *cachedSlice {
	out := &cachedSlice{identity: identityOf(s.ObjectMeta), addressType: s.AddressType}
	out.service, out.hasLabel = s.Labels[discoveryv1.LabelServiceName]
	for _, ep := range s.Endpoints {
		e := endpoint{ready: ep.Conditions.Ready == nil || *ep.Conditions.Ready}
		if ep.NodeName != nil {
			e.hasNode, e.node = true, *ep.NodeName
		}
		if !slices.Contains(out.endpoints, e) {
			out.endpoints = append(out.endpoints, e)
		}
	}
	return out
}

// node keeps what says whether a Node can carry traffic (Ready, cordoned,
// taints), where its IPs are, its labels and lbdns's annotations.
func (t Trimmer) node(n *corev1.Node) *corev1.Node {
	out := &corev1.Node{TypeMeta: n.TypeMeta, ObjectMeta: metav1.ObjectMeta{Name: n.Name, UID: n.UID, ResourceVersion: n.ResourceVersion,
		Annotations: t.keep(n.Annotations)}}
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
