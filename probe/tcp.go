package probe

import (
	"context"
	"net"
	"net/netip"
)

// probeDialer connects without TCP keep-alive: a probe closes its
// connection at once, and turning keep-alive on costs four setsockopt calls
// a probe (at 1,000 targets every 2 s, 2,000 system calls a second).
var probeDialer = &net.Dialer{KeepAlive: -1}

// probeTCP passes when a TCP connection to the port is accepted.
func probeTCP(ctx context.Context, ip netip.Addr, c Check) error {
	conn, err := dialTCP(ctx, ip, c)
	if err != nil {
		return err
	}
	return conn.Close()
}

// dialTCP opens the connection of a tcp check.
func dialTCP(ctx context.Context, ip netip.Addr, c Check) (net.Conn, error) {
	return probeDialer.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, uint16(c.Port)).String())
}
