package controller

import (
	"context"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

// reconcile is one pass over what changed: update the model and the probes
// for the touched Services, then, once ready, decide the touched hostnames,
// diff them with the previous snapshot, report and publish. Its cost follows
// the change, not the size of the cluster.
func (c *Controller) reconcile(ctx context.Context) {
	start := time.Now()
	d := c.dirt.take()
	if d.empty() && c.isReady.Load() {
		return // a trigger whose change an earlier pass already took
	}
	hostnames := c.apply(ctx, d)
	defer c.observe(start)
	first, ready := c.readiness(start)
	if !ready {
		return
	}
	if first || d.redecide {
		hostnames = c.hostnames() // nothing was decided before, or everything must be again
	}
	prev := c.snap.Load()
	before := decisionsOf(prev, hostnames)
	groups := c.groups(hostnames)
	c.forgetGoneIPs()
	facts := c.facts(groups, priorOf(before), start)
	c.scheduleRecheck(facts)
	decisions := decide(groups, facts, c.opts.FailOpen)
	ch := diff(before, facts.Prior, decisions, c.everHealthy)
	c.report(ch, decisions, before, first)
	c.publish(prev, hostnames, before, decisions, ch.Targets, start)
	if first {
		close(c.ready)
		_, targets := c.size()
		c.log.Info("ready", "hostnames", len(groups), "targets", targets, "stillWaitingForFirstProbe", c.probes.Unprobed())
	}
}

// apply brings the models and the prober up to date with what changed, and
// returns the hostnames whose decisions may have changed, sorted.
func (c *Controller) apply(ctx context.Context, d *dirt) []string {
	services := c.touched(d)
	keys := d.keys
	hostnames := map[string]bool{}
	set, remove := map[model.Key]probe.Target{}, []model.Key(nil)
	for ref := range services {
		v := c.views[ref.cluster]
		if v == nil {
			continue
		}
		svc := v.reader.Service(ref.NamespacedName)
		hs, removed, warnings := v.model.Update(ref.NamespacedName, svc, v.reader)
		c.reportWarnings(ref, svc, warnings)
		for _, h := range hs {
			hostnames[h] = true
		}
		remove = append(remove, removed...)
		for _, t := range v.model.TargetsOf(ref.NamespacedName) {
			if len(t.ProbeSpec.Checks) > 0 {
				set[t.Key] = probe.Target{IP: t.IP, Spec: t.ProbeSpec, Node: nodeKey(t), Group: t.Namespace}
			} else {
				remove = append(remove, t.Key)
			}
		}
	}
	c.probes.Update(ctx, set, remove)
	for k := range keys { // a probe state changed: the hostnames of its Service
		if v := c.views[k.Cluster]; v != nil {
			for _, h := range v.model.HostnamesOf(types.NamespacedName{Namespace: k.Namespace, Name: k.Service}) {
				hostnames[h] = true
			}
		}
	}
	out := make([]string, 0, len(hostnames))
	for h := range hostnames {
		out = append(out, h)
	}
	slices.Sort(out)
	return out
}

// touched returns the Services a change touched: those that changed, those
// on the IPs of changed Nodes, the node-selectors of clusters whose Nodes
// changed, and all of them on a first pass.
func (c *Controller) touched(d *dirt) map[serviceRef]bool {
	services := d.services
	if d.all {
		for _, v := range c.order {
			for _, n := range v.reader.ServiceNames() {
				services[serviceRef{v.name, n}] = true
			}
			for _, n := range v.model.Services() { // gone while lbdns was not looking
				services[serviceRef{v.name, n}] = true
			}
		}
	}
	if d.recheck {
		c.addHolds(d.ips, d.keys)
	}
	for cluster := range d.nodes {
		if v := c.views[cluster]; v != nil {
			for _, n := range v.model.NodeSelectorServices() {
				services[serviceRef{cluster, n}] = true
			}
		}
	}
	for cip := range d.ips { // a Node changed: every Service on its IPs
		if v := c.views[cip.Cluster]; v != nil {
			for _, n := range v.model.ServicesOn(cip.IP) {
				services[serviceRef{cip.Cluster, n}] = true
			}
		}
	}
	return services
}

// nodeKey names a target's node for the prober, which runs one check per
// node: node names are unique only within a cluster.
func nodeKey(t model.Target) string {
	if t.Node == "" || t.Cluster == "" {
		return t.Node
	}
	return t.Cluster + "/" + t.Node
}

// addHolds marks what a hold that may have ended touches: the IPs of deleted
// Nodes and the targets flap damping held.
func (c *Controller) addHolds(ips map[model.ClusterIP]bool, keys map[model.Key]bool) {
	for _, ip := range c.gone.IPs() {
		ips[ip] = true
	}
	now := time.Now()
	for k, until := range c.damped {
		keys[k] = true
		if !until.After(now) {
			delete(c.damped, k)
		}
	}
}

// decisionsOf returns the previous snapshot's decisions of the hostnames it
// had, in order. Both lists are sorted by hostname.
func decisionsOf(snap *model.Snapshot, hostnames []string) []model.Decision {
	var out []model.Decision
	for _, h := range hostnames {
		if d, ok := decisionOf(snap, h); ok {
			out = append(out, d)
		}
	}
	return out
}

func decisionOf(snap *model.Snapshot, hostname string) (model.Decision, bool) {
	return snap.Hostnames.Find(hostname)
}

// facts reads the probe statuses of the groups' targets once, and weighs
// the deleted Nodes of their IPs against them. It changes nothing but the
// deleted-node memory's own bookkeeping (goneNodes.Weigh).
func (c *Controller) facts(groups []model.Group, prior map[model.Key]health.Prior, now time.Time) health.Facts {
	n := 0
	for _, g := range groups {
		n += len(g.Targets)
	}
	keys := make([]model.Key, 0, n) // 100,000 at a start: grown by appends, copied 20 times
	for _, g := range groups {
		for _, t := range g.Targets {
			keys = append(keys, t.Key)
		}
	}
	statuses := c.probes.StatusesOf(keys)
	var gone map[model.ClusterIP]string
	if c.gone.Len() > 0 { // the usual case is none
		gone = c.goneView(keys, statuses)
	}
	return health.Facts{Probes: statuses, GoneNodes: gone, Prior: prior, Now: now}
}

// forgetGoneIPs forgets the deleted Nodes' IPs that no Service has any more.
func (c *Controller) forgetGoneIPs() {
	for _, cip := range c.gone.IPs() {
		if v := c.views[cip.Cluster]; v == nil || len(v.model.ServicesOn(cip.IP)) == 0 {
			c.gone.Forget(cip)
		}
	}
}

// goneView weighs the deleted Nodes' IPs that targets of this pass have.
func (c *Controller) goneView(keys []model.Key, statuses map[model.Key]probe.Status) map[model.ClusterIP]string {
	inPass := map[model.ClusterIP][]model.Key{}
	for _, k := range keys {
		inPass[k.ClusterIP()] = append(inPass[k.ClusterIP()], k)
	}
	held := func(cip model.ClusterIP) bool {
		v := c.views[cip.Cluster]
		if v == nil {
			return false
		}
		n, _ := v.reader.NodeOf(cip.IP)
		return n != nil
	}
	return c.gone.Weigh(held, inPass, statuses)
}

// scheduleRecheck asks for a reconcile when a hold may end without any
// state change to trigger one: a deleted Node's hold ends with probe
// results (look again soon), a flap damping hold at a known time.
func (c *Controller) scheduleRecheck(f health.Facts) {
	for k, st := range f.Probes {
		if st.Damped(f.Now) {
			c.damped[k] = st.DampedUntil
		} else {
			delete(c.damped, k)
		}
	}
	var wait time.Duration
	if c.gone.Len() > 0 {
		wait = max(c.opts.Probe.Interval/2, 50*time.Millisecond)
	}
	for _, until := range c.damped {
		if d := until.Sub(f.Now) + 10*time.Millisecond; wait == 0 || d < wait {
			wait = max(d, 10*time.Millisecond)
		}
	}
	if wait > 0 {
		c.recheck.Reset(wait)
	}
}

func decide(groups []model.Group, f health.Facts, failOpen bool) []model.Decision {
	decisions := make([]model.Decision, len(groups))
	for i, g := range groups {
		decisions[i] = health.Decide(g, f, failOpen)
	}
	return decisions
}

// readiness reports whether lbdns is ready, and whether it became ready in
// this pass. It is ready once every probed target finished its first round,
// or one probe timeout after the first pass, whichever comes first.
func (c *Controller) readiness(start time.Time) (first, ready bool) {
	if c.isReady.Load() {
		return false, true
	}
	if c.readyAfter.IsZero() {
		wait := c.opts.Probe.Timeout + readyGrace
		c.readyAfter = start.Add(wait)
		time.AfterFunc(wait, c.Trigger)
	}
	if c.probes.Unprobed() > 0 && start.Before(c.readyAfter) {
		return false, false
	}
	c.isReady.Store(true)
	return true, true
}
