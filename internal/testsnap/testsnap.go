// Package testsnap builds health snapshots for the tests of the outputs.
package testsnap

import (
	"net/netip"

	"github.com/lbdns/lbdns/health"
)

// Build returns a snapshot of generation gen in which every listed IP of
// every hostname is healthy and published with weight 100 and TTL 30.
func Build(gen uint64, hosts map[string][]string) *health.Snapshot {
	s := &health.Snapshot{Generation: gen}
	for h, ips := range hosts {
		d := health.Decision{Hostname: h, TTL: 30}
		for _, ip := range ips {
			d.Targets = append(d.Targets, health.TargetDecision{Target: health.Target{
				Key: health.Key{Namespace: "web", Service: "svc", IP: netip.MustParseAddr(ip)}, Weight: 100},
				Healthy: true, Published: true})
		}
		s.Hostnames = append(s.Hostnames, d)
	}
	return s
}
