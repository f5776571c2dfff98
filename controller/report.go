package controller

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/source"
)

// Event reasons lbdns emits on Services.
const (
	EventTargetWithdrawn = "TargetWithdrawn"
	EventTargetRestored  = "TargetRestored"
	EventFailOpen        = "FailOpen"
	EventFailOpenEnded   = "FailOpenEnded"
	EventFlapping        = "Flapping"
	EventSharedNode      = "SharedNode"
	EventCapacityLow     = "CapacityLow"
	EventCapacityBack    = "CapacityRestored"
)

// report tells of the changes in logs, events and counters (the gauges read
// the snapshot at each scrape). The baseline report (the first, at
// readiness) sends no target events and counts no transitions, so a restart
// does not repeat old news.
func (c *Controller) report(ch changes, decisions, before []model.Decision, baseline bool) {
	c.logChanges(ch)
	if !baseline {
		c.targetEvents(ch.Targets)
		c.countTransitions(ch.Targets)
	}
	c.forgetGoneSeries(before, decisions)
	c.tell(c.told.news(ch.FailOpen, before, decisions))
}

// tell sends the notices as events, and logs each distinct one once.
func (c *Controller) tell(notices []notice) {
	logged := map[string]bool{}
	for _, n := range notices {
		if key := n.reason + n.message; !logged[key] {
			logged[key] = true
			log := c.log.Info
			if n.kind == corev1.EventTypeWarning {
				log = c.log.Warn
			}
			log("told the Services of a hostname", "reason", n.reason, "hostname", n.hostname, "message", n.message)
		}
		c.event(n.svc, n.kind, n.reason, "%s", n.message)
	}
}

// forgetGoneSeries drops the series of lbdns_target_transitions_total of
// hostnames that no longer exist (a tenant who creates and deletes
// thousands of names must not grow the registry forever).
func (c *Controller) forgetGoneSeries(before, decisions []model.Decision) {
	if c.opts.Metrics == nil {
		return
	}
	exists := make(map[string]bool, len(decisions))
	for _, d := range decisions {
		exists[d.Hostname] = true
	}
	for _, d := range before {
		if !exists[d.Hostname] {
			c.opts.Metrics.transitions.DeletePartialMatch(prometheus.Labels{"hostname": d.Hostname})
		}
	}
}

func (c *Controller) logChanges(ch changes) {
	for _, t := range ch.Targets {
		hosts, target := strings.Join(t.Hostnames, ","), t.Key.String()
		switch {
		case t.Reason == model.Flapping:
			c.log.Warn("target flapping: held withdrawn", "hostnames", hosts, "target", target, "detail", t.Detail)
		case t.To == model.Unhealthy && t.WasHealthy:
			c.log.Warn("target withdrawn", "hostnames", hosts, "target", target, "reason", t.Reason, "detail", t.Detail)
		case t.To == model.Unhealthy:
			c.log.Info("target unhealthy since it appeared", "hostnames", hosts, "target", target, "reason", t.Reason, "detail", t.Detail)
		case t.WasHealthy:
			c.log.Info("target restored", "hostnames", hosts, "target", target)
		default:
			c.log.Info("target healthy for the first time", "hostnames", hosts, "target", target)
		}
	}
	for _, f := range ch.FailOpen {
		if f.On {
			c.log.Warn("fail open", "hostname", f.Hostname, "published", f.Published)
		} else {
			c.log.Info("fail open ended", "hostname", f.Hostname, "published", f.Published)
		}
	}
}

// targetEvents puts a Warning on the Service of each withdrawn target and a
// Normal event on each restored one; targets never in DNS get none.
func (c *Controller) targetEvents(targets []targetChange) {
	for _, t := range targets {
		if !t.WasHealthy {
			continue
		}
		svc, hosts := refOf(t.Key), strings.Join(t.Hostnames, ",")
		if t.Reason == model.Flapping { // one event per damping episode
			c.event(svc, corev1.EventTypeWarning, EventFlapping, "%s held withdrawn from %s: %s", t.Key.IP, hosts, t.Detail)
			continue
		}
		if t.To == model.Unhealthy {
			c.event(svc, corev1.EventTypeWarning, EventTargetWithdrawn, "%s withdrawn from %s: %s (%s)", t.Key.IP, hosts, t.Reason, t.Detail)
		} else {
			c.event(svc, corev1.EventTypeNormal, EventTargetRestored, "%s restored to %s", t.Key.IP, hosts)
		}
	}
}

func (c *Controller) countTransitions(targets []targetChange) {
	if c.opts.Metrics == nil {
		return
	}
	for _, t := range targets {
		if t.From == t.To { // a withdrawn target starting to be damped
			continue
		}
		for _, h := range t.Hostnames {
			c.opts.Metrics.transitions.WithLabelValues(h, t.To.String()).Inc()
		}
	}
}

// warned is what a Service was last told, so that a problem is told once and
// again only after it went away; a new Service of the same name (another
// UID) is told anew.
type warned struct {
	uid      types.UID
	messages map[string]bool
}

// reportWarnings sends a recomputed Service's problems it was not told yet.
func (c *Controller) reportWarnings(ref serviceRef, svc *corev1.Service, warnings []source.Warning) {
	old := c.warned[ref]
	if svc == nil || len(warnings) == 0 {
		delete(c.warned, ref)
		return
	}
	if old.uid != svc.UID {
		old = warned{}
	}
	now := warned{uid: svc.UID, messages: map[string]bool{}}
	for _, w := range warnings {
		msg := w.Reason + ": " + w.Message
		now.messages[msg] = true
		if old.messages[msg] {
			continue
		}
		c.log.Warn("service problem", "cluster", c.clusterName(ref.cluster), "service", ref.NamespacedName.String(), "reason", w.Reason, "detail", w.Message)
		c.eventOn(ref.cluster, w.Service, corev1.EventTypeWarning, w.Reason, "%s", w.Message)
	}
	c.warned[ref] = now
}

// event puts an event on a Service that opts in, through the recorder of
// its cluster.
func (c *Controller) event(ref serviceRef, kind, reason, format string, args ...any) {
	c.eventOn(ref.cluster, c.optedIn(ref), kind, reason, format, args...)
}

func (c *Controller) eventOn(cluster string, obj *corev1.Service, kind, reason, format string, args ...any) {
	v := c.views[cluster]
	if v == nil || v.recorder == nil || obj == nil {
		return
	}
	v.recorder.Eventf(obj, kind, reason, format, args...)
}

// optedIn returns the cached Service, to hang events on; nil when it no
// longer opts in.
func (c *Controller) optedIn(ref serviceRef) *corev1.Service {
	v := c.views[ref.cluster]
	if v == nil || len(v.model.HostnamesOf(ref.NamespacedName)) == 0 {
		return nil
	}
	return v.reader.Service(ref.NamespacedName)
}
