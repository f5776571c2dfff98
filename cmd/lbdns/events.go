package main

import (
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/record"
)

// gatedRecorder sends events only while leading is set. With leader election,
// only the leader sends, so N replicas do not put N copies of every event on
// a Service.
type gatedRecorder struct {
	inner   record.EventRecorder
	leading *atomic.Bool
}

func (g gatedRecorder) Event(obj runtime.Object, eventtype, reason, message string) {
	if g.leading.Load() {
		g.inner.Event(obj, eventtype, reason, message)
	}
}

func (g gatedRecorder) Eventf(obj runtime.Object, eventtype, reason, format string, args ...any) {
	if g.leading.Load() {
		g.inner.Eventf(obj, eventtype, reason, format, args...)
	}
}

func (g gatedRecorder) AnnotatedEventf(obj runtime.Object, annotations map[string]string, eventtype, reason, format string, args ...any) {
	if g.leading.Load() {
		g.inner.AnnotatedEventf(obj, annotations, eventtype, reason, format, args...)
	}
}
