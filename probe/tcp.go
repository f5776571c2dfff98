package probe

import (
	"context"
	"net"
	"net/netip"
)

// probeTCP passes when a TCP connection to the port is accepted.
func probeTCP(ctx context.Context, ip netip.Addr, c Check) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", netip.AddrPortFrom(ip, uint16(c.Port)).String())
	if err != nil {
		return err
	}
	return conn.Close()
}
