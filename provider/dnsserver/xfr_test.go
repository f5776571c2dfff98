package dnsserver

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/lbdns/lbdns/internal/testnet"
	"github.com/lbdns/lbdns/internal/testsnap"
	"github.com/lbdns/lbdns/internal/testwait"
)

const testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="

func transfer(addr, zone string, key *TSIG) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	return receive(m, addr, key)
}

// receive sends a transfer request (signed with key unless nil) and returns
// every record of the answer, or the first error.
func receive(m *dns.Msg, addr string, key *TSIG) ([]dns.RR, error) {
	t := &dns.Transfer{DialTimeout: 2 * time.Second, ReadTimeout: 2 * time.Second}
	if key != nil {
		m.SetTsig(dns.Fqdn(key.Name), key.Algorithm, 300, time.Now().Unix())
		t.TsigSecret = map[string]string{dns.Fqdn(key.Name): key.Secret}
	}
	envs, err := t.In(m, addr)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	var failed error
	for e := range envs { // drain: In's goroutine ends only when the channel does
		if e.Error != nil && failed == nil {
			failed = e.Error
		}
		rrs = append(rrs, e.RR...)
	}
	if failed != nil {
		return nil, failed
	}
	return rrs, nil
}

// A signed AXFR from an allowed network gets the whole zone, SOA first and
// last, every published address (uncapped) and the NS records; unsigned, or
// from elsewhere, it is refused.
func TestZoneTransfer(t *testing.T) {
	key := &TSIG{Name: "xfr", Secret: testSecret, Algorithm: dns.HmacSHA256}
	addr := startWith(t, testSnapshot(), Options{MaxAnswers: 2, NS: []string{"ns1.example.com", "ns2.example.net"},
		Transfer: Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, TSIG: key}})
	rrs, err := transfer(addr, "example.com", key)
	if err != nil {
		t.Fatal(err)
	}
	if len(rrs) < 4 || rrs[0].Header().Rrtype != dns.TypeSOA || rrs[len(rrs)-1].Header().Rrtype != dns.TypeSOA {
		t.Fatalf("transfer %v", rrs)
	}
	var many, ns int
	for _, rr := range rrs {
		switch {
		case rr.Header().Name == "many.example.com." && rr.Header().Rrtype == dns.TypeA:
			many++
		case rr.Header().Rrtype == dns.TypeNS:
			ns++
		case strings.HasSuffix(rr.Header().Name, "other.test."):
			t.Errorf("a record of another zone: %v", rr)
		}
	}
	if many != 100 || ns != 2 {
		t.Fatalf("many.example.com: %d A records (want all 100), %d NS (want 2)", many, ns)
	}
	if _, err := transfer(addr, "example.com", nil); err == nil {
		t.Fatal("an unsigned transfer was served")
	}
	wrong := &TSIG{Name: "xfr", Secret: "d3Jvbmc=", Algorithm: dns.HmacSHA256}
	if _, err := transfer(addr, "example.com", wrong); err == nil {
		t.Fatal("a transfer signed with another secret was served")
	}
}

func TestZoneTransferNotAllowed(t *testing.T) {
	addr := startWith(t, testSnapshot(), Options{Transfer: Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}})
	if _, err := transfer(addr, "example.com", nil); err == nil || !strings.Contains(err.Error(), "rcode") {
		t.Fatalf("from a network not allowed: %v", err)
	}
}

// A secondary's signed SOA query (its refresh) gets a signed answer, over
// UDP and TCP.
func TestSignedQueryGetsSignedAnswer(t *testing.T) {
	key := &TSIG{Name: "xfr", Secret: testSecret, Algorithm: dns.HmacSHA256}
	addr := startWith(t, testSnapshot(), Options{Transfer: Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, TSIG: key}})
	for _, network := range []string{"udp", "tcp"} {
		m := new(dns.Msg)
		m.SetQuestion("example.com.", dns.TypeSOA)
		m.SetTsig("xfr.", dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: network, Timeout: 2 * time.Second, TsigSecret: map[string]string{"xfr.": testSecret}}
		r, _, err := c.Exchange(m, addr)
		if err != nil || r.IsTsig() == nil || len(r.Answer) != 1 {
			t.Fatalf("%s: %v %v", network, r, err)
		}
	}
}

