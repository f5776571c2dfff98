// Package dnsserver answers DNS for the published sets itself: an
// authoritative server for delegated zones, over UDP and TCP, whose A and
// AAAA answers are ordered by weighted random choice, so that the first
// answer is chosen in proportion to its weight.
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/lbdns/lbdns/connlimit"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/provider"
)

// Output is the output label in metrics.
const Output = "dns"

// Answer sizes: the EDNS0 UDP size lbdns offers (the DNS flag day 2020
// value), and the classic limit without EDNS0.
const (
	maxUDPSize     = 1232
	classicUDPSize = 512
	negativeTTL    = 30
)

// Options configure a Server.
type Options struct {
	// Zones the server is authoritative for.
	Zones []string
	// NS holds the name servers of every zone, the first the SOA's MNAME;
	// empty: "ns1.<zone>".
	NS []string
	// NSAddresses are the addresses of the name servers inside the zones,
	// by canonical name: answered, and given as glue with NS answers and in
	// transfers.
	NSAddresses map[string][]netip.Addr
	// Transfer says who may transfer the zones and whom to NOTIFY.
	Transfer Transfer
	// Serials, if set, is where replicas agree on the serials of the same
	// data (used with transfers on).
	Serials SerialBoard
	// Hostmaster is the SOA mailbox; empty: "hostmaster.<zone>".
	Hostmaster string
	// Ready, if set, reports whether lbdns is ready; before that every
	// query gets SERVFAIL, so no resolver caches an NXDOMAIN of a name that
	// is about to exist.
	Ready func() bool
	// RRL limits the responses over UDP per client network; zero is off.
	RRL RRL
	// SpreadByFlow leaves the spreading of UDP queries over the server's
	// sockets to the kernel's hash of the client's address and port;
	// otherwise each datagram goes to the socket of the CPU it arrived on
	// (spreadByCPU).
	SpreadByFlow bool
	// MaxAnswers caps the addresses in one answer (0: all of them): which
	// ones is a weighted choice, made anew for every query.
	MaxAnswers int
	// TCP bounds the TCP connections; zero fields take the defaults.
	TCP TCPLimits
	// WeightByNode makes the node, not the IP, the unit of the weighted
	// order: the weights of a hostname's IPs on one node are split among
	// them.
	WeightByNode bool
	Logger       *slog.Logger
	// Observer records when answers reflect a change; nil records none.
	Observer *provider.SyncObserver
	// Metrics (nil: none) are the server's; Listeners count its TCP
	// listener's connections (nil: not counted).
	Metrics   *Metrics
	Listeners *connlimit.Metrics
}

// TCPLimits bound the server's TCP connections (RFC 7766 section 6.2): in
// all and per client network (/24, /56, as for RRL), and how long a client
// may take to send a whole message, the first or the next.
type TCPLimits struct {
	MaxConns, MaxConnsPerNetwork int
	IdleTimeout                  time.Duration
}

// Defaults of TCPLimits: BIND allows 150 TCP clients; a server that answers
// whole zones to many resolvers needs more, and each idle connection costs
// a goroutine and a few KB.
const (
	DefaultTCPMaxConns           = 1000
	DefaultTCPMaxConnsPerNetwork = 50
	DefaultTCPIdleTimeout        = 10 * time.Second
)

func (l TCPLimits) withDefaults() TCPLimits {
	if l.MaxConns == 0 {
		l.MaxConns = DefaultTCPMaxConns
	}
	if l.MaxConnsPerNetwork == 0 {
		l.MaxConnsPerNetwork = DefaultTCPMaxConnsPerNetwork
	}
	if l.IdleTimeout == 0 {
		l.IdleTimeout = DefaultTCPIdleTimeout
	}
	return l
}

// Server is the DNS handler plus its listeners.
type Server struct {
	snaps provider.Snapshots
	opts  Options
	zones []string // canonical, longest first
	// zoneBytes are the zones for the fast path, which reads names as bytes.
	zoneBytes [][]byte
	fast      fastCounters
	// fullDurations is the full path's shard of the duration histogram.
	fullDurations *metrics.HistogramShard
	ix            atomic.Pointer[index]
	mu            sync.Mutex // serialises index rebuilds

	reflected *provider.SyncObserver
	limiter   *limiter // nil: no response rate limiting

	serialMu   sync.Mutex
	versionGen uint64                  // the snapshot generation serial and versions are of
	serial     uint32                  // without transfers: every zone's
	versions   map[string]*zoneVersion // by zone, with transfers on
}

