package controller

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/lbdns/lbdns/bandwidth"
	"github.com/lbdns/lbdns/model"
)

// notice is one event to put on a Service, as data: what to tell is decided
// by told alone, and table-tested without a recorder.
type notice struct {
	hostname string
	svc      serviceRef
	kind     string // corev1.EventTypeWarning or EventTypeNormal
	reason   string
	message  string
}

// told is what the Services of each hostname were told of its episodes (fail
// open, shared nodes, capacity below the floor, refusals), so that each is
// told once, again only after it changed, and its end only when its start
// was told.
type told struct {
	failOpen map[string]bool                  // hostnames whose FailOpen was told
	shared   map[string]string                // the shared nodes told, per hostname
	low      map[string]string                // the capacity told below the floor, per hostname
	refused  map[string]map[serviceRef]string // per hostname, each refused Service and what it was told
}

func newTold() *told {
	return &told{failOpen: map[string]bool{}, shared: map[string]string{}, low: map[string]string{},
		refused: map[string]map[serviceRef]string{}}
}

// news returns what to tell of a pass (its fail-open changes, and the
// decisions made anew, before against after) and remembers it; hostnames
// that are gone are forgotten.
func (t *told) news(failOpen []failOpenChange, before, after []model.Decision) []notice {
	exists := make(map[string]bool, len(after))
	for _, d := range after {
		exists[d.Hostname] = true
	}
	for _, d := range before {
		if !exists[d.Hostname] {
			t.forget(d.Hostname)
		}
	}
	out := t.failOpenNews(failOpen)
	for _, d := range after {
		out = append(out, t.sharedNodeNews(d)...)
		out = append(out, t.capacityLowNews(d)...)
		out = append(out, t.refusalNews(d)...)
	}
	return out
}

func (t *told) forget(hostname string) {
	delete(t.failOpen, hostname)
	delete(t.shared, hostname)
	delete(t.low, hostname)
	delete(t.refused, hostname)
}

// failOpenNews tells every Service of a hostname that it started or stopped
// failing open: a hostname that had been healthy, and its end only when its
// start was told.
func (t *told) failOpenNews(changes []failOpenChange) []notice {
	var out []notice
	for _, f := range changes {
		if f.On && !f.WasHealthy || !f.On && !t.failOpen[f.Hostname] {
			continue
		}
		kind, reason := corev1.EventTypeWarning, EventFailOpen
		msg := fmt.Sprintf("no target of %s is healthy: publishing all %d with weight > 0 (fail open)", f.Hostname, f.Published)
		if f.On {
			t.failOpen[f.Hostname] = true
		} else {
			delete(t.failOpen, f.Hostname)
			kind, reason = corev1.EventTypeNormal, EventFailOpenEnded
			msg = fmt.Sprintf("%s has healthy targets again (%d published)", f.Hostname, f.Published)
		}
		out = append(out, toServices(f.Hostname, f.Targets, kind, reason, msg)...)
	}
	return out
}

// sharedNodeNews warns the Services of published IPs that sit on one node:
// they add one node's capacity, not one each.
func (t *told) sharedNodeNews(d model.Decision) []notice {
	shared := d.SharedNodes()
	if len(shared) == 0 {
		delete(t.shared, d.Hostname)
		return nil
	}
	if !newsFor(t.shared, d.Hostname, fmt.Sprint(shared)) {
		return nil
	}
	var out []notice
	for _, sn := range shared {
		var on []model.TargetDecision
		for _, td := range d.Targets {
			if td.Published && td.Node == sn.Node {
				on = append(on, td)
			}
		}
		msg := fmt.Sprintf("%d published IPs of %s sit on node %s (%s): together they add that one node's capacity (%s), not %d nodes'",
			len(sn.IPs), d.Hostname, sn.Node, strings.Trim(fmt.Sprint(sn.IPs), "[]"), bandwidth.BitsPerSecond(on[0].NodeBandwidth), len(sn.IPs))
		out = append(out, toServices(d.Hostname, on, corev1.EventTypeWarning, EventSharedNode, msg)...)
	}
	return out
}

