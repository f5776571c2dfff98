// Package model holds lbdns's data: targets and their keys, the groups of
// targets that share a hostname, the decisions on them, and the snapshots
// of decisions that the outputs read. The rules that make decisions are in
// package health.
package model

import (
	"cmp"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/lbdns/lbdns/probe"
)

// Key names a target: one LB ingress IP of one Service of one cluster.
// Cluster is empty for the cluster lbdns runs in, the name of a remote
// cluster otherwise (LBDNS_CLUSTERS).
type Key struct {
	Cluster            string
	Namespace, Service string
	IP                 netip.Addr
}

// String is "namespace/service/ip", after "cluster/" for a remote cluster.
func (k Key) String() string {
	s := k.Namespace + "/" + k.Service + "/" + k.IP.String()
	if k.Cluster != "" {
		return k.Cluster + "/" + s
	}
	return s
}

// Compare orders keys by cluster, namespace, service, then IP.
func (k Key) Compare(o Key) int {
	return cmp.Or(cmp.Compare(k.Cluster, o.Cluster), cmp.Compare(k.Namespace, o.Namespace), cmp.Compare(k.Service, o.Service), k.IP.Compare(o.IP))
}

// ClusterIP is an IP in one cluster: Node addresses are per cluster, and two
// clusters may use the same private range.
type ClusterIP struct {
	Cluster string
	IP      netip.Addr
}

// ClusterIP returns where the key's IP lives.
func (k Key) ClusterIP() ClusterIP { return ClusterIP{Cluster: k.Cluster, IP: k.IP} }

// Reason says why a target is not healthy or not published. It appears in
// /status, events, logs and metrics, so the names are part of the contract.
type Reason string

// Target is one IP of one Service as Kubernetes describes it.
type Target struct {
	Key
	Weight int
	TTL    int64
	// ProbeSpec says how to probe the target; empty means not probed.
	ProbeSpec probe.Spec
	// Node is the Node whose addresses hold the IP, if any, and
	// NodeBandwidth its bandwidth in bits/s (for capacity).
	Node          string
	NodeBandwidth float64
	// NodeMappedBy says how the node is known: "agent" or "node-address".
	NodeMappedBy string
	// Signal, when set, withdraws the target whatever the probes say;
	// SignalDetail explains it to a human.
	Signal       Reason
	SignalDetail string
	// Notes are setup problems that do not change the target's health,
	// such as a node-selector that picks nodes without pods.
	Notes []string
}

// Group is every target of one hostname.
type Group struct {
	Hostname string
	Targets  []Target
	// ExternalDNSConflicts names the Services ("namespace/name") that
	// also ask external-dns itself for this hostname.
	ExternalDNSConflicts []string
	// Floor is the least capacity its Services ask for (the highest of
	// their floors).
	Floor Floor
	// Owner is the namespace that owns the hostname ("" when hostnames are
	// shared, or no Service may publish it); Refused are the Services that
	// name it and may not publish it (tenancy): their targets are not in
	// Targets.
	Owner   string
	Refused []Refusal
}

// Refusal is a Service that names a hostname and may not publish it.
type Refusal struct {
	Cluster, Namespace, Service string
	// Reason is a tenancy reason (HostnameOwned, ReservedHostname,
	// DomainNotAllowed); Detail says it to a human.
	Reason, Detail string
}

// Add adds one Service's targets and floor to the group.
func (g *Group) Add(targets []Target, floor Floor) {
	g.Targets = append(g.Targets, targets...)
	g.Floor = g.Floor.Max(floor)
}

// Sort orders the targets by key, and the conflicts.
func (g *Group) Sort() {
	slices.SortFunc(g.Targets, func(a, b Target) int { return a.Key.Compare(b.Key) })
	slices.Sort(g.ExternalDNSConflicts)
}

// Floor is the capacity a hostname should keep: a signal when it drops
// below, never a rule of what is published. Zero fields ask for nothing.
type Floor struct {
	Nodes         int
	BitsPerSecond float64
}

// IsZero reports whether the floor asks for nothing.
func (f Floor) IsZero() bool { return f.Nodes == 0 && f.BitsPerSecond == 0 }

// Max is the stricter of two floors, field by field.
func (f Floor) Max(o Floor) Floor {
	return Floor{Nodes: max(f.Nodes, o.Nodes), BitsPerSecond: max(f.BitsPerSecond, o.BitsPerSecond)}
}

// Health is the verdict on a target's health, apart from its weight.
type Health int

func (h Health) String() string {
	switch h {
	case Healthy:
		return "healthy"
	case Unhealthy:
		return "unhealthy"
	default:
		return "pending"
	}
}

