package source

import (
	"fmt"
	"slices"
	"strings"

	"github.com/lbdns/lbdns/model"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// AnnotationIONOSNodeSelector is the IONOS cloud controller's annotation
// that limits the nodes a Service's LB IP may sit on to those with a label.
const AnnotationIONOSNodeSelector = "cloud.ionos.com/node-selector"

// Warning reasons of the node-selector check.
const (
	ReasonNodeSelectorMismatch    = "NodeSelectorMismatch"
	ReasonNodeSelectorWithoutPods = "NodeSelectorWithoutPods"
)

// maxNodesNamed bounds the nodes one message names.
const maxNodesNamed = 5

// checkNodeSelector compares a Service's IONOS node-selector with where its
// IPs sit (nodes[i] holds targets[i], nil when unknown) and where its
// ready pods run: an IP on a node the selector does not
// pick (NodeSelectorMismatch), and picked nodes that run no ready endpoint
// (NodeSelectorWithoutPods: when the cloud moves the IP there, traffic is
// dropped with externalTrafficPolicy Local, or crosses to another node with
// Cluster). It warns the owner and notes the problem on the targets, for
// /status; it never changes a target's health.
func checkNodeSelector(svc *corev1.Service, targets []model.Target, nodes []*corev1.Node, ready []ReadyEndpoint, look Lookup,
	warn func(reason, format string, args ...any)) {
	value, ok := svc.Annotations[AnnotationIONOSNodeSelector]
	if !ok {
		return
	}
	selector, err := labels.Parse(value)
	if err != nil {
		warn(ReasonInvalidAnnotation, "annotation %s=%s: not a label selector (%v); not checked", AnnotationIONOSNodeSelector, quoteShort(value), err)
		return
	}
	note := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		for i := range targets {
			targets[i].Notes = append(targets[i].Notes, msg)
		}
	}
	for i, t := range targets {
		if n := nodes[i]; n != nil && !selector.Matches(labels.Set(n.Labels)) {
			msg := fmt.Sprintf("%s sits on node %s, which its node-selector %s does not pick", t.IP, n.Name, selector)
			warn(ReasonNodeSelectorMismatch, "%s", msg)
			targets[i].Notes = append(targets[i].Notes, msg)
		}
	}
	picked := pickedNodes(look, selector)
	if len(picked) == 0 {
		warn(ReasonNodeSelectorMismatch, "node-selector %s picks no Ready node: the cloud has nowhere to put the IP", selector)
		note("node-selector %s picks no Ready node", selector)
		return
	}
	without := withoutPods(picked, ready)
	if len(without) == 0 {
		return
	}
	then := "its traffic takes a second hop to a node that runs one"
	if svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal {
		then = "with externalTrafficPolicy Local its traffic is dropped there (lbdns withdraws the IP)"
	}
	named := strings.Join(without[:min(len(without), maxNodesNamed)], ", ")
	if len(without) > maxNodesNamed {
		named += fmt.Sprintf(" and %d more", len(without)-maxNodesNamed)
	}
	warn(ReasonNodeSelectorWithoutPods, "node-selector %s picks node(s) %s that run no ready endpoint of this Service: when the cloud moves the IP there, %s",
		selector, named, then)
	note("node-selector %s picks node(s) %s without a ready endpoint", selector, named)
}

// pickedNodes returns the names of the Nodes the selector picks that can
// carry traffic (the cloud puts no IP on the others), sorted.
func pickedNodes(look Lookup, selector labels.Selector) []string {
	var picked []string
	for _, n := range look.AllNodes() {
		if selector.Matches(labels.Set(n.Labels)) {
			if r, _ := nodeSignal(n); r == "" {
				picked = append(picked, n.Name)
			}
		}
	}
	slices.Sort(picked)
	return picked
}

// withoutPods returns the nodes of picked that run no ready endpoint; none
// when no pod runs anywhere (NoReadyEndpoints says that already) or when an
// endpoint does not say its node (there is nothing to compare).
func withoutPods(picked []string, ready []ReadyEndpoint) []string {
	if len(ready) == 0 {
		return nil
	}
	withPods := map[string]bool{}
	for _, ep := range ready {
		if ep.Node == "" {
			return nil
		}
		withPods[ep.Node] = true
	}
	return slices.DeleteFunc(picked, func(n string) bool { return withPods[n] })
}
