package informer

import (
	"bytes"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
)

// Decoding a whole Service or EndpointSlice only for the Trimmer to keep a
// few fields of it was a third of lbdns's CPU at a start with 100,000
// Services (their managedFields, selectors, cluster IPs, pod addresses,
// every annotation: allocated, copied, collected). Projecting reads the
// protobuf of a Service or an EndpointSlice and fills in only the fields
// the Trimmer reads; the informer's transform then trims that as before,
// so what the cache holds is the same either way. Anything else (lists,
// Status, JSON, other kinds) and anything it cannot read goes to the
// client's own decoder.

// Projecting wraps a REST client's serializer so that Services and
// EndpointSlices decode into projections: API objects holding only what
// the Trimmer t reads.
func (t Trimmer) Projecting(s runtime.NegotiatedSerializer) runtime.NegotiatedSerializer {
	return projecting{NegotiatedSerializer: s, trim: t}
}

type projecting struct {
	runtime.NegotiatedSerializer
	trim Trimmer
}

func (p projecting) DecoderToVersion(d runtime.Decoder, gv runtime.GroupVersioner) runtime.Decoder {
	return projectingDecoder{next: p.NegotiatedSerializer.DecoderToVersion(d, gv), trim: p.trim}
}

type projectingDecoder struct {
	next runtime.Decoder
	trim Trimmer
}

// protobufMagic starts every protobuf-encoded API object; a
// runtime.Unknown, the envelope with the object's kind, follows.
var protobufMagic = []byte("k8s\x00")

var (
	serviceKind = corev1.SchemeGroupVersion.WithKind("Service")
	sliceKind   = discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")
)

func (d projectingDecoder) Decode(data []byte, defaults *schema.GroupVersionKind, into runtime.Object) (runtime.Object, *schema.GroupVersionKind, error) {
	if into == nil && bytes.HasPrefix(data, protobufMagic) {
		if obj, gvk := d.project(data[len(protobufMagic):]); obj != nil {
			return obj, gvk, nil
		}
	}
	return d.next.Decode(data, defaults, into)
}

// project returns the projection of a Service or an EndpointSlice, or nil
// for anything else.
func (d projectingDecoder) project(data []byte) (runtime.Object, *schema.GroupVersionKind) {
	gvk, raw, ok := unknown(data)
	if !ok {
		return nil, nil
	}
	switch gvk {
	case serviceKind:
		if s, err := d.trim.projectService(raw); err == nil {
			return s, &serviceKind
		}
	case sliceKind:
		if s, err := projectSlice(raw); err == nil {
			return s, &sliceKind
		}
	}
	return nil, nil
}

// unknown reads the runtime.Unknown envelope: the object's kind and its
// protobuf. Only plain protobuf is accepted.
func unknown(data []byte) (gvk schema.GroupVersionKind, raw []byte, ok bool) {
	plain := true
	err := eachField(data, func(f field) error {
		var err error
		switch f.num {
		case 1: // typeMeta
			var tm []byte
			if tm, err = f.message(); err == nil {
				gvk, err = typeMeta(tm)
			}
		case 2:
			raw, err = f.message()
		case 3: // contentEncoding
			plain = plain && len(f.b) == 0
		case 4: // contentType
			plain = plain && (len(f.b) == 0 || string(f.b) == runtime.ContentTypeProtobuf)
		}
		return err
	})
	return gvk, raw, err == nil && plain
}

func typeMeta(b []byte) (schema.GroupVersionKind, error) {
	var apiVersion, kind string
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			apiVersion, err = f.string()
		case 2:
			kind, err = f.string()
		}
		return err
	})
	return schema.FromAPIVersionAndKind(apiVersion, kind), err
}

// projectMeta reads the ObjectMeta fields the Trimmer reads, with the
// labels and annotations keep accepts.
func projectMeta(b []byte, m *metav1.ObjectMeta, keepLabel, keepAnnotation func([]byte) bool) error {
	return eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			m.Name, err = f.string()
		case 3:
			m.Namespace, err = f.string()
		case 5:
			var uid string
			uid, err = f.string()
			m.UID = types.UID(uid)
		case 6:
			m.ResourceVersion, err = f.string()
		case 8:
			var t []byte
			if t, err = f.message(); err == nil {
				err = eachField(t, func(f field) error {
					if f.num == 1 { // seconds; the API keeps no more
						secs, err := f.int64()
						m.CreationTimestamp = metav1.Unix(secs, 0)
						return err
					}
					return nil
				})
			}
		case 11:
			m.Labels, err = keptEntry(f, m.Labels, keepLabel)
		case 12:
			m.Annotations, err = keptEntry(f, m.Annotations, func(k []byte) bool {
				// A watch-list's last bookmark carries it: the informer
				// waits for it before it reports synced.
				return string(k) == metav1.InitialEventsAnnotationKey || keepAnnotation(k)
			})
		}
		return err
	})
}

