package controller

import (
	"slices"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/model"
)

// targetChange is a target that became unhealthy, or healthy again after
// being unhealthy, between two decisions. A target that appears healthy, or
// that goes from pending to healthy, did not change in this sense.
type targetChange struct {
	Key       model.Key
	Hostnames []string
	// From is the previous health (Pending for a new target); To is
	// Healthy or Unhealthy. Both are Unhealthy when a withdrawn target
	// starts a flap damping episode (Reason Flapping).
	From, To model.Health
	Reason   model.Reason
	Detail   string
	// Withdrawn or restored: the target had been healthy before. A new
	// Service whose IP is unhealthy from the start (say, before its
	// EndpointSlice exists) was never in DNS, so it is news only for logs.
	WasHealthy bool
}

// failOpenChange is a hostname that started or stopped failing open.
type failOpenChange struct {
	Hostname  string
	On        bool
	Published int
	Targets   []model.TargetDecision
	// WasHealthy: some target of the hostname had been healthy before. A
	// new hostname whose Services have no ready endpoint yet fails open
	// without having been in DNS healthy: news for logs, not an event.
	WasHealthy bool
}

// changes are what happened between the previous snapshot and new decisions.
type changes struct {
	Targets  []targetChange
	FailOpen []failOpenChange
}

// priorOf indexes what previous decisions said of each target.
func priorOf(before []model.Decision) map[model.Key]health.Prior {
	out := map[model.Key]health.Prior{}
	for _, d := range before {
		for _, t := range d.Targets {
			out[t.Key] = health.Prior{Health: t.Health(), Reason: t.Reason, Since: t.Since}
		}
	}
	return out
}

// diff compares new decisions with the previous ones of the same hostnames
// (before). A target's hostnames are always decided together, so a key that
// is in before and not in next has vanished. everHealthy holds the targets
// seen healthy before this diff; diff adds the new ones and forgets the
// vanished ones.
func diff(before []model.Decision, prior map[model.Key]health.Prior, next []model.Decision, everHealthy map[model.Key]bool) changes {
	type seen struct {
		target    model.TargetDecision
		hostnames []string
	}
	byKey := map[model.Key]*seen{}
	for _, d := range next {
		for _, t := range d.Targets {
			if s := byKey[t.Key]; s != nil {
				s.hostnames = append(s.hostnames, d.Hostname)
				continue
			}
			byKey[t.Key] = &seen{target: t, hostnames: []string{d.Hostname}}
		}
	}
	out := changes{FailOpen: failOpenChanges(before, next, everHealthy)}
	for k, s := range byKey {
		was, known := prior[k]
		now := s.target.Health()
		unhealthyNow := now == model.Unhealthy && (!known || was.Health != model.Unhealthy)
		healthyAgain := now == model.Healthy && known && was.Health == model.Unhealthy
		flapping := s.target.Reason == model.Flapping && (!known || was.Reason != model.Flapping)
		if unhealthyNow || healthyAgain || flapping {
			from := model.Pending
			if known {
				from = was.Health
			}
			out.Targets = append(out.Targets, targetChange{Key: k, Hostnames: s.hostnames, From: from, To: now,
				Reason: s.target.Reason, Detail: s.target.Detail, WasHealthy: everHealthy[k]})
		}
		if now == model.Healthy {
			everHealthy[k] = true
		}
	}
	for k := range prior {
		if _, ok := byKey[k]; !ok {
			delete(everHealthy, k)
		}
	}
	slices.SortFunc(out.Targets, func(a, b targetChange) int { return a.Key.Compare(b.Key) })
	return out
}

func failOpenChanges(before, next []model.Decision, everHealthy map[model.Key]bool) []failOpenChange {
	was := make(map[string]bool, len(before))
	for _, d := range before {
		was[d.Hostname] = d.FailOpen
	}
	var out []failOpenChange
	for _, d := range next {
		if d.FailOpen != was[d.Hostname] {
			wasHealthy := slices.ContainsFunc(d.Targets, func(t model.TargetDecision) bool { return everHealthy[t.Key] })
			out = append(out, failOpenChange{Hostname: d.Hostname, On: d.FailOpen, Published: d.PublishedCount(),
				Targets: d.Targets, WasHealthy: wasHealthy})
		}
	}
	return out
}
