package provider

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/probe"
)

func td(ns, svc, ip string, published bool) health.TargetDecision {
	return health.TargetDecision{
		Target:    health.Target{Key: health.Key{Namespace: ns, Service: svc, IP: netip.MustParseAddr(ip)}, Weight: 100},
		Healthy:   published,
		Published: published,
	}
}

func TestEndpoints(t *testing.T) {
	snap := &health.Snapshot{Hostnames: []health.Decision{
		{Hostname: "app.example.com", TTL: 20, Targets: []health.TargetDecision{
			td("web", "a", "192.0.2.10", true), td("web", "a", "2001:db8::1", true),
			td("web", "b", "192.0.2.9", true), td("web", "c", "192.0.2.11", false),
			td("web", "d", "192.0.2.9", true), // the same IP from a second Service
		}},
		{Hostname: "down.example.com", TTL: 30, Targets: []health.TargetDecision{td("web", "e", "192.0.2.1", false)}},
	}}
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

type fixedSnapshots struct {
	snap    *health.Snapshot
	changed chan struct{}
}

func (f *fixedSnapshots) Snapshot() *health.Snapshot { return f.snap }
func (f *fixedSnapshots) Changed() <-chan struct{}   { return f.changed }

func TestSourceEventHandler(t *testing.T) {
	snaps := &fixedSnapshots{snap: &health.Snapshot{}, changed: make(chan struct{})}
	src := NewSource(snaps)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := make(chan struct{}, 1)
	src.AddEventHandler(ctx, func() {
		select {
		case called <- struct{}{}:
		default:
		}
	})
	close(snaps.changed)
	select {
	case <-called:
	case <-time.After(5 * time.Second):
		t.Fatal("handler not called after a change")
	}
	eps, err := src.Endpoints(ctx)
	if err != nil || len(eps) != 0 {
		t.Fatalf("Endpoints() = %v, %v", eps, err)
	}
}

// BenchmarkEndpoints measures Endpoints() over 10,000 Services in 1,000
// hostnames (10 Services each, all published).
func BenchmarkEndpoints(b *testing.B) {
	snap := bigSnapshot(1000, 10)
	src := NewSource(&fixedSnapshots{snap: snap})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		eps, _ := src.Endpoints(context.Background())
		if len(eps) != 1000 {
			b.Fatalf("%d endpoints", len(eps))
		}
	}
}

func bigSnapshot(hostnames, perHost int) *health.Snapshot {
	snap := &health.Snapshot{}
	for h := range hostnames {
		d := health.Decision{Hostname: fmt.Sprintf("h%d.example.com", h), TTL: 30}
		for s := range perHost {
			n := h*perHost + s
			ip := netip.AddrFrom4([4]byte{10, byte(n >> 16), byte(n >> 8), byte(n)})
			t := td("ns", fmt.Sprintf("svc-%d", n), ip.String(), true)
			t.Probe = probe.Status{State: probe.Up}
			d.Targets = append(d.Targets, t)
		}
		snap.Hostnames = append(snap.Hostnames, d)
	}
	return snap
}
