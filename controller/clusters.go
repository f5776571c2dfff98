package controller

import (
	"slices"

	"github.com/lbdns/lbdns/health"
)

// hostnames returns every hostname any cluster asks for, sorted, once.
func (c *Controller) hostnames() []string {
	var out []string
	for _, v := range c.order {
		out = append(out, v.model.Hostnames()...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// size returns how many hostnames and targets all clusters have. It runs
// after every reconcile, so it counts without building the union of every
// cluster's hostnames: once ready, the snapshot holds each hostname once.
func (c *Controller) size() (hostnames, targets int) {
	for _, v := range c.order {
		h, t := v.model.Size()
		hostnames, targets = hostnames+h, targets+t
	}
	switch {
	case c.isReady.Load():
		hostnames = len(c.snap.Load().Hostnames)
	case len(c.order) > 1: // before the first decisions, with several clusters (rare)
		hostnames = len(c.hostnames())
	}
	return hostnames, targets
}

// groups returns the groups of the hostnames that still exist, each the
// union of its groups in every cluster: one hostname, one record set.
func (c *Controller) groups(hostnames []string) []health.Group {
	out := make([]health.Group, 0, len(hostnames))
	for _, h := range hostnames {
		if g, ok := c.group(h); ok {
			out = append(out, g)
		}
	}
	return out
}

func (c *Controller) group(hostname string) (health.Group, bool) {
	var merged health.Group
	found := false
	for _, v := range c.order {
		g, ok := v.model.Group(hostname)
		if !ok {
			continue
		}
		if v.name != "" { // a remote cluster's Services are named with it
			for i, conflict := range g.ExternalDNSConflicts {
				g.ExternalDNSConflicts[i] = v.name + "/" + conflict
			}
		}
		if !found { // the usual case: one cluster, nothing to merge
			merged, found = g, true
			continue
		}
		merged.Targets = append(merged.Targets, g.Targets...)
		merged.Floor = merged.Floor.Max(g.Floor)
		merged.ExternalDNSConflicts = append(merged.ExternalDNSConflicts, g.ExternalDNSConflicts...)
	}
	if found {
		slices.SortFunc(merged.Targets, func(a, b health.Target) int { return a.Key.Compare(b.Key) })
	}
	return merged, found
}
