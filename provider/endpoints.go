// Package provider holds what every output shares: the interfaces through
// which outputs read the published sets, their conversion to external-dns
// endpoints, the sync loop of the writers, and the metrics of each sync.
package provider

import (
	"net/netip"
	"slices"

	"github.com/lbdns/lbdns/model"
	"sigs.k8s.io/external-dns/endpoint"
)

// Snapshots is where the outputs read the published sets.
type Snapshots interface {
	Snapshot() *model.Snapshot
	// Changed is closed at the next new generation.
	Changed() <-chan struct{}
}

// Readiness tells when the published sets may be handed out or written:
// not before the caches synced and the first probe round ended.
type Readiness interface {
	Ready() <-chan struct{}
}

// Endpoints converts a snapshot: for each hostname with published targets, an
// A record of its IPv4 and an AAAA record of its IPv6 addresses, sorted and
// without duplicates, with the hostname's TTL. The resource label names the
// first Service of the hostname, as external-dns's own sources do.
func Endpoints(snap *model.Snapshot) []*endpoint.Endpoint {
	eps := make([]*endpoint.Endpoint, 0, snap.Hostnames.Len())
	for d := range snap.Hostnames.All() {
		var v4, v6 []netip.Addr
		for _, t := range d.Targets {
			if !t.Published {
				continue
			}
			if t.IP.Is4() {
				v4 = append(v4, t.IP)
			} else {
				v6 = append(v6, t.IP)
			}
		}
		if len(v4)+len(v6) == 0 {
			continue
		}
		resource := "service/" + d.Targets[0].Namespace + "/" + d.Targets[0].Service
		for _, rr := range []struct {
			typ string
			ips []netip.Addr
		}{{endpoint.RecordTypeA, v4}, {endpoint.RecordTypeAAAA, v6}} {
			if len(rr.ips) == 0 {
				continue
			}
			slices.SortFunc(rr.ips, netip.Addr.Compare)
			rr.ips = slices.Compact(rr.ips)
			targets := make(endpoint.Targets, len(rr.ips))
			for i, ip := range rr.ips {
				targets[i] = ip.String()
			}
			ep := &endpoint.Endpoint{
				DNSName:    d.Hostname,
				RecordType: rr.typ,
				Targets:    targets,
				RecordTTL:  endpoint.TTL(d.TTL),
				Labels:     endpoint.Labels{endpoint.ResourceLabelKey: resource},
			}
			eps = append(eps, ep)
		}
	}
	return eps
}
