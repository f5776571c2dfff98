package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/internal/testwait"
)

// backend is a real loopback TCP server whose connections can all be cut
// at once, as when its process dies.
type backend struct {
	ln       net.Listener
	accepted atomic.Int32
	mu       sync.Mutex
	conns    []net.Conn
}

// startBackend serves on a free loopback port; each accepted connection is
// handled by serve (nil: held open until the client closes it).
func startBackend(t *testing.T, serve func(net.Conn)) (*backend, netip.Addr, int) {
	ln, ip, port := listen(t)
	be := &backend{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			be.accepted.Add(1)
			be.mu.Lock()
			be.conns = append(be.conns, c)
			be.mu.Unlock()
			if serve != nil {
				serve(c)
			}
		}
	}()
	t.Cleanup(be.die)
	return be, ip, port
}

// die closes the listener and every connection.
func (be *backend) die() {
	be.ln.Close()
	be.mu.Lock()
	defer be.mu.Unlock()
	for _, c := range be.conns {
		c.Close()
	}
}

func heldCount[K comparable](s *Scheduler[K]) int {
	if s.holds == nil {
		return 0
	}
	s.holds.mu.Lock()
	defer s.holds.mu.Unlock()
	return s.holds.held
}

func tcpTarget(ip netip.Addr, port int) Target {
	return Target{IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}}}}
}

