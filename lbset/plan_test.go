package lbset

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

const gbit = 1e9

// nodes returns eligible nodes n0..n(k-1) of 2 Gbit/s; those in withPods run a pod.
func nodes(k int, withPods ...string) []Node {
	var out []Node
	for i := range k {
		name := fmt.Sprintf("n%d", i)
		has := false
		for _, p := range withPods {
			has = has || p == name
		}
		out = append(out, Node{Name: name, Eligible: true, HasPods: has, Bandwidth: 2 * gbit})
	}
	return out
}

func input(ns []Node, ms ...Member) Input {
	return Input{Set: "web", Min: 2, Max: 4, Target: 0.7, ScaleOutAfter: time.Minute, ScaleInAfter: 10 * time.Minute,
		Cooldown: 3 * time.Minute, DrainFor: time.Minute, Nodes: ns, Members: ms, Now: t0}
}

func member(index int, node string, published bool, traffic float64) Member {
	return Member{Name: fmt.Sprintf("web-%d", index), Index: index, Node: node, IP: "192.0.2.1", Published: published, Traffic: traffic}
}

func only(t *testing.T, p Plan, kind ActionKind) []Action {
	t.Helper()
	var out []Action
	for _, a := range p.Actions {
		if a.Kind != kind {
			t.Fatalf("unexpected %s of %s (%s) in %+v", a.Kind, a.Service, a.Reason, p.Actions)
		}
		out = append(out, a)
	}
	return out
}

// A new set gets its minimum, on distinct nodes, those with pods first.
func TestNewSetGetsMinimumOnDistinctNodes(t *testing.T) {
	p := Decide(input(nodes(4, "n2", "n3")))
	got := only(t, p, Create)
	if len(got) != 2 || got[0].Node != "n2" || got[1].Node != "n3" || got[0].Service != "web-0" || got[1].Service != "web-1" {
		t.Fatalf("creates %+v", got)
	}
	if p.Desired != 2 {
		t.Fatalf("desired %d", p.Desired)
	}
}

// A Service whose node died is replaced on another node first; it is
// deleted only once the replacement is published.
func TestDeadNodeReplacedBeforeDelete(t *testing.T) {
	ns := nodes(4)
	ns[1].Eligible, ns[1].Why = false, "is not Ready"
	in := input(ns, member(0, "n0", true, 0), member(1, "n1", false, 0))
	got := only(t, Decide(in), Create)
	if len(got) != 1 || got[0].Node == "n0" || got[0].Node == "n1" || got[0].Service != "web-2" || !strings.Contains(got[0].Reason, "replaces web-1") {
		t.Fatalf("replacement %+v", got)
	}
	in.Members = append(in.Members, member(2, got[0].Node, false, 0)) // created, not yet published
	if p := Decide(in); len(p.Actions) != 0 {
		t.Fatalf("acted before the replacement was published: %+v", p.Actions)
	}
	in.Members[2].Published = true
	del := only(t, Decide(in), Delete)
	if len(del) != 1 || del[0].Service != "web-1" {
		t.Fatalf("after the replacement: %+v", del)
	}
}

// With no node left, nothing is created on a node the set uses, and the
// plan says why.
func TestNoFreeNodeBlocks(t *testing.T) {
	ns := nodes(2)
	ns[1].Eligible = false
	p := Decide(input(ns, member(0, "n0", true, 0), member(1, "n1", false, 0)))
	if len(p.Actions) != 0 || p.Blocked == "" {
		t.Fatalf("actions %+v, blocked %q", p.Actions, p.Blocked)
	}
}

// Traffic above the target adds a Service only after ScaleOutAfter, only on
// a node with pods, not during the cooldown and not beyond the maximum.
func TestScaleOutWithHysteresis(t *testing.T) {
	in := input(nodes(4, "n0", "n1", "n3"), member(0, "n0", true, 1.8*gbit), member(1, "n1", true, 1.6*gbit))
	p := Decide(in)
	if len(p.Actions) != 0 || !p.AboveSince.Equal(t0) {
		t.Fatalf("at once: %+v, above since %v", p.Actions, p.AboveSince)
	}
	in.AboveSince, in.Now = p.AboveSince, t0.Add(time.Minute)
	p = Decide(in)
	got := only(t, p, Create)
	if len(got) != 1 || got[0].Node != "n3" || p.Desired != 3 || !strings.Contains(got[0].Reason, "85 %") {
		t.Fatalf("after a minute above: %+v (desired %d)", got, p.Desired)
	}
	// The new one is published and the traffic stays high: the cooldown holds.
	in.Desired, in.LastScale, in.AboveSince = p.Desired, p.LastScale, time.Time{}
	in.Members = append(in.Members, member(2, "n3", true, 1.9*gbit))
	in.Nodes = nodes(5, "n0", "n1", "n3", "n4")
	in.Now = t0.Add(2 * time.Minute)
	p = Decide(in)
	in.AboveSince, in.Now = p.AboveSince, t0.Add(3*time.Minute+30*time.Second)
	if p = Decide(in); len(p.Actions) != 0 {
		t.Fatalf("during the cooldown: %+v", p.Actions)
	}
	in.Now = t0.Add(5 * time.Minute)
	in.Max = 3
	if p = Decide(in); len(p.Actions) != 0 || p.Desired != 3 {
		t.Fatalf("at the maximum: %+v", p.Actions)
	}
}