// New returns a server for the zones; nothing is answered until Serve.
func New(snaps provider.Snapshots, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Observer == nil {
		opts.Observer = &provider.SyncObserver{Output: Output}
	}
	s := &Server{snaps: snaps, opts: opts, reflected: opts.Observer}
	if m := opts.Metrics; m != nil {
		s.fast = fastCounters{a: m.queries.WithLabelValues("A", "NOERROR"), aaaa: m.queries.WithLabelValues("AAAA", "NOERROR")}
		s.fullDurations = m.duration.Shard()
	}
	if opts.RRL.Rate > 0 {
		s.limiter = newLimiter(opts.RRL)
	}
	for _, z := range opts.Zones {
		s.zones = append(s.zones, dns.CanonicalName(z))
	}
	// Longest first, so a delegated subzone wins over its parent.
	for i := range s.zones {
		for j := i + 1; j < len(s.zones); j++ {
			if dns.CountLabel(s.zones[j]) > dns.CountLabel(s.zones[i]) {
				s.zones[i], s.zones[j] = s.zones[j], s.zones[i]
			}
		}
	}
	for _, z := range s.zones {
		s.zoneBytes = append(s.zoneBytes, []byte(z))
	}
	return s
}

// Serve answers on the given sockets until ctx is done.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn, ln net.Listener) error {
	limits := s.opts.TCP.withDefaults()
	bounded := connlimit.Wrap(ln, connlimit.Options{Max: limits.MaxConns, MaxPerNetwork: limits.MaxConnsPerNetwork, V4Bits: 24, V6Bits: 56,
		Refused: s.opts.Listeners.Refused(Output)})
	s.opts.Listeners.WatchOpen(Output, bounded)
	tcp := &dns.Server{Listener: bounded, Handler: s, ReadTimeout: limits.IdleTimeout, WriteTimeout: 5 * time.Second,
		IdleTimeout: func() time.Duration { return limits.IdleTimeout }, DecorateReader: decorateReader}
	if k := s.opts.Transfer.TSIG; k != nil {
		tcp.TsigSecret = map[string]string{dns.Fqdn(k.Name): k.Secret}
	}
	if s.transfersOn() || len(s.opts.Transfer.Notify) > 0 {
		go s.versionLoop(ctx)
	}
	errc := make(chan error, 2)
	go func() { errc <- tcp.ActivateAndServe() }()
	var udp *dns.Server
	udpDone := make(chan struct{}) // closed when serveUDP has closed its sockets
	udpCtx, stopUDP := context.WithCancel(ctx)
	defer stopUDP()
	if conn, ok := pc.(*net.UDPConn); ok {
		go func() {
			defer close(udpDone)
			errc <- s.serveUDP(udpCtx, conn)
		}()
	} else {
		close(udpDone) // not a socket of its own (tests): miekg/dns serves it
		udp = &dns.Server{PacketConn: pc, Handler: s, UDPSize: maxUDPSize}
		go func() { errc <- udp.ActivateAndServe() }()
	}
	s.opts.Logger.Info("DNS server listening", "udp", pc.LocalAddr().String(), "tcp", ln.Addr().String(), "zones", s.zones)
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	_ = tcp.Shutdown()
	if udp != nil {
		_ = udp.Shutdown()
	}
	stopUDP() // serveUDP wakes its readers and closes its sockets
	<-udpDone
	_ = pc.Close()
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("DNS server: %w", err)
	}
	return nil
}

// index returns the lookup index of the current snapshot, building it once
// per snapshot.
func (s *Server) index() *index {
	snap := s.snaps.Snapshot()
	if ix := s.ix.Load(); ix != nil && ix.snap == snap {
		return ix
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ix := s.ix.Load(); ix != nil && ix.snap == snap {
		return ix
	}
	ix := newIndex(snap, s.ix.Load(), s.opts.WeightByNode)
	s.ix.Store(ix)
	s.reflected.Reflected(snap, time.Now()) // the first answer from a set is when DNS reflects it
	return ix
}

// ServeDNS answers one query.
func (s *Server) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	if req.Opcode == dns.OpcodeQuery && len(req.Question) == 1 && (req.Question[0].Qtype == dns.TypeAXFR || req.Question[0].Qtype == dns.TypeIXFR) {
		s.serveTransfer(w, req)
		return
	}
	start := time.Now()
	resp := s.answer(req)
	qtype := "none"
	if len(req.Question) == 1 {
		qtype = typeLabel(req.Question[0].Qtype)
	}
	udp := w.LocalAddr().Network() == "udp"
	size := classicUDPSize
	if opt := req.IsEdns0(); opt != nil {
		size = max(classicUDPSize, min(int(opt.UDPSize()), maxUDPSize))
		if opt.Version() != 0 { // RFC 6891 6.1.3: BADVERS, saying the version it speaks (0)
			resp = new(dns.Msg)
			resp.SetRcode(req, dns.RcodeBadVers)
		}
		resp.SetEdns0(maxUDPSize, opt.Do()) // RFC 3225: the DO bit is copied
	}
	if t := req.IsTsig(); t != nil && s.opts.Transfer.TSIG != nil && w.TsigStatus() == nil {
		resp.SetTsig(t.Hdr.Name, t.Algorithm, 300, time.Now().Unix()) // signed when written
	}
	if udp {
		switch v := s.limit(w, req, resp, start); v {
		case rrlDrop:
			s.countLimited(v)
			return
		case rrlSlip:
			s.countLimited(v)
			resp = truncated(resp)
		}
		resp.Truncate(size)
	}
	if m := s.opts.Metrics; m != nil { // before the write: a client that has its answer finds it counted
		m.queries.WithLabelValues(qtype, dns.RcodeToString[resp.Rcode]).Inc()
		s.fullDurations.Observe(time.Since(start).Seconds())
	}
	if err := w.WriteMsg(resp); err != nil {
		s.opts.Logger.Debug("DNS write failed", "remote", w.RemoteAddr().String(), "err", err)
	}
}

