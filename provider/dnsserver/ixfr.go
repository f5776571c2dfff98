package dnsserver

import (
	"slices"

	"github.com/miekg/dns"
)

// incremental returns the IXFR answer body of the zone's version v from
// serial from (RFC 1995 section 4: the new SOA, then per step the old SOA,
// the records gone, the new SOA, the records come in, and the new SOA last),
// or false when the history does not reach back to from, or when from is a
// serial the replicas did not agree on: another replica may have given it
// to other data, and steps from there would leave the secondary's copy
// wrong, where the whole zone cannot.
func (s *Server) incremental(v *zoneVersion, zone string, from uint32, soa *dns.SOA) ([]dns.RR, bool) {
	if from == v.serial {
		return []dns.RR{soa}, true // up to date
	}
	i := slices.IndexFunc(v.diffs, func(d zoneDiff) bool { return d.from == from })
	if i < 0 {
		return nil, false
	}
	if b := s.opts.Serials; b != nil {
		if digest, ok := b.DigestOf(zone, from); !ok || digest != v.diffs[i].fromDigest {
			return nil, false
		}
	}
	out := []dns.RR{soa}
	stepSOA := func(serial uint32) dns.RR {
		c := dns.Copy(soa).(*dns.SOA)
		c.Serial = serial
		return c
	}
	for _, d := range v.diffs[i:] {
		out = append(out, stepSOA(d.from))
		out = append(out, d.gone...)
		out = append(out, stepSOA(d.to))
		out = append(out, d.comein...)
	}
	return append(out, soa), true
}
