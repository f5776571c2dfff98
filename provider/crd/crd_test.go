package crd

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/lbdns/lbdns/internal/testsnap"
	"github.com/lbdns/lbdns/provider"
)

const ns = "lbdns"

var snapshot = testsnap.Build

func foreign(name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("externaldns.k8s.io/v1alpha1")
	u.SetKind("DNSEndpoint")
	u.SetNamespace(ns)
	u.SetName(name)
	u.Object["spec"] = map[string]any{"endpoints": []any{map[string]any{"dnsName": "x.example.com", "recordType": "A", "targets": []any{"192.0.2.200"}}}}
	return u
}

func newFake(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{GVR: "DNSEndpointList"}, objs...)
}

func get(t *testing.T, c *dynamicfake.FakeDynamicClient, name string) *unstructured.Unstructured {
	t.Helper()
	u, err := c.Resource(GVR).Namespace(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s: %v", name, err)
	}
	return u
}

func targets(t *testing.T, u *unstructured.Unstructured) string {
	t.Helper()
	eps, _, _ := unstructured.NestedSlice(u.Object, "spec", "endpoints")
	var out []string
	for _, e := range eps {
		m := e.(map[string]any)
		ts, _, _ := unstructured.NestedStringSlice(m, "targets")
		out = append(out, m["recordType"].(string)+":"+strings.Join(ts, ","))
	}
	return strings.Join(out, " ")
}

func writes(c *dynamicfake.FakeDynamicClient) []string {
	var out []string
	for _, a := range c.Actions() {
		switch a.GetVerb() {
		case "create", "update", "delete":
			out = append(out, a.GetVerb())
		}
	}
	return out
}

func TestSyncOwnsOnlyItsObjects(t *testing.T) {
	// A foreign object that happens to have lbdns's name for b.example.com,
	// and one with another name: neither may be touched.
	c := newFake(foreign(ObjectName("b.example.com")), foreign("someone-elses"))
	w := provider.NewWriteLoop(nil, nil, New(c, ns, nil), provider.LoopOptions{Output: Output})
	ctx := context.Background()

	err := w.Sync(ctx, snapshot(1, map[string][]string{"a.example.com": {"192.0.2.1", "2001:db8::1"}, "b.example.com": {"192.0.2.2"}}))
	if err == nil || !strings.Contains(err.Error(), "not labelled") {
		t.Fatalf("want an error about the foreign object, got %v", err)
	}
	a := get(t, c, "lbdns-a.example.com")
	if got := targets(t, a); got != "A:192.0.2.1 AAAA:2001:db8::1" {
		t.Errorf("a's endpoints = %q", got)
	}
	if a.GetLabels()[ManagedByLabel] != ManagedByValue || a.GetAnnotations()[HostnameAnnotation] != "a.example.com" {
		t.Errorf("a's labels %v annotations %v", a.GetLabels(), a.GetAnnotations())
	}
	if got := targets(t, get(t, c, ObjectName("b.example.com"))); got != "A:192.0.2.200" {
		t.Errorf("the foreign object was changed: %q", got)
	}

	// The same content again: no write at all.
	c.ClearActions()
	_ = w.Sync(ctx, snapshot(2, map[string][]string{"a.example.com": {"192.0.2.1", "2001:db8::1"}}))
	if got := writes(c); len(got) != 0 {
		t.Errorf("writes for unchanged content: %v", got)
	}

	// A withdrawal updates; the hostname gone deletes only lbdns's object.
	if err := w.Sync(ctx, snapshot(3, map[string][]string{"a.example.com": {"2001:db8::1"}})); err != nil {
		t.Fatal(err)
	}
	if got := targets(t, get(t, c, "lbdns-a.example.com")); got != "AAAA:2001:db8::1" {
		t.Errorf("after withdrawal: %q", got)
	}
	if err := w.Sync(ctx, snapshot(4, nil)); err != nil {
		t.Fatal(err)
	}
	list, err := c.Resource(GVR).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, u := range list.Items {
		names = append(names, u.GetName())
	}
	if strings.Join(names, " ") != "lbdns-b.example.com someone-elses" {
		t.Errorf("left: %v, want only the two foreign objects", names)
	}
}

func TestObjectName(t *testing.T) {
	for in, want := range map[string]string{
		"app.example.com":    "lbdns-app.example.com",
		"*.apps.example.com": "lbdns-wildcard.apps.example.com",
		"_svc.example.com":   "lbdns--svc.example.com",
	} {
		if got := ObjectName(in); got != want {
			t.Errorf("ObjectName(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDryRunChangesNothing(t *testing.T) {
	c := newFake()
	obs := &provider.SyncObserver{Output: Output}
	w := provider.NewWriteLoop(nil, nil, New(c, ns, nil), provider.LoopOptions{Output: Output, DryRun: true, Observer: obs})
	if err := w.Sync(context.Background(), snapshot(1, map[string][]string{"a.example.com": {"192.0.2.1"}})); err != nil {
		t.Fatal(err)
	}
	if got := writes(c); len(got) != 0 {
		t.Fatalf("a dry run wrote: %v", got)
	}
	if st := obs.Status(); !st.DryRun || len(st.Plan) != 1 || st.Plan[0].Action != "create" || st.Plan[0].Name != "DNSEndpoint "+ns+"/lbdns-a.example.com" {
		t.Fatalf("status: %+v", st)
	}
}
