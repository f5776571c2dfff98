package dnsserver

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var fastClient = netip.MustParseAddrPort("198.51.100.7:40000")

// fullAnswer is what the full path writes for a datagram.
func fullAnswer(t *testing.T, s *Server, raw []byte) []byte {
	t.Helper()
	req := new(dns.Msg)
	if err := req.Unpack(raw); err != nil {
		t.Fatalf("the full path cannot read the query: %v", err)
	}
	w := &batchWriter{local: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 53}, remote: net.UDPAddrFromAddrPort(fastClient)}
	s.ServeDNS(w, req)
	return w.packed
}

// packed is a query with the changes of edit applied before packing.
func packed(t *testing.T, name string, qtype uint16, edit func(*dns.Msg)) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 4242
	if edit != nil {
		edit(m)
	}
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// canonical unpacks an answer with its records sorted: the weighted order
// differs from answer to answer.
func canonical(t *testing.T, b []byte) string {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("answer does not unpack: %v", err)
	}
	slices.SortFunc(m.Answer, func(a, b dns.RR) int {
		if a.String() < b.String() {
			return -1
		}
		return 1
	})
	return m.String()
}

func withEDNS(size uint16, opts ...dns.EDNS0) func(*dns.Msg) {
	return func(m *dns.Msg) {
		m.SetEdns0(size, false)
		m.IsEdns0().Option = opts
	}
}

func TestFastPathMatchesFullPath(t *testing.T) {
	s := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com", "Other.Test."}})
	cookie := &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}
	for _, c := range []struct {
		what  string
		query []byte
	}{
		{"one A, recursion desired", packed(t, "a.b.example.com.", dns.TypeA, nil)},
		{"mixed case, no RD, CD", packed(t, "A.b.EXAMPLE.com.", dns.TypeA, func(m *dns.Msg) { m.RecursionDesired, m.CheckingDisabled = false, true })},
		{"EDNS0", packed(t, "a.b.example.com.", dns.TypeA, withEDNS(4096))},
		{"EDNS0 with a cookie", packed(t, "app.example.com.", dns.TypeAAAA, withEDNS(1232, cookie))},
		{"EDNS0 below 512", packed(t, "app.example.com.", dns.TypeAAAA, withEDNS(100))},
		{"two addresses", packed(t, "app.example.com.", dns.TypeA, nil)},
		{"two addresses, upper case", packed(t, "APP.EXAMPLE.COM.", dns.TypeA, withEDNS(1232))},
	} {
		fast, ok := s.fastAnswer(c.query, fastClient, make([]byte, 0, maxUDPSize), nil)
		if !ok || fast == nil {
			t.Errorf("%s: not answered by the fast path", c.what)
			continue
		}
		full := fullAnswer(t, s, c.query)
		if len(fast) > len(full) {
			t.Errorf("%s: fast path wrote %d bytes, the full path %d", c.what, len(fast), len(full))
		}
		if f, g := canonical(t, fast), canonical(t, full); f != g {
			t.Errorf("%s: fast path answered\n%s\nthe full path\n%s", c.what, f, g)
		}
	}
}

