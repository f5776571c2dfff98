package dnsserver

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/lbdns/lbdns/internal/testnet"
	"github.com/lbdns/lbdns/internal/testwait"
	"github.com/lbdns/lbdns/model"
)

type fixed struct{ snap *model.Snapshot }

func (f fixed) Snapshot() *model.Snapshot { return f.snap }
func (f fixed) Changed() <-chan struct{}  { return nil } // never changes

func target(svc, ip string, weight int, published bool) model.TargetDecision {
	return model.TargetDecision{Target: model.Target{Key: model.Key{Namespace: "web", Service: svc, IP: netip.MustParseAddr(ip)},
		Weight: weight}, Healthy: published, Published: published}
}

func testSnapshot() *model.Snapshot {
	many := model.Decision{Hostname: "many.example.com", TTL: 30}
	for i := range 100 {
		many.Targets = append(many.Targets, target(fmt.Sprintf("m%d", i), fmt.Sprintf("10.0.%d.%d", i/250, i%250+1), 100, true))
	}
	return &model.Snapshot{Generation: 3, Taken: time.Now(), Changes: []model.Change{{Generation: 3, At: time.Unix(1700000000, 0)}},
		Hostnames: model.NewDecisions([]model.Decision{
			{Hostname: "app.example.com", TTL: 20, Targets: []model.TargetDecision{
				target("a", "192.0.2.1", 100, true), target("b", "192.0.2.2", 100, true),
				target("c", "192.0.2.3", 100, false), target("v6", "2001:db8::1", 100, true)}},
			{Hostname: "a.b.example.com", TTL: 30, Targets: []model.TargetDecision{target("d", "192.0.2.4", 100, true)}},
			{Hostname: "*.apps.example.com", TTL: 30, Targets: []model.TargetDecision{target("e", "192.0.2.5", 100, true)}},
			{Hostname: "down.example.com", TTL: 30, Targets: []model.TargetDecision{target("f", "192.0.2.6", 100, false)}},
			many,
		})}
}

// start serves the snapshot on real loopback UDP and TCP sockets.
func start(t *testing.T, snap *model.Snapshot, m *Metrics) string {
	t.Helper()
	return startWith(t, snap, Options{Metrics: m})
}

