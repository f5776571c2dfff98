// Package connlimit bounds the connections a listener holds: in all, and
// per client network, so that one client (or one tenant's pods) cannot
// exhaust a server's memory or its sockets with connections that send
// nothing. A connection over a bound is closed at once rather than left
// waiting in the accept queue, where it would delay every other client.
package connlimit

import (
	"net"
	"net/netip"
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
	// Refused, if set, is called for each connection closed at accept, with
	// why: "total" or "network".
	Refused func(reason string)
}

// Listener is a net.Listener that holds at most the bounded connections.
type Listener struct {
	net.Listener
	opts Options
	open atomic.Int64

	mu        sync.Mutex
	byNetwork map[netip.Prefix]int
}

// Wrap bounds ln.
func Wrap(ln net.Listener, o Options) *Listener {
	if o.V4Bits == 0 {
		o.V4Bits = 32
	}
	if o.V6Bits == 0 {
		o.V6Bits = 128
	}
	return &Listener{Listener: ln, opts: o, byNetwork: map[netip.Prefix]int{}}
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
		network, reason := l.admit(c.RemoteAddr())
		if reason == "" {
			return &conn{Conn: c, l: l, network: network}, nil
		}
		_ = c.Close()
		if l.opts.Refused != nil {
			l.opts.Refused(reason)
		}
	}
}

// admit counts a new connection from addr in, or says why it may not be.
func (l *Listener) admit(addr net.Addr) (netip.Prefix, string) {
	network := l.networkOf(addr)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.opts.Max > 0 && l.open.Load() >= int64(l.opts.Max) {
		return network, "total"
	}
	if l.opts.MaxPerNetwork > 0 && network.IsValid() && l.byNetwork[network] >= l.opts.MaxPerNetwork {
		return network, "network"
	}
	l.open.Add(1)
	if network.IsValid() {
		l.byNetwork[network]++
	}
	return network, ""
}

func (l *Listener) release(network netip.Prefix) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.open.Add(-1)
	if !network.IsValid() {
		return
	}
	if l.byNetwork[network]--; l.byNetwork[network] <= 0 {
		delete(l.byNetwork, network)
	}
}

// networkOf is the client network of a remote address; invalid when the
// address is not IP (a Unix socket), which then counts only in Max.
func (l *Listener) networkOf(addr net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr().Unmap()
	default:
		ap, err := netip.ParseAddrPort(addr.String())
		if err != nil {
			return netip.Prefix{}
		}
		ip = ap.Addr().Unmap()
	}
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
		c.l.release(c.network)
	}
	return err
}
