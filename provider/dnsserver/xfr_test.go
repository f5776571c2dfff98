package dnsserver

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

const testSecret = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0IQ=="

func transfer(addr, zone string, key *TSIG) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
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
	for e := range envs {
		if e.Error != nil {
			return nil, e.Error
		}
		rrs = append(rrs, e.RR...)
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
