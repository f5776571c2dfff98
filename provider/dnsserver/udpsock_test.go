package dnsserver

import (
	"fmt"
	"net"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// With spreadByCPU, the kernel gives every datagram to the socket of the
// CPU it arrives on (on loopback, the sender's): datagrams sent from CPU 0
// all reach one socket, those from CPU 1 the other, whichever client port
// sent them (the kernel's hash would mix them).
func TestSpreadByCPU(t *testing.T) {
	if runtime.NumCPU() < 2 {
		t.Skip("needs two CPUs to tell the sockets apart")
	}
	pc, err := ListenUDP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := pc.LocalAddr().String()
	socks, err := openUDPSockets(pc, 2)
	if err != nil || len(socks) != 2 {
		t.Fatalf("%d sockets: %v", len(socks), err)
	}
	defer func() {
		for _, s := range socks {
			s.close()
		}
	}()
	if err := spreadByCPU(socks); err != nil {
		t.Fatal(err)
	}
	const perCPU = 20
	for cpu := range 2 {
		sendFromCPU(t, cpu, addr, perCPU)
	}
	seen := map[string]int{} // "cpu@socket" -> datagrams
	for i, s := range socks {
		batch := newUDPBatch(64, 64)
		n, err := s.read(batch)
		if err != nil {
			t.Fatal(err)
		}
		for j := range n {
			raw, _, _ := batch.datagram(j)
			seen[fmt.Sprintf("%s@%d", raw, i)]++
		}
	}
	if !(seen["0@0"] == perCPU && seen["1@1"] == perCPU) && !(seen["0@1"] == perCPU && seen["1@0"] == perCPU) {
		t.Fatalf("datagrams by CPU@socket: %v; want each CPU's %d on a socket of its own", seen, perCPU)
	}
}

// sendFromCPU sends n datagrams holding the CPU's number, each from a new
// client socket, from a thread pinned to that CPU.
func sendFromCPU(t *testing.T, cpu int, addr string, n int) {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the pinned thread ends with the goroutine
		var set unix.CPUSet
		set.Set(cpu)
		if err := unix.SchedSetaffinity(0, &set); err != nil {
			done <- err
			return
		}
		for range n {
			c, err := net.Dial("udp", addr)
			if err != nil {
				done <- err
				return
			}
			_, err = c.Write([]byte(fmt.Sprint(cpu)))
			c.Close()
			if err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
