package lbset

import (
	"fmt"
	"maps"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// What a set writes on its Services: the label that finds them, their
// index and node (labels: kubectl can select on them), and when one was
// drained. A Service without the label, or whose owner reference is not the
// set's UID, is never touched.
const (
	LabelSet        = "lbdns.io/set"
	LabelIndex      = "lbdns.io/set-index"
	LabelNode       = "lbdns.io/set-node"
	AnnotationDrain = "lbdns.io/set-draining-since"
)

// Settings are the spec with its defaults applied.
type Settings struct {
	Spec
	NodeSelectorAnnotation string
	NodeLabel              string
	Target                 float64
	ScaleOutAfter          time.Duration
	ScaleInAfter           time.Duration
	Cooldown               time.Duration
}

// MaxNameLength bounds a set's name: a Service's name, <set>-<n>, is a DNS
// label of at most 63 characters.
const MaxNameLength = 56

// Defaults of the timings. NoIPFor: a cloud that gave a Service no IP in
// this time will not; the set tries another node.
const (
	NoIPFor              = 3 * time.Minute
	DefaultScaleOutAfter = 2 * time.Minute
	DefaultScaleInAfter  = 15 * time.Minute
	DefaultCooldown      = 5 * time.Minute
)

// SettingsOf applies the defaults to a spec and checks what the schema
// cannot (the API server validates the rest); the error says what is wrong.
func SettingsOf(spec Spec) (Settings, error) {
	s := Settings{Spec: spec, NodeSelectorAnnotation: spec.Placement.NodeSelectorAnnotation, NodeLabel: spec.Placement.NodeLabel,
		Target: float64(spec.TargetPercent) / 100, ScaleOutAfter: DefaultScaleOutAfter, ScaleInAfter: DefaultScaleInAfter, Cooldown: DefaultCooldown}
	if s.NodeSelectorAnnotation == "" {
		s.NodeSelectorAnnotation = DefaultNodeSelectorAnnotation
	}
	if s.NodeLabel == "" {
		s.NodeLabel = DefaultNodeLabel
	}
	if spec.TargetPercent == 0 {
		s.Target = DefaultTargetPercent / 100.0
	}
	for _, d := range []struct {
		name string
		in   *metav1.Duration
		out  *time.Duration
	}{{"scaleOutAfter", spec.ScaleOutAfter, &s.ScaleOutAfter}, {"scaleInAfter", spec.ScaleInAfter, &s.ScaleInAfter}, {"cooldown", spec.Cooldown, &s.Cooldown}} {
		if d.in == nil {
			continue
		}
		if d.in.Duration < 0 {
			return s, fmt.Errorf("spec.%s: must not be negative, got %s", d.name, d.in.Duration)
		}
		*d.out = d.in.Duration
	}
	switch {
	case spec.Hostname == "":
		return s, fmt.Errorf("spec.hostname: required")
	case spec.MinServices < 1 || spec.MaxServices < spec.MinServices:
		return s, fmt.Errorf("spec.minServices (%d) and spec.maxServices (%d): want 1 <= min <= max", spec.MinServices, spec.MaxServices)
	case len(spec.Template.Selector) == 0:
		return s, fmt.Errorf("spec.template.selector: required (the Services must select the set's pods)")
	case len(spec.Template.Ports) == 0:
		return s, fmt.Errorf("spec.template.ports: at least one")
	case s.Target <= 0 || s.Target > 1:
		return s, fmt.Errorf("spec.targetPercent: must be 1..100, got %d", spec.TargetPercent)
	}
	return s, nil
}

// NewService is Service index of a set, pinned to node, whose label
// NodeLabel has the value nodeValue: the set's template, its hostname,
// the node selector the cloud reads, and the set as its owner (deleting the
// set deletes it).
func NewService(set *LoadBalancerSet, s Settings, prefix string, index int, node, nodeValue string) *corev1.Service {
	name := fmt.Sprintf("%s-%d", set.Name, index)
	labels := maps.Clone(s.Template.Labels)
	if labels == nil {
		labels = map[string]string{}
	}
	labels[LabelSet], labels[LabelIndex], labels[LabelNode] = set.Name, strconv.Itoa(index), node
	annotations := maps.Clone(s.Template.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[prefix+"hostname"] = s.Hostname
	annotations[s.NodeSelectorAnnotation] = s.NodeLabel + "=" + nodeValue
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: set.Namespace, Labels: labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: Group + "/" + Version, Kind: Kind, Name: set.Name, UID: set.UID,
				Controller: ptr.To(true), BlockOwnerDeletion: ptr.To(true)}}},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Selector: maps.Clone(s.Template.Selector),
			Ports: s.Template.Ports, ExternalTrafficPolicy: s.Template.ExternalTrafficPolicy},
	}
	return svc
}

// Owned reports whether a Service is one of the set's: its label and an
// owner reference to the set's UID. Nothing else is ever touched.
func Owned(set *LoadBalancerSet, svc *corev1.Service) bool {
	if svc.Namespace != set.Namespace || svc.Labels[LabelSet] != set.Name {
		return false
	}
	for _, o := range svc.OwnerReferences {
		if o.UID == set.UID && o.Kind == Kind {
			return true
		}
	}
	return false
}

// MemberOf reads a Service of the set as the planner sees it; published
// and traffic come from lbdns's view.
func MemberOf(svc *corev1.Service) (Member, error) {
	index, err := strconv.Atoi(svc.Labels[LabelIndex])
	if err != nil || index < 0 {
		return Member{}, fmt.Errorf("service %s/%s: label %s=%q is not an index", svc.Namespace, svc.Name, LabelIndex, svc.Labels[LabelIndex])
	}
	m := Member{Name: svc.Name, Index: index, Node: svc.Labels[LabelNode], Created: svc.CreationTimestamp.Time}
	for _, ing := range svc.Status.LoadBalancer.Ingress {
		if ing.IP != "" {
			m.IP = ing.IP
			break
		}
	}
	if v, ok := svc.Annotations[AnnotationDrain]; ok {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return m, fmt.Errorf("service %s/%s: annotation %s=%q is not a time", svc.Namespace, svc.Name, AnnotationDrain, v)
		}
		m.DrainingSince = t
	}
	return m, nil
}
