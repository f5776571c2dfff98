package controller

import (
	"net/netip"
	"slices"
	"strings"
	"time"

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
)

type healthState int

const (
	statePending healthState = iota
	stateHealthy
	stateUnhealthy
)

func stateOf(t health.TargetDecision) healthState {
	switch {
	case t.Healthy:
		return stateHealthy
	case t.Pending:
		return statePending
	}
	return stateUnhealthy
}

// reportState remembers what was last reported, so that only changes are
// logged and sent as events, and gauges of vanished targets are deleted.
type reportState struct {
	health   map[health.Key]healthState
	failOpen map[string]bool
	gauges   map[[4]string]bool
	warned   map[types.UID]map[string]bool
	keysByIP map[netip.Addr][]health.Key
	since    map[health.Key]time.Time
	recent   []health.Transition
	// everHealthy marks targets that were healthy at some point: only they
	// can be withdrawn or restored. A new Service whose IP is unhealthy from
	// the start (say, before its EndpointSlice exists) gets no Warning.
	everHealthy map[health.Key]bool
}

// recentTransitions bounds the transitions kept for /status.
const recentTransitions = 50

func newReportState() *reportState {
	return &reportState{
		health:   map[health.Key]healthState{},
		failOpen: map[string]bool{},
		gauges:   map[[4]string]bool{},
		warned:   map[types.UID]map[string]bool{},
		since:    map[health.Key]time.Time{},

		everHealthy: map[health.Key]bool{},
	}
}

// report logs and records transitions since the last call and updates the
// gauges. The first call only sets the baseline (no events), so a restart
// does not repeat old news.
func (c *Controller) report(decisions []health.Decision, services map[serviceKey]*corev1.Service, baseline bool) {
	st := c.state
	now := time.Now()
	nextHealth := make(map[health.Key]healthState, len(st.health))
	hostsOf := map[health.Key][]string{}
	reasonOf := map[health.Key]health.TargetDecision{}
	for _, d := range decisions {
		for _, t := range d.Targets {
			nextHealth[t.Key] = stateOf(t)
			hostsOf[t.Key] = append(hostsOf[t.Key], d.Hostname)
			reasonOf[t.Key] = t
		}
	}
	keys := make([]health.Key, 0, len(nextHealth))
	for k := range nextHealth {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, health.Key.Compare)
	for _, k := range keys {
		cur, prev := nextHealth[k], st.health[k]
		_, known := st.health[k]
		t := reasonOf[k]
		hosts := strings.Join(hostsOf[k], ",")
		if !known || prev != cur {
			st.since[k] = now
		}
		switch {
		case cur == stateUnhealthy && (!known || prev != stateUnhealthy):
			c.remember(health.Transition{At: now, Target: k, Hostnames: hostsOf[k], To: "unhealthy", Reason: t.Reason, Detail: t.Detail})
			c.countTransition(hostsOf[k], "unhealthy", baseline)
			if !st.everHealthy[k] {
				c.log.Info("target unhealthy since it appeared", "hostnames", hosts, "target", k.String(), "reason", t.Reason, "detail", t.Detail)
				break
			}
			c.log.Warn("target withdrawn", "hostnames", hosts, "target", k.String(), "reason", t.Reason, "detail", t.Detail)
			if !baseline {
				c.event(services[svcKey(k)], corev1.EventTypeWarning, EventTargetWithdrawn,
					"%s withdrawn from %s: %s (%s)", k.IP, hosts, t.Reason, t.Detail)
			}
		case cur == stateHealthy && known && prev == stateUnhealthy:
			c.remember(health.Transition{At: now, Target: k, Hostnames: hostsOf[k], To: "healthy"})
			c.countTransition(hostsOf[k], "healthy", baseline)
			if !st.everHealthy[k] {
				c.log.Info("target healthy for the first time", "hostnames", hosts, "target", k.String())
				break
			}
			c.log.Info("target restored", "hostnames", hosts, "target", k.String())
			c.event(services[svcKey(k)], corev1.EventTypeNormal, EventTargetRestored, "%s restored to %s", k.IP, hosts)
		}
		if cur == stateHealthy {
			st.everHealthy[k] = true
		}
	}
	st.health = nextHealth
	for k := range st.since {
		if _, ok := nextHealth[k]; !ok {
			delete(st.since, k)
			delete(st.everHealthy, k)
		}
	}
	for i := range decisions {
		for j := range decisions[i].Targets {
			decisions[i].Targets[j].Since = st.since[decisions[i].Targets[j].Key]
		}
	}

	nextFailOpen := map[string]bool{}
	for _, d := range decisions {
		nextFailOpen[d.Hostname] = d.FailOpen
		if d.FailOpen != st.failOpen[d.Hostname] {
			kind, reason, msg := corev1.EventTypeWarning, EventFailOpen,
				"no target of %s is healthy: publishing all %d with weight > 0 (fail open)"
			if !d.FailOpen {
				kind, reason, msg = corev1.EventTypeNormal, EventFailOpenEnded, "%s has healthy targets again (%d published)"
			}
			n := len(d.Published())
			if d.FailOpen {
				c.log.Warn("fail open", "hostname", d.Hostname, "published", n)
			} else if st.failOpen[d.Hostname] {
				c.log.Info("fail open ended", "hostname", d.Hostname, "published", n)
			}
			if d.FailOpen || st.failOpen[d.Hostname] {
				for _, ref := range servicesOf(d, services) {
					c.event(ref, kind, reason, msg, d.Hostname, n)
				}
			}
		}
	}
	st.failOpen = nextFailOpen
	c.updateGauges(decisions)
}

