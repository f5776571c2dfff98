package dnsserver

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// addresses returns the first count addresses of a in weighted order: a
// capped answer is a weighted choice of the set.
func addresses(owner string, a answer, rrtype uint16, count int) []dns.RR {
	rrs := make([]dns.RR, 0, count)
	for _, i := range weightedOrder(a.weights)[:count] {
		hdr := dns.RR_Header{Name: owner, Rrtype: rrtype, Class: dns.ClassINET, Ttl: a.ttl}
		if rrtype == dns.TypeA {
			rrs = append(rrs, &dns.A{Hdr: hdr, A: a.raw[i]})
		} else {
			rrs = append(rrs, &dns.AAAA{Hdr: hdr, AAAA: a.raw[i]})
		}
	}
	return rrs
}

// answerCount is how many of n addresses an answer carries.
func (s *Server) answerCount(n int) int {
	if s.opts.MaxAnswers > 0 {
		return min(n, s.opts.MaxAnswers)
	}
	return n
}

// nsNames are the zone's name servers, the first its SOA's MNAME.
func (s *Server) nsNames(zone string) []string {
	if len(s.opts.NS) == 0 {
		return []string{"ns1." + zone}
	}
	out := make([]string, len(s.opts.NS))
	for i, n := range s.opts.NS {
		out[i] = dns.Fqdn(n)
	}
	return out
}

// soaOf is the zone's SOA, with the serial of the index's snapshot.
func (s *Server) soaOf(zone string, ix *index) *dns.SOA {
	return s.soa(zone, s.serialOf(ix, zone))
}

func (s *Server) soa(zone string, serial uint32) *dns.SOA {
	mbox := "hostmaster." + zone
	if s.opts.Hostmaster != "" {
		mbox = dns.Fqdn(strings.Replace(s.opts.Hostmaster, "@", ".", 1))
	}
	return &dns.SOA{
		Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: negativeTTL},
		Ns:  s.nsNames(zone)[0], Mbox: mbox, Serial: serial,
		Refresh: 3600, Retry: 600, Expire: 86400, Minttl: negativeTTL,
	}
}

func (s *Server) nsRecords(zone string) []dns.RR {
	var out []dns.RR
	for _, n := range s.nsNames(zone) {
		out = append(out, &dns.NS{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: 3600}, Ns: n})
	}
	return out
}

// glue is the addresses of the zone's name servers inside it (RFC 1034
// additional section processing:
// sent with the NS records, and part of the zone in transfers).
func (s *Server) glue(zone string) []dns.RR {
	var out []dns.RR
	for _, n := range s.nsNames(zone) {
		if addrs, ok := s.opts.NSAddresses[dns.CanonicalName(n)]; ok && s.zoneOf(dns.CanonicalName(n)) == zone {
			out = append(out, addressRecordsOf(n, dns.TypeA, addrs)...)
			out = append(out, addressRecordsOf(n, dns.TypeAAAA, addrs)...)
		}
	}
	return out
}

// addressRecordsOf are the A (or AAAA) records of owner among addrs.
func addressRecordsOf(owner string, qtype uint16, addrs []netip.Addr) []dns.RR {
	var out []dns.RR
	for _, a := range addrs {
		hdr := dns.RR_Header{Name: owner, Rrtype: qtype, Class: dns.ClassINET, Ttl: 3600}
		switch {
		case qtype == dns.TypeA && a.Is4():
			out = append(out, &dns.A{Hdr: hdr, A: a.AsSlice()})
		case qtype == dns.TypeAAAA && a.Is6():
			out = append(out, &dns.AAAA{Hdr: hdr, AAAA: a.AsSlice()})
		}
	}
	return out
}
