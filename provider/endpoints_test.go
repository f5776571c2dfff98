package provider

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"

	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

func td(ns, svc, ip string, published bool) model.TargetDecision {
	return model.TargetDecision{
		Target:    model.Target{Key: model.Key{Namespace: ns, Service: svc, IP: netip.MustParseAddr(ip)}, Weight: 100},
		Healthy:   published,
		Published: published,
	}
}

func TestEndpoints(t *testing.T) {
	snap := &model.Snapshot{Hostnames: model.NewDecisions([]model.Decision{
		{Hostname: "app.example.com", TTL: 20, Targets: []model.TargetDecision{
			td("web", "a", "192.0.2.10", true), td("web", "a", "2001:db8::1", true),
			td("web", "b", "192.0.2.9", true), td("web", "c", "192.0.2.11", false),
			td("web", "d", "192.0.2.9", true), // the same IP from a second Service
		}},
		{Hostname: "down.example.com", TTL: 30, Targets: []model.TargetDecision{td("web", "e", "192.0.2.1", false)}},
	})}
	eps := Endpoints(snap)
	var got []string
	for _, ep := range eps {
		got = append(got, fmt.Sprintf("%s %s %d %v %s", ep.DNSName, ep.RecordType, ep.RecordTTL, []string(ep.Targets), ep.Labels[endpoint.ResourceLabelKey]))
	}
	want := []string{
		"app.example.com A 20 [192.0.2.9 192.0.2.10] service/web/a",
		"app.example.com AAAA 20 [2001:db8::1] service/web/a",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("endpoints:\n got %q\nwant %q", got, want)
	}
}

// BenchmarkEndpoints measures Endpoints() over 10,000 Services in 1,000
// hostnames (10 Services each, all published).
func BenchmarkEndpoints(b *testing.B) {
	snap := bigSnapshot(1000, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		eps := Endpoints(snap)
		if len(eps) != 1000 {
			b.Fatalf("%d endpoints", len(eps))
		}
	}
}

func bigSnapshot(hostnames, perHost int) *model.Snapshot {
	snap := &model.Snapshot{}
	var ds []model.Decision
	for h := range hostnames {
		d := model.Decision{Hostname: fmt.Sprintf("h%d.example.com", h), TTL: 30}
		for s := range perHost {
			n := h*perHost + s
			ip := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
			t := td("ns", fmt.Sprintf("svc-%d", n), ip.String(), true)
			t.ProbeStatus = probe.Status{State: probe.Up}
			d.Targets = append(d.Targets, t)
		}
		ds = append(ds, d)
	}
	snap.Hostnames = model.NewDecisions(ds) // h10 before h2: not sorted, as Endpoints does not need
	return snap
}