// answer builds the response to req, without size handling.
func (s *Server) answer(req *dns.Msg) *dns.Msg {
	resp := new(dns.Msg)
	resp.SetReply(req)
	resp.RecursionAvailable = false
	resp.Compress = true
	zone, rcode := s.admit(req)
	if rcode != dns.RcodeSuccess {
		resp.SetRcode(req, rcode)
		return resp
	}
	resp.Authoritative = true
	q := req.Question[0]
	name := dns.CanonicalName(q.Name)
	ix := s.index()
	soa := s.soaOf(zone, ix)
	if addrs, ok := s.opts.NSAddresses[name]; ok { // a name server's name: reserved, never a published hostname
		resp.Answer = addressRecordsOf(q.Name, q.Qtype, addrs)
		if len(resp.Answer) == 0 {
			resp.Ns = []dns.RR{soa}
		}
		return resp
	}
	n, exists := ix.lookup(name)
	apex := name == zone
	if !exists && !apex {
		resp.SetRcode(req, dns.RcodeNameError)
		resp.Ns = []dns.RR{soa}
		return resp
	}
	switch q.Qtype {
	case dns.TypeSOA:
		if apex {
			resp.Answer = []dns.RR{soa}
		}
	case dns.TypeNS:
		if apex {
			resp.Answer, resp.Extra = s.nsRecords(zone), s.glue(zone)
		}
	case dns.TypeA:
		if n != nil {
			resp.Answer = addresses(q.Name, n.a, dns.TypeA, s.answerCount(len(n.a.raw)))
		}
	case dns.TypeAAAA:
		if n != nil {
			resp.Answer = addresses(q.Name, n.aaaa, dns.TypeAAAA, s.answerCount(len(n.aaaa.raw)))
		}
	case dns.TypeANY:
		// RFC 8482: answer ANY minimally, with one synthesised HINFO.
		resp.Answer = []dns.RR{&dns.HINFO{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: negativeTTL}, Cpu: "RFC8482"}}
	}
	if len(resp.Answer) == 0 {
		resp.Ns = []dns.RR{soa} // NODATA
	}
	return resp
}

// admit returns the zone a request is for, or the rcode that refuses it:
// NOTIMP for other opcodes, FORMERR for anything but one question, REFUSED
// outside the zones and for zone transfers, SERVFAIL before lbdns is ready.
func (s *Server) admit(req *dns.Msg) (string, int) {
	if req.Opcode != dns.OpcodeQuery {
		return "", dns.RcodeNotImplemented
	}
	if len(req.Question) != 1 || req.Response {
		return "", dns.RcodeFormatError
	}
	q := req.Question[0]
	zone := s.zoneOf(dns.CanonicalName(q.Name))
	if zone == "" || (q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY) {
		return "", dns.RcodeRefused
	}
	if s.opts.Ready != nil && !s.opts.Ready() {
		return "", dns.RcodeServerFailure
	}
	return zone, dns.RcodeSuccess
}

// zoneOf returns the zone name is in, or "".
func (s *Server) zoneOf(name string) string {
	for _, z := range s.zones {
		if dns.IsSubDomain(z, name) {
			return z
		}
	}
	return ""
}

// typeLabel bounds the qtype label of metrics to known types.
func typeLabel(t uint16) string {
	switch t {
	case dns.TypeA, dns.TypeAAAA, dns.TypeSOA, dns.TypeNS, dns.TypeANY, dns.TypeTXT, dns.TypeCNAME, dns.TypeMX,
		dns.TypeSRV, dns.TypePTR, dns.TypeHTTPS, dns.TypeSVCB, dns.TypeCAA, dns.TypeDS, dns.TypeDNSKEY, dns.TypeAXFR, dns.TypeIXFR:
		return dns.TypeToString[t]
	}
	return "other"
}
