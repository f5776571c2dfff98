package e2e

import (
	"fmt"
	"net"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsghdr is Linux's struct mmsghdr (x/sys/unix has no recvmmsg wrapper).
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// echoBlocking answers on a duplicate of pc's socket set to blocking, as
// lbdns's UDP readers do: recvmmsg waits in the kernel for the first
// datagram (MSG_WAITFORONE), and sendmmsg writes the batch.
func echoBlocking(pc net.PacketConn) error {
	raw, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		return err
	}
	var fd int
	var derr error
	if err := raw.Control(func(s uintptr) { fd, derr = unix.Dup(int(s)) }); err != nil {
		return err
	}
	if derr != nil {
		return derr
	}
	if err := unix.SetNonblock(fd, false); err != nil {
		return err
	}
	runtime.LockOSThread()
	const batch = 64
	bufs := make([][1500]byte, batch)
	names := make([]unix.RawSockaddrAny, batch)
	iov := make([]unix.Iovec, batch)
	in := make([]mmsghdr, batch)
	out := make([]mmsghdr, batch)
	outIov := make([]unix.Iovec, batch)
	for {
		for i := range in {
			iov[i].Base = &bufs[i][0]
			iov[i].SetLen(len(bufs[i]))
			in[i].hdr = unix.Msghdr{Name: (*byte)(unsafe.Pointer(&names[i])), Namelen: unix.SizeofSockaddrAny, Iov: &iov[i], Iovlen: 1}
		}
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, uintptr(fd), uintptr(unsafe.Pointer(&in[0])), batch, unix.MSG_WAITFORONE, 0, 0)
		if errno != 0 {
			if errno == unix.EINTR {
				continue
			}
			return fmt.Errorf("recvmmsg: %w", errno)
		}
		k := 0
		for i := range int(n) {
			if in[i].len < 12 {
				continue
			}
			bufs[i][2] |= 0x84 // QR, AA
			outIov[k].Base = &bufs[i][0]
			outIov[k].SetLen(int(in[i].len))
			out[k].hdr = unix.Msghdr{Name: in[i].hdr.Name, Namelen: in[i].hdr.Namelen, Iov: &outIov[k], Iovlen: 1}
			k++
		}
		for sent := 0; sent < k; {
			m, _, errno := unix.Syscall6(unix.SYS_SENDMMSG, uintptr(fd), uintptr(unsafe.Pointer(&out[sent])), uintptr(k-sent), 0, 0, 0)
			if errno != 0 {
				if errno == unix.EINTR {
					continue
				}
				return fmt.Errorf("sendmmsg: %w", errno)
			}
			sent += int(m)
		}
	}
}
