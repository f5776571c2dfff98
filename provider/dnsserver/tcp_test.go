package dnsserver

import (
	"net"
	"testing"
	"time"

	"github.com/lbdns/lbdns/connlimit"
	"github.com/lbdns/lbdns/internal/testmetrics"
	"github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Connections that announce a 64 KB message and stall are closed after the
// idle timeout, are bounded per client network, and do not keep others
// from being answered over TCP.
func TestStalledTCPConnectionsAreBoundedAndClosed(t *testing.T) {
	reg := prometheus.NewRegistry()
	addr := startWith(t, testSnapshot(), Options{Listeners: connlimit.NewMetrics(reg), TCP: TCPLimits{MaxConns: 100, MaxConnsPerNetwork: 20, IdleTimeout: 300 * time.Millisecond}})
	var stalled []net.Conn
	for range 30 { // 20 are held, 10 refused
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.33.1")}}).Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte{0xff, 0xff}); err != nil {
			t.Fatal(err)
		}
		stalled = append(stalled, c)
	}
	if r, err := query(addr, "tcp", "app.example.com", dns.TypeA, false); err != nil || len(r.Answer) == 0 {
		t.Fatalf("a TCP query from another network during the stall: %v %v", r, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, c := range stalled {
		_ = c.SetReadDeadline(deadline)
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Fatal("a stalled connection got data")
		} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatal("a stalled connection was not closed by the server")
		}
	}
	if v := testmetrics.Value(t, reg, "lbdns_connections_refused_total", "listener", "dns", "reason", "network"); v != 10 {
		t.Errorf("lbdns_connections_refused_total{listener=dns,reason=network} = %v, want 10", v)
	}
}

// A message shorter than a DNS header ends the connection.
func TestTCPReaderRefusesRunts(t *testing.T) {
	addr := startWith(t, testSnapshot(), Options{})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, _ = c.Write([]byte{0, 3, 1, 2, 3})
	_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("answered a 3-byte message")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the connection stayed open")
	}
}
