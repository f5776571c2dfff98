// Package lbset keeps the Services of a LoadBalancerSet: N LoadBalancer
// Services of one hostname, each pinned to its own node (on IONOS, 2 Gbit/s
// per node), replaced when their node dies, one added when traffic nears
// the capacity and one drained when it falls. The decisions are the pure
// function Plan; the controller reads the cluster, writes Services and
// reports.
package lbset

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The API of the custom resource (manifests/helm/lbdns/files/sets/).
const (
	Group    = "lbdns.io"
	Version  = "v1alpha1"
	Kind     = "LoadBalancerSet"
	Resource = "loadbalancersets"
)

// GroupVersionResource is the set's resource.
var GroupVersionResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: Resource}

// Defaults of the spec.
const (
	DefaultNodeSelectorAnnotation = "cloud.ionos.com/node-selector"
	DefaultNodeLabel              = "kubernetes.io/hostname"
	DefaultTargetPercent          = 70
)

// LoadBalancerSet is the custom resource.
type LoadBalancerSet struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              Spec   `json:"spec"`
	Status            Status `json:"status,omitempty"`
}

// Spec is what the user asks for.
type Spec struct {
	// Hostname is published from the set's Services (lbdns.io/hostname).
	Hostname string `json:"hostname"`
	// Template is what every Service of the set is made of.
	Template Template `json:"template"`
	// Placement says how a Service is pinned to a node.
	Placement Placement `json:"placement,omitempty"`
	// MinServices and MaxServices bound the number of Services.
	MinServices int `json:"minServices"`
	MaxServices int `json:"maxServices"`
	// TargetPercent is the share of the capacity (nodes x bandwidth) the
	// traffic should stay under: above it for ScaleOutAfter, one Service
	// more; under half of it for ScaleInAfter, one less.
	TargetPercent int              `json:"targetPercent,omitempty"`
	ScaleOutAfter *metav1.Duration `json:"scaleOutAfter,omitempty"`
	ScaleInAfter  *metav1.Duration `json:"scaleInAfter,omitempty"`
	// Cooldown is the least time between two changes of the size.
	Cooldown *metav1.Duration `json:"cooldown,omitempty"`
	// DryRun: decide and report, write no Service.
	DryRun bool `json:"dryRun,omitempty"`
}

// Template is the part of a Service the user chooses.
type Template struct {
	Selector              map[string]string                   `json:"selector"`
	Ports                 []corev1.ServicePort                `json:"ports"`
	ExternalTrafficPolicy corev1.ServiceExternalTrafficPolicy `json:"externalTrafficPolicy,omitempty"`
	// Annotations are added to every Service (lbdns.io/probe, ...); the
	// hostname and the node selector are the set's.
	Annotations map[string]string `json:"annotations,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
}

// Placement pins a Service to one node: the cloud controller gives its IP
// to a node whose label NodeLabel has the value written into the Service's
// annotation NodeSelectorAnnotation (IONOS: cloud.ionos.com/node-selector:
// kubernetes.io/hostname=node-1).
type Placement struct {
	NodeSelectorAnnotation string `json:"nodeSelectorAnnotation,omitempty"`
	NodeLabel              string `json:"nodeLabel,omitempty"`
	// NodeSelector picks the nodes that may carry the set's IPs (IONOS:
	// the public node pool's label); empty: every node.
	NodeSelector map[string]string `json:"nodeSelector,omitempty"`
}

// Status is what the set does, for kubectl and for the next decision
// (its clocks survive a restart of lbdns).
type Status struct {
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Desired is the number of Services the set keeps now.
	Desired int `json:"desired"`
	// Ready is the number of its Services whose IP is published.
	Ready int `json:"ready"`
	// Nodes carry the ready Services' IPs.
	Nodes []string `json:"nodes,omitempty"`
	// NodeCount, Capacity and Traffic are for the printer columns.
	NodeCount int    `json:"nodeCount"`
	Capacity  string `json:"capacity,omitempty"`
	Traffic   string `json:"traffic,omitempty"`
	// CapacityBitsPerSecond and TrafficBitsPerSecond are the same, as numbers.
	CapacityBitsPerSecond int64 `json:"capacityBitsPerSecond"`
	TrafficBitsPerSecond  int64 `json:"trafficBitsPerSecond"`
	// Services are the set's Services.
	Services []MemberStatus `json:"services,omitempty"`
	// AboveSince and BelowSince are when the traffic went above the target
	// or below half of it; LastScale when the size last changed.
	AboveSince *metav1.Time `json:"aboveSince,omitempty"`
	BelowSince *metav1.Time `json:"belowSince,omitempty"`
	LastScale  *metav1.Time `json:"lastScale,omitempty"`
	// LastDecision says what the set did last, with its figures.
	LastDecision string             `json:"lastDecision,omitempty"`
	Conditions   []metav1.Condition `json:"conditions,omitempty"`
}

// MemberStatus is one Service of the set.
type MemberStatus struct {
	Name  string `json:"name"`
	Node  string `json:"node"`
	IP    string `json:"ip,omitempty"`
	State string `json:"state"`
}
