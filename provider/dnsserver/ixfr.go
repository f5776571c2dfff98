package dnsserver

import (
	"slices"

	"github.com/miekg/dns"
)

// ixfrHistory bounds the versions of a zone kept for incremental transfers
// (RFC 1995): a secondary further behind gets the whole zone.
const ixfrHistory = 64

// zoneHistory is what an IXFR needs of one zone: its records at the newest
// serial and the differences between the last versions, oldest first.
type zoneHistory struct {
	serial  uint32
	records map[string]dns.RR // by their text
	diffs   []zoneDiff
}

// zoneDiff is one version step: what left and what came.
type zoneDiff struct {
	from, to     uint32
	gone, comein []dns.RR
}

// recordVersion notes the zones' records at a new serial (transfers on
// only); the caller holds serialMu.
func (s *Server) recordVersion(ix *index, serial uint32) {
	if len(s.opts.Transfer.Allow) == 0 {
		return
	}
	if s.history == nil {
		s.history = map[string]*zoneHistory{}
	}
	for _, zone := range s.zones {
		now := map[string]dns.RR{}
		for _, rr := range s.addressRecords(ix, zone) {
			now[rr.String()] = rr
		}
		h := s.history[zone]
		if h == nil {
			s.history[zone] = &zoneHistory{serial: serial, records: now}
			continue
		}
		d := zoneDiff{from: h.serial, to: serial}
		for k, rr := range h.records {
			if _, kept := now[k]; !kept {
				d.gone = append(d.gone, rr)
			}
		}
		for k, rr := range now {
			if _, had := h.records[k]; !had {
				d.comein = append(d.comein, rr)
			}
		}
		slices.SortFunc(d.gone, compareRR)
		slices.SortFunc(d.comein, compareRR)
		h.diffs = append(h.diffs, d)
		if len(h.diffs) > ixfrHistory {
			h.diffs = h.diffs[len(h.diffs)-ixfrHistory:]
		}
		h.serial, h.records = serial, now
	}
}

func compareRR(a, b dns.RR) int {
	switch x, y := a.String(), b.String(); {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// incremental returns the IXFR answer body of zone from serial from to the
// current soa (RFC 1995 section 4: the new SOA, then per step the old SOA,
// the records gone, the new SOA, the records come in, and the new SOA last),
// or false when the history does not reach back to from.
func (s *Server) incremental(zone string, from uint32, soa *dns.SOA) ([]dns.RR, bool) {
	s.serialMu.Lock()
	defer s.serialMu.Unlock()
	h := s.history[zone]
	if h == nil || h.serial != soa.Serial {
		return nil, false
	}
	if from == soa.Serial {
		return []dns.RR{soa}, true // up to date
	}
	i := slices.IndexFunc(h.diffs, func(d zoneDiff) bool { return d.from == from })
	if i < 0 {
		return nil, false
	}
	out := []dns.RR{soa}
	stepSOA := func(serial uint32) dns.RR {
		c := dns.Copy(soa).(*dns.SOA)
		c.Serial = serial
		return c
	}
	for _, d := range h.diffs[i:] {
		out = append(out, stepSOA(d.from))
		out = append(out, d.gone...)
		out = append(out, stepSOA(d.to))
		out = append(out, d.comein...)
	}
	return append(out, soa), true
}
