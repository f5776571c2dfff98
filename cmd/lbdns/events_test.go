package main

import (
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

func TestGatedRecorder(t *testing.T) {
	fake := record.NewFakeRecorder(10)
	var leading atomic.Bool
	g := gatedRecorder{inner: fake, leading: &leading}
	svc := &corev1.Service{}
	g.Eventf(svc, corev1.EventTypeWarning, "TargetWithdrawn", "%s", "closed")
	leading.Store(true)
	g.Eventf(svc, corev1.EventTypeWarning, "TargetWithdrawn", "%s", "open")
	g.Event(svc, corev1.EventTypeNormal, "TargetRestored", "open too")
	if len(fake.Events) != 2 {
		t.Fatalf("%d events, want the 2 sent while open", len(fake.Events))
	}
	if e := <-fake.Events; e != "Warning TargetWithdrawn open" {
		t.Errorf("first event %q", e)
	}
}
