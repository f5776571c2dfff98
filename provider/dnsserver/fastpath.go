package dnsserver

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/lbdns/lbdns/metrics"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Sizes of the wire format the fast path writes.
const (
	headerLen = 12
	maxName   = 255
	optLen    = 11 // an OPT record without options
	// ptrToQuestion is a compression pointer to the question's name, which
	// always starts right after the header.
	ptrToQuestion = 0xC000 | headerLen
)

// fastQuery is what the fast path reads from a datagram.
type fastQuery struct {
	question []byte // the question as sent (name, type, class)
	qtype    uint16
	edns     bool
	do       bool // the DNSSEC OK bit, which the answer copies (RFC 3225)
	udpSize  int  // the largest answer the client takes
}

// fastAnswer answers the common query straight from the datagram into buf,
// with no message unpacked or packed and nothing allocated: an A or AAAA
// question, in class IN, for a name that has addresses of that type, in
// a served zone, with or without an EDNS0 OPT record, and an answer that
// fits. It writes the header and records the full path writes
// (TestFastPathMatchesFullPath), with the owner names compressed: the full
// path compresses only what would not fit otherwise.
// It reports false for everything else (errors, NXDOMAIN, NODATA, other
// types, wildcards, truncation, escapes in names), which the full path
// answers. A nil answer with true is a response that rate limiting dropped.
func (s *Server) fastAnswer(raw []byte, from netip.AddrPort, buf []byte, t *tally) ([]byte, bool) {
	start := t.now()
	var nameBuf [maxName + 1]byte
	q, name, ok := parseFastQuery(raw, nameBuf[:0])
	if !ok || !s.inZones(name) || (s.opts.Ready != nil && !s.opts.Ready()) {
		return nil, false
	}
	n := s.index().nodeOfBytes(name)
	if n == nil {
		return nil, false
	}
	a, kind := &n.a, n.rrlA
	if q.qtype == dns.TypeAAAA {
		a, kind = &n.aaaa, n.rrlAAAA
	}
	if len(a.raw) == 0 {
		return nil, false // NODATA carries the SOA: the full path
	}
	rrLen := 2 + 10 + len(a.raw[0]) // owner pointer, type to rdlength, rdata
	size := headerLen + len(q.question) + s.answerCount(len(a.raw))*rrLen
	if q.edns {
		size += optLen
	}
	if size > q.udpSize {
		return nil, false // truncation: the full path
	}
	truncate := false
	if s.limiter != nil {
		switch v := s.limiter.verdict(from.Addr(), kind, start); v {
		case rrlDrop:
			s.countLimited(v)
			return nil, true
		case rrlSlip:
			s.countLimited(v)
			truncate = true
		}
	}
	out := s.writeFastAnswer(buf[:0], raw, q, a, truncate)
	t.answered(q.qtype, start)
	return out, true
}

// writeFastAnswer writes the response: the header of a reply (QR, AA, the
// query's RD and CD), the question as asked, the addresses in weighted
// order owned by a pointer to the question's name, and an OPT record if the
// query had one. A truncated response (rate limiting's slip) has TC set and
// no addresses.
func (s *Server) writeFastAnswer(b, raw []byte, q fastQuery, a *answer, truncate bool) []byte {
	flags := uint16(0x8000|0x0400) | uint16(raw[2]&0x01)<<8 | uint16(raw[3]&0x10) // QR, AA; RD; CD
	count := s.answerCount(len(a.raw))
	if truncate {
		flags |= 0x0200 // TC
		count = 0
	}
	b = append(b, raw[0], raw[1]) // the ID
	b = binary.BigEndian.AppendUint16(b, flags)
	b = binary.BigEndian.AppendUint16(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(count))
	b = binary.BigEndian.AppendUint16(b, 0)
	if q.edns {
		b = binary.BigEndian.AppendUint16(b, 1)
	} else {
		b = binary.BigEndian.AppendUint16(b, 0)
	}
	b = append(b, q.question...)
	if count > 0 {
		var orderBuf [16]int
		for _, i := range weightedOrderInto(orderBuf[:0], a.weights)[:count] {
			b = binary.BigEndian.AppendUint16(b, ptrToQuestion)
			b = binary.BigEndian.AppendUint16(b, q.qtype)
			b = binary.BigEndian.AppendUint16(b, dns.ClassINET)
			b = binary.BigEndian.AppendUint32(b, a.ttl)
			b = binary.BigEndian.AppendUint16(b, uint16(len(a.raw[i])))
			b = append(b, a.raw[i]...)
		}
	}
	if q.edns { // root owner, type OPT, class = our UDP size, the DO bit copied, no options
		b = append(b, 0)
		b = binary.BigEndian.AppendUint16(b, dns.TypeOPT)
		b = binary.BigEndian.AppendUint16(b, maxUDPSize)
		do := byte(0)
		if q.do {
			do = 0x80
		}
		b = append(b, 0, 0, do, 0, 0, 0)
	}
	return b
}