// startWith is start with more options; the zones are always the tests'.
func startWith(t *testing.T, snap *model.Snapshot, opts Options) string {
	t.Helper()
	opts.Zones = []string{"example.com", "Other.Test."}
	pc, ln := testnet.UDPAndTCP(t, "127.0.0.1")
	s := New(fixed{snap}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	addr := pc.LocalAddr().String()
	deadline := time.Now().Add(5 * time.Second)
	for { // wait until both listeners answer
		_, errU := query(addr, "udp", "app.example.com", dns.TypeA, false)
		_, errT := query(addr, "tcp", "app.example.com", dns.TypeA, false)
		if errU == nil && errT == nil {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not answering: %v %v", errU, errT)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func query(addr, network, name string, qtype uint16, edns bool) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns {
		m.SetEdns0(4096, false)
	}
	c := &dns.Client{Net: network, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, addr)
	return r, err
}

func ips(r *dns.Msg) []string {
	var out []string
	for _, rr := range r.Answer {
		switch rr := rr.(type) {
		case *dns.A:
			out = append(out, rr.A.String())
		case *dns.AAAA:
			out = append(out, rr.AAAA.String())
		}
	}
	slices.Sort(out)
	return out
}

func TestAnswers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	addr := start(t, testSnapshot(), m)
	counted0, timed0 := answersCounted(t, reg) // start's own queries
	tests := []struct {
		name      string
		qname     string
		qtype     uint16
		rcode     int
		answers   []string
		soaInAuth bool
		check     func(t *testing.T, r *dns.Msg)
	}{
		{name: "published A only", qname: "app.example.com", qtype: dns.TypeA, answers: []string{"192.0.2.1", "192.0.2.2"},
			check: func(t *testing.T, r *dns.Msg) {
				if !r.Authoritative || r.Answer[0].Header().Ttl != 20 {
					t.Errorf("AA=%v ttl=%d", r.Authoritative, r.Answer[0].Header().Ttl)
				}
			}},
		{name: "AAAA", qname: "APP.example.com.", qtype: dns.TypeAAAA, answers: []string{"2001:db8::1"}},
		{name: "NODATA for another type", qname: "app.example.com", qtype: dns.TypeTXT, soaInAuth: true},
		{name: "NXDOMAIN", qname: "nope.example.com", qtype: dns.TypeA, rcode: dns.RcodeNameError, soaInAuth: true},
		{name: "nothing published is NXDOMAIN", qname: "down.example.com", qtype: dns.TypeA, rcode: dns.RcodeNameError, soaInAuth: true},
		{name: "empty non-terminal is NODATA", qname: "b.example.com", qtype: dns.TypeA, soaInAuth: true},
		{name: "wildcard", qname: "x.apps.example.com", qtype: dns.TypeA, answers: []string{"192.0.2.5"}},
		{name: "wildcard covers one label only", qname: "y.x.apps.example.com", qtype: dns.TypeA, rcode: dns.RcodeNameError, soaInAuth: true},
		{name: "outside the zones", qname: "example.org", qtype: dns.TypeA, rcode: dns.RcodeRefused},
		{name: "SOA at the apex", qname: "example.com", qtype: dns.TypeSOA, check: func(t *testing.T, r *dns.Msg) {
			soa, ok := r.Answer[0].(*dns.SOA)
			if !ok || soa.Ns != "ns1.example.com." || soa.Mbox != "hostmaster.example.com." || soa.Serial != 1700000000 {
				t.Errorf("SOA = %v", r.Answer)
			}
		}},
		{name: "NS at the apex", qname: "other.test", qtype: dns.TypeNS, check: func(t *testing.T, r *dns.Msg) {
			if ns, ok := r.Answer[0].(*dns.NS); !ok || ns.Ns != "ns1.other.test." {
				t.Errorf("NS = %v", r.Answer)
			}
		}},
		{name: "ANY is minimal", qname: "app.example.com", qtype: dns.TypeANY, check: func(t *testing.T, r *dns.Msg) {
			if len(r.Answer) != 1 || r.Answer[0].Header().Rrtype != dns.TypeHINFO {
				t.Errorf("ANY = %v", r.Answer)
			}
		}},
		{name: "no zone transfer", qname: "example.com", qtype: dns.TypeAXFR, rcode: dns.RcodeRefused},
	}
	for _, tt := range tests {
		for _, network := range []string{"udp", "tcp"} {
			t.Run(tt.name+"/"+network, func(t *testing.T) {
				if tt.qtype == dns.TypeAXFR && network == "udp" {
					return // AXFR is a TCP query
				}
				r, err := query(addr, network, tt.qname, tt.qtype, false)
				if err != nil {
					t.Fatal(err)
				}
				if r.Rcode != tt.rcode {
					t.Fatalf("rcode = %s, want %s", dns.RcodeToString[r.Rcode], dns.RcodeToString[tt.rcode])
				}
				if got := ips(r); !slices.Equal(got, tt.answers) {
					t.Errorf("answers = %v, want %v", got, tt.answers)
				}
				hasSOA := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
				if hasSOA != tt.soaInAuth {
					t.Errorf("SOA in authority = %v, want %v (%v)", hasSOA, tt.soaInAuth, r.Ns)
				}
				if tt.check != nil {
					tt.check(t, r)
				}
			})
		}
	}
	if v := testutil.ToFloat64(m.queries.WithLabelValues("A", "NXDOMAIN")); v < 2 {
		t.Errorf("lbdns_dns_queries_total{qtype=A,rcode=NXDOMAIN} = %v", v)
	}
	// Every answered query is counted once and timed once, whichever path
	// (fast or full) and network answered it: the UDP readers' tallies are
	// in by the time their answers are sent.
	counted, timed := answersCounted(t, reg)
	if answered := uint64(2*len(tests) - 2); counted-counted0 != answered || timed-timed0 != answered { // AXFR: TCP only, and not counted
		t.Errorf("%d answers counted, %d timed, want %d", counted-counted0, timed-timed0, answered)
	}
}

// answersCounted returns lbdns_dns_queries_total summed over its labels and
// the count of lbdns_dns_request_duration_seconds.
func answersCounted(t *testing.T, reg *prometheus.Registry) (counted, timed uint64) {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		for _, metric := range f.Metric {
			switch f.GetName() {
			case "lbdns_dns_queries_total":
				counted += uint64(metric.GetCounter().GetValue())
			case "lbdns_dns_request_duration_seconds":
				timed += metric.GetHistogram().GetSampleCount()
			}
		}
	}
	return counted, timed
}

