// Package connlimit bounds the connections a listener holds: in all, and
// per client network, so that one client (or one tenant's pods) cannot
// exhaust a server's memory or its sockets with connections that send
// nothing. When the listener is full, a client from a network holding fewer
// connections than the largest holder still gets in: the oldest connection
// of the largest holder is closed for it (fair shares, so that an attack
// from many networks cannot lock out a resolver or the kubelet's probe).
// Other connections over a bound are closed at accept rather than left in
// the accept queue, where they would delay every other client.
package connlimit

import (
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
)

// Options bound a listener. Zero fields are no bound.
type Options struct {
	// Max is the most connections open at once.
	Max int
	// MaxPerNetwork is the most connections open at once from one client
	// network: the client's address cut to V4Bits or V6Bits.
	MaxPerNetwork  int
	V4Bits, V6Bits int
	// Refused, if set, is called for each connection closed at accept, or
	// closed to make room, with why: "total", "network" or "evicted".
	Refused func(reason string)
}

// Listener is a net.Listener that holds at most the bounded connections.
type Listener struct {
	net.Listener
	opts Options
	open atomic.Int64

	mu sync.Mutex
	// byNetwork holds each client network's open connections, oldest
	// first. Connections without an IP address share the zero prefix.
	byNetwork map[netip.Prefix][]*conn
}

// Wrap bounds ln.
func Wrap(ln net.Listener, o Options) *Listener {
	if o.V4Bits == 0 {
		o.V4Bits = 32
	}
	if o.V6Bits == 0 {
		o.V6Bits = 128
	}
	return &Listener{Listener: ln, opts: o, byNetwork: map[netip.Prefix][]*conn{}}
}

// Open returns the connections open now.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Accept returns the next connection within the bounds; those over them are
// closed and counted, never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		wrapped := &conn{Conn: c, l: l, network: l.networkOf(c.RemoteAddr())}
		victim, reason := l.admit(wrapped)
		// Counted before the close: whoever sees the close sees the count.
		if victim != nil {
			l.refused("evicted")
			_ = victim.Conn.Close() // its slot is already given to c
		}
		if reason == "" {
			return wrapped, nil
		}
		l.refused(reason)
		_ = c.Close()
	}
}

func (l *Listener) refused(reason string) {
	if l.opts.Refused != nil {
		l.opts.Refused(reason)
	}
}

// admit counts c in, or says why it may not be; when the listener is full
// it may pick a victim whose slot c takes.
func (l *Listener) admit(c *conn) (victim *conn, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	mine := len(l.byNetwork[c.network])
	if l.opts.MaxPerNetwork > 0 && mine >= l.opts.MaxPerNetwork {
		return nil, "network"
	}
	if l.opts.Max > 0 && l.open.Load() >= int64(l.opts.Max) {
		largest := l.largestHolder()
		if len(l.byNetwork[largest]) <= mine+1 {
			return nil, "total" // c's network holds its fair share already
		}
		victim = l.byNetwork[largest][0]
		victim.closed.Store(true) // its own Close must not give the slot back again
		l.forget(victim)
	}
	l.open.Add(1)
	l.byNetwork[c.network] = append(l.byNetwork[c.network], c)
	return victim, ""
}

// largestHolder returns the network with the most open connections.
func (l *Listener) largestHolder() netip.Prefix {
	var best netip.Prefix
	n := -1
	for p, conns := range l.byNetwork {
		if len(conns) > n {
			best, n = p, len(conns)
		}
	}
	return best
}

// forget gives c's slot back. Call it with mu held.
func (l *Listener) forget(c *conn) {
	l.open.Add(-1)
	conns := slices.DeleteFunc(l.byNetwork[c.network], func(o *conn) bool { return o == c })
	if len(conns) == 0 {
		delete(l.byNetwork, c.network)
		return
	}
	l.byNetwork[c.network] = conns
}

// networkOf is the client network of a remote address; the zero prefix
// when the address is not IP (a Unix socket).
func (l *Listener) networkOf(addr net.Addr) netip.Prefix {
	ap, err := netip.ParseAddrPort(addr.String())
	if err != nil {
		return netip.Prefix{}
	}
	ip := ap.Addr().Unmap()
	bits := l.opts.V6Bits
	if ip.Is4() {
		bits = l.opts.V4Bits
	}
	p, err := ip.Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// conn gives its slot back once, on the first Close.
type conn struct {
	net.Conn
	l       *Listener
	network netip.Prefix
	closed  atomic.Bool
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.mu.Lock()
		c.l.forget(c)
		c.l.mu.Unlock()
	}
	return err
}