// parseFastQuery reads a query the fast path can answer: a header with one
// question and nothing else but maybe one OPT record of EDNS version 0, a
// name of plain labels (letters, digits, '-', '_'; no compression), type A
// or AAAA, class IN, and no trailing bytes. It appends the name, lower case
// and fully qualified as the index keys it, to name.
func parseFastQuery(raw, name []byte) (fastQuery, []byte, bool) {
	var q fastQuery
	if len(raw) < headerLen || raw[2]&0xF8 != 0 { // QR set, or an opcode other than QUERY
		return q, nil, false
	}
	counts := raw[4:headerLen]
	if !bytes.Equal(counts[:6], []byte{0, 1, 0, 0, 0, 0}) || counts[6] != 0 || counts[7] > 1 {
		return q, nil, false
	}
	off := headerLen
	for {
		if off >= len(raw) {
			return q, nil, false
		}
		l := int(raw[off])
		off++
		if l == 0 {
			break
		}
		if l > 63 || off+l > len(raw) || off+l-headerLen > maxName-1 {
			return q, nil, false
		}
		for _, c := range raw[off : off+l] {
			switch {
			case 'A' <= c && c <= 'Z':
				c += 'a' - 'A'
			case 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_':
			default:
				return q, nil, false // escapes, wildcards: the full path
			}
			name = append(name, c)
		}
		name = append(name, '.')
		off += l
	}
	if len(name) == 0 || off+4 > len(raw) {
		return q, nil, false // the root, or no type and class
	}
	q.qtype = binary.BigEndian.Uint16(raw[off:])
	if (q.qtype != dns.TypeA && q.qtype != dns.TypeAAAA) || binary.BigEndian.Uint16(raw[off+2:]) != dns.ClassINET {
		return q, nil, false
	}
	off += 4
	q.question = raw[headerLen:off]
	q.udpSize = classicUDPSize
	if counts[7] == 1 {
		// OPT: root owner, type, class = UDP size, extended rcode, version,
		// flags, rdlength and options, which end the datagram.
		if off+optLen > len(raw) || raw[off] != 0 || binary.BigEndian.Uint16(raw[off+1:]) != dns.TypeOPT || raw[off+6] != 0 ||
			off+optLen+int(binary.BigEndian.Uint16(raw[off+9:])) != len(raw) || !plainOptions(raw[off+optLen:]) {
			return q, nil, false
		}
		q.edns, q.do = true, raw[off+7]&0x80 != 0
		q.udpSize = max(classicUDPSize, min(int(binary.BigEndian.Uint16(raw[off+3:])), maxUDPSize))
		off = len(raw)
	}
	return q, name, off == len(raw)
}

// plainOptions reports whether EDNS0 options are well formed and only of
// kinds that the full path reads without checks of their own, so that it
// would not have refused the query as malformed: NSID, cookies, padding.
func plainOptions(opts []byte) bool {
	for len(opts) > 0 {
		if len(opts) < 4 {
			return false
		}
		code, l := binary.BigEndian.Uint16(opts), int(binary.BigEndian.Uint16(opts[2:]))
		if (code != dns.EDNS0NSID && code != dns.EDNS0COOKIE && code != dns.EDNS0PADDING) || 4+l > len(opts) {
			return false
		}
		opts = opts[4+l:]
	}
	return true
}

// inZones reports whether a lower-case, fully qualified name is in one of
// the served zones.
func (s *Server) inZones(name []byte) bool {
	for _, z := range s.zoneBytes {
		if bytes.HasSuffix(name, z) && (len(name) == len(z) || len(z) == 1 || name[len(name)-len(z)-1] == '.') {
			return true
		}
	}
	return false
}

// fastCounters are the query counters of the fast path's answers, bound
// once: a label lookup per query showed in the profile.
type fastCounters struct {
	a, aaaa prometheus.Counter
}

// tally is what one UDP reader counts of its fast answers: added to the
// shared counters once per batch, and the durations on a histogram shard of
// its own (two readers updating the same counters per query made their
// cache lines move between the cores on every query). One clock reading
// per answer: an answer's start is when the one before it ended.
type tally struct {
	a, aaaa   int
	last      time.Time
	durations *metrics.HistogramShard // nil: no metrics
}

func (s *Server) newTally() *tally {
	t := &tally{}
	if m := s.opts.Metrics; m != nil {
		t.durations = m.duration.Shard()
	}
	return t
}

// restart starts the clock anew: at a batch's start, and after an answer
// the fast path did not give. A nil tally (tests) counts nothing.
func (t *tally) restart() {
	if t != nil {
		t.last = time.Now()
	}
}

func (t *tally) now() time.Time {
	if t == nil {
		return time.Now()
	}
	return t.last
}

// answered counts an answer to a query of qtype begun at start.
func (t *tally) answered(qtype uint16, start time.Time) {
	if t == nil {
		return
	}
	if qtype == dns.TypeA {
		t.a++
	} else {
		t.aaaa++
	}
	t.last = time.Now()
	if t.durations != nil {
		t.durations.Observe(t.last.Sub(start).Seconds())
	}
}

// flush adds the batch's counts to the shared counters.
func (t *tally) flush(c fastCounters) {
	if c.a != nil && t.a > 0 {
		c.a.Add(float64(t.a))
	}
	if c.aaaa != nil && t.aaaa > 0 {
		c.aaaa.Add(float64(t.aaaa))
	}
	t.a, t.aaaa = 0, 0
}
