package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestTenancy does what a tenant of a shared cluster would try against the
// embedded DNS at default settings: join another namespace's hostname with a
// huge weight, no probe and a TTL of 1, claim the zone's own name-server
// name, and answer for the owner's name through a wildcard once the owner
// drains.
func TestTenancy(t *testing.T) {
	e := suite
	for _, ns := range []string{"team-a", "mallory"} {
		_, err := e.cp.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	app, wild, nsName := "app.t."+zoneEmbedded, "*.t."+zoneEmbedded, "ns1."+zoneEmbedded
	owner, thief := newBackend(t, "127.0.60.1"), newBackend(t, "127.0.60.66")
	e.createService(t, lbService{namespace: "team-a", name: "web", hostname: app, backend: owner})
	waitEmbedded(t, e, app, owner.ip.String())
	time.Sleep(1100 * time.Millisecond) // creation times have whole seconds: mallory's Service is surely younger
	e.createService(t, lbService{namespace: "mallory", name: "grab", hostname: strings.Join([]string{app, nsName, wild}, ","), backend: thief,
		annotations: map[string]string{"lbdns.io/weight": "1000", "lbdns.io/probe": "none", "lbdns.io/ttl": "1"}})
	waitEmbedded(t, e, "other.t."+zoneEmbedded, thief.ip.String()) // mallory's own wildcard works: its Service is read

	// 1. The owned name: never mallory's IP, TTL unchanged.
	stolen, minTTL := 0, uint32(1<<31)
	for range 40 {
		r := exchange(t, e, "udp", app, dns.TypeA)
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok {
				stolen += b2i(a.A.String() == thief.ip.String())
				minTTL = min(minTTL, a.Hdr.Ttl)
			}
		}
	}
	if stolen != 0 || minTTL != 30 {
		t.Fatalf("%s: mallory's IP in %d of 40 answers, smallest TTL %d (want 0 and 30)", app, stolen, minTTL)
	}
	// 2. The zone's name-server name is reserved.
	nsStolen := 0
	for range 40 {
		r := exchange(t, e, "udp", nsName, dns.TypeA)
		for _, rr := range r.Answer {
			if a, ok := rr.(*dns.A); ok && a.A.String() == thief.ip.String() {
				nsStolen++
			}
		}
	}
	if nsStolen != 0 {
		t.Fatalf("%s answered with mallory's IP %d of 40 times", nsName, nsStolen)
	}
	// 3. Told, shown, counted.
	e.waitWarning(t, "mallory", "grab", "HostnameOwned", "belongs to namespace team-a")
	e.waitWarning(t, "mallory", "grab", "ReservedHostname", nsName)
	e.embedded.lbdns.waitMetric(t, "lbdns_hostname_refused_services", map[string]string{"hostname": app, "reason": "HostnameOwned"}, 1)
	var st struct {
		Hostnames []struct {
			Hostname, Owner string
			Refused         []struct{ Service, Reason string }
		}
	}
	if err := e.embedded.lbdns.status(&st); err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(st.Hostnames, func(h struct {
		Hostname, Owner string
		Refused         []struct{ Service, Reason string }
	}) bool {
		return h.Hostname == app
	})
	if i < 0 || st.Hostnames[i].Owner != "team-a" || len(st.Hostnames[i].Refused) != 1 || st.Hostnames[i].Refused[0].Service != "mallory/grab" {
		t.Fatalf("/status of %s: %+v", app, st.Hostnames)
	}
	// 4. team-a drains its name: mallory's wildcard still does not answer for it.
	e.annotateIn(t, "team-a", "web", "lbdns.io/weight", "0")
	if err := framework.WaitFor(30*time.Second, app+" drained", func() error {
		if r := exchange(t, e, "udp", app, dns.TypeA); len(r.Answer) > 0 {
			return fmt.Errorf("answer %v", r.Answer)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	wildcard := 0
	for range 20 {
		wildcard += len(exchange(t, e, "udp", app, dns.TypeA).Answer)
	}
	if wildcard != 0 {
		t.Fatalf("%s drained: %d answers from mallory's wildcard in 20 queries", app, wildcard)
	}
	record(t, "PASS mallory (weight 1000, probe none, TTL 1) in 0 of 40 answers for team-a's name (TTL stays 30), 0 of 40 for %s; "+
		"HostnameOwned and ReservedHostname Warnings, /status refused; team-a drained: 0 of 20 answers from mallory's wildcard", nsName)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// waitWarning waits for a Warning event with the reason and words on a
// Service of namespace ns.
func (e *env) waitWarning(t *testing.T, ns, service, reason string, words ...string) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s/%s Warning %s", ns, service, reason), func() error {
		events, err := e.warningEventsIn(ns, service)
		if err != nil {
			return err
		}
		for _, ev := range events {
			if strings.HasPrefix(ev, reason+": ") && containsAll(ev, words) {
				return nil
			}
		}
		return fmt.Errorf("events %v", events)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func containsAll(s string, words []string) bool {
	for _, w := range words {
		if !strings.Contains(s, w) {
			return false
		}
	}
	return true
}
