package standalone

import (
	"context"
	"fmt"
	"slices"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/provider"
)

// incremental sends a change of a record set to a webhook provider as the
// records that come and go, additions first, instead of external-dns's
// "update": the IONOS webhook (v0.13.0) turns an update into a delete of
// every old record and then a create of every new one, one API call each,
// so withdrawing one of three IPs left the name without any A record for
// several calls (and for good when a call in between failed), and resolvers
// cached that empty answer. Here a withdrawal is a Delete of the one
// target, a restore a Create of one target, and a name never goes empty: a
// failure half-way leaves a superset or a subset that the next sync
// repairs. Only for providers that create and delete single records of a
// set (LBDNS_WEBHOOK_INCREMENTAL); a provider that replaces the whole set on
// Create would lose the other records.
type incremental struct {
	provider.Provider
}

// ApplyChanges implements provider.Provider.
func (p incremental) ApplyChanges(ctx context.Context, c *plan.Changes) error {
	adds := &plan.Changes{Create: slices.Clone(c.Create)}
	removals := &plan.Changes{Delete: slices.Clone(c.Delete)}
	for i, old := range c.UpdateOld {
		next := c.UpdateNew[i]
		if !sameRecordSet(old, next) { // a new TTL: every record changes, the provider's own way
			adds.UpdateOld, adds.UpdateNew = append(adds.UpdateOld, old), append(adds.UpdateNew, next)
			continue
		}
		if added := minus(next.Targets, old.Targets); len(added) > 0 {
			adds.Create = append(adds.Create, withTargets(next, added))
		}
		if removed := minus(old.Targets, next.Targets); len(removed) > 0 {
			removals.Delete = append(removals.Delete, withTargets(old, removed))
		}
	}
	fence := fenceOf(ctx)
	if adds.HasChanges() {
		if err := p.Provider.ApplyChanges(ctx, adds); err != nil {
			return fmt.Errorf("adding records: %w", err)
		}
	}
	if removals.HasChanges() {
		if err := fence(); err != nil { // the additions took time: ask again before removing
			return err
		}
		if err := p.Provider.ApplyChanges(ctx, removals); err != nil {
			return fmt.Errorf("removing records (the new ones are in): %w", err)
		}
	}
	return nil
}

// sameRecordSet reports whether two endpoints are one record set, so that
// their targets can change one by one.
func sameRecordSet(a, b *endpoint.Endpoint) bool {
	return a.DNSName == b.DNSName && a.RecordType == b.RecordType && a.SetIdentifier == b.SetIdentifier && a.RecordTTL == b.RecordTTL
}

// minus returns the targets of a that b lacks.
func minus(a, b endpoint.Targets) endpoint.Targets {
	var out endpoint.Targets
	for _, t := range a {
		if !slices.Contains(b, t) {
			out = append(out, t)
		}
	}
	return out
}

// withTargets is a copy of ep with other targets.
func withTargets(ep *endpoint.Endpoint, targets endpoint.Targets) *endpoint.Endpoint {
	c := ep.DeepCopy()
	c.Targets = targets
	return c
}