func (c *Controller) remember(t health.Transition) {
	st := c.state
	st.recent = append(st.recent, t)
	if len(st.recent) > recentTransitions {
		st.recent = slices.Clone(st.recent[len(st.recent)-recentTransitions:])
	}
}

func (c *Controller) countTransition(hosts []string, to string, baseline bool) {
	if c.opts.Metrics == nil || baseline {
		return
	}
	for _, h := range hosts {
		c.opts.Metrics.TargetTransitions.WithLabelValues(h, to).Inc()
	}
}

func (c *Controller) updateGauges(decisions []health.Decision) {
	m := c.opts.Metrics
	if m == nil {
		return
	}
	st := c.state
	next := make(map[[4]string]bool, len(st.gauges))
	for _, d := range decisions {
		m.HostnameFailOpen.WithLabelValues(d.Hostname).Set(b2f(d.FailOpen))
		for _, t := range d.Targets {
			l := [4]string{d.Hostname, t.Namespace, t.Service, t.IP.String()}
			next[l] = true
			m.TargetHealthy.WithLabelValues(l[:]...).Set(b2f(t.Healthy))
			m.TargetPublished.WithLabelValues(l[:]...).Set(b2f(t.Published))
		}
	}
	for l := range st.gauges {
		if !next[l] {
			m.TargetHealthy.DeleteLabelValues(l[:]...)
			m.TargetPublished.DeleteLabelValues(l[:]...)
		}
	}
	for h := range st.failOpen {
		found := false
		for _, d := range decisions {
			if d.Hostname == h {
				found = true
				break
			}
		}
		if !found {
			m.HostnameFailOpen.DeleteLabelValues(h)
		}
	}
	st.gauges = next
}

// reportWarnings sends each Service's annotation problems once, again only
// when they change.
func (c *Controller) reportWarnings(warnings []source.Warning) {
	st := c.state
	byUID := map[types.UID]map[string]bool{}
	for _, w := range warnings {
		uid := w.Service.UID
		if byUID[uid] == nil {
			byUID[uid] = map[string]bool{}
		}
		msg := w.Reason + ": " + w.Message
		byUID[uid][msg] = true
		if st.warned[uid][msg] {
			continue
		}
		c.log.Warn("service problem", "service", w.Service.Namespace+"/"+w.Service.Name, "reason", w.Reason, "detail", w.Message)
		c.event(w.Service, corev1.EventTypeWarning, w.Reason, "%s", w.Message)
	}
	st.warned = byUID
}

func (c *Controller) event(obj *corev1.Service, kind, reason, format string, args ...any) {
	if c.opts.Recorder == nil || obj == nil {
		return
	}
	c.opts.Recorder.Eventf(obj, kind, reason, format, args...)
}

type serviceKey struct{ namespace, name string }

func svcKey(k health.Key) serviceKey { return serviceKey{k.Namespace, k.Service} }

// serviceRefs indexes the cached Services, to hang events on.
func serviceRefs(services []*corev1.Service) map[serviceKey]*corev1.Service {
	out := make(map[serviceKey]*corev1.Service, len(services))
	for _, s := range services {
		out[serviceKey{s.Namespace, s.Name}] = s
	}
	return out
}

func servicesOf(d health.Decision, refs map[serviceKey]*corev1.Service) []*corev1.Service {
	var out []*corev1.Service
	seen := map[serviceKey]bool{}
	for _, t := range d.Targets {
		sk := svcKey(t.Key)
		if !seen[sk] {
			seen[sk] = true
			out = append(out, refs[sk])
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