// keptEntry adds one map entry to m if keep accepts its key.
func keptEntry(f field, m map[string]string, keep func([]byte) bool) (map[string]string, error) {
	b, err := f.message()
	if err != nil {
		return m, err
	}
	k, v, err := mapEntry(b)
	if err != nil || !keep(k) {
		return m, err
	}
	if m == nil {
		m = map[string]string{}
	}
	m[string(k)] = string(v)
	return m, nil
}

// keepsOnService reports whether the Trimmer may read a Service annotation:
// all of them when an annotation filter must match them. It takes the
// key's bytes so that the keys it drops, most of them, cost no string.
func (t Trimmer) keepsOnService(key []byte) bool {
	if t.AnnotationFilter != nil && !t.AnnotationFilter.Empty() {
		return true
	}
	p := t.AnnotationPrefix
	if len(key) > len(p) && string(key[:len(p)]) == p && lbdnsServiceAnnotations[string(key[len(p):])] {
		return true
	}
	return foreignServiceAnnotations[string(key)]
}

func keepNone([]byte) bool { return false }

// projectService reads a Service's protobuf: its identity, the annotations
// the Trimmer may keep, type, ports, traffic policy, health check node
// port and load balancer ingress.
func (t Trimmer) projectService(b []byte) (*corev1.Service, error) {
	s := &corev1.Service{}
	err := eachField(b, func(f field) error {
		if f.num < 1 || f.num > 3 {
			return nil
		}
		m, err := f.message()
		if err != nil {
			return err
		}
		switch f.num {
		case 1:
			return projectMeta(m, &s.ObjectMeta, keepNone, t.keepsOnService)
		case 2:
			return projectServiceSpec(m, &s.Spec)
		default:
			return eachField(m, func(f field) error { // ServiceStatus
				if f.num != 1 { // loadBalancer
					return nil
				}
				lb, err := f.message()
				if err != nil {
					return err
				}
				return eachField(lb, func(f field) error {
					if f.num != 1 { // ingress
						return nil
					}
					return projectIngress(f, &s.Status.LoadBalancer)
				})
			})
		}
	})
	return s, err
}

func projectServiceSpec(b []byte, spec *corev1.ServiceSpec) error {
	return eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			var p []byte
			if p, err = f.message(); err == nil {
				var port corev1.ServicePort
				err = eachField(p, func(f field) error {
					var err error
					switch f.num {
					case 1:
						port.Name, err = f.string()
					case 3:
						port.Port, err = f.int32()
					}
					return err
				})
				spec.Ports = append(spec.Ports, port)
			}
		case 4:
			var typ string
			typ, err = f.string()
			spec.Type = corev1.ServiceType(typ)
		case 11:
			var policy string
			policy, err = f.string()
			spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicy(policy)
		case 12:
			spec.HealthCheckNodePort, err = f.int32()
		}
		return err
	})
}

func projectIngress(f field, lb *corev1.LoadBalancerStatus) error {
	b, err := f.message()
	if err != nil {
		return err
	}
	var ing corev1.LoadBalancerIngress
	err = eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			ing.IP, err = f.string()
		case 2:
			ing.Hostname, err = f.string()
		}
		return err
	})
	lb.Ingress = append(lb.Ingress, ing)
	return err
}

// projectSlice reads an EndpointSlice's protobuf: its identity, its
// Service label, address type and, of each endpoint, whether it is ready
// and its node.
func projectSlice(b []byte) (*discoveryv1.EndpointSlice, error) {
	s := &discoveryv1.EndpointSlice{}
	err := eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 1:
			var m []byte
			if m, err = f.message(); err == nil {
				err = projectMeta(m, &s.ObjectMeta, func(k []byte) bool { return string(k) == discoveryv1.LabelServiceName }, keepNone)
			}
		case 2:
			var e []byte
			if e, err = f.message(); err == nil {
				var ep discoveryv1.Endpoint
				err = projectEndpoint(e, &ep)
				s.Endpoints = append(s.Endpoints, ep)
			}
		case 4:
			var typ string
			typ, err = f.string()
			s.AddressType = discoveryv1.AddressType(typ)
		}
		return err
	})
	return s, err
}

func projectEndpoint(b []byte, ep *discoveryv1.Endpoint) error {
	return eachField(b, func(f field) error {
		var err error
		switch f.num {
		case 2:
			var c []byte
			if c, err = f.message(); err == nil {
				err = eachField(c, func(f field) error {
					if f.num != 1 { // ready; absent means unknown, read as ready
						return nil
					}
					ready, err := f.bool()
					ep.Conditions.Ready = &ready
					return err
				})
			}
		case 6:
			var node string
			node, err = f.string()
			ep.NodeName = &node
		}
		return err
	})
}