// An IXFR from the serial a secondary holds gets only what changed since
// (RFC 1995), from a secondary further behind the whole zone.
func TestIncrementalTransfer(t *testing.T) {
	feed := testsnap.NewFeed(testsnap.Build(1, map[string][]string{"app.example.com": {"192.0.2.1", "192.0.2.2"}, "b.example.com": {"192.0.2.9"}}))
	s := New(feed, Options{Zones: []string{"example.com"}, Transfer: Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	addr := serveTransfers(t, s)
	first := soaSerialOf(t, addr)
	feed.Set(testsnap.Build(2, map[string][]string{"app.example.com": {"192.0.2.1", "192.0.2.3"}, "b.example.com": {"192.0.2.9"}}))
	second := soaSerialOf(t, addr)
	if second <= first {
		t.Fatalf("serial %d -> %d", first, second)
	}
	rrs, err := ixfr(addr, "example.com", first)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, rr := range rrs {
		switch rr := rr.(type) {
		case *dns.SOA:
			got = append(got, fmt.Sprint("SOA ", rr.Serial))
		case *dns.A:
			got = append(got, rr.A.String())
		}
	}
	want := []string{fmt.Sprint("SOA ", second), fmt.Sprint("SOA ", first), "192.0.2.2", fmt.Sprint("SOA ", second), "192.0.2.3", fmt.Sprint("SOA ", second)}
	if !slices.Equal(got, want) {
		t.Fatalf("IXFR from %d: %v, want %v", first, got, want)
	}
	if rrs, err := ixfr(addr, "example.com", first-100); err != nil || len(rrs) < 5 || countA(rrs) != 3 {
		t.Fatalf("IXFR from an unknown serial: want the whole zone, got %v %v", rrs, err)
	}
}

// serveTransfers serves s on loopback until the test ends, and returns its
// address once it answers.
func serveTransfers(t *testing.T, s *Server) string {
	t.Helper()
	pc, ln := testnet.UDPAndTCP(t, "127.0.0.1")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, pc, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	addr := pc.LocalAddr().String()
	testwait.For(t, "the server answering", func() bool { _, err := query(addr, "tcp", "example.com", dns.TypeSOA, false); return err == nil })
	return addr
}

func soaSerialOf(t *testing.T, addr string) uint32 {
	t.Helper()
	r, err := query(addr, "tcp", "example.com", dns.TypeSOA, false)
	if err != nil || len(r.Answer) != 1 {
		t.Fatalf("SOA: %v %v", r, err)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

func ixfr(addr, zone string, serial uint32) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetIxfr(dns.Fqdn(zone), serial, "ns1."+zone+".", "hostmaster."+zone+".")
	return receive(m, addr, nil)
}

func countA(rrs []dns.RR) int {
	n := 0
	for _, rr := range rrs {
		if _, ok := rr.(*dns.A); ok {
			n++
		}
	}
	return n
}

// At 1,000 names, the IXFR of one withdrawal is a few records where the
// AXFR is the whole zone.
func TestIncrementalTransferSize(t *testing.T) {
	hosts := map[string][]string{}
	for i := range 1000 {
		hosts[fmt.Sprintf("n%d.example.com", i)] = []string{fmt.Sprintf("10.%d.%d.1", i/250, i%250), fmt.Sprintf("10.%d.%d.2", i/250, i%250)}
	}
	feed := testsnap.NewFeed(testsnap.Build(1, hosts))
	s := New(feed, Options{Zones: []string{"example.com"}, Transfer: Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	addr := serveTransfers(t, s)
	first := soaSerialOf(t, addr)
	hosts["n7.example.com"] = hosts["n7.example.com"][:1] // one IP withdrawn
	feed.Set(testsnap.Build(2, hosts))
	soaSerialOf(t, addr)
	inc, err := ixfr(addr, "example.com", first)
	if err != nil {
		t.Fatal(err)
	}
	full, err := transfer(addr, "example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(inc) != 5 || len(full) != 2002 { // SOA, NS, 1,999 A, SOA
		t.Fatalf("IXFR %d records, AXFR %d; want 5 and 2002", len(inc), len(full))
	}
	t.Logf("1,000 names x 2 IPs, one withdrawn: IXFR %d records, AXFR %d", len(inc), len(full))
}

// A name server inside the zone is answered with its addresses, comes as
// glue with the NS records, and is part of a transfer; one outside it is
// only named.
func TestNameServerGlue(t *testing.T) {
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53")}
	addr := startWith(t, testSnapshot(), Options{NS: []string{"NS1.example.com", "ns2.example.net"},
		NSAddresses: map[string][]netip.Addr{"ns1.example.com.": addrs},
		Transfer:    Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}})
	r, err := query(addr, "udp", "ns1.example.com", dns.TypeA, false)
	if err != nil || !r.Authoritative || len(r.Answer) != 1 || r.Answer[0].(*dns.A).A.String() != "192.0.2.53" {
		t.Fatalf("A of ns1: %v %v", r, err)
	}
	r, err = query(addr, "udp", "ns1.example.com", dns.TypeTXT, false)
	if err != nil || r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
		t.Fatalf("TXT of ns1: want NODATA, got %v %v", r, err)
	}
	r, err = query(addr, "udp", "example.com", dns.TypeNS, false)
	if err != nil || len(r.Answer) != 2 || len(r.Extra) != 2 {
		t.Fatalf("NS: want 2 NS and the 2 addresses of ns1 as glue, got %v %v", r, err)
	}
	rrs, err := transfer(addr, "example.com", nil)
	if err != nil {
		t.Fatal(err)
	}
	var glue int
	for _, rr := range rrs {
		if rr.Header().Name == "NS1.example.com." || rr.Header().Name == "ns1.example.com." {
			glue++
		}
	}
	if glue != 2 {
		t.Fatalf("the transfer holds %d records of ns1, want its 2 addresses", glue)
	}
}
