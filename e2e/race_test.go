package e2e

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
)

// TestUpdateRace puts a second writer between lbdns's read of the zone and
// its write, for real: a relay in front of BIND passes lbdns's zone transfer
// and queries through, and when lbdns's UPDATE arrives it first lets the
// other writer add an address to the very RRset lbdns is changing. lbdns's
// UPDATE states what it read (the RRset's values and its ownership TXT), so
// BIND refuses it whole; lbdns counts the conflict, reads again and writes
// what it wants over the foreign change. Nothing is ever half-applied.
func TestUpdateRace(t *testing.T) {
	e := suite
	const prefix = "race.lbdns.io/"
	host := "race." + zoneStandalone
	relay := newUpdateRelay(t, e.bind.Addr)
	relayHost, relayPort, _ := strings.Cut(relay.addr, ":")
	l, err := e.newLbdns("lbdns-race", "LBDNS_ANNOTATION_PREFIX="+prefix, "LBDNS_PROVIDER=rfc2136",
		"LBDNS_RFC2136_HOST="+relayHost, "LBDNS_RFC2136_PORT="+relayPort, "LBDNS_RFC2136_ZONE="+zoneStandalone,
		"LBDNS_RFC2136_TSIG_KEYNAME="+tsigKeyName, "LBDNS_RFC2136_TSIG_SECRET="+e.bind.TSIGSecret,
		"LBDNS_TXT_OWNER_ID=lbdns-race", "LBDNS_DOMAIN_FILTER="+zoneStandalone, "LBDNS_SYNC_INTERVAL=3s")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	a, b := newBackend(t, "127.0.35.1"), newBackend(t, "127.0.35.2")
	e.createService(t, lbService{name: "race-a", hostname: host, backend: a, prefix: prefix})
	e.createService(t, lbService{name: "race-b", hostname: host, backend: b, prefix: prefix})
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())

	const foreign = "127.0.35.99"
	relay.arm(func() { // the other writer, between lbdns's read and its write
		m := new(dns.Msg)
		m.SetUpdate(dns.Fqdn(zoneStandalone))
		rr, _ := dns.NewRR(fmt.Sprintf("%s 30 IN A %s", dns.Fqdn(host), foreign))
		m.Insert([]dns.RR{rr})
		m.SetTsig(dns.Fqdn(tsigKeyName), dns.HmacSHA256, 300, time.Now().Unix())
		c := &dns.Client{Net: "tcp", TsigSecret: map[string]string{dns.Fqdn(tsigKeyName): e.bind.TSIGSecret}}
		if r, _, err := c.Exchange(m, e.bind.Addr); err != nil || r.Rcode != dns.RcodeSuccess {
			t.Errorf("the other writer's UPDATE: %v %v", r, err)
		}
	})
	b.Stop() // lbdns withdraws b: it read {a, b} and writes {a}
	seen := map[string]bool{}
	err = framework.WaitFor(60*time.Second, host+" = "+a.ip.String()+" after the conflict", func() error {
		got, err := framework.Lookup(e.bind.Addr, host, "A")
		if err != nil {
			return err
		}
		seen[strings.Join(got, " ")] = true
		if strings.Join(got, " ") != a.ip.String() {
			return fmt.Errorf("answer is %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	conflicts, _, _ := l.metric("lbdns_update_conflicts_total", map[string]string{"output": "rfc2136"})
	if !relay.fired.Load() || conflicts < 1 {
		t.Fatalf("the other writer ran: %v; lbdns_update_conflicts_total = %v", relay.fired.Load(), conflicts)
	}
	if txt, err := framework.Lookup(e.bind.Addr, "a-"+host, "TXT"); err != nil || len(txt) != 1 || !strings.Contains(txt[0], "owner=lbdns-race") {
		t.Fatalf("the ownership record after the race: %v %v", txt, err)
	}
	l.waitLog(t, "the zone changed since it was read")
	record(t, "PASS a second writer added %s between lbdns's read and its UPDATE: BIND refused the UPDATE whole "+
		"(lbdns_update_conflicts_total %v), lbdns read again and wrote %s; answers seen: %v", foreign, conflicts, a.ip, keys(seen))
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, "["+k+"]")
	}
	return sorted(out)
}

// updateRelay relays DNS over TCP and UDP to a server; armed, it runs a
// function once before it passes the next UPDATE on.
type updateRelay struct {
	addr, server string
	mu           sync.Mutex
	before       func()
	fired        atomic.Bool
}

func newUpdateRelay(t *testing.T, server string) *updateRelay {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close(); pc.Close() })
	r := &updateRelay{addr: ln.Addr().String(), server: server}
	go r.serveTCP(ln)
	go r.serveUDP(pc)
	return r
}

func (r *updateRelay) arm(f func()) {
	r.mu.Lock()
	r.before = f
	r.mu.Unlock()
}

func (r *updateRelay) serveUDP(pc net.PacketConn) {
	buf := make([]byte, 65535)
	for {
		n, from, err := pc.ReadFrom(buf)
		if err != nil {
			return
		}
		go func(q []byte) {
			c, err := net.Dial("udp", r.server)
			if err != nil {
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(5 * time.Second))
			if _, err := c.Write(q); err != nil {
				return
			}
			ans := make([]byte, 65535)
			if k, err := c.Read(ans); err == nil {
				_, _ = pc.WriteTo(ans[:k], from)
			}
		}(append([]byte(nil), buf[:n]...))
	}
}

func (r *updateRelay) serveTCP(ln net.Listener) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go r.relayTCP(c)
	}
}

// relayTCP passes the client's messages to the server one by one, and the
// server's (a zone transfer's many) back.
func (r *updateRelay) relayTCP(c net.Conn) {
	defer c.Close()
	s, err := net.Dial("tcp", r.server)
	if err != nil {
		return
	}
	defer s.Close()
	go func() { _, _ = io.Copy(c, s); c.Close() }()
	for {
		var prefix [2]byte
		if _, err := io.ReadFull(c, prefix[:]); err != nil {
			return
		}
		msg := make([]byte, binary.BigEndian.Uint16(prefix[:]))
		if _, err := io.ReadFull(c, msg); err != nil {
			return
		}
		if len(msg) > 2 && (msg[2]>>3)&0xf == dns.OpcodeUpdate {
			r.mu.Lock()
			f := r.before
			r.before = nil
			r.mu.Unlock()
			if f != nil {
				f()
				r.fired.Store(true)
			}
		}
		if _, err := s.Write(append(prefix[:], msg...)); err != nil {
			return
		}
	}
}
