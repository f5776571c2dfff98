package dnsserver

import (
	"context"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// ListenUDP opens the server's UDP socket with SO_REUSEPORT, so that Serve
// can add one socket per core on the same address: the kernel spreads the
// clients over them, and each is read and written by its own goroutine
// without waiting for the others' turn on one socket, as BIND's workers do.
// Only sockets of the same user can join.
func ListenUDP(addr string) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: reusePort}
	pc, err := lc.ListenPacket(context.Background(), "udp", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

func reusePort(_, _ string, c syscall.RawConn) error {
	var sockErr error
	err := c.Control(func(fd uintptr) { sockErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) })
	if err != nil {
		return err
	}
	if sockErr != nil {
		return fmt.Errorf("SO_REUSEPORT: %w", sockErr)
	}
	return nil
}

// reusesPort reports whether pc was opened with SO_REUSEPORT.
func reusesPort(pc *net.UDPConn) bool {
	raw, err := pc.SyscallConn()
	if err != nil {
		return false
	}
	on := 0
	_ = raw.Control(func(fd uintptr) { on, _ = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT) })
	return on == 1
}
