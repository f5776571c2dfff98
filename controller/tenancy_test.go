package controller

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/lbdns/lbdns/tenancy"
)

// inNamespace moves a test Service and its EndpointSlice to namespace ns,
// created at the given time.
func inNamespace(ns string, created time.Time, objs ...any) []any {
	for _, o := range objs {
		switch o := o.(type) {
		case *corev1.Service:
			o.Namespace, o.CreationTimestamp = ns, metav1.NewTime(created)
		case interface{ SetNamespace(string) }:
			o.SetNamespace(ns)
		}
	}
	return objs
}

// Another namespace naming an owned hostname publishes nothing, cannot
// lower its TTL, is warned once, and takes over only when the owner's last
// Service is gone.
func TestControllerHostnameBelongsToItsNamespace(t *testing.T) {
	a, m := newBackend(t, "127.0.0.91"), newBackend(t, "127.0.0.92")
	old := time.Now().Add(-time.Hour)
	objs := inNamespace("team-a", old, service("a", a, nil), endpointSlice("a", true))
	objs = append(objs, inNamespace("mallory", time.Now(), service("m", m, map[string]string{"lbdns.io/weight": "1000", "lbdns.io/ttl": "1"}),
		endpointSlice("m", true))...)
	h := newHarnessWith(t, func(o *Options) { o.Tenancy = tenancy.Policy{Mode: tenancy.ModeNamespace} }, objs...)
	d := h.waitPublished("127.0.0.91")
	if d.TTL != 30 || d.Owner != "team-a" || len(d.Refused) != 1 || d.Refused[0].Namespace != "mallory" || d.Refused[0].Reason != string(tenancy.Owned) {
		t.Fatalf("decision %+v", d)
	}
	h.waitEvent("Warning", "HostnameOwned", "belongs to namespace team-a")
	if v := h.gauge("lbdns_hostname_refused_services", map[string]string{"hostname": hostname, "reason": "HostnameOwned"}); v != 1 {
		t.Errorf("lbdns_hostname_refused_services = %v, want 1", v)
	}
	time.Sleep(200 * time.Millisecond) // probe results keep reconciling: the warning must not repeat
	for len(h.events.Events) > 0 {
		if e := <-h.events.Events; strings.Contains(e, "HostnameOwned") {
			t.Fatalf("warning repeated: %s", e)
		}
	}
	if err := h.client.CoreV1().Services("team-a").Delete(context.Background(), "a", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	d = h.waitPublished("127.0.0.92")
	if d.Owner != "mallory" || len(d.Refused) != 0 || d.TTL != 1 {
		t.Fatalf("after the owner left: %+v", d)
	}
}

// The owner shares with a listed namespace; shared mode lets everyone join.
func TestControllerShareWith(t *testing.T) {
	a, b := newBackend(t, "127.0.0.93"), newBackend(t, "127.0.0.94")
	old := time.Now().Add(-time.Hour)
	objs := inNamespace("team-a", old, service("a", a, map[string]string{"lbdns.io/share-with": "team-b"}), endpointSlice("a", true))
	objs = append(objs, inNamespace("team-b", time.Now(), service("b", b, nil), endpointSlice("b", true))...)
	h := newHarnessWith(t, func(o *Options) { o.Tenancy = tenancy.Policy{Mode: tenancy.ModeNamespace} }, objs...)
	h.waitPublished("127.0.0.93", "127.0.0.94")
}

// The transition counter forgets a hostname that is gone.
func TestControllerForgetsTheTransitionsOfAGoneHostname(t *testing.T) {
	a, b := newBackend(t, "127.0.0.95"), newBackend(t, "127.0.0.96")
	h := newHarness(t, true, service("a", a, nil), service("b", b, nil), endpointSlice("a", true), endpointSlice("b", true))
	h.waitPublished("127.0.0.95", "127.0.0.96")
	if _, err := h.client.DiscoveryV1().EndpointSlices("default").Update(context.Background(), endpointSlice("a", false), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitPublished("127.0.0.96")
	if n := testutil.CollectAndCount(h.metrics.transitions); n != 1 {
		t.Fatalf("%d transition series, want 1", n)
	}
	for _, name := range []string{"a", "b"} {
		if err := h.client.CoreV1().Services("default").Delete(context.Background(), name, metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for testutil.CollectAndCount(h.metrics.transitions) != 0 {
		if time.Now().After(deadline) {
			t.Fatal("the transition series of a gone hostname stayed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