// TargetDecision is the verdict on one target.
type TargetDecision struct {
	Target
	// ProbeStatus is the probe history; valid when Probed.
	ProbeStatus probe.Status
	Probed      bool
	Healthy     bool
	Pending     bool // no probe result yet
	Published   bool
	// Reason is empty for a healthy published target; otherwise it says why
	// the target is unhealthy, pending or drained.
	Reason Reason
	Detail string
	// Since is when the target entered its current health, as far as this
	// process saw.
	Since time.Time
}

// Health returns the target's health.
func (t TargetDecision) Health() Health {
	switch {
	case t.Healthy:
		return Healthy
	case t.Pending:
		return Pending
	}
	return Unhealthy
}

// Decision is the verdict on one hostname.
type Decision struct {
	Hostname string
	// Pass numbers the decision pass that made this decision; a snapshot
	// carries the decisions of hostnames not decided anew over from the
	// previous one, pass and all. An output keeping per-hostname work
	// redoes it only when the pass changed. 0: not numbered (always redo).
	Pass uint64
	TTL  int64
	// FailOpen is set when no target was healthy and every target with a
	// weight above 0 is published anyway.
	FailOpen bool
	Targets  []TargetDecision
	// ExternalDNSConflicts, Floor, Owner and Refused are the group's.
	ExternalDNSConflicts []string
	Floor                Floor
	Owner                string
	Refused              []Refusal
}

// Capacity is what a hostname's published IPs can carry: the distinct nodes
// they sit on and the sum of those nodes' bandwidths. Unmapped counts the
// published IPs whose node lbdns does not know: they add nothing, since it
// cannot tell where they sit.
type Capacity struct {
	Nodes         int
	BitsPerSecond float64
	Unmapped      int
}

// Capacity returns the capacity of the published targets.
func (d Decision) Capacity() Capacity {
	var c Capacity
	var nodes []string // a hostname has a few: a slice beats a map
	var unmapped []netip.Addr
	for _, t := range d.Targets {
		switch {
		case !t.Published:
		case t.Node == "":
			if !slices.Contains(unmapped, t.IP) {
				unmapped = append(unmapped, t.IP)
			}
		case !slices.Contains(nodes, t.Node):
			nodes = append(nodes, t.Node)
			c.BitsPerSecond += t.NodeBandwidth
		}
	}
	c.Nodes, c.Unmapped = len(nodes), len(unmapped)
	return c
}

// Below reports whether the capacity is below the floor.
func (c Capacity) Below(f Floor) bool {
	return c.Nodes < f.Nodes || c.BitsPerSecond < f.BitsPerSecond
}

// SharedNode is a node that carries two or more published IPs of one
// hostname: they add one node's capacity, not one each.
type SharedNode struct {
	Node string
	IPs  []netip.Addr // sorted
}

// SharedNodes returns the nodes that carry more than one published IP of the
// hostname, sorted by node.
func (d Decision) SharedNodes() []SharedNode {
	var byNode []SharedNode
	for _, t := range d.Targets {
		if !t.Published || t.Node == "" {
			continue
		}
		i := slices.IndexFunc(byNode, func(s SharedNode) bool { return s.Node == t.Node })
		if i < 0 {
			byNode = append(byNode, SharedNode{Node: t.Node})
			i = len(byNode) - 1
		}
		if !slices.Contains(byNode[i].IPs, t.IP) {
			byNode[i].IPs = append(byNode[i].IPs, t.IP)
		}
	}
	shared := slices.DeleteFunc(byNode, func(s SharedNode) bool { return len(s.IPs) < 2 })
	for _, s := range shared {
		slices.SortFunc(s.IPs, netip.Addr.Compare)
	}
	slices.SortFunc(shared, func(a, b SharedNode) int { return strings.Compare(a.Node, b.Node) })
	return shared
}

// Published returns the published targets, in the order of Targets.
func (d Decision) Published() []TargetDecision {
	if d.PublishedCount() == 0 {
		return nil
	}
	var out []TargetDecision
	for _, t := range d.Targets {
		if t.Published {
			out = append(out, t)
		}
	}
	return out
}

// PublishedCount is len(d.Published()), without the copy.
func (d Decision) PublishedCount() int {
	n := 0
	for i := range d.Targets {
		if d.Targets[i].Published {
			n++
		}
	}
	return n
}

// Reasons from Kubernetes (withdraw at once), from probes, and from weights.
const (
	NoReadyEndpoints Reason = "NoReadyEndpoints"
	NodeNotReady     Reason = "NodeNotReady"
	NodeCordoned     Reason = "NodeCordoned"
	NodeToBeDeleted  Reason = "NodeToBeDeleted"
	NodeDeleted      Reason = "NodeDeleted"
	NoLocalEndpoint  Reason = "NoLocalEndpoint"
	ProbeFailed      Reason = "ProbeFailed"
	Flapping         Reason = "Flapping"
	ProbePending     Reason = "ProbePending"
	Drained          Reason = "Drained"
)

// A target is pending until its first probe round ended.
const (
	Pending Health = iota
	Healthy
	Unhealthy
)
