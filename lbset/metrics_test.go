package lbset

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// A round's figures become series of the set; a set that is gone loses them.
func TestMetricsFollowTheSets(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	status := Status{Services: []MemberStatus{{State: "Ready"}, {State: "Ready"}, {State: "Pending"}}}
	m.observe("team-a", "web", status, Outcome{Plan: Plan{Desired: 3, Utilization: 0.5}, Written: []Action{{Kind: Create}}})
	if got := testutil.ToFloat64(m.services.WithLabelValues("team-a", "web", "Ready")); got != 2 {
		t.Fatalf("ready services %v", got)
	}
	if got := testutil.ToFloat64(m.actions.WithLabelValues("team-a", "web", "Create")); got != 1 {
		t.Fatalf("creates %v", got)
	}
	m.forget("team-a", "web")
	if n := testutil.CollectAndCount(reg); n != 0 {
		t.Fatalf("%d series left of a set that is gone", n)
	}
}
