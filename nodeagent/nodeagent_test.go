package nodeagent

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

const netDev = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 1000 10    0    0    0     0          0         0 1000 10    0    0    0     0       0          0
  eth0: 250000000 1    0    0    0     0          0         0 125000000 1    0    0    0     0       0          0
`

func TestParseNetDev(t *testing.T) {
	c, err := parseNetDev(strings.NewReader(netDev))
	if err != nil {
		t.Fatal(err)
	}
	if c["eth0"] != (counters{rx: 250000000, tx: 125000000}) || c["lo"] != (counters{rx: 1000, tx: 1000}) || len(c) != 2 {
		t.Errorf("counters %+v", c)
	}
	for _, bad := range []string{"a\nb\nno colon here\n", "a\nb\neth0: 1 2 3\n", "a\nb\neth0: x 0 0 0 0 0 0 0 y 0 0 0 0 0 0 0\n"} {
		if _, err := parseNetDev(strings.NewReader(bad)); err == nil {
			t.Errorf("no error for %q", bad)
		}
	}
}

// Rates are the counters' growth over the window, in bits per second; a
// counter that went back (a reset) gives no rate rather than a huge one.
func TestAgentRates(t *testing.T) {
	a := NewAgent("n1", 10*time.Second, slog.New(slog.DiscardHandler))
	var tx uint64
	a.readCounters = func() (map[string]counters, error) {
		return map[string]counters{"eth0": {rx: tx / 2, tx: tx}, "new": {}}, nil
	}
	start := time.Unix(1000, 0)
	if len(a.rates()) != 0 {
		t.Fatal("a rate before two samples")
	}
	for i := range 30 { // 1 Gbit/s sent: 125 MB a second
		tx = uint64(i) * 125_000_000
		a.sample(start.Add(time.Duration(i) * time.Second))
	}
	r := a.rates()["eth0"]
	if r[1] != 1e9 || r[0] != 0.5e9 {
		t.Errorf("rates %v, want 0.5e9 received and 1e9 sent", r)
	}
	if n := len(a.samples); n < 11 || n > 12 {
		t.Errorf("%d samples kept for a 10 s window", n)
	}
	tx = 0 // the interface was recreated
	a.sample(start.Add(30 * time.Second))
	if _, ok := a.rates()["eth0"]; ok {
		t.Error("a rate across a counter reset")
	}
}

func report(node string, ifs ...Interface) Report { return Report{Node: node, Interfaces: ifs} }

func iface(name string, ips ...string) Interface {
	i := Interface{Name: name}
	for _, ip := range ips {
		i.Addresses = append(i.Addresses, netip.MustParseAddr(ip))
	}
	return i
}

// Each IP goes to the one node that reports it; loopback, link-local and
// IPVS's shared interface place nothing; fresh answers beat stale ones;
// two fresh claims are ambiguous.
func TestPlace(t *testing.T) {
	nodes := map[string]*nodeState{
		"n1": {answered: true, ok: true, report: report("n1", iface("lo", "127.0.0.1", "::1"),
			iface("eth0", "192.0.2.1", "198.51.100.10", "fe80::1"), iface("kube-ipvs0", "203.0.113.1"))},
		"n2": {answered: true, ok: true, report: report("n2", iface("eth0", "192.0.2.2", "198.51.100.10"), iface("kube-ipvs0", "203.0.113.1"))},
		"n3": {answered: true, ok: false, report: report("n3", iface("eth0", "192.0.2.2", "192.0.2.3"))}, // stale: 192.0.2.2 moved to n2
		"n4": {},
	}
	placed, ambiguous := place(nodes)
	want := map[string]string{"192.0.2.1": "n1", "192.0.2.2": "n2", "192.0.2.3": "n3"}
	if len(placed) != len(want) {
		t.Errorf("placed %v", placed)
	}
	for ip, node := range want {
		if p := placed[netip.MustParseAddr(ip)]; p.Node != node || p.Interface.Name != "eth0" {
			t.Errorf("%s on %+v, want %s/eth0", ip, p, node)
		}
	}
	if !placed[netip.MustParseAddr("192.0.2.3")].Stale {
		t.Error("a place from a stale answer is not marked stale")
	}
	if got := ambiguous[netip.MustParseAddr("198.51.100.10")]; !slices.Equal(got, []string{"n1", "n2"}) || len(ambiguous) != 1 {
		t.Errorf("ambiguous %v", ambiguous)
	}
}

// startAgent serves an agent of node with fixed interfaces on a real socket.
func startAgent(t *testing.T, node string, ifs ...Interface) (netip.Addr, int, *http.Server) {
	t.Helper()
	return startAgentWithToken(t, node, "", ifs...)
}

func startAgentWithToken(t *testing.T, node, token string, ifs ...Interface) (netip.Addr, int, *http.Server) {
	t.Helper()
	a := NewAgent(node, 10*time.Second, slog.New(slog.DiscardHandler))
	a.interfaces = func() ([]Interface, error) { return slices.Clone(ifs), nil }
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: a.Handler(token), ReadHeaderTimeout: time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return ap.Addr(), int(ap.Port()), srv
}

// The Poller asks real agents over HTTP: it places their IPs, tells which
// moved, keeps a silent agent's last answer, and refuses an answer from the
// agent of another node.
func TestPoller(t *testing.T) {
	addr, port, srv := startAgent(t, "n1", iface("eth0", "192.0.2.1", "192.0.2.9"))
	var eps []Endpoint
	var moved []netip.Addr
	p := NewPoller(PollerOptions{Port: port, Interval: time.Second, Timeout: time.Second,
		Endpoints: func() []Endpoint { return eps }, Moved: func(ips []netip.Addr) { moved = ips }})
	eps = []Endpoint{{Node: "n1", Addr: addr}}
	p.Round(context.Background())
	if n, ok := p.NodeOf(netip.MustParseAddr("192.0.2.1")); !ok || n != "n1" || len(moved) != 2 {
		t.Fatalf("192.0.2.1 on %q (%v), moved %v", n, ok, moved)
	}
	moved = nil
	_ = srv.Close() // the agent stops answering: its IPs stay where they were
	p.Round(context.Background())
	st, _ := p.Status()
	if n, _ := p.NodeOf(netip.MustParseAddr("192.0.2.1")); n != "n1" || moved != nil || len(st) != 1 || st[0].Answering || st[0].LastError == "" {
		t.Errorf("after the agent went silent: on %q, moved %v, status %+v", n, moved, st)
	}
	eps = []Endpoint{{Node: "n2", Addr: addr}} // n1's Node is gone; n2's address answers nothing
	_, port2, _ := startAgent(t, "n1", iface("eth0", "192.0.2.5"))
	p.opts.Port = port2 // the agent of n1 behind n2's address
	p.Round(context.Background())
	if _, ok := p.NodeOf(netip.MustParseAddr("192.0.2.1")); ok || len(moved) != 2 || len(p.IPsOf("n2")) != 0 {
		t.Errorf("after n1 left: still placed, or moved %v, or n2 holds %v", moved, p.IPsOf("n2"))
	}
	if st, _ := p.Status(); len(st) != 1 || !strings.Contains(st[0].LastError, `agent of node "n1", not "n2"`) {
		t.Errorf("status %+v", st)
	}
}

// With a token, the agent answers only the Poller that sends it.
func TestAgentToken(t *testing.T) {
	addr, port, _ := startAgentWithToken(t, "n1", "s3cret", iface("eth0", "192.0.2.1"))
	eps := []Endpoint{{Node: "n1", Addr: addr}}
	for token, placed := range map[string]bool{"": false, "wrong": false, "s3cret": true} {
		p := NewPoller(PollerOptions{Port: port, Interval: time.Second, Timeout: time.Second, Token: token,
			Endpoints: func() []Endpoint { return eps }})
		p.Round(context.Background())
		_, ok := p.NodeOf(netip.MustParseAddr("192.0.2.1"))
		st, _ := p.Status()
		if ok != placed || !placed && !strings.Contains(st[0].LastError, "401") {
			t.Errorf("token %q: placed %v, status %+v", token, ok, st)
		}
	}
}
