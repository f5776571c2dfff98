package controller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/lbdns/lbdns/bandwidth"
	"github.com/lbdns/lbdns/health"
)

// capacityEvents tells the Services of each hostname decided anew of the
// problems with its capacity: published IPs that share a node (SharedNode)
// and a capacity below the floor they set (CapacityLow, then
// CapacityRestored). Each problem of a hostname is told once, and again only
// after it changed; it is news at readiness too, since it is a setup
// problem, not a transition.
func (c *Controller) capacityEvents(decisions, before []health.Decision) {
	decided := make(map[string]bool, len(decisions))
	for _, d := range decisions {
		decided[d.Hostname] = true
		c.sharedNodeEvents(d)
		c.capacityLowEvents(d)
	}
	for _, d := range before {
		if !decided[d.Hostname] { // the hostname is gone
			delete(c.sharedTold, d.Hostname)
			delete(c.lowTold, d.Hostname)
		}
	}
}

// sharedNodeEvents warns the Services of published IPs that sit on one node:
// they add one node's capacity, not one each.
func (c *Controller) sharedNodeEvents(d health.Decision) {
	shared := d.SharedNodes()
	if len(shared) == 0 {
		delete(c.sharedTold, d.Hostname)
		return
	}
	if !newsFor(c.sharedTold, d.Hostname, fmt.Sprint(shared)) {
		return
	}
	for _, sn := range shared {
		var on []health.TargetDecision
		for _, t := range d.Targets {
			if t.Published && t.Node == sn.Node {
				on = append(on, t)
			}
		}
		ips := fmt.Sprint(sn.IPs)
		c.log.Warn("published IPs share a node", "hostname", d.Hostname, "node", sn.Node, "ips", ips)
		for _, svc := range c.servicesOf(on) {
			c.event(svc, corev1.EventTypeWarning, EventSharedNode,
				"%d published IPs of %s sit on node %s (%s): together they add that one node's capacity (%s), not %d nodes'",
				len(sn.IPs), d.Hostname, sn.Node, strings.Trim(ips, "[]"), bandwidth.BitsPerSecond(on[0].NodeBandwidth), len(sn.IPs))
		}
	}
}

// capacityLowEvents warns every Service of a hostname whose published
// capacity fell below its floor, again when it changes while still below,
// and tells them when it is back.
func (c *Controller) capacityLowEvents(d health.Decision) {
	if d.Floor.IsZero() {
		delete(c.lowTold, d.Hostname)
		return
	}
	cp := d.Capacity()
	if !cp.Below(d.Floor) {
		if _, wasLow := c.lowTold[d.Hostname]; wasLow {
			delete(c.lowTold, d.Hostname)
			c.log.Info("capacity back at its floor", "hostname", d.Hostname, "capacity", describeCapacity(cp), "floor", describeFloor(d.Floor))
			for _, svc := range c.servicesOf(d.Targets) {
				c.event(svc, corev1.EventTypeNormal, EventCapacityBack, "%s has %s again, at least its floor of %s",
					d.Hostname, describeCapacity(cp), describeFloor(d.Floor))
			}
		}
		return
	}
	have, want := describeCapacity(cp), describeFloor(d.Floor)
	if !newsFor(c.lowTold, d.Hostname, have+" < "+want) {
		return
	}
	why := ""
	if cp.Unmapped > 0 {
		why = fmt.Sprintf("; %d published IPs sit on no known node and count nothing (see docs/annotations.md: where an IP sits)", cp.Unmapped)
	}
	c.log.Warn("capacity below its floor", "hostname", d.Hostname, "capacity", have, "floor", want, "unmapped", cp.Unmapped)
	for _, svc := range c.servicesOf(d.Targets) {
		c.event(svc, corev1.EventTypeWarning, EventCapacityLow, "%s has %s, below its floor of %s%s (a signal only: nothing else is published or withdrawn)",
			d.Hostname, have, want, why)
	}
}

// newsFor records what was told of a hostname and reports whether it is
// news.
func newsFor(told map[string]string, hostname, now string) bool {
	if was, ok := told[hostname]; ok && was == now {
		return false
	}
	told[hostname] = now
	return true
}

func describeCapacity(cp health.Capacity) string {
	return fmt.Sprintf("%sbit/s on %d node%s", bandwidth.BitsPerSecond(cp.BitsPerSecond), cp.Nodes, plural(cp.Nodes))
}

func describeFloor(f health.Floor) string {
	var parts []string
	if f.Nodes > 0 {
		parts = append(parts, fmt.Sprintf("%d node%s", f.Nodes, plural(f.Nodes)))
	}
	if f.BitsPerSecond > 0 {
		parts = append(parts, bandwidth.BitsPerSecond(f.BitsPerSecond).String()+"bit/s")
	}
	return strings.Join(parts, " and ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
