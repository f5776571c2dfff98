package controller

import (
	"cmp"
	"slices"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/source"
	"github.com/lbdns/lbdns/tenancy"
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
		hostnames = c.snap.Load().Hostnames.Len()
	case len(c.order) > 1: // before the first decisions, with several clusters (rare)
		hostnames = len(c.hostnames())
	}
	return hostnames, targets
}

// groups returns the groups of the hostnames that still exist, each the
// union of its groups in every cluster: one hostname, one record set.
func (c *Controller) groups(hostnames []string) []model.Group {
	out := make([]model.Group, 0, len(hostnames))
	for _, h := range hostnames {
		if g, ok := c.group(h); ok {
			out = append(out, g)
		}
	}
	return out
}

// group gathers the Services that name a hostname in every cluster, lets
// the tenancy policy decide which may publish it, and returns the group of
// those, with the others as refusals.
func (c *Controller) group(hostname string) (model.Group, bool) {
	// Sized up front: at a start this runs once per hostname, and growing
	// these slices by appends was a tenth of its cost.
	perCluster := make([][]source.Claim, len(c.order))
	n, targets := 0, 0
	for i, v := range c.order {
		perCluster[i] = v.model.Claims(hostname)
		n += len(perCluster[i])
		for _, p := range perCluster[i] {
			targets += len(p.Targets)
		}
	}
	claims := make([]tenancy.Claim, 0, n)
	parts := make([]source.Claim, 0, n)
	clusters := make([]string, 0, n)
	for i, v := range c.order {
		for _, p := range perCluster[i] {
			claims = append(claims, tenancy.Claim{Cluster: v.name, Namespace: p.Service.Namespace, Name: p.Service.Name,
				Created: p.Created, ShareWith: p.ShareWith})
			parts = append(parts, p)
			clusters = append(clusters, v.name)
		}
	}
	if len(claims) == 0 {
		return model.Group{}, false
	}
	owner, verdicts := c.opts.Tenancy.Resolve(hostname, claims)
	g := model.Group{Hostname: hostname, Owner: owner, Targets: make([]model.Target, 0, targets)}
	for i, v := range verdicts {
		if !v.Allowed {
			g.Refused = append(g.Refused, model.Refusal{Cluster: clusters[i], Namespace: claims[i].Namespace, Service: claims[i].Name,
				Reason: string(v.Reason), Detail: v.Detail})
			continue
		}
		g.Add(parts[i].Targets, parts[i].Floor)
		if parts[i].ExternalDNSConflict {
			g.ExternalDNSConflicts = append(g.ExternalDNSConflicts, claims[i].String())
		}
	}
	g.Sort()
	slices.SortFunc(g.Refused, func(a, b model.Refusal) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Service, b.Service))
	})
	return g, true
}
