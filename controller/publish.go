package controller

import (
	"time"

	"github.com/lbdns/lbdns/model"
)

// changeHistory bounds the generations a snapshot remembers for latency.
const changeHistory = 64

// recentTransitions bounds the transitions kept for /status.
const recentTransitions = 50

// publish stores a new snapshot, in which the decided hostnames replace
// their previous decisions (before) and every other hostname is the previous
// snapshot's, and wakes the outputs when a published set changed.
func (c *Controller) publish(prev *model.Snapshot, hostnames []string, before, decisions []model.Decision, changed []targetChange, at time.Time) {
	c.passes++
	for i := range decisions {
		decisions[i].Pass = c.passes
	}
	next := &model.Snapshot{Generation: prev.Generation, Changes: prev.Changes, Taken: at,
		Hostnames: prev.Hostnames.Replace(hostnames, decisions), Transitions: appendTransitions(prev.Transitions, changed, at)}
	if !samePublished(before, decisions) || prev.Generation == 0 {
		next.Generation++
		changes := append([]model.Change(nil), prev.Changes...)
		changes = append(changes, model.Change{Generation: next.Generation, At: at})
		if len(changes) > changeHistory {
			changes = changes[len(changes)-changeHistory:]
		}
		next.Changes = changes
	}
	c.snap.Store(next)
	if next.Generation != prev.Generation {
		c.subMu.Lock()
		close(c.changed)
		c.changed = make(chan struct{})
		c.subMu.Unlock()
	}
}

// appendTransitions returns the recent transitions with the new ones added,
// at most recentTransitions, newest last. It never changes recent, which an
// older snapshot may still hold.
func appendTransitions(recent []model.Transition, changed []targetChange, at time.Time) []model.Transition {
	if len(changed) == 0 {
		return recent
	}
	out := make([]model.Transition, 0, len(recent)+len(changed))
	out = append(out, recent...)
	for _, t := range changed {
		tr := model.Transition{At: at, Target: t.Key, Hostnames: t.Hostnames, To: t.To.String()}
		if t.To == model.Unhealthy {
			tr.Reason, tr.Detail = t.Reason, t.Detail
		}
		out = append(out, tr)
	}
	return out[max(0, len(out)-recentTransitions):]
}

// samePublished reports whether two sorted lists of decisions publish the
// same hostnames with the same sets.
func samePublished(a, b []model.Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !model.SamePublished(a[i], b[i]) {
			return false
		}
	}
	return true
}
