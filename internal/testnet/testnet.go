// Package testnet opens sockets for tests.
package testnet

import (
	"net"
	"testing"
)

// UDPAndTCP listens on one port of host over UDP and TCP, as a DNS server
// does. A port free for UDP may be taken for TCP, so it tries a few.
func UDPAndTCP(t testing.TB, host string) (net.PacketConn, net.Listener) {
	t.Helper()
	var lastErr error
	for range 20 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(host, "0"))
		if err != nil {
			t.Fatal(err)
		}
		ln, err := net.Listen("tcp", pc.LocalAddr().String())
		if err == nil {
			return pc, ln
		}
		pc.Close()
		lastErr = err
	}
	t.Fatalf("no port of %s free for both UDP and TCP: %v", host, lastErr)
	return nil, nil
}
