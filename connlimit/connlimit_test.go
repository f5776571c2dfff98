package connlimit

import (
	"net"
	"sync"
	"testing"
	"time"
)

// serve accepts on a bounded loopback listener and holds every connection
// until it is closed by the client, counting what the bound refused.
func serve(t *testing.T, o Options) (*Listener, *refusals) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &refusals{}
	o.Refused = r.add
	l := Wrap(ln, o)
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { // read until the client closes, then release
				buf := make([]byte, 1)
				for {
					if _, err := c.Read(buf); err != nil {
						c.Close()
						return
					}
				}
			}()
		}
	}()
	return l, r
}

type refusals struct {
	mu sync.Mutex
	by map[string]int
}

func (r *refusals) add(reason string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.by == nil {
		r.by = map[string]int{}
	}
	r.by[reason]++
}

func (r *refusals) get(reason string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.by[reason]
}

func dialFrom(t *testing.T, from, to string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", to)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByServer reports whether the server closed c (a read sees EOF).
func closedByServer(c net.Conn) bool {
	_ = c.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	_, err := c.Read(make([]byte, 1))
	return err != nil && !isTimeout(err)
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

func waitOpen(t *testing.T, l *Listener, n int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for l.Open() != n {
		if time.Now().After(deadline) {
			t.Fatalf("open = %d, want %d", l.Open(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerNetworkBound(t *testing.T) {
	l, r := serve(t, Options{Max: 100, MaxPerNetwork: 3, V4Bits: 24})
	addr := l.Addr().String()
	var first []net.Conn
	for range 3 {
		first = append(first, dialFrom(t, "127.0.7.1", addr))
	}
	waitOpen(t, l, 3)
	if extra := dialFrom(t, "127.0.7.2", addr); !closedByServer(extra) { // same /24
		t.Fatal("a fourth connection from 127.0.7.0/24 was kept")
	}
	if other := dialFrom(t, "127.0.8.1", addr); closedByServer(other) {
		t.Fatal("a connection from another network was closed")
	}
	if r.get("network") != 1 {
		t.Fatalf("refused by network = %d, want 1", r.get("network"))
	}
	first[0].Close() // a slot comes back
	waitOpen(t, l, 3)
	if again := dialFrom(t, "127.0.7.3", addr); closedByServer(again) {
		t.Fatal("the freed slot was not given out")
	}
}

func TestTotalBound(t *testing.T) {
	l, r := serve(t, Options{Max: 2})
	addr := l.Addr().String()
	dialFrom(t, "127.0.9.1", addr)
	dialFrom(t, "127.0.10.1", addr)
	waitOpen(t, l, 2)
	if c := dialFrom(t, "127.0.11.1", addr); !closedByServer(c) {
		t.Fatal("a third connection was kept")
	}
	if r.get("total") != 1 {
		t.Fatalf("refused in total = %d, want 1", r.get("total"))
	}
}

// A full listener makes room for a network holding less than the largest
// holder, by closing that holder's oldest connection.
func TestFullListenerMakesRoomForASmallerNetwork(t *testing.T) {
	l, r := serve(t, Options{Max: 4, MaxPerNetwork: 3, V4Bits: 24})
	addr := l.Addr().String()
	var attacker []net.Conn
	for _, from := range []string{"127.0.12.1", "127.0.12.2", "127.0.12.3", "127.0.13.1"} {
		attacker = append(attacker, dialFrom(t, from, addr))
	}
	waitOpen(t, l, 4)
	resolver := dialFrom(t, "127.0.14.1", addr)
	if closedByServer(resolver) {
		t.Fatal("the resolver's connection was closed")
	}
	if !closedByServer(attacker[0]) {
		t.Fatal("the largest holder's oldest connection was kept")
	}
	if closedByServer(attacker[1]) || closedByServer(attacker[3]) {
		t.Fatal("a connection other than the oldest of the largest holder was closed")
	}
	if r.get("evicted") != 1 {
		t.Fatalf("evicted = %d", r.get("evicted"))
	}
	waitOpen(t, l, 4)
	// Now every network holds at most two: a second one from 127.0.14.0/24
	// would not be fewer than the largest holder's, and is refused.
	dialFrom(t, "127.0.15.1", addr) // takes one of 127.0.12's
	waitOpen(t, l, 4)
	if c := dialFrom(t, "127.0.14.2", addr); !closedByServer(c) {
		t.Fatal("a network at its fair share took another slot")
	}
	if r.get("total") != 1 {
		t.Fatalf("total = %d", r.get("total"))
	}
}