func TestFastPathLeavesTheRestToTheFullPath(t *testing.T) {
	s := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}})
	pointer := packed(t, "a.b.example.com.", dns.TypeA, nil)
	pointer = append(pointer[:12], 0xC0, 0x0C, 0, 1, 0, 1) // a name that is a compression pointer
	for _, c := range []struct {
		what  string
		query []byte
	}{
		{"NXDOMAIN", packed(t, "nope.example.com.", dns.TypeA, nil)},
		{"nothing published", packed(t, "down.example.com.", dns.TypeA, nil)},
		{"NODATA", packed(t, "a.b.example.com.", dns.TypeAAAA, nil)},
		{"wildcard", packed(t, "x.apps.example.com.", dns.TypeA, nil)},
		{"outside the zones", packed(t, "app.example.org.", dns.TypeA, nil)},
		{"a name that only ends like a zone", packed(t, "app.notexample.com.", dns.TypeA, nil)},
		{"other type", packed(t, "app.example.com.", dns.TypeMX, nil)},
		{"other class", packed(t, "app.example.com.", dns.TypeA, func(m *dns.Msg) { m.Question[0].Qclass = dns.ClassCHAOS })},
		{"an escape in the name", packed(t, `a\.b.example.com.`, dns.TypeA, nil)},
		{"too big without EDNS0", packed(t, "many.example.com.", dns.TypeA, nil)},
		{"too big with EDNS0", packed(t, "many.example.com.", dns.TypeA, withEDNS(4096))},
		{"EDNS version 1", packed(t, "a.b.example.com.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.IsEdns0().SetVersion(1) })},
		{"client subnet", packed(t, "a.b.example.com.", dns.TypeA, withEDNS(1232, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: 1, SourceNetmask: 24, Address: net.IPv4(192, 0, 2, 0)}))},
		{"two OPT records", packed(t, "a.b.example.com.", dns.TypeA, func(m *dns.Msg) { m.SetEdns0(1232, false); m.SetEdns0(1232, false) })},
		{"a response", packed(t, "a.b.example.com.", dns.TypeA, func(m *dns.Msg) { m.Response = true })},
		{"a NOTIFY", packed(t, "a.b.example.com.", dns.TypeA, func(m *dns.Msg) { m.Opcode = dns.OpcodeNotify })},
		{"a trailing byte", append(packed(t, "a.b.example.com.", dns.TypeA, nil), 0)},
		{"cut short", packed(t, "a.b.example.com.", dns.TypeA, nil)[:20]},
		{"a compression pointer", pointer},
		{"the root", packed(t, ".", dns.TypeA, nil)},
	} {
		if b, ok := s.fastAnswer(c.query, fastClient, nil, nil); ok {
			t.Errorf("%s: answered by the fast path: %x", c.what, b)
		}
	}
	notReady := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}, Ready: func() bool { return false }})
	if _, ok := notReady.fastAnswer(packed(t, "a.b.example.com.", dns.TypeA, nil), fastClient, nil, nil); ok {
		t.Error("answered before ready")
	}
}

// TestFastPathRateLimits checks that rate limiting treats the fast path's
// answers as the full path's: the same verdicts in the same order, the
// same truncated answer, and the same counters.
func TestFastPathRateLimits(t *testing.T) {
	newServer := func() (*Server, *Metrics) {
		m := NewMetrics(prometheus.NewRegistry())
		return New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}, RRL: RRL{Rate: 1, Slip: 2}, Metrics: m}), m
	}
	fastServer, fastMetrics := newServer()
	fullServer, fullMetrics := newServer()
	query := packed(t, "a.b.example.com.", dns.TypeA, withEDNS(1232))
	counted := fastServer.newTally() // as a UDP reader counts: flushed per batch
	for i := range 6 {
		counted.restart()
		fast, ok := fastServer.fastAnswer(query, fastClient, nil, counted)
		counted.flush(fastServer.fast)
		if !ok {
			t.Fatalf("query %d: not answered by the fast path", i)
		}
		full := fullAnswer(t, fullServer, query)
		if (fast == nil) != (full == nil) || fast != nil && canonical(t, fast) != canonical(t, full) {
			t.Errorf("query %d: fast path wrote %x, the full path %x", i, fast, full)
		}
	}
	for _, v := range []string{"dropped", "slipped"} {
		f, g := testutil.ToFloat64(fastMetrics.rateLimited.WithLabelValues(v)), testutil.ToFloat64(fullMetrics.rateLimited.WithLabelValues(v))
		if f == 0 || f != g {
			t.Errorf("%s: fast path counted %g, the full path %g", v, f, g)
		}
	}
	f, g := testutil.ToFloat64(fastMetrics.queries.WithLabelValues("A", "NOERROR")), testutil.ToFloat64(fullMetrics.queries.WithLabelValues("A", "NOERROR"))
	if f == 0 || f != g {
		t.Errorf("answers counted: fast path %g, the full path %g", f, g)
	}
}

// The fast path answers and counts without allocating.
func TestFastPathAllocatesNothing(t *testing.T) {
	s := New(fixed{testSnapshot()}, Options{Zones: []string{"example.com"}, Metrics: NewMetrics(prometheus.NewRegistry())})
	query := packed(t, "app.example.com.", dns.TypeA, withEDNS(1232))
	buf := make([]byte, 0, maxUDPSize)
	counted := s.newTally()
	s.fastAnswer(query, fastClient, buf, counted) // builds the index
	if n := testing.AllocsPerRun(100, func() {
		counted.restart()
		s.fastAnswer(query, fastClient, buf, counted)
		counted.flush(s.fast)
	}); n != 0 {
		t.Errorf("%g allocations per answer", n)
	}
}
