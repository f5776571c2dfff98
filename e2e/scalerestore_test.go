package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/scheme"
)

// Why make scalebench writes Services past the first
// LBDNS_SCALE_API_LIMIT (default 10,000) straight into
// etcd: kube-apiserver 1.36 counts every allocated ClusterIP after each
// allocation, to set a metric (ipallocator.Allocator.createIPAddress calls
// Used and Free, which list every IPAddress), so creating N LoadBalancer
// Services through it costs O(N^2): at 17,000 Services its profile spent
// 79 % of its CPU there and it created 29 Services a second, falling. The
// restored objects are copies of ones the API server made (Service,
// EndpointSlice and the IPAddress of its ClusterIP), re-encoded as it
// stores them, so lbdns and external-dns read them through the API server's
// watch cache like any other: only the allocator's bookkeeping is skipped.
func scaleAPILimit() int { return envInt("LBDNS_SCALE_API_LIMIT", 10000) }

// etcdTemplates are the stored forms of one Service the API server
// created, with their keys.
type etcdTemplates struct {
	svc     *corev1.Service
	slice   *discoveryv1.EndpointSlice
	ip      *networkingv1.IPAddress
	svcKey  string // with the Service's name at its end
	ipKey   string // with the IP at its end
	usedIPs map[string]bool
}

// restoreScaleServices writes Services from to to-1 (and their
// EndpointSlices and ClusterIP IPAddresses) into etcd, copied from Service
// 0, on 8 writers. Each object is a transaction of its own: the API server
// gives each etcd revision to one object, and a watch resumed at a
// revision that held several would miss the rest of them.
func (e *env) restoreScaleServices(ctx context.Context, b *testing.B, w scaleWorkload, from, to int) {
	t := e.etcdTemplates(ctx, b, w)
	ips := make([]netip.Addr, to)
	next := netip.MustParseAddr("10.104.0.0") // the upper half of the /12, where few allocations land
	for i := from; i < to; i++ {
		for next = next.Next(); t.usedIPs[next.String()]; next = next.Next() {
		}
		ips[i] = next
	}
	e.scaleApply(b, from, to, func(i int) error {
		for _, put := range t.objects(b, w, i, ips[i]) { // its IPAddress and EndpointSlice before the Service
			if err := etcdTxn(e.cp.EtcdURL, []etcdPut{put}); err != nil {
				return err
			}
		}
		return nil
	})
}

// etcdTemplates reads Service 0's stored objects, and the IPs allocated so far.
func (e *env) etcdTemplates(ctx context.Context, b *testing.B, w scaleWorkload) etcdTemplates {
	svc, err := e.cp.Client.CoreV1().Services(scaleNamespace).Get(ctx, w.name(0), metav1.GetOptions{})
	if err != nil {
		b.Fatal(err)
	}
	t := etcdTemplates{usedIPs: map[string]bool{}}
	keys, err := etcdRange(e.cp.EtcdURL, "/registry/")
	if err != nil {
		b.Fatal(err)
	}
	for key, raw := range keys {
		switch {
		case strings.HasSuffix(key, "/services/specs/"+scaleNamespace+"/"+w.name(0)):
			t.svcKey, t.svc = key, decodeStored[*corev1.Service](b, raw)
		case strings.HasSuffix(key, "/endpointslices/"+scaleNamespace+"/"+w.name(0)):
			t.slice = decodeStored[*discoveryv1.EndpointSlice](b, raw)
		case strings.Contains(key, "/ipaddresses/"):
			ip := key[strings.LastIndex(key, "/")+1:]
			t.usedIPs[ip] = true
			if ip == svc.Spec.ClusterIP {
				t.ipKey, t.ip = key, decodeStored[*networkingv1.IPAddress](b, raw)
			}
		}
	}
	if t.svc == nil || t.slice == nil || t.ip == nil {
		b.Fatalf("etcd holds no Service, EndpointSlice or IPAddress of %s/%s (keys under /registry/: %d)", scaleNamespace, w.name(0), len(keys))
	}
	return t
}

