package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
)

// TestListenerAttacks runs, together, the attacks a client or tenant can
// make on lbdns's memory with its default settings: 4,000 TCP connections to
// the embedded DNS that send a 2-byte length prefix of 65,535 and stall
// (from 80 client networks), 1,000 idle connections to the HTTP port, 20
// requests with a 900 KB header, and a backend whose probe answer carries
// 200,000 tiny headers. It prints the RSS growth and asserts the goals.
func TestListenerAttacks(t *testing.T) {
	e := suite
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	zoneAttack := "atk.test"
	dnsAddr := fmt.Sprintf("127.0.0.1:%d", port)
	l, err := e.newLbdns("lbdns-attacked", "LBDNS_DNS_ADDR="+dnsAddr, "LBDNS_DNS_ZONES="+zoneAttack, "LBDNS_DNS_RRL_EXEMPT=127.0.0.1/32")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	host := "h." + zoneAttack
	good := newBackend(t, "127.0.61.1")
	bomb := headerBomb(t, "127.0.61.2")
	e.createService(t, lbService{name: "atk-good", hostname: host, backend: good, annotations: map[string]string{"lbdns.io/probe": "http"}})
	e.createService(t, lbService{name: "atk-bomb", hostname: host, backend: &backend{ip: bomb.ip, port: bomb.port},
		annotations: map[string]string{"lbdns.io/probe": "http"}})
	waitAnswerFrom(t, dnsAddr, host, good.ip.String())
	ts := l.waitReason(t, host, "atk-bomb", "ProbeFailed")
	if !strings.Contains(ts.Detail, "headers exceed 64 KiB") {
		t.Fatalf("the header bomb's reason: %q", ts.Detail)
	}
	time.Sleep(2 * time.Second)
	before := rssOf(t, l.Proc)

	var conns connSet
	defer conns.closeAll()
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); stallDNS(t, &conns, dnsAddr, 80, 50) }()
	go func() { defer wg.Done(); idleHTTP(t, &conns, l.http, "127.0.62.1", 1000) }()
	status431 := 0
	go func() {
		defer wg.Done()
		for range 20 {
			if code := hugeHeader(t, l.http, 900<<10); code == http.StatusRequestHeaderFieldsTooLarge {
				status431++
			}
		}
	}()
	wg.Wait()
	peak := rssOf(t, l.Proc)
	// Still answering, from a client the attack does not share a network with.
	udp, tcp := queryFrom(t, "udp", dnsAddr, host), queryFrom(t, "tcp", dnsAddr, host)
	healthz := framework.HTTPOK("http://" + l.http + "/healthz")
	if udp != good.ip.String() || tcp != good.ip.String() || healthz != nil {
		t.Fatalf("during the attack: UDP answer %q, TCP answer %q, /healthz %v", udp, tcp, healthz)
	}
	closedAfter := conns.waitAllClosed(t, 15*time.Second)
	peak = max(peak, rssOf(t, l.Proc))
	growth := float64(peak-before) / (1 << 20)
	refusedDNS, _, _ := l.metric("lbdns_connections_refused_total", map[string]string{"listener": "dns", "reason": "total"})
	refusedHTTP, _, _ := l.metric("lbdns_connections_refused_total", map[string]string{"listener": "http", "reason": "network"})
	if status431 != 20 || growth > 64 || closedAfter > 15*time.Second {
		t.Fatalf("431 for %d of 20 huge headers, RSS grew %.1f MB (goal <= 64), attack connections closed after %s", status431, growth, closedAfter)
	}
	record(t, "PASS 4,000 stalled DNS/TCP + 1,000 idle HTTP + 20 x 900 KB headers + a 200,000-header probe answer: RSS %.0f -> %.0f MB (+%.1f), "+
		"every attack connection closed %.1fs after the attack (goal 15 s), DNS refused %v at accept, HTTP %v; 431 for 20 of 20; "+
		"UDP, TCP and /healthz answered; the header bomb not published",
		float64(before)/(1<<20), float64(peak)/(1<<20), growth, closedAfter.Seconds(), refusedDNS, refusedHTTP)
}

// connSet holds the attack's client connections.
type connSet struct {
	mu    sync.Mutex
	conns []net.Conn
}

func (s *connSet) add(c net.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

func (s *connSet) closeAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.conns {
		c.Close()
	}
}

