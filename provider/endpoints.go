// Package provider turns published sets into external-dns endpoints: a type
// with external-dns's two-method Source interface, used by the outputs.
package provider

import (
	"context"
	"net/netip"
	"slices"

	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/health"
)

// Snapshots is where the outputs read the published sets.
type Snapshots interface {
	Snapshot() *health.Snapshot
	// Changed is closed at the next new generation.
	Changed() <-chan struct{}
}

// Source serves the published sets as external-dns endpoints. It has the
// method set of external-dns's source.Source.
type Source struct {
	snaps Snapshots
}

// NewSource returns a Source over snaps.
func NewSource(snaps Snapshots) *Source { return &Source{snaps: snaps} }

// Endpoints returns one A and/or one AAAA endpoint per published hostname.
func (s *Source) Endpoints(context.Context) ([]*endpoint.Endpoint, error) {
	return Endpoints(s.snaps.Snapshot()), nil
}

// AddEventHandler calls handler after each change of a published set, until
// ctx is done.
func (s *Source) AddEventHandler(ctx context.Context, handler func()) {
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.snaps.Changed():
				handler()
			}
		}
	}()
}

// Endpoints converts a snapshot: for each hostname with published targets, an
// A record of its IPv4 and an AAAA record of its IPv6 addresses, sorted and
// without duplicates, with the hostname's TTL. The resource label names the
// first Service of the hostname, as external-dns's own sources do.
func Endpoints(snap *health.Snapshot) []*endpoint.Endpoint {
	eps := make([]*endpoint.Endpoint, 0, len(snap.Hostnames))
	for _, d := range snap.Hostnames {
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
