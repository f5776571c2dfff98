package informer

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

// codecs returns, as a REST client of gv would decode protobuf, the
// client's own decoder and the projecting one, and an encoder.
func codecs(t testing.TB, trim Trimmer, gv schema.GroupVersion) (full, projected runtime.Decoder, enc runtime.Encoder) {
	t.Helper()
	ns := rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion()
	info, ok := runtime.SerializerInfoForMediaType(ns.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		t.Fatal("no protobuf serializer")
	}
	return ns.DecoderToVersion(info.Serializer, gv), trim.Projecting(ns).DecoderToVersion(info.Serializer, gv),
		ns.EncoderForVersion(info.Serializer, gv)
}

// randomService is a Service with a bit of everything the API allows, most
// of which lbdns does not read.
func randomService(r *rand.Rand, i int) *corev1.Service {
	s := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("s%d", i), Namespace: fmt.Sprintf("ns%d", r.IntN(3)),
		UID: types.UID(fmt.Sprintf("uid-%d", i)), ResourceVersion: fmt.Sprint(r.IntN(1e6)), Generation: 3,
		CreationTimestamp: metav1.Unix(r.Int64N(2e9), 0), Labels: map[string]string{"app": "web"},
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply,
			FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:spec":{}}`)}}}, Finalizers: []string{"service.kubernetes.io/load-balancer-cleanup"}}}
	s.Annotations = map[string]string{}
	for _, k := range []string{"lbdns.io/hostname", "lbdns.io/weight", "lbdns.io/probe-hold", "lbdns.io/unknown",
		"external-dns.alpha.kubernetes.io/hostname", "cloud.ionos.com/node-selector", "kubectl.kubernetes.io/last-applied-configuration", "team"} {
		if r.IntN(2) == 0 {
			s.Annotations[k] = fmt.Sprintf("v%d.example.com", r.IntN(100))
		}
	}
	s.Spec.Type = []corev1.ServiceType{corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort}[r.IntN(3)]
	s.Spec.Selector = map[string]string{"app": "web"}
	s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.0.0.1", []string{"10.0.0.1"}
	s.Spec.ExternalTrafficPolicy = []corev1.ServiceExternalTrafficPolicy{"", corev1.ServiceExternalTrafficPolicyLocal, corev1.ServiceExternalTrafficPolicyCluster}[r.IntN(3)]
	s.Spec.HealthCheckNodePort = int32(r.IntN(2) * 31000)
	for p := range r.IntN(3) {
		s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: fmt.Sprintf("p%d", p), Protocol: corev1.ProtocolTCP,
			Port: int32(80 + p), NodePort: 30080, AppProtocol: new(string)})
	}
	for range r.IntN(3) {
		ipMode := corev1.LoadBalancerIPModeVIP
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{
			IP: fmt.Sprintf("192.0.2.%d", r.IntN(255)), Hostname: []string{"", "lb.example.com"}[r.IntN(2)], IPMode: &ipMode,
			Ports: []corev1.PortStatus{{Port: 80, Protocol: corev1.ProtocolTCP}}})
	}
	s.Status.Conditions = []metav1.Condition{{Type: "Ready", Status: metav1.ConditionTrue, Reason: "Ok"}}
	return s
}

func randomSlice(r *rand.Rand, i int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("e%d", i), Namespace: "ns",
		UID: types.UID(fmt.Sprintf("uid-%d", i)), ResourceVersion: "7", Labels: map[string]string{"other": "x"}},
		AddressType: []discoveryv1.AddressType{discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}[r.IntN(2)]}
	if r.IntN(4) > 0 {
		s.Labels[discoveryv1.LabelServiceName] = fmt.Sprintf("s%d", r.IntN(10))
	}
	for range r.IntN(5) {
		ep := discoveryv1.Endpoint{Addresses: []string{"10.1.2.3"}, Zone: new(string)}
		if r.IntN(3) > 0 {
			ready := r.IntN(2) == 0
			ep.Conditions.Ready = &ready
		}
		if r.IntN(3) > 0 {
			node := fmt.Sprintf("node-%d", r.IntN(3))
			ep.NodeName = &node
		}
		s.Endpoints = append(s.Endpoints, ep)
	}
	s.Ports = []discoveryv1.EndpointPort{{Name: new(string)}}
	return s
}

