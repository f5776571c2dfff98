package dnsserver

import (
	"fmt"
	"testing"

	"github.com/lbdns/lbdns/health"
)

// BenchmarkNewIndexOneChange measures the index of a snapshot of 1,000
// hostnames (10 IPs each) in which one hostname was decided anew: the cost
// the embedded DNS adds to every change.
func BenchmarkNewIndexOneChange(b *testing.B) {
	snap := &health.Snapshot{}
	for h := range 1000 {
		d := health.Decision{Hostname: fmt.Sprintf("h%04d.example.com", h), TTL: 30}
		for i := range 10 {
			d.Targets = append(d.Targets, target(fmt.Sprintf("s%d", i), fmt.Sprintf("10.%d.%d.%d", h/250, h%250, i+1), 100, true))
		}
		snap.Hostnames = append(snap.Hostnames, d)
	}
	prev := newIndex(snap, nil)
	b.ReportAllocs()
	for b.Loop() {
		next := *snap
		next.Hostnames = append([]health.Decision(nil), snap.Hostnames...)
		changed := next.Hostnames[500]
		changed.Targets = append([]health.TargetDecision(nil), changed.Targets...)
		next.Hostnames[500] = changed
		prev = newIndex(&next, prev)
	}
}
