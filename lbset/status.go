package lbset

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/lbdns/lbdns/bandwidth"
)

// DeepCopy copies a set through JSON: sets are few and decided every few
// seconds, and a generated copier would be code to keep in step.
func (s *LoadBalancerSet) DeepCopy() *LoadBalancerSet {
	b, err := json.Marshal(s)
	if err != nil {
		panic(fmt.Sprintf("LoadBalancerSet does not marshal: %v", err)) // only plain fields: cannot happen
	}
	var out LoadBalancerSet
	if err := json.Unmarshal(b, &out); err != nil {
		panic(fmt.Sprintf("LoadBalancerSet does not unmarshal: %v", err))
	}
	return &out
}

// DeepCopyObject makes a set a runtime.Object (for events).
func (s *LoadBalancerSet) DeepCopyObject() runtime.Object { return s.DeepCopy() }

// FromUnstructured reads a set from the dynamic client's form.
func FromUnstructured(obj map[string]any) (*LoadBalancerSet, error) {
	var s LoadBalancerSet
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj, &s); err != nil {
		return nil, fmt.Errorf("reading a LoadBalancerSet: %w", err)
	}
	return &s, nil
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func metaTime(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}

func setCondition(s *Status, typ string, ok bool, reason, message string, generation int64) {
	status := metav1.ConditionFalse
	if ok {
		status = metav1.ConditionTrue
	}
	meta.SetStatusCondition(&s.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: message,
		ObservedGeneration: generation})
}

// fillStatus writes a decision's figures into the status.
func fillStatus(s *Status, in Input, p Plan, dryRun bool, generation int64) {
	s.Desired, s.Ready, s.Nodes = p.Desired, 0, nil
	var capacity, traffic float64
	bw := map[string]float64{}
	for _, n := range in.Nodes {
		bw[n.Name] = n.Bandwidth
	}
	s.Services = nil
	for _, m := range in.Members {
		state := "Pending"
		switch {
		case m.draining():
			state = "Draining"
		case m.Published:
			state = "Ready"
			s.Ready++
			s.Nodes = append(s.Nodes, m.Node)
			capacity += bw[m.Node]
			traffic += m.Traffic
		}
		s.Services = append(s.Services, MemberStatus{Name: m.Name, Node: m.Node, IP: m.IP, State: state})
	}
	slices.Sort(s.Nodes)
	slices.SortFunc(s.Services, func(a, b MemberStatus) int { return strings.Compare(a.Name, b.Name) })
	s.NodeCount = len(s.Nodes)
	s.CapacityBitsPerSecond, s.TrafficBitsPerSecond = int64(capacity), int64(traffic)
	s.Capacity, s.Traffic = bandwidth.BitsPerSecond(capacity).String(), bandwidth.BitsPerSecond(traffic).String()
	s.AboveSince, s.BelowSince, s.LastScale = metaTime(p.AboveSince), metaTime(p.BelowSince), metaTime(p.LastScale)
	if len(p.Actions) > 0 {
		a := p.Actions[0]
		prefix := ""
		if dryRun {
			prefix = "dry run, not done: "
		}
		s.LastDecision = fmt.Sprintf("%s%s %s on node %s: %s", prefix, a.Kind, a.Service, a.Node, a.Reason)
	}
	ok, reason, msg := p.Blocked == "", "Placed", "every wanted Service has a node"
	if !ok {
		reason, msg = "NoEligibleNode", p.Blocked
	}
	setCondition(s, "Placed", ok, reason, msg, generation)
	s.ObservedGeneration = generation
}

// equalStatus: an unchanged decision is not written again
// (SetStatusCondition keeps a condition's transition time while its status
// stays).
func equalStatus(a, b Status) bool { return reflect.DeepEqual(a, b) }
