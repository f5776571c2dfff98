package controller

import (
	"time"

	"github.com/lbdns/lbdns/health"
)

// changeHistory bounds the generations a snapshot remembers for latency.
const changeHistory = 64

// recentTransitions bounds the transitions kept for /status.
const recentTransitions = 50

// publish stores a new snapshot and wakes the outputs when a published set
// changed.
func (c *Controller) publish(prev *health.Snapshot, decisions []health.Decision, changed []targetChange, at time.Time) {
	next := &health.Snapshot{Generation: prev.Generation, Changes: prev.Changes, Taken: at, Hostnames: decisions,
		Transitions: appendTransitions(prev.Transitions, changed, at)}
	if !samePublished(prev.Hostnames, decisions) || prev.Generation == 0 {
		next.Generation++
		changes := append([]health.Change(nil), prev.Changes...)
		changes = append(changes, health.Change{Generation: next.Generation, At: at})
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
func appendTransitions(recent []health.Transition, changed []targetChange, at time.Time) []health.Transition {
	if len(changed) == 0 {
		return recent
	}
	out := make([]health.Transition, 0, len(recent)+len(changed))
	out = append(out, recent...)
	for _, t := range changed {
		tr := health.Transition{At: at, Target: t.Key, Hostnames: t.Hostnames, To: t.To.String()}
		if t.To == health.Unhealthy {
			tr.Reason, tr.Detail = t.Reason, t.Detail
		}
		out = append(out, tr)
	}
	return out[max(0, len(out)-recentTransitions):]
}

func samePublished(a, b []health.Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !health.SamePublished(a[i], b[i]) {
			return false
		}
	}
	return true
}