// objects are Service i's three stored objects, with ClusterIP ip.
func (t etcdTemplates) objects(b *testing.B, w scaleWorkload, i int, ip netip.Addr) []etcdPut {
	name, uid := w.name(i), types.UID(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
	svc := t.svc.DeepCopy()
	svc.Name, svc.UID, svc.Labels = name, uid, map[string]string{"app": name}
	svc.Annotations = map[string]string{"lbdns.io/hostname": w.hostname(i), "lbdns.io/probe": "none"}
	svc.Spec.Selector = map[string]string{"app": name}
	svc.Spec.ClusterIP, svc.Spec.ClusterIPs = ip.String(), []string{ip.String()}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: w.ip(i).String()}}

	slice := t.slice.DeepCopy()
	slice.Name, slice.UID = name, types.UID(fmt.Sprintf("00000000-0000-4000-9000-%012d", i))
	slice.Labels = map[string]string{discoveryv1.LabelServiceName: name}

	addr := t.ip.DeepCopy()
	addr.Name, addr.UID = ip.String(), types.UID(fmt.Sprintf("00000000-0000-4000-a000-%012d", i))
	addr.Spec.ParentRef.Name = name

	svcKey := strings.TrimSuffix(t.svcKey, w.name(0)) + name
	return []etcdPut{
		{strings.TrimSuffix(t.ipKey, t.ip.Name) + addr.Name, encodeStored(b, addr, networkingv1.SchemeGroupVersion)},
		{strings.Replace(svcKey, "/services/specs/", "/endpointslices/", 1), encodeStored(b, slice, discoveryv1.SchemeGroupVersion)},
		{svcKey, encodeStored(b, svc, corev1.SchemeGroupVersion)},
	}
}

// decodeStored decodes an object as the API server stores it (protobuf
// behind the "k8s\x00" magic).
func decodeStored[T runtime.Object](b *testing.B, raw []byte) T {
	obj, _, err := scheme.Codecs.UniversalDeserializer().Decode(raw, nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	out, ok := obj.(T)
	if !ok {
		b.Fatalf("stored object is a %T", obj)
	}
	return out
}

// encodeStored encodes an object as the API server stores it, without a
// resourceVersion (etcd's revision is the object's).
func encodeStored(b *testing.B, obj runtime.Object, gv runtime.GroupVersioner) []byte {
	obj.(metav1.Object).SetResourceVersion("")
	info, ok := runtime.SerializerInfoForMediaType(scheme.Codecs.SupportedMediaTypes(), runtime.ContentTypeProtobuf)
	if !ok {
		b.Fatal("no protobuf serializer")
	}
	raw, err := runtime.Encode(scheme.Codecs.EncoderForVersion(info.Serializer, gv), obj)
	if err != nil {
		b.Fatal(err)
	}
	return raw
}

// etcdPut is one key and value for etcdTxn.
type etcdPut struct {
	key   string
	value []byte
}

// etcdTxn writes keys that must not exist yet, in one transaction, through
// etcd's JSON gateway (etcd 3.4: /v3/kv/txn, bytes in base64).
func etcdTxn(url string, puts []etcdPut) error {
	var req struct {
		Compare []map[string]any            `json:"compare"`
		Success []map[string]map[string]any `json:"success"`
	}
	for _, p := range puts {
		key := base64.StdEncoding.EncodeToString([]byte(p.key))
		req.Compare = append(req.Compare, map[string]any{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
		req.Success = append(req.Success, map[string]map[string]any{"request_put": {"key": key,
			"value": base64.StdEncoding.EncodeToString(p.value)}})
	}
	var resp struct {
		Succeeded bool `json:"succeeded"`
	}
	if err := etcdCall(url+"/v3/kv/txn", req, &resp); err != nil {
		return err
	}
	if !resp.Succeeded {
		return fmt.Errorf("etcd refused the transaction: one of its %d keys exists already", len(puts))
	}
	return nil
}

// etcdRange returns every key under prefix with its value.
func etcdRange(url, prefix string) (map[string][]byte, error) {
	end := []byte(prefix)
	end[len(end)-1]++
	req := map[string]string{"key": base64.StdEncoding.EncodeToString([]byte(prefix)), "range_end": base64.StdEncoding.EncodeToString(end)}
	var resp struct {
		Kvs []struct{ Key, Value string } `json:"kvs"`
	}
	if err := etcdCall(url+"/v3/kv/range", req, &resp); err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, kv := range resp.Kvs {
		k, err1 := base64.StdEncoding.DecodeString(kv.Key)
		v, err2 := base64.StdEncoding.DecodeString(kv.Value)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("etcd sent a key or value that is not base64")
		}
		out[string(k)] = v
	}
	return out, nil
}

func etcdCall(url string, req, resp any) error {
	body, err := json.Marshal(req)
	if err != nil {
		return err
	}
	r, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer r.Body.Close()
	if r.StatusCode != http.StatusOK {
		return fmt.Errorf("etcd %s: %s", url, r.Status)
	}
	return json.NewDecoder(r.Body).Decode(resp)
}