func TestTruncationAndEDNS(t *testing.T) {
	addr := start(t, testSnapshot(), nil)
	r, err := query(addr, "udp", "many.example.com", dns.TypeA, false)
	if err != nil {
		t.Fatal(err)
	}
	r.Compress = true // Len() then measures the wire size
	if !r.Truncated || r.Len() > classicUDPSize {
		t.Errorf("100 A records over plain UDP: TC=%v len=%d", r.Truncated, r.Len())
	}
	r, err = query(addr, "udp", "many.example.com", dns.TypeA, true)
	if err != nil {
		t.Fatal(err)
	}
	r.Compress = true
	if r.IsEdns0() == nil || r.Len() > maxUDPSize || r.Len() <= classicUDPSize {
		t.Errorf("EDNS0 answer: opt=%v len=%d", r.IsEdns0(), r.Len())
	}
	r, err = query(addr, "tcp", "many.example.com", dns.TypeA, false)
	if err != nil || r.Truncated || len(r.Answer) != 100 {
		t.Fatalf("over TCP: %d answers, TC=%v, %v", len(r.Answer), r.Truncated, err)
	}
}

func TestMalformedPacketsAreSurvived(t *testing.T) {
	addr := start(t, testSnapshot(), nil)
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, junk := range [][]byte{{}, {0x00}, []byte("not a dns packet at all"), make([]byte, 12), {0xff, 0xff, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 3}} {
		_, _ = conn.Write(junk)
	}
	// A query with two questions is a format error.
	m := new(dns.Msg)
	m.SetQuestion("app.example.com.", dns.TypeA)
	m.Question = append(m.Question, m.Question[0])
	c := &dns.Client{Timeout: 2 * time.Second}
	if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: rcode %s", dns.RcodeToString[r.Rcode])
	}
	// A datagram longer than any query (a question padded to 5,000 bytes)
	// is cut short by the read and answered FORMERR, not half read.
	long, _ := m.Pack()
	long = append(long, make([]byte, 5000)...)
	long[5] = 1                   // one question again
	long[0], long[1] = 0x4c, 0x42 // an ID of its own: the junk above has answers too
	if _, err := conn.Write(long); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	for reply := make([]byte, 512); ; {
		n, err := conn.Read(reply)
		if err != nil {
			t.Fatalf("no answer to a 5,000-byte datagram: %v", err)
		}
		if r := new(dns.Msg); r.Unpack(reply[:n]) == nil && r.Id == 0x4c42 {
			if r.Rcode != dns.RcodeFormatError || len(r.Answer) > 0 {
				t.Errorf("a 5,000-byte datagram: %v", r)
			}
			break
		}
	}
	if r, err := query(addr, "udp", "app.example.com", dns.TypeA, false); err != nil || len(r.Answer) != 2 {
		t.Fatalf("after junk: %v, %v", r, err)
	}
}