// waitAllClosed waits until the server closed every connection (a read
// ends with an error that is not our deadline) and returns how long that
// took.
func (s *connSet) waitAllClosed(t *testing.T, limit time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	deadline := start.Add(limit + 5*time.Second)
	var wg sync.WaitGroup
	open := 0
	var mu sync.Mutex
	for _, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			_, err := io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				mu.Lock()
				open++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if open > 0 {
		t.Fatalf("%d of %d attack connections still open after %s", open, len(conns), limit+5*time.Second)
	}
	return time.Since(start)
}

// stallDNS opens perNet connections from each of networks client /24s
// (127.0.100.0/24 on) that send a length prefix of 65,535 and nothing more.
func stallDNS(t *testing.T, s *connSet, addr string, networks, perNet int) {
	for n := range networks {
		for i := range perNet {
			from := fmt.Sprintf("127.0.%d.%d", 100+n, 1+i%250)
			c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}).Dial("tcp", addr)
			if err != nil {
				t.Errorf("dial from %s: %v", from, err)
				return
			}
			s.add(c)
			_, _ = c.Write([]byte{0xff, 0xff})
		}
	}
}

// idleHTTP opens n connections from one client that send nothing.
func idleHTTP(t *testing.T, s *connSet, addr, from string, n int) {
	for range n {
		c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 2 * time.Second}).Dial("tcp", addr)
		if err != nil {
			t.Errorf("dial HTTP from %s: %v", from, err)
			return
		}
		s.add(c)
	}
}

// hugeHeader sends one request with a header of size bytes from its own
// client address and returns the status code (0: no answer).
func hugeHeader(t *testing.T, addr string, size int) int {
	c, err := (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.63.1")}, Timeout: 2 * time.Second}).Dial("tcp", addr)
	if err != nil {
		t.Errorf("dial: %v", err)
		return 0
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		_, _ = io.WriteString(c, "GET /status HTTP/1.1\r\nHost: lbdns\r\nX-Big: "+strings.Repeat("a", size)+"\r\n\r\n")
	}()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// queryFrom asks name's A record from 127.0.0.1 and returns the first answer.
func queryFrom(t *testing.T, network, server, name string) string {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	r, _, err := (&dns.Client{Net: network, Timeout: 3 * time.Second}).Exchange(m, server)
	if err != nil || len(r.Answer) == 0 {
		return fmt.Sprintf("no answer (%v)", err)
	}
	return r.Answer[0].(*dns.A).A.String()
}

func waitAnswerFrom(t *testing.T, server, name string, want ...string) {
	t.Helper()
	if err := framework.WaitFor(30*time.Second, name+" answered", func() error {
		got, err := framework.Lookup(server, name, "A")
		if err != nil {
			return err
		}
		if strings.Join(got, " ") != strings.Join(sorted(want), " ") {
			return fmt.Errorf("answer is %v", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// rssOf returns a process's resident set in bytes.
func rssOf(t *testing.T, p *framework.Proc) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.Pid()))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// bombBackend answers every HTTP request with 200,000 tiny headers.
type bombBackend struct {
	ip   netip.Addr
	port int
}

func headerBomb(t *testing.T, ip string) bombBackend {
	t.Helper()
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	answer := "HTTP/1.1 200 OK\r\n" + strings.Repeat("X: y\r\n", 200000) + "\r\n"
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_, _ = c.Read(make([]byte, 4096))
				_, _ = io.WriteString(c, answer)
			}()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return bombBackend{ip: ap.Addr(), port: int(ap.Port())}
}

// TestAgentRefusesToServeWithoutAToken: the node agent listens on the
// node's address, which may be public on IONOS: without a token it does not
// start, and lbdns does not ask agents without one.
func TestAgentRefusesToServeWithoutAToken(t *testing.T) {
	e := suite
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(e.lbdnsBin, "agent")
	cmd.Env = []string{"LBDNS_AGENT_ADDR=127.0.0.1:" + strconv.Itoa(port)}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "LBDNS_AGENT_TOKEN: is empty") {
		t.Fatalf("lbdns agent without a token: %v\n%s", err, out)
	}
	cmd = exec.Command(e.lbdnsBin, "--check-config")
	cmd.Env = []string{"LBDNS_AGENT_PORT=9798"}
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "LBDNS_AGENT_TOKEN") {
		t.Fatalf("lbdns asking agents without a token: %v\n%s", err, out)
	}
	record(t, "PASS lbdns agent without LBDNS_AGENT_TOKEN refuses to start; lbdns with LBDNS_AGENT_PORT and no token too")
}
