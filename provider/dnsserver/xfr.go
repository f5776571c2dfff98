package dnsserver

import (
	"net"
	"net/netip"
	"slices"

	"github.com/miekg/dns"
)

// Transfer says who may transfer the zones (AXFR, and IXFR answered with the
// whole zone, as RFC 1995 section 4 allows) and whom to NOTIFY of changes.
type Transfer struct {
	// Allow holds the client networks that may transfer; none: nobody.
	Allow []netip.Prefix
	// TSIG, when set, is required on every transfer and signs the NOTIFYs.
	TSIG *TSIG
	// Notify holds the secondaries (host:port) told of every change.
	Notify []string
}

// TSIG is a shared key (RFC 8945).
type TSIG struct {
	Name, Secret, Algorithm string // Algorithm as miekg/dns names it, e.g. dns.HmacSHA256
}

// transferChunk is how many records go in one message of a transfer: a zone
// of 10,000 names streams in small messages, never one giant buffer.
const transferChunk = 200

// serveTransfer answers an AXFR or IXFR over TCP: refused over UDP and from
// networks not allowed, NOTAUTH without the key when one is set.
func (s *Server) serveTransfer(w dns.ResponseWriter, req *dns.Msg) {
	zone := dns.CanonicalName(req.Question[0].Name)
	client := remoteIP(w.RemoteAddr())
	if rcode, result := s.admitTransfer(w, req, zone, client); rcode != dns.RcodeSuccess {
		resp := new(dns.Msg)
		resp.SetRcode(req, rcode)
		_ = w.WriteMsg(resp)
		s.countTransfer(result)
		return
	}
	rrs, incremental := s.transferRecords(req, zone)
	ch := make(chan *dns.Envelope)
	go func() {
		defer close(ch)
		for len(rrs) > 0 {
			n := min(len(rrs), transferChunk)
			ch <- &dns.Envelope{RR: rrs[:n]}
			rrs = rrs[n:]
		}
	}()
	if err := new(dns.Transfer).Out(w, req, ch); err != nil {
		for range ch { // let the producer end
		}
		s.opts.Logger.Debug("zone transfer cut", "client", client.String(), "zone", zone, "err", err)
		s.countTransfer("error")
		return
	}
	if incremental {
		s.countTransfer("served_incremental")
	} else {
		s.countTransfer("served")
	}
}

// admitTransfer says whether the transfer may go ahead (NOERROR), or the
// rcode that refuses it and the result to count.
func (s *Server) admitTransfer(w dns.ResponseWriter, req *dns.Msg, zone string, client netip.Addr) (int, string) {
	switch {
	case w.RemoteAddr().Network() != "tcp":
		return dns.RcodeRefused, "refused"
	case !slices.ContainsFunc(s.opts.Transfer.Allow, func(p netip.Prefix) bool { return p.Contains(client) }):
		s.opts.Logger.Debug("zone transfer refused: network not allowed", "client", client.String(), "zone", zone)
		return dns.RcodeRefused, "refused"
	case s.opts.Transfer.TSIG != nil && (req.IsTsig() == nil || w.TsigStatus() != nil):
		s.opts.Logger.Debug("zone transfer refused: no valid TSIG", "client", client.String(), "zone", zone)
		return dns.RcodeNotAuth, "unsigned"
	case !slices.Contains(s.zones, zone):
		return dns.RcodeNotAuth, "refused"
	case s.opts.Ready != nil && !s.opts.Ready():
		return dns.RcodeServerFailure, "not_ready"
	}
	return dns.RcodeSuccess, ""
}

// transferRecords are the records of the transfer, all from the zone's
// current version: only the changes for an IXFR whose serial the history
// holds, else the zone.
func (s *Server) transferRecords(req *dns.Msg, zone string) ([]dns.RR, bool) {
	v := s.versionOf(s.index(), zone)
	soa := s.soa(zone, v.serial)
	if req.Question[0].Qtype == dns.TypeIXFR && len(req.Ns) == 1 {
		if theirs, ok := req.Ns[0].(*dns.SOA); ok {
			if rrs, ok := s.incremental(v, zone, theirs.Serial, soa); ok {
				return rrs, true
			}
		}
	}
	out := []dns.RR{soa}
	out = append(out, s.nsRecords(zone)...)
	out = append(out, s.glue(zone)...)
	out = append(out, v.rrs...)
	return append(out, soa), false
}

// addressRecords are every published address of the zone, sorted by name.
func (s *Server) addressRecords(ix *index, zone string) []dns.RR {
	var out []dns.RR
	var names []string
	for _, sh := range ix.shards {
		for name := range sh.nodes {
			if dns.IsSubDomain(zone, name) && s.zoneOf(name) == zone { // not a delegated subzone's
				names = append(names, name)
			}
		}
	}
	slices.Sort(names)
	for _, name := range names {
		n := ix.node(name)
		out = append(out, addresses(name, n.a, dns.TypeA, len(n.a.raw))...)
		out = append(out, addresses(name, n.aaaa, dns.TypeAAAA, len(n.aaaa.raw))...)
	}
	return out
}

func (s *Server) countTransfer(result string) {
	if m := s.opts.Metrics; m != nil {
		m.transfers.WithLabelValues(result).Inc()
	}
}

func remoteIP(a net.Addr) netip.Addr {
	ap, err := netip.ParseAddrPort(a.String())
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}
