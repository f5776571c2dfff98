package controller

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/source"
)

// Event reasons lbdns emits on Services.
const (
	EventTargetWithdrawn = "TargetWithdrawn"
	EventTargetRestored  = "TargetRestored"
	EventFailOpen        = "FailOpen"
	EventFailOpenEnded   = "FailOpenEnded"
	EventFlapping        = "Flapping"
)

// report tells of the changes in logs, events and metrics. The baseline
// report (the first, at readiness) sends no target events and counts no
// transitions, so a restart does not repeat old news.
func (c *Controller) report(ch changes, decisions []health.Decision, prev *health.Snapshot, services serviceRefs, baseline bool) {
	c.logChanges(ch)
	if !baseline {
		c.targetEvents(ch.Targets, services)
		c.countTransitions(ch.Targets)
	}
	c.failOpenEvents(ch.FailOpen, services)
	c.updateGauges(prev, decisions)
	c.forgetFailOpenTold(decisions)
}

// forgetFailOpenTold drops hostnames that no longer exist.
func (c *Controller) forgetFailOpenTold(decisions []health.Decision) {
	if len(c.failOpenTold) == 0 {
		return
	}
	exists := make(map[string]bool, len(decisions))
	for _, d := range decisions {
		exists[d.Hostname] = true
	}
	for h := range c.failOpenTold {
		if !exists[h] {
			delete(c.failOpenTold, h)
		}
	}
}

func (c *Controller) logChanges(ch changes) {
	for _, t := range ch.Targets {
		hosts, target := strings.Join(t.Hostnames, ","), t.Key.String()
		switch {
		case t.Reason == health.Flapping:
			c.log.Warn("target flapping: held withdrawn", "hostnames", hosts, "target", target, "detail", t.Detail)
		case t.To == health.Unhealthy && t.WasHealthy:
			c.log.Warn("target withdrawn", "hostnames", hosts, "target", target, "reason", t.Reason, "detail", t.Detail)
		case t.To == health.Unhealthy:
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
func (c *Controller) targetEvents(targets []targetChange, services serviceRefs) {
	for _, t := range targets {
		if !t.WasHealthy {
			continue
		}
		svc, hosts := services.of(t.Key), strings.Join(t.Hostnames, ",")
		if t.Reason == health.Flapping { // one event per damping episode
			c.event(svc, corev1.EventTypeWarning, EventFlapping, "%s held withdrawn from %s: %s", t.Key.IP, hosts, t.Detail)
			continue
		}
		if t.To == health.Unhealthy {
			c.event(svc, corev1.EventTypeWarning, EventTargetWithdrawn, "%s withdrawn from %s: %s (%s)", t.Key.IP, hosts, t.Reason, t.Detail)
		} else {
			c.event(svc, corev1.EventTypeNormal, EventTargetRestored, "%s restored to %s", t.Key.IP, hosts)
		}
	}
}

// failOpenEvents tells every Service of a hostname that it started or
// stopped failing open: a hostname that had been healthy, and its end only
// when its start was told.
func (c *Controller) failOpenEvents(changes []failOpenChange, services serviceRefs) {
	for _, f := range changes {
		kind, reason, msg := corev1.EventTypeWarning, EventFailOpen,
			"no target of %s is healthy: publishing all %d with weight > 0 (fail open)"
		if !f.On {
			kind, reason, msg = corev1.EventTypeNormal, EventFailOpenEnded, "%s has healthy targets again (%d published)"
		}
		if f.On && !f.WasHealthy || !f.On && !c.failOpenTold[f.Hostname] {
			continue
		}
		if f.On {
			c.failOpenTold[f.Hostname] = true
		} else {
			delete(c.failOpenTold, f.Hostname)
		}
		for _, svc := range services.ofTargets(f.Targets) {
			c.event(svc, kind, reason, msg, f.Hostname, f.Published)
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
			c.opts.Metrics.TargetTransitions.WithLabelValues(h, t.To.String()).Inc()
		}
	}
}

// updateGauges sets the per-target and per-hostname gauges, and deletes the
// series of targets and hostnames that the previous snapshot had and the new
// decisions do not.
func (c *Controller) updateGauges(prev *health.Snapshot, decisions []health.Decision) {
	m := c.opts.Metrics
	if m == nil {
		return
	}
	current := map[[4]string]bool{}
	hostnames := map[string]bool{}
	for _, d := range decisions {
		hostnames[d.Hostname] = true
		m.HostnameFailOpen.WithLabelValues(d.Hostname).Set(b2f(d.FailOpen))
		for _, t := range d.Targets {
			l := targetLabels(d.Hostname, t)
			current[l] = true
			m.TargetHealthy.WithLabelValues(l[:]...).Set(b2f(t.Healthy))
			m.TargetPublished.WithLabelValues(l[:]...).Set(b2f(t.Published))
		}
	}
	for _, d := range prev.Hostnames {
		if !hostnames[d.Hostname] {
			m.HostnameFailOpen.DeleteLabelValues(d.Hostname)
		}
		for _, t := range d.Targets {
			if l := targetLabels(d.Hostname, t); !current[l] {
				m.TargetHealthy.DeleteLabelValues(l[:]...)
				m.TargetPublished.DeleteLabelValues(l[:]...)
			}
		}
	}
}

func targetLabels(hostname string, t health.TargetDecision) [4]string {
	return [4]string{hostname, t.Namespace, t.Service, t.IP.String()}
}

// reportWarnings sends each Service's annotation problems once, again only
// when they change.
func (c *Controller) reportWarnings(warnings []source.Warning) {
	byUID := map[types.UID]map[string]bool{}
	for _, w := range warnings {
		uid := w.Service.UID
		if byUID[uid] == nil {
			byUID[uid] = map[string]bool{}
		}
		msg := w.Reason + ": " + w.Message
		byUID[uid][msg] = true
		if c.warned[uid][msg] {
			continue
		}
		c.log.Warn("service problem", "service", w.Service.Namespace+"/"+w.Service.Name, "reason", w.Reason, "detail", w.Message)
		c.event(w.Service, corev1.EventTypeWarning, w.Reason, "%s", w.Message)
	}
	c.warned = byUID
}

func (c *Controller) event(obj *corev1.Service, kind, reason, format string, args ...any) {
	if c.opts.Recorder == nil || obj == nil {
		return
	}
	c.opts.Recorder.Eventf(obj, kind, reason, format, args...)
}

// serviceRefs indexes the cached Services by namespace and name, to hang
// events on.
type serviceRefs map[types.NamespacedName]*corev1.Service

func newServiceRefs(services []*corev1.Service) serviceRefs {
	out := make(serviceRefs, len(services))
	for _, s := range services {
		out[types.NamespacedName{Namespace: s.Namespace, Name: s.Name}] = s
	}
	return out
}

func (r serviceRefs) of(k health.Key) *corev1.Service {
	return r[types.NamespacedName{Namespace: k.Namespace, Name: k.Service}]
}

// ofTargets returns the Services of the targets, each once.
func (r serviceRefs) ofTargets(targets []health.TargetDecision) []*corev1.Service {
	var out []*corev1.Service
	seen := map[types.NamespacedName]bool{}
	for _, t := range targets {
		n := types.NamespacedName{Namespace: t.Namespace, Name: t.Service}
		if !seen[n] {
			seen[n] = true
			out = append(out, r[n])
		}
	}
	return out
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