// Traffic that crosses the target back and forth never scales.
func TestNoFlapAroundTarget(t *testing.T) {
	in := input(nodes(4, "n0", "n1", "n2", "n3"), member(0, "n0", true, 0), member(1, "n1", true, 0))
	for i := range 20 {
		load := 1.5 * gbit // 75 %
		if i%2 == 1 {
			load = 1.2 * gbit // 60 %
		}
		in.Members[0].Traffic, in.Members[1].Traffic = load, load
		in.Now = t0.Add(time.Duration(i) * 40 * time.Second)
		p := Decide(in)
		if len(p.Actions) != 0 {
			t.Fatalf("round %d: %+v", i, p.Actions)
		}
		in.AboveSince, in.BelowSince = p.AboveSince, p.BelowSince
	}
}

// Traffic under half the target for ScaleInAfter drains one Service (the
// newest), which is deleted after DrainFor; never below the minimum.
func TestScaleInDrainsThenDeletes(t *testing.T) {
	in := input(nodes(4), member(0, "n0", true, 0.1*gbit), member(1, "n1", true, 0.1*gbit), member(2, "n2", true, 0.1*gbit))
	in.Desired = 3
	p := Decide(in)
	if len(p.Actions) != 0 {
		t.Fatalf("at once: %+v", p.Actions)
	}
	in.BelowSince, in.Now = p.BelowSince, t0.Add(10*time.Minute)
	p = Decide(in)
	got := only(t, p, Drain)
	if len(got) != 1 || got[0].Service != "web-2" || p.Desired != 2 {
		t.Fatalf("drain %+v, desired %d", got, p.Desired)
	}
	in.Desired, in.LastScale, in.BelowSince = p.Desired, p.LastScale, p.BelowSince
	in.Members[2].DrainingSince = in.Now
	in.Now = in.Now.Add(30 * time.Second)
	if p = Decide(in); len(p.Actions) != 0 {
		t.Fatalf("before DrainFor: %+v", p.Actions)
	}
	in.Now = in.Now.Add(30 * time.Second)
	if del := only(t, Decide(in), Delete); len(del) != 1 || del[0].Service != "web-2" {
		t.Fatalf("after DrainFor: %+v", del)
	}
	in.Members = in.Members[:2]
	in.Now = in.Now.Add(time.Hour)
	in.BelowSince = t0
	if p = Decide(in); len(p.Actions) != 0 || p.Desired != 2 {
		t.Fatalf("at the minimum: %+v, desired %d", p.Actions, p.Desired)
	}
}

// Nothing scales while a Service is not yet published.
func TestNoScalingWhilePending(t *testing.T) {
	in := input(nodes(4, "n0", "n1", "n2", "n3"), member(0, "n0", true, 1.9*gbit), member(1, "n1", false, 0))
	in.AboveSince = t0.Add(-time.Hour)
	if p := Decide(in); len(p.Actions) != 0 || p.Desired != 2 {
		t.Fatalf("while one is pending: %+v", p.Actions)
	}
}

// A Service the cloud gave no IP in NoIPFor is replaced on another node,
// then deleted; one still waiting within that time is left alone.
func TestNoIPFromTheCloudReplaced(t *testing.T) {
	stuck := member(1, "n1", false, 0)
	stuck.IP, stuck.Created = "", t0.Add(-time.Minute)
	in := input(nodes(3), member(0, "n0", true, 0), stuck)
	in.NoIPFor = 3 * time.Minute
	if p := Decide(in); len(p.Actions) != 0 {
		t.Fatalf("within NoIPFor: %+v", p.Actions)
	}
	in.Now = t0.Add(2 * time.Minute)
	got := only(t, Decide(in), Create)
	if len(got) != 1 || got[0].Node != "n2" || !strings.Contains(got[0].Reason, "no IP from the cloud") {
		t.Fatalf("after NoIPFor: %+v", got)
	}
	in.Members = append(in.Members, member(2, "n2", true, 0))
	if del := only(t, Decide(in), Delete); len(del) != 1 || del[0].Service != "web-1" {
		t.Fatalf("once replaced: %+v", del)
	}
}
