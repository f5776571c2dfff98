package lbset

import (
	"cmp"
	"fmt"
	"slices"
	"time"
)

// Node is a node as the planner sees it.
type Node struct {
	Name string
	// Eligible: Ready, not cordoned or being deleted, picked by the set's
	// node selector, and (externalTrafficPolicy Local) running a ready pod
	// of the set. Why says what it lacks.
	Eligible bool
	Why      string
	// HasPods: a ready pod of the set runs there ("only where pods are").
	HasPods bool
	// Bandwidth in bits/s (LBDNS_NODE_BANDWIDTH or the node's annotation).
	Bandwidth float64
}

// Member is one Service of the set.
type Member struct {
	Name  string
	Index int
	Node  string // the node it is pinned to
	IP    string // its LB IP, "" until the cloud gave one
	// Published: lbdns publishes its IP (it answers probes).
	Published bool
	// DrainingSince is set once it was drained (weight 0).
	DrainingSince time.Time
	// Created is when the Service was created.
	Created time.Time
	// Traffic is what its node's uplink carries, bits/s (node agents).
	Traffic float64
}

func (m Member) draining() bool { return !m.DrainingSince.IsZero() }

// Input is everything one decision reads.
type Input struct {
	Set     string // its name: Services are <set>-<n>
	Min     int
	Max     int
	Target  float64 // share of the capacity, 0..1
	Desired int     // the size kept so far (status); 0: Min
	// ScaleOutAfter, ScaleInAfter and Cooldown are the hysteresis.
	ScaleOutAfter, ScaleInAfter, Cooldown time.Duration
	// DrainFor is how long a drained Service stays before it is deleted
	// (two TTLs: resolvers move on).
	DrainFor time.Duration
	// NoIPFor is how long a Service may wait for its IP from the cloud
	// before it counts as broken and is replaced (0: forever).
	NoIPFor    time.Duration
	Nodes      []Node
	Members    []Member
	AboveSince time.Time
	BelowSince time.Time
	LastScale  time.Time
	Now        time.Time
}

// ActionKind is what an action does to a Service.
type ActionKind string

// The actions.
const (
	Create ActionKind = "Create" // a new Service pinned to Node
	Drain  ActionKind = "Drain"  // weight 0: resolvers move on
	Delete ActionKind = "Delete"
)

// Action is one write, with why.
type Action struct {
	Kind    ActionKind
	Service string
	Node    string
	Reason  string
}

// Plan is a decision: the writes and the set's next state.
type Plan struct {
	Actions    []Action
	Desired    int
	AboveSince time.Time
	BelowSince time.Time
	LastScale  time.Time
	// Utilization is the traffic over the ready Services' capacity.
	Utilization float64
	// Blocked says why a wanted Service could not be made (no node).
	Blocked string
}

// Decide plans the next step of a set. One step at a time: the size
// changes only while every Service is ready and none is being replaced or
// drained, a broken Service is deleted only once its replacement is
// published, and a Service is drained before it is deleted.
func Decide(in Input) Plan {
	p := Plan{Desired: min(max(in.Desired, in.Min), in.Max), AboveSince: in.AboveSince, BelowSince: in.BelowSince, LastScale: in.LastScale}
	nodes := map[string]Node{}
	for _, n := range in.Nodes {
		nodes[n.Name] = n
	}
	var good, broken, draining []Member
	for _, m := range in.Members {
		switch {
		case m.draining():
			draining = append(draining, m)
		case !nodes[m.Node].Eligible, in.NoIPFor > 0 && m.IP == "" && !m.Created.IsZero() && in.Now.Sub(m.Created) >= in.NoIPFor:
			broken = append(broken, m)
		default:
			good = append(good, m)
		}
	}
	ready := countReady(good)
	p.Utilization = utilization(good, nodes)
	for _, m := range draining {
		if in.Now.Sub(m.DrainingSince) >= in.DrainFor {
			p.Actions = append(p.Actions, Action{Kind: Delete, Service: m.Name, Node: m.Node,
				Reason: fmt.Sprintf("drained for %s", in.DrainFor)})
		}
	}
	for _, m := range broken {
		if ready >= p.Desired {
			p.Actions = append(p.Actions, Action{Kind: Delete, Service: m.Name, Node: m.Node,
				Reason: fmt.Sprintf("%s; its replacement is published (%d of %d ready)", brokenBecause(m, nodes), ready, p.Desired)})
		}
	}
	why := fmt.Sprintf("%d Services for %d wanted", len(good), p.Desired)
	if ready == len(good) && len(broken) == 0 && len(draining) == 0 {
		if scaled := p.scale(in, nodes); scaled != "" {
			why = scaled
		}
	}
	switch {
	case len(good) < p.Desired:
		p.create(in, nodes, broken, p.Desired-len(good), why)
	case len(good) > p.Desired && ready == len(good) && len(draining) == 0 && ready-1 >= in.Min:
		m := slices.MaxFunc(good, func(a, b Member) int { return cmp.Compare(a.Index, b.Index) })
		p.Actions = append(p.Actions, Action{Kind: Drain, Service: m.Name, Node: m.Node, Reason: why})
	}
	return p
}

