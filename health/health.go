// Package health decides which targets of a hostname are published, and says
// why each of the others is not. It is pure: Kubernetes signals and probe
// results come in, a decision per target comes out.
package health

import (
	"fmt"
	"slices"
	"time"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

// Facts are what decisions read besides the groups: one consistent view,
// taken once per reconcile and shared by every hostname, so that a target in
// two groups gets the same verdict in both.
type Facts struct {
	// Probes holds the probe status of every probed target being decided.
	Probes map[model.Key]probe.Status
	// GoneNodes maps IPs whose Node was deleted, and that count as withdrawn
	// still, to the name of that Node.
	GoneNodes map[model.ClusterIP]string
	// Prior is the health each target had in the previous decision; Since
	// carries over while the health stays the same.
	Prior map[model.Key]Prior
	Now   time.Time
}

// Prior is what the previous decision said of a target.
type Prior struct {
	Health model.Health
	Reason model.Reason
	Since  time.Time
}

// Decide applies the health rules to one hostname:
//   - a target is healthy when Kubernetes raises no signal and its probes are
//     up (or it is not probed);
//   - published = healthy targets with weight > 0;
//   - if none, targets still waiting for their first probe are published, so
//     that a new IP is not held back when nothing else is known to work;
//   - if still none while some target has weight > 0 and failOpen is set,
//     every target with weight > 0 is published (fail open).
func Decide(g model.Group, f Facts, failOpen bool) model.Decision {
	d := model.Decision{Hostname: g.Hostname, Targets: make([]model.TargetDecision, 0, len(g.Targets)), ExternalDNSConflicts: g.ExternalDNSConflicts,
		Floor: g.Floor, Owner: g.Owner, Refused: g.Refused}
	anyPublished, anyWeight := false, false
	for _, t := range g.Targets {
		td := judge(t, f)
		if d.TTL == 0 || (t.TTL > 0 && t.TTL < d.TTL) {
			d.TTL = t.TTL
		}
		if t.Weight > 0 {
			anyWeight = true
			td.Published = td.Healthy
		} else if td.Healthy {
			td.Reason, td.Detail = model.Drained, "weight is 0"
		}
		anyPublished = anyPublished || td.Published
		d.Targets = append(d.Targets, td)
	}
	if !anyPublished {
		for i := range d.Targets {
			t := &d.Targets[i]
			if t.Pending && t.Weight > 0 {
				t.Published = true
				anyPublished = true
			}
		}
	}
	if !anyPublished && anyWeight && failOpen {
		d.FailOpen = true
		for i := range d.Targets {
			d.Targets[i].Published = d.Targets[i].Weight > 0
		}
	}
	slices.SortFunc(d.Targets, func(a, b model.TargetDecision) int { return a.Key.Compare(b.Key) })
	return d
}

// judge decides the health of one target on its own.
func judge(t model.Target, f Facts) model.TargetDecision {
	td := model.TargetDecision{Target: t}
	probed := len(t.ProbeSpec.Checks) > 0
	if probed {
		td.ProbeStatus, td.Probed = f.Probes[t.Key]
	}
	gone, isGone := f.GoneNodes[t.ClusterIP()]
	switch {
	case t.Signal != "":
		td.Reason, td.Detail = t.Signal, t.SignalDetail
	case t.Node == "" && isGone:
		td.Reason, td.Detail = model.NodeDeleted, fmt.Sprintf("node %s holding %s was deleted", gone, t.IP)
	case td.Probed && td.ProbeStatus.Damped(f.Now):
		td.Reason, td.Detail = model.Flapping, fmt.Sprintf("its probe results keep flipping (damping penalty %.0f): held withdrawn until %s",
			td.ProbeStatus.Penalty, td.ProbeStatus.DampedUntil.Format(time.RFC3339))
	case td.Probed && td.ProbeStatus.State == probe.Down:
		td.Reason, td.Detail = model.ProbeFailed, td.ProbeStatus.LastError
	case probed && td.ProbeStatus.State == probe.Unknown:
		td.Pending = true
		td.Reason, td.Detail = model.ProbePending, "waiting for the first probe"
	default:
		td.Healthy = true
	}
	td.Since = f.Now
	if p, ok := f.Prior[t.Key]; ok && p.Health == td.Health() {
		td.Since = p.Since
	}
	return td
}
