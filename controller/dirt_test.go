package controller

import (
	"testing"

	"k8s.io/apimachinery/pkg/types"
)

// While every Service is to be read (the first pass), marks of single
// Services are not kept; once that pass took the dirt, they are.
func TestDirtMarksServicesOnlyWhenNotReadingAll(t *testing.T) {
	d := newDirt()
	a := serviceRef{NamespacedName: types.NamespacedName{Namespace: "ns", Name: "a"}}
	d.addService(a)
	first := d.take()
	if !first.all || len(first.services) != 0 {
		t.Fatalf("first take: all %v, %d Services marked", first.all, len(first.services))
	}
	d.addService(a)
	next := d.take()
	if next.all || !next.services[a] {
		t.Fatalf("after the first pass: all %v, marked %v", next.all, next.services)
	}
}