// brokenBecause says why a Service of the set is to be replaced.
func brokenBecause(m Member, nodes map[string]Node) string {
	if n := nodes[m.Node]; n.Eligible {
		return fmt.Sprintf("no IP from the cloud since %s", m.Created.UTC().Format(time.RFC3339))
	}
	return fmt.Sprintf("node %s %s", m.Node, nodes[m.Node].why())
}

func (n Node) why() string {
	if n.Name == "" {
		return "is gone"
	}
	return n.Why
}

func countReady(ms []Member) int {
	n := 0
	for _, m := range ms {
		if m.Published {
			n++
		}
	}
	return n
}

// utilization is the ready Services' traffic over their nodes' capacity.
func utilization(good []Member, nodes map[string]Node) float64 {
	var traffic, capacity float64
	for _, m := range good {
		if m.Published {
			traffic += m.Traffic
			capacity += nodes[m.Node].Bandwidth
		}
	}
	if capacity == 0 {
		return 0
	}
	return traffic / capacity
}

// scale changes the size by one when the traffic stayed above the target
// (or under half of it) long enough and the last change is old enough, and
// says why it did.
func (p *Plan) scale(in Input, nodes map[string]Node) string {
	u := p.Utilization
	switch {
	case u > in.Target:
		p.BelowSince = time.Time{}
		if p.AboveSince.IsZero() {
			p.AboveSince = in.Now
		}
		if in.Now.Sub(p.AboveSince) >= in.ScaleOutAfter && p.Desired < in.Max && in.Now.Sub(p.LastScale) >= in.Cooldown &&
			len(freeNodes(in, nodes, true)) > 0 {
			p.Desired++
			p.LastScale, p.AboveSince = in.Now, time.Time{}
			return fmt.Sprintf("traffic at %.0f %% of the capacity for %s (target %.0f %%): one Service more", u*100, in.ScaleOutAfter, in.Target*100)
		}
	case u < in.Target/2:
		p.AboveSince = time.Time{}
		if p.BelowSince.IsZero() {
			p.BelowSince = in.Now
		}
		if in.Now.Sub(p.BelowSince) >= in.ScaleInAfter && p.Desired > in.Min && in.Now.Sub(p.LastScale) >= in.Cooldown {
			p.Desired--
			p.LastScale, p.BelowSince = in.Now, time.Time{}
			return fmt.Sprintf("traffic at %.0f %% of the capacity for %s (under half the target %.0f %%): one Service less", u*100, in.ScaleInAfter, in.Target*100)
		}
	default:
		p.AboveSince, p.BelowSince = time.Time{}, time.Time{}
	}
	return ""
}

// create adds n Services on nodes that carry none of the set's: where the
// set's pods run first. Each replaces a broken one while there are some.
func (p *Plan) create(in Input, nodes map[string]Node, broken []Member, n int, why string) {
	free := freeNodes(in, nodes, false)
	if len(free) < n {
		p.Blocked = fmt.Sprintf("%d more Services wanted, %d eligible nodes without one", n, len(free))
	}
	used := map[int]bool{}
	for _, m := range in.Members {
		used[m.Index] = true
	}
	next := 0
	for i := range min(n, len(free)) {
		for used[next] {
			next++
		}
		used[next] = true
		reason := why
		if i < len(broken) {
			b := broken[i]
			reason = fmt.Sprintf("replaces %s: %s", b.Name, brokenBecause(b, nodes))
		}
		p.Actions = append(p.Actions, Action{Kind: Create, Service: fmt.Sprintf("%s-%d", in.Set, next), Node: free[i].Name, Reason: reason})
	}
}

// freeNodes returns the eligible nodes that carry no Service of the set,
// those with the set's pods first; only those with pods when withPods.
func freeNodes(in Input, nodes map[string]Node, withPods bool) []Node {
	taken := map[string]bool{}
	for _, m := range in.Members {
		taken[m.Node] = true
	}
	var out []Node
	for _, n := range in.Nodes {
		if n.Eligible && !taken[n.Name] && (n.HasPods || !withPods) {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b Node) int {
		if a.HasPods != b.HasPods {
			if a.HasPods {
				return -1
			}
			return 1
		}
		return cmp.Compare(a.Name, b.Name)
	})
	return out
}
