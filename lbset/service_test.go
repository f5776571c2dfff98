package lbset

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func testSet() *LoadBalancerSet {
	return &LoadBalancerSet{ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team-a", UID: types.UID("set-uid")},
		Spec: Spec{Hostname: "app.example.com", MinServices: 2, MaxServices: 4,
			Template: Template{Selector: map[string]string{"app": "web"}, Ports: []corev1.ServicePort{{Name: "https", Port: 443}},
				ExternalTrafficPolicy: corev1.ServiceExternalTrafficPolicyLocal, Annotations: map[string]string{"lbdns.io/probe": "http"}}}}
}

// A Service of the set carries the hostname, the node selector the cloud
// reads, the set's labels and the set as its owner, and reads back as the
// member it is.
func TestNewServiceRoundTrip(t *testing.T) {
	set := testSet()
	s, err := SettingsOf(set.Spec)
	if err != nil {
		t.Fatal(err)
	}
	svc := NewService(set, s, "lbdns.io/", 3, "node-b", "node-b")
	if svc.Name != "web-3" || svc.Annotations["lbdns.io/hostname"] != "app.example.com" ||
		svc.Annotations["cloud.ionos.com/node-selector"] != "kubernetes.io/hostname=node-b" || svc.Annotations["lbdns.io/probe"] != "http" ||
		svc.Spec.Type != corev1.ServiceTypeLoadBalancer || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Fatalf("service %+v", svc)
	}
	if set.Spec.Template.Annotations["lbdns.io/hostname"] != "" {
		t.Fatal("the template was modified")
	}
	if !Owned(set, svc) {
		t.Fatal("the set does not own its Service")
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "192.0.2.7"}}
	svc.Annotations[AnnotationDrain] = "2026-12-03T12:00:00Z"
	m, err := MemberOf(svc)
	if err != nil || m.Index != 3 || m.Node != "node-b" || m.IP != "192.0.2.7" || !m.DrainingSince.Equal(time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)) {
		t.Fatalf("member %+v, %v", m, err)
	}
}

// A Service is the set's only with both its label and an owner reference
// to the set's UID: a look-alike of another namespace, another set of the
// same name (another UID) or a hand-made Service with the label is not.
func TestOwnedOnlyByLabelAndUID(t *testing.T) {
	set := testSet()
	s, _ := SettingsOf(set.Spec)
	mine := NewService(set, s, "lbdns.io/", 0, "n", "n")
	other := mine.DeepCopy()
	other.Namespace = "team-b"
	handmade := mine.DeepCopy()
	handmade.OwnerReferences = nil
	recreated := mine.DeepCopy()
	recreated.OwnerReferences[0].UID = "older-set"
	for name, svc := range map[string]*corev1.Service{"other namespace": other, "no owner": handmade, "other UID": recreated} {
		if Owned(set, svc) {
			t.Errorf("%s: owned", name)
		}
	}
}

// Bad specs and bad labels are errors that say what is wrong.
func TestSettingsAndMembersRefuseBadInput(t *testing.T) {
	for name, mutate := range map[string]func(*Spec){
		"min above max":    func(s *Spec) { s.MinServices = 5 },
		"no selector":      func(s *Spec) { s.Template.Selector = nil },
		"no ports":         func(s *Spec) { s.Template.Ports = nil },
		"target above 100": func(s *Spec) { s.TargetPercent = 150 },
		"negative cooldown": func(s *Spec) {
			s.Cooldown = &metav1.Duration{Duration: -time.Second}
		},
	} {
		spec := testSet().Spec
		mutate(&spec)
		if _, err := SettingsOf(spec); err == nil || !strings.Contains(err.Error(), "spec.") {
			t.Errorf("%s: %v", name, err)
		}
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "x", Labels: map[string]string{LabelIndex: "two"}}}
	if _, err := MemberOf(svc); err == nil || !strings.Contains(err.Error(), LabelIndex) {
		t.Errorf("bad index: %v", err)
	}
}
