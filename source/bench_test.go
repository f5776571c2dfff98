package source

import (
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

// BenchmarkBuildAndDecide measures one full recomputation for 10,000 Services
// in 1,000 hostnames: grouping plus the health decision of every hostname.
func BenchmarkBuildAndDecide(b *testing.B) {
	var services []*corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for i := range 10000 {
		name := fmt.Sprintf("svc-%d", i)
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16, (i>>8)&255, i&255)
		services = append(services, svc(name, fmt.Sprintf("h%d.example.com", i%1000), []string{ip}))
		slices = append(slices, slice(name, true, "n1"))
	}
	c := cluster(services, slices, nil)
	groups, _ := Build(c, opts)
	facts := health.Facts{Probes: map[model.Key]probe.Status{}}
	for _, g := range groups {
		for _, t := range g.Targets {
			facts.Probes[t.Key] = probe.Status{State: probe.Up}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		groups, _ := Build(c, opts)
		for _, g := range groups {
			health.Decide(g, facts, true)
		}
		if len(groups) != 1000 {
			b.Fatalf("%d groups", len(groups))
		}
	}
}