// capacityLowNews warns every Service of a hostname whose published
// capacity fell below its floor, again when it changes while still below,
// and tells them when it is back.
func (t *told) capacityLowNews(d model.Decision) []notice {
	if d.Floor.IsZero() {
		delete(t.low, d.Hostname)
		return nil
	}
	cp := d.Capacity()
	if !cp.Below(d.Floor) {
		if _, wasLow := t.low[d.Hostname]; !wasLow {
			return nil
		}
		delete(t.low, d.Hostname)
		msg := fmt.Sprintf("%s has %s again, at least its floor of %s", d.Hostname, describeCapacity(cp), describeFloor(d.Floor))
		return toServices(d.Hostname, d.Targets, corev1.EventTypeNormal, EventCapacityBack, msg)
	}
	have, want := describeCapacity(cp), describeFloor(d.Floor)
	if !newsFor(t.low, d.Hostname, have+" < "+want) {
		return nil
	}
	why := ""
	if cp.Unmapped > 0 {
		why = fmt.Sprintf("; %d published IPs sit on no known node and count nothing (see docs/annotations.md: where an IP sits)", cp.Unmapped)
	}
	msg := fmt.Sprintf("%s has %s, below its floor of %s%s (a signal only: nothing else is published or withdrawn)", d.Hostname, have, want, why)
	return toServices(d.Hostname, d.Targets, corev1.EventTypeWarning, EventCapacityLow, msg)
}

// refusalNews warns each Service refused a hostname (tenancy), once per
// episode: again only when the refusal changed (another owner, another
// reason) or after it ended.
func (t *told) refusalNews(d model.Decision) []notice {
	if len(d.Refused) == 0 {
		delete(t.refused, d.Hostname)
		return nil
	}
	was := t.refused[d.Hostname]
	now := make(map[serviceRef]string, len(d.Refused))
	var out []notice
	for _, r := range d.Refused {
		ref := serviceRef{r.Cluster, types.NamespacedName{Namespace: r.Namespace, Name: r.Service}}
		now[ref] = r.Reason + ": " + r.Detail
		if was[ref] != now[ref] {
			out = append(out, notice{hostname: d.Hostname, svc: ref, kind: corev1.EventTypeWarning, reason: r.Reason, message: r.Detail})
		}
	}
	t.refused[d.Hostname] = now
	return out
}

// toServices is one notice for each Service of the targets.
func toServices(hostname string, targets []model.TargetDecision, kind, reason, message string) []notice {
	var out []notice
	seen := map[serviceRef]bool{}
	for _, td := range targets {
		if ref := refOf(td.Key); !seen[ref] {
			seen[ref] = true
			out = append(out, notice{hostname: hostname, svc: ref, kind: kind, reason: reason, message: message})
		}
	}
	return out
}

// newsFor records what was told of a hostname and reports whether it is
// news.
func newsFor(told map[string]string, hostname, now string) bool {
	if was, ok := told[hostname]; ok && was == now {
		return false
	}
	told[hostname] = now
	return true
}

// describeCapacity and describeFloor say a capacity and a floor to a human.
func describeCapacity(cp model.Capacity) string {
	return fmt.Sprintf("%sbit/s on %d node%s", bandwidth.BitsPerSecond(cp.BitsPerSecond), cp.Nodes, plural(cp.Nodes))
}

func describeFloor(f model.Floor) string {
	var parts []string
	if f.Nodes > 0 {
		parts = append(parts, fmt.Sprintf("%d node%s", f.Nodes, plural(f.Nodes)))
	}
	if f.BitsPerSecond > 0 {
		parts = append(parts, bandwidth.BitsPerSecond(f.BitsPerSecond).String()+"bit/s")
	}
	return strings.Join(parts, " and ")
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
