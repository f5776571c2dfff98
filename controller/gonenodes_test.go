package controller

import (
	"net/netip"
	"testing"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

// none is a cluster in which no Node holds any IP.
func none(model.ClusterIP) bool { return false }

func TestGoneNodes(t *testing.T) {
	ipAddr, otherAddr := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	ip, other := model.ClusterIP{IP: ipAddr}, model.ClusterIP{IP: otherAddr}
	k := model.Key{Namespace: "ns", Service: "a", IP: ipAddr}
	targets := map[model.ClusterIP][]model.Key{ip: {k}, other: {{Namespace: "ns", Service: "b", IP: otherAddr}}}
	g := newGoneNodes(2)
	g.Add("", "n1", []netip.Addr{ipAddr, otherAddr})

	// Up and passing since long before the deletion: still withdrawn.
	probes := map[model.Key]probe.Status{k: {State: probe.Up, Successes: 40, Rounds: 40}}
	if got := g.Weigh(none, targets, probes); got[ip] != "n1" || got[other] != "n1" {
		t.Fatalf("right after the deletion: %v", got)
	}
	// One more success is not rise (2) successes after the deletion.
	probes[k] = probe.Status{State: probe.Up, Successes: 41, Rounds: 41}
	if got := g.Weigh(none, targets, probes); got[ip] != "n1" {
		t.Fatalf("after one success: %v", got)
	}
	// A failure, then two successes: rise successes after the deletion.
	probes[k] = probe.Status{State: probe.Up, Successes: 2, Rounds: 44}
	if got := g.Weigh(none, targets, probes); got[ip] != "" {
		t.Fatalf("after rise successes: %v, want the IP released", got)
	}
	// other is not probed: it waits for a Node to hold it, or for its
	// target to go.
	if got := g.Weigh(none, targets, probes); got[other] != "n1" {
		t.Fatalf("unprobed IP released: %v", got)
	}
	if got := g.Weigh(func(ip model.ClusterIP) bool { return ip == other }, targets, probes); len(got) != 0 {
		t.Fatalf("an IP a Node holds again is still withdrawn: %v", got)
	}

	g.Add("", "n2", []netip.Addr{ipAddr})
	if got := g.Weigh(none, nil, probes); len(got) != 0 || g.Len() != 1 {
		t.Fatalf("an IP outside the pass is weighed (%v) or forgotten (%d left)", got, g.Len())
	}
	g.Forget(ip)
	if g.Len() != 0 {
		t.Fatal("Forget kept the IP")
	}
	g.Add("", "n2", []netip.Addr{ipAddr})
	g.Weigh(none, targets, probes)
	// The prober restarted (the target went and came back): new baseline.
	probes[k] = probe.Status{State: probe.Up, Successes: 2, Rounds: 2}
	if got := g.Weigh(none, targets, probes); got[ip] != "n2" {
		t.Fatalf("a restarted prober released the IP at once: %v", got)
	}
	probes[k] = probe.Status{State: probe.Up, Successes: 4, Rounds: 4}
	if got := g.Weigh(none, targets, probes); len(got) != 0 {
		t.Fatalf("after rise successes of the new prober: %v", got)
	}
	// The same IP in another cluster is another IP.
	g.Add("b", "n3", []netip.Addr{ipAddr})
	if got := g.Weigh(none, targets, probes); len(got) != 0 || g.Len() != 1 {
		t.Fatalf("a Node deleted in cluster b withdrew the local IP: %v", got)
	}
}