// The probe interval is far longer than the test waits: only the held
// connection's close can mark the targets down in time, and both targets
// of the one IP and port wake, not only the one whose run holds it.
func TestHeldConnectionCloseProbesAtOnce(t *testing.T) {
	be, ip, port := startBackend(t, nil)
	s := NewScheduler[string](Options{Interval: time.Minute, Timeout: time.Second, Rise: 1, Fall: 1,
		Concurrency: 4, Funcs: Funcs(), HeldConnections: 10}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Update(ctx, map[string]Target{"a": tcpTarget(ip, port), "b": tcpTarget(ip, port)}, nil)
	bothAre := func(want State) func() bool {
		return func() bool {
			st := s.StatusesOf([]string{"a", "b"})
			return st["a"].State == want && st["b"].State == want
		}
	}
	testwait.For(t, "both up", bothAre(Up))
	testwait.For(t, "one connection held", func() bool { return heldCount(s) == 1 })

	start := time.Now()
	be.die()
	testwait.For(t, "both down after the backend died", bothAre(Down))
	if took := time.Since(start); took > 30*time.Second {
		t.Fatalf("down after %s: the interval, not the close", took)
	}
	if n := heldCount(s); n != 0 {
		t.Fatalf("%d connections held after the backend died", n)
	}
}

// A backend that closes every connection at once is probed a few times
// more, then not held: its probes come at the interval again.
func TestIdleClosingBackendIsNotHeld(t *testing.T) {
	be, ip, port := startBackend(t, func(c net.Conn) { c.Close() })
	const interval = 100 * time.Millisecond
	s := NewScheduler[string](Options{Interval: interval, Timeout: time.Second, Rise: 1, Fall: 1,
		Concurrency: 4, Funcs: Funcs(), HeldConnections: 10}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Update(ctx, map[string]Target{"a": tcpTarget(ip, port)}, nil)
	testwait.For(t, "up", func() bool { st, _ := s.Status("a"); return st.State == Up })
	testwait.For(t, "the hold-off set", func() bool {
		s.holds.mu.Lock()
		defer s.holds.mu.Unlock()
		for _, hk := range s.holds.keys {
			return time.Now().Before(hk.offUntil)
		}
		return false
	})
	before := be.accepted.Load()
	time.Sleep(10 * interval)
	// At the interval: about 10 more. Held, every close would probe again at
	// once: thousands.
	if got := be.accepted.Load() - before; got > 30 {
		t.Fatalf("%d connections in 10 intervals after the hold-off", got)
	}
	if st, _ := s.Status("a"); st.State != Up {
		t.Fatalf("an idle close made the target %s", st.State)
	}
}

// A backend that speaks first is not held, and its data does not count as
// a failure.
func TestBannerBackendIsNotHeld(t *testing.T) {
	_, ip, port := startBackend(t, func(c net.Conn) { _, _ = c.Write([]byte("220 ready\r\n")) })
	s := NewScheduler[string](Options{Interval: 50 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1,
		Concurrency: 4, Funcs: Funcs(), HeldConnections: 10}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Update(ctx, map[string]Target{"a": tcpTarget(ip, port)}, nil)
	testwait.For(t, "not held after its banner", func() bool {
		st, _ := s.Status("a")
		return st.State == Up && st.Rounds >= 3 && heldCount(s) == 0
	})
}

// No more connections are held than the limit, and removing the targets
// closes what they held.
func TestHeldConnectionsBounded(t *testing.T) {
	_, ip1, port1 := startBackend(t, nil)
	_, ip2, port2 := startBackend(t, nil)
	_, ip3, port3 := startBackend(t, nil)
	s := NewScheduler[string](Options{Interval: 50 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1,
		Concurrency: 4, Funcs: Funcs(), HeldConnections: 2}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Update(ctx, map[string]Target{"a": tcpTarget(ip1, port1), "b": tcpTarget(ip2, port2), "c": tcpTarget(ip3, port3)}, nil)
	testwait.For(t, "all up", func() bool {
		st := s.StatusesOf([]string{"a", "b", "c"})
		return st["a"].State == Up && st["b"].State == Up && st["c"].State == Up
	})
	for range 10 {
		if n := heldCount(s); n > 2 {
			t.Fatalf("%d connections held, limit 2", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Update(ctx, nil, []string{"a", "b", "c"})
	testwait.For(t, "nothing held after the targets went", func() bool { return heldCount(s) == 0 })
}

// However many targets share a check and however often they probe, one
// connection is held for it.
func TestOneConnectionHeldPerCheck(t *testing.T) {
	var open atomic.Int32
	_, ip, port := startBackend(t, func(c net.Conn) {
		open.Add(1)
		go func() { var b [1]byte; _, _ = c.Read(b[:]); c.Close(); open.Add(-1) }()
	})
	s := NewScheduler[string](Options{Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1, Jitter: 0.5,
		Concurrency: 4, Funcs: Funcs(), HeldConnections: 10}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	targets := map[string]Target{}
	for i := range 5 {
		targets[string(rune('a'+i))] = tcpTarget(ip, port)
	}
	s.Update(ctx, targets, nil)
	most := int32(0)
	for range 200 {
		most = max(most, open.Load())
		time.Sleep(5 * time.Millisecond)
	}
	if most > 2 { // one held, and the next one's handshake
		t.Fatalf("%d connections open at once to one check", most)
	}
}

// A check marked NoHold (lbdns.io/probe-hold: "false") closes its connection
// at once, as a server that serves one connection at a time needs.
func TestNoHoldCheckIsNotHeld(t *testing.T) {
	var open atomic.Int32
	_, ip, port := startBackend(t, func(c net.Conn) {
		open.Add(1)
		go func() { var b [1]byte; _, _ = c.Read(b[:]); c.Close(); open.Add(-1) }()
	})
	s := NewScheduler[string](Options{Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1,
		Concurrency: 4, Funcs: Funcs(), HeldConnections: 10}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	target := Target{IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port, NoHold: true}}}}
	s.Update(ctx, map[string]Target{"a": target}, nil)
	testwait.For(t, "up after a few rounds", func() bool { st, _ := s.Status("a"); return st.State == Up && st.Rounds >= 3 })
	testwait.For(t, "no connection left open", func() bool { return open.Load() == 0 })
	if n := heldCount(s); n != 0 {
		t.Fatalf("%d connections held for a no-hold check", n)
	}
}
