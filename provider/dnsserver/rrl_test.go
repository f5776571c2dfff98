package dnsserver

import (
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// flood sends n identical queries from the local address from as fast as it
// can over real UDP, and counts the answers, the truncated answers and the
// queries left unanswered.
func flood(t *testing.T, server, from string, n int) (answered, truncated, silent int) {
	t.Helper()
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(from+":0")))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to := net.UDPAddrFromAddrPort(netip.MustParseAddrPort(server))
	m := new(dns.Msg)
	m.SetQuestion("app.example.com.", dns.TypeA)
	for i := range n {
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		if _, err := conn.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4096)
	for got := 0; got < n; got++ {
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		k, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			break // the rest were dropped
		}
		r := new(dns.Msg)
		if err := r.Unpack(buf[:k]); err != nil {
			t.Fatal(err)
		}
		if r.Truncated {
			truncated++
		} else {
			answered++
		}
	}
	return answered, truncated, n - answered - truncated
}

func TestRRLLimitsAFloodingClientOnly(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	addr := startWith(t, testSnapshot(), Options{Metrics: m,
		RRL: RRL{Rate: 20, Slip: 2, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.2.0/24")}}})

	answered, truncated, silent := flood(t, addr, "127.0.0.3", 400)
	t.Logf("flooding client: %d answered, %d truncated, %d dropped of 400", answered, truncated, silent)
	if answered > 60 || truncated == 0 || silent == 0 {
		t.Errorf("flooding client: %d answered, %d truncated, %d dropped: want about the rate answered, the rest half truncated, half dropped", answered, truncated, silent)
	}
	// Another network, in the same second: all answered.
	if a, tc, s := flood(t, addr, "127.0.1.4", 10); a != 10 {
		t.Errorf("another client: %d answered, %d truncated, %d dropped of 10", a, tc, s)
	}
	// An exempt network is never limited.
	if a, _, _ := flood(t, addr, "127.0.2.5", 200); a != 200 {
		t.Errorf("exempt client: %d of 200 answered", a)
	}
	// Truncated answers send the resolver to TCP, which is never limited.
	if r, err := query(addr, "tcp", "app.example.com", dns.TypeA, false); err != nil || len(r.Answer) == 0 {
		t.Errorf("TCP after the flood: %v, %v", r, err)
	}
	// Silent queries include any the kernel dropped from a full socket
	// buffer under load: the server's count can only be lower.
	if v := testutil.ToFloat64(m.rateLimited.WithLabelValues("dropped")); v == 0 || int(v) > silent {
		t.Errorf("lbdns_dns_rate_limited_total{action=dropped} = %v, want 1..%d", v, silent)
	}
}
