package informer

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// The informer caches keep Services and EndpointSlices in these forms. A
// trimmed corev1.Service still costs about 1.2 KB (ObjectMeta alone is 232
// bytes, a map of one annotation about 300) and a trimmed EndpointSlice
// about 0.9 KB; these hold the same fields in about a third of that. A
// Service turns back into a trimmed corev1.Service when read; an
// EndpointSlice is read as its ready endpoints (CacheReader.ReadyEndpointsOf).
// Nodes are few and stay corev1.Nodes.

// identity is what the informer (its key and namespace index), the event
// recorder and lbdns read of an object's metadata.
type identity struct {
	name, namespace, resourceVersion string
	uid                              types.UID
}

func identityOf(m metav1.ObjectMeta) identity {
	return identity{name: m.Name, namespace: m.Namespace, resourceVersion: m.ResourceVersion, uid: m.UID}
}

func (id identity) objectMeta() metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: id.name, Namespace: id.namespace, ResourceVersion: id.resourceVersion, UID: id.uid}
}

func (id identity) NamespacedName() types.NamespacedName {
	return types.NamespacedName{Namespace: id.namespace, Name: id.name}
}

// keyValue is one kept annotation.
type keyValue struct{ key, value string }

// cachedService is a Service as the cache keeps it: what Build and the event
// recorder read. Nothing but its identity and type when it does not opt in.
type cachedService struct {
	identity
	// created is the creation time in Unix seconds (the API's precision):
	// the oldest Service that names a hostname owns it.
	created             int64
	typ                 corev1.ServiceType
	annotations         []keyValue // sorted by key; nil: none kept
	policy              corev1.ServiceExternalTrafficPolicy
	healthCheckNodePort int32
	ports               []servicePort
	ingress             []ingress
}

type servicePort struct {
	name string
	port int32
}

type ingress struct{ ip, hostname string }

func (s *cachedService) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (s *cachedService) DeepCopyObject() runtime.Object {
	c := *s
	c.annotations, c.ports, c.ingress = slices.Clone(s.annotations), slices.Clone(s.ports), slices.Clone(s.ingress)
	return &c
}

// Service returns the trimmed corev1.Service the cached one stands for.
func (s *cachedService) Service() *corev1.Service {
	out := &corev1.Service{ObjectMeta: s.objectMeta()}
	out.CreationTimestamp = metav1.Unix(s.created, 0)
	out.Spec.Type = s.typ
	if s.annotations == nil {
		return out
	}
	out.Annotations = make(map[string]string, len(s.annotations))
	for _, a := range s.annotations {
		out.Annotations[a.key] = a.value
	}
	out.Spec.ExternalTrafficPolicy = s.policy
	out.Spec.HealthCheckNodePort = s.healthCheckNodePort
	for _, p := range s.ports {
		out.Spec.Ports = append(out.Spec.Ports, corev1.ServicePort{Name: p.name, Port: p.port})
	}
	for _, ing := range s.ingress {
		out.Status.LoadBalancer.Ingress = append(out.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ing.ip, Hostname: ing.hostname})
	}
	return out
}

// mayMatter reports whether Build reads the Service: a LoadBalancer, or
// any Service with kept annotations (Build warns about a non-LoadBalancer
// that asks for a hostname).
func (s *cachedService) mayMatter() bool {
	return s.typ == corev1.ServiceTypeLoadBalancer || len(s.annotations) > 0
}

// cachedSlice is an EndpointSlice as the cache keeps it: its Service and, of
// its endpoints, whether they are ready and on which node, once per
// distinct pair.
type cachedSlice struct {
	identity
	service     string // the kubernetes.io/service-name label; "": none
	hasLabel    bool
	addressType discoveryv1.AddressType
	endpoints   []endpoint
}

type endpoint struct {
	ready   bool
	hasNode bool
	node    string
}

func (s *cachedSlice) GetObjectKind() schema.ObjectKind { return schema.EmptyObjectKind }

func (s *cachedSlice) DeepCopyObject() runtime.Object {
	c := *s
	c.endpoints = slices.Clone(s.endpoints)
	return &c
}

// ServiceOf returns the Service an informer object (cached or not, or its
// tombstone) is or belongs to: a Service's own name, an EndpointSlice's
// Service. It reports false for anything else, and for an EndpointSlice of
// no Service.
func ServiceOf(obj any) (types.NamespacedName, bool) {
	switch o := untomb(obj).(type) {
	case *cachedService:
		return o.NamespacedName(), true
	case *cachedSlice:
		return types.NamespacedName{Namespace: o.namespace, Name: o.service}, o.service != ""
	case *corev1.Service:
		return types.NamespacedName{Namespace: o.Namespace, Name: o.Name}, true
	case *discoveryv1.EndpointSlice:
		name := o.Labels[discoveryv1.LabelServiceName]
		return types.NamespacedName{Namespace: o.Namespace, Name: name}, name != ""
	}
	return types.NamespacedName{}, false
}

// untomb returns the last known object of a deletion the informer missed.
func untomb(obj any) any {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return tomb.Obj
	}
	return obj
}