// What the cache keeps of a projection is what it keeps of the whole
// object, for every Trimmer setting, and the projection did run (it holds
// none of the fields lbdns does not read).
func TestProjectionKeepsWhatTheTrimmerKeeps(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	filter, err := labels.Parse("team")
	if err != nil {
		t.Fatal(err)
	}
	for _, trim := range []Trimmer{{AnnotationPrefix: "lbdns.io/"}, {AnnotationPrefix: "lbdns.io/", AnnotationFilter: filter}} {
		full, projected, enc := codecs(t, trim, corev1.SchemeGroupVersion)
		for i := range 2000 {
			data, err := runtime.Encode(enc, randomService(r, i))
			if err != nil {
				t.Fatal(err)
			}
			want := decodeTrimmed(t, trim, full, data)
			got := decodeTrimmed(t, trim, projected, data)
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("Service %d: cached from the projection %+v, from the whole object %+v", i, got, want)
			}
			p, _, _ := projected.Decode(data, nil, nil)
			if svc := p.(*corev1.Service); svc.Spec.Selector != nil || svc.ManagedFields != nil || svc.Labels != nil {
				t.Fatalf("Service %d was decoded whole, not projected: %+v", i, svc)
			}
		}
		full, projected, enc = codecs(t, trim, discoveryv1.SchemeGroupVersion)
		for i := range 2000 {
			data, err := runtime.Encode(enc, randomSlice(r, i))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := decodeTrimmed(t, trim, projected, data), decodeTrimmed(t, trim, full, data); !reflect.DeepEqual(got, want) {
				t.Fatalf("EndpointSlice %d: cached from the projection %+v, from the whole object %+v", i, got, want)
			}
		}
	}
}

func decodeTrimmed(t *testing.T, trim Trimmer, d runtime.Decoder, data []byte) any {
	t.Helper()
	obj, _, err := d.Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	out, err := trim.Transform(obj)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A watch-list ends with a bookmark whose annotation says so: the
// projection keeps it, or the informer would never sync. Lists and Status
// objects (a watch's errors) are decoded whole.
func TestProjectionKeepsBookmarksAndPassesOtherKinds(t *testing.T) {
	_, projected, enc := codecs(t, Trimmer{AnnotationPrefix: "lbdns.io/"}, corev1.SchemeGroupVersion)
	bookmark := &corev1.Service{ObjectMeta: metav1.ObjectMeta{ResourceVersion: "42",
		Annotations: map[string]string{metav1.InitialEventsAnnotationKey: "true"}}}
	obj := decode(t, projected, enc, bookmark)
	if m := obj.(*corev1.Service); m.ResourceVersion != "42" || m.Annotations[metav1.InitialEventsAnnotationKey] != "true" {
		t.Fatalf("bookmark = %+v", m.ObjectMeta)
	}
	list := &corev1.ServiceList{Items: []corev1.Service{{ObjectMeta: metav1.ObjectMeta{Name: "a", Labels: map[string]string{"x": "y"}}}}}
	if l, ok := decode(t, projected, enc, list).(*corev1.ServiceList); !ok || l.Items[0].Labels["x"] != "y" {
		t.Fatalf("list decoded as %+v", l)
	}
	status := &metav1.Status{Status: metav1.StatusFailure, Code: 410, Reason: metav1.StatusReasonExpired}
	if s, ok := decode(t, projected, enc, status).(*metav1.Status); !ok || s.Code != 410 {
		t.Fatalf("status decoded as %+v", s)
	}
}

func decode(t *testing.T, d runtime.Decoder, enc runtime.Encoder, obj runtime.Object) runtime.Object {
	t.Helper()
	data, err := runtime.Encode(enc, obj)
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := d.Decode(data, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Bytes the projection cannot read go to the client's decoder, which
// refuses them as before: no panic, no half object.
func FuzzProjection(f *testing.F) {
	_, projected, enc := codecs(f, Trimmer{AnnotationPrefix: "lbdns.io/"}, corev1.SchemeGroupVersion)
	r := rand.New(rand.NewPCG(3, 4))
	for i := range 5 {
		data, err := runtime.Encode(enc, randomService(r, i))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		obj, _, err := projected.Decode(data, nil, nil)
		if err == nil && obj == nil {
			t.Fatal("no object and no error")
		}
	})
}

// BenchmarkDecodeService decodes a Service as the API server sends it
// (managedFields, selector, cluster IPs, foreign annotations) whole and
// projected, and trims it.
func BenchmarkDecodeService(b *testing.B) {
	trim := Trimmer{AnnotationPrefix: "lbdns.io/"}
	full, projected, enc := codecs(b, trim, corev1.SchemeGroupVersion)
	svc := randomService(rand.New(rand.NewPCG(5, 6)), 1)
	svc.Spec.Type = corev1.ServiceTypeLoadBalancer
	data, err := runtime.Encode(enc, svc)
	if err != nil {
		b.Fatal(err)
	}
	for _, d := range []struct {
		name string
		dec  runtime.Decoder
	}{{"whole", full}, {"projected", projected}} {
		b.Run(d.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				obj, _, err := d.dec.Decode(data, nil, nil)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := trim.Transform(obj); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