// TestWeightedFirstAnswer checks that the first answer follows the weights.
func TestWeightedFirstAnswer(t *testing.T) {
	snap := &model.Snapshot{Hostnames: model.NewDecisions([]model.Decision{{Hostname: "w.example.com", TTL: 30, Targets: []model.TargetDecision{
		target("a", "192.0.2.1", 600, true), target("b", "192.0.2.2", 300, true), target("c", "192.0.2.3", 100, true),
	}}})}
	s := New(fixed{snap}, Options{Zones: []string{"example.com"}})
	checkFirstShares(t, s, "w.example.com.", map[string]float64{"192.0.2.1": 0.6, "192.0.2.2": 0.3, "192.0.2.3": 0.1})
}

// TestWeightByNode checks the worked example of the README: with
// WeightByNode, two IPs on node n1 share n1's weight, so n1 and n2 are each
// first in half of the answers; an IPv6 address on n1 does not split its
// IPv4 share; without it, each IP is first in a third.
func TestWeightByNode(t *testing.T) {
	on := func(td model.TargetDecision, node string) model.TargetDecision { td.Node = node; return td }
	snap := &model.Snapshot{Hostnames: model.NewDecisions([]model.Decision{{Hostname: "w.example.com", TTL: 30, Targets: []model.TargetDecision{
		on(target("a", "192.0.2.1", 100, true), "n1"), on(target("b", "192.0.2.2", 100, true), "n1"),
		on(target("c", "192.0.2.3", 100, true), "n2"), on(target("d", "2001:db8::1", 100, true), "n1"),
		target("e", "192.0.2.4", 50, true), // unmapped: its own unit
	}}})}
	byNode := New(fixed{snap}, Options{Zones: []string{"example.com"}, WeightByNode: true})
	checkFirstShares(t, byNode, "w.example.com.", map[string]float64{"192.0.2.1": 0.2, "192.0.2.2": 0.2, "192.0.2.3": 0.4, "192.0.2.4": 0.2})
	byIP := New(fixed{snap}, Options{Zones: []string{"example.com"}})
	checkFirstShares(t, byIP, "w.example.com.", map[string]float64{"192.0.2.1": 2.0 / 7, "192.0.2.2": 2.0 / 7, "192.0.2.3": 2.0 / 7, "192.0.2.4": 1.0 / 7})
}

// checkFirstShares asks for name's A records 20,000 times, through the full
// path and the fast path in turn, and checks how often each IP comes first.
func checkFirstShares(t *testing.T, s *Server, name string, want map[string]float64) {
	t.Helper()
	const n = 20000
	first := map[string]int{}
	req := new(dns.Msg)
	req.SetQuestion(name, dns.TypeA)
	packet, err := req.Pack()
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		r := s.answer(req)
		if i%2 == 1 {
			fast, ok := s.fastAnswer(packet, fastClient, nil, nil)
			if !ok {
				t.Fatal("the fast path did not answer")
			}
			r = new(dns.Msg)
			if err := r.Unpack(fast); err != nil {
				t.Fatal(err)
			}
		}
		if len(r.Answer) != len(want) {
			t.Fatalf("%d answers, want %d", len(r.Answer), len(want))
		}
		first[r.Answer[0].(*dns.A).A.String()]++
	}
	for ip, share := range want {
		got := float64(first[ip]) / n
		if got < share-0.02 || got > share+0.02 {
			t.Errorf("%s first in %.3f of answers, want %.3f ± 0.02", ip, got, share)
		}
	}
}

func FuzzServeDNS(f *testing.F) {
	for _, q := range []struct {
		name string
		t    uint16
	}{{"app.example.com.", dns.TypeA}, {"example.com.", dns.TypeSOA}, {"x.apps.example.com.", dns.TypeANY}, {"nope.org.", dns.TypeMX}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name, q.t)
		m.SetEdns0(1232, true)
		b, _ := m.Pack()
		f.Add(b)
	}
	s := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}})
	f.Fuzz(func(t *testing.T, packet []byte) {
		fast, fastOK := s.fastAnswer(packet, fastClient, nil, nil)
		req := new(dns.Msg)
		if err := req.Unpack(packet); err != nil {
			if fastOK {
				t.Fatalf("the fast path answered a query the full path cannot read (%v)", err)
			}
			return // miekg/dns drops what it cannot parse
		}
		if fastOK && canonical(t, fast) != canonical(t, fullAnswer(t, s, packet)) {
			t.Fatalf("the fast path answered\n%s\nthe full path\n%s", canonical(t, fast), canonical(t, fullAnswer(t, s, packet)))
		}
		w := &recorder{}
		s.ServeDNS(w, req)
		if w.msg == nil {
			t.Fatal("no answer written")
		}
		if _, err := w.msg.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v", err)
		}
		if w.msg.Id != req.Id || !w.msg.Response {
			t.Fatal("answer is not a reply to the query")
		}
		if w.msg.Compress = true; w.msg.Len() > maxUDPSize {
			t.Fatalf("UDP answer of %d bytes", w.msg.Len())
		}
	})
}

