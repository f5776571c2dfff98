// Package testkube builds the Kubernetes objects unit tests feed lbdns:
// LoadBalancer Services, their EndpointSlices and Nodes, one way for every
// package.
package testkube

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// LoadBalancer is a LoadBalancer Service in namespace ns with the
// annotations, ports and LB IPs given (UID "uid-<name>").
func LoadBalancer(ns, name string, annotations map[string]string, ports []corev1.ServicePort, ips ...string) *corev1.Service {
	ann := make(map[string]string, len(annotations))
	for k, v := range annotations {
		ann[k] = v
	}
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + name), Annotations: ann},
		Spec:       corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports},
	}
	for _, ip := range ips {
		s.Status.LoadBalancer.Ingress = append(s.Status.LoadBalancer.Ingress, corev1.LoadBalancerIngress{IP: ip})
	}
	return s
}

// EndpointSlice is an IPv4 EndpointSlice of Service ns/service with one
// endpoint (10.0.0.<i>) on each node, all ready or all not.
func EndpointSlice(ns, service string, ready bool, nodes ...string) *discoveryv1.EndpointSlice {
	es := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: service + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: service}},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for i, n := range nodes {
		es.Endpoints = append(es.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("10.0.0.%d", i+1)},
			Conditions: discoveryv1.EndpointConditions{Ready: &ready},
			NodeName:   &n,
		})
	}
	return es
}

// Node is a Node whose status lists ip as its external address, Ready or
// not.
func Node(name, ip string, ready bool) *corev1.Node {
	status := corev1.ConditionTrue
	if !ready {
		status = corev1.ConditionFalse
	}
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NodeStatus{
		Addresses:  []corev1.NodeAddress{{Type: corev1.NodeExternalIP, Address: ip}},
		Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}},
	}}
}