// recorder is a dns.ResponseWriter that keeps the answer, for the fuzz test.
type recorder struct{ msg *dns.Msg }

func (r *recorder) LocalAddr() net.Addr       { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53} }
func (r *recorder) RemoteAddr() net.Addr      { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5353} }
func (r *recorder) WriteMsg(m *dns.Msg) error { r.msg = m; return nil }
func (r *recorder) Write([]byte) (int, error) { return 0, nil }
func (r *recorder) Close() error              { return nil }
func (r *recorder) TsigStatus() error         { return nil }
func (r *recorder) TsigTimersOnly(bool)       {}
func (r *recorder) Hijack()                   {}

func TestServfailBeforeReady(t *testing.T) {
	ready := false
	s := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}, Ready: func() bool { return ready }})
	req := new(dns.Msg)
	req.SetQuestion("app.example.com.", dns.TypeA)
	if r := s.answer(req); r.Rcode != dns.RcodeServerFailure {
		t.Fatalf("before ready: %s", dns.RcodeToString[r.Rcode])
	}
	ready = true
	if r := s.answer(req); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Fatalf("after ready: %v", r)
	}
}

// A listener on both families (":port", as the chart sets it) answers IPv4
// and IPv6 clients alike.
func TestServeDualStack(t *testing.T) {
	pc, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	stop := serveOn(t, New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}}), pc)
	defer func() { _ = stop() }()
	port := pc.LocalAddr().(*net.UDPAddr).Port
	for _, host := range []string{"127.0.0.1", "::1"} {
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		var resp *dns.Msg
		testwait.For(t, "an answer to "+addr, func() bool {
			resp, err = query(addr, "udp", "app.example.com", dns.TypeA, false)
			return err == nil
		})
		if len(resp.Answer) == 0 {
			t.Errorf("%s: no answer records: %v", addr, resp)
		}
	}
}

// With a socket from ListenUDP the server reads one socket per core; queries
// from many clients (the kernel spreads them by address and port) are all
// answered, and nothing is left bound after it stops.
func TestServeReusePortSockets(t *testing.T) {
	pc, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	probe, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if socks, err := openUDPSockets(probe, 3); err != nil || len(socks) != 3 {
		t.Fatalf("%d sockets for 3 cores (%v)", len(socks), err)
	} else {
		for _, c := range socks {
			c.close()
		}
	}
	s := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}})
	stop := serveOn(t, s, pc)
	addr := pc.LocalAddr().String()
	for i := range 40 { // each exchange from a new client socket
		r, err := query(addr, "udp", "app.example.com", dns.TypeA, i%2 == 0)
		for attempt := 0; err != nil && attempt < 50; attempt++ { // the server may still be starting
			time.Sleep(10 * time.Millisecond)
			r, err = query(addr, "udp", "app.example.com", dns.TypeA, i%2 == 0)
		}
		if err != nil || len(r.Answer) != 2 {
			t.Fatalf("query %d: %v, %v", i, r, err)
		}
	}
	if err := stop(); err != nil {
		t.Fatalf("Serve: %v", err)
	}
	// Every socket of the group is closed: the port can be bound again
	// without SO_REUSEPORT.
	again, err := net.ListenPacket("udp", addr)
	if err != nil {
		t.Fatalf("the port is still held after Serve ended: %v", err)
	}
	again.Close()
}

// serveOn serves s on pc (and TCP on a loopback port of its own) until the
// returned stop, which returns Serve's error.
func serveOn(t *testing.T, s *Server, pc net.PacketConn) (stop func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, ln) }()
	return func() error { cancel(); return <-done }
}

// A wildcard never answers for a name another namespace owns, published or
// not; the owner's own wildcard does.
func TestWildcardNeverAnswersForAnotherOwnersName(t *testing.T) {
	owned := func(h, owner, svc, ip string, published bool) model.Decision {
		return model.Decision{Hostname: h, TTL: 30, Owner: owner, Targets: []model.TargetDecision{target(svc, ip, 100, published)}}
	}
	snap := &model.Snapshot{Generation: 1, Taken: time.Now(), Hostnames: model.NewDecisions([]model.Decision{
		owned("*.example.com", "mallory", "m", "192.0.2.66", true),
		owned("app.example.com", "team-a", "a", "192.0.2.1", false),   // drained or down, nothing published
		owned("mine.example.com", "mallory", "b", "192.0.2.2", false), // mallory's own name: its wildcard may answer
		{Hostname: "shared.example.com", TTL: 30, Targets: []model.TargetDecision{target("c", "192.0.2.3", 100, false)}},
	})}
	addr := start(t, snap, nil)
	for _, tc := range []struct {
		qname   string
		rcode   int
		answers []string
	}{
		{"app.example.com", dns.RcodeSuccess, nil},
		{"mine.example.com", dns.RcodeSuccess, []string{"192.0.2.66"}},
		{"shared.example.com", dns.RcodeSuccess, []string{"192.0.2.66"}}, // no owner (shared mode)
		{"other.example.com", dns.RcodeSuccess, []string{"192.0.2.66"}},
	} {
		for _, network := range []string{"udp", "tcp"} {
			r, err := query(addr, network, tc.qname, dns.TypeA, false)
			if err != nil {
				t.Fatal(err)
			}
			if r.Rcode != tc.rcode || !slices.Equal(ips(r), tc.answers) {
				t.Errorf("%s/%s: %s %v, want %s %v", tc.qname, network, dns.RcodeToString[r.Rcode], ips(r), dns.RcodeToString[tc.rcode], tc.answers)
			}
		}
	}
}

// A capped answer carries at most MaxAnswers addresses, chosen anew (by
// weight) for every query, over UDP and TCP.
func TestMaxAnswers(t *testing.T) {
	addr := startWith(t, testSnapshot(), Options{MaxAnswers: 3})
	seen := map[string]bool{}
	for i := range 50 {
		network := []string{"udp", "tcp"}[i%2]
		r, err := query(addr, network, "many.example.com", dns.TypeA, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Answer) != 3 || r.Truncated {
			t.Fatalf("%s: %d answers (TC=%v), want 3", network, len(r.Answer), r.Truncated)
		}
		for _, ip := range ips(r) {
			seen[ip] = true
		}
	}
	if len(seen) < 20 {
		t.Errorf("50 answers of 3 out of 100 IPs named only %d IPs: not a fresh choice per query", len(seen))
	}
}

// EDNS version 1 gets BADVERS with an OPT of version 0 (RFC 6891), over UDP
// and TCP.
func TestEDNSVersionBadVers(t *testing.T) {
	addr := start(t, testSnapshot(), nil)
	for _, network := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("app.example.com.", dns.TypeA)
		m.SetEdns0(1232, false)
		m.IsEdns0().SetVersion(1)
		r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(m, addr)
		if err != nil {
			t.Fatal(err)
		}
		if r.Rcode != dns.RcodeBadVers || r.IsEdns0() == nil || r.IsEdns0().Version() != 0 || len(r.Answer) != 0 {
			t.Fatalf("%s: rcode %s, OPT %v, answers %v", network, dns.RcodeToString[r.Rcode], r.IsEdns0(), r.Answer)
		}
	}
}
