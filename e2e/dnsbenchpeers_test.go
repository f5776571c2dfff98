package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/lbdns/lbdns/e2e/framework"
)

// The peers of make dnsbench beyond BIND and CoreDNS: the fastest
// open-source authoritative servers, from Debian, each set up as its
// documentation advises for a 2-core machine, response rate limiting off.

// startKnotFor runs Knot DNS (knotd), authoritative for the zone file, with
// its default of one UDP worker per core; affinity turns on its
// socket-affinity (off by default): each worker a socket of its own, queries
// steered by CPU, as lbdns does by default (LBDNS_DNS_UDP_SPREAD=cpu).
func startKnotFor(b *testing.B, dir, zoneFile string, affinity bool) (string, func()) {
	port := freePortOrFail(b)
	kdir := filepath.Join(dir, fmt.Sprintf("knot-%v", affinity))
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		b.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
    rundir: %[1]s
    listen: 127.0.0.1@%[2]d
    socket-affinity: %[6]v
database:
    storage: %[1]s
template:
  - id: default
    storage: %[3]s
    semantic-checks: off
zone:
  - domain: %[4]s
    file: %[5]s
    zonefile-load: whole
    journal-content: none
`, kdir, port, filepath.Dir(zoneFile), dnsBenchZone, filepath.Base(zoneFile), affinity)
	path := filepath.Join(kdir, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := framework.Start(dir, fmt.Sprintf("knot-dnsbench-%v", affinity), nil, "knotd", "-c", path)
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), p.Stop
}

// startNSDFor runs NSD, authoritative for the zone file, with one server
// process per core (server-count 2, reuseport) and its RRL off.
func startNSDFor(b *testing.B, dir, zoneFile string) (string, func()) {
	port := freePortOrFail(b)
	ndir := filepath.Join(dir, "nsd")
	if err := os.MkdirAll(ndir, 0o755); err != nil {
		b.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
  ip-address: 127.0.0.1
  port: %[2]d
  server-count: 2
  reuseport: yes
  rrl-ratelimit: 0
  zonesdir: "%[1]s"
  database: ""
  pidfile: "%[1]s/nsd.pid"
  xfrdfile: "%[1]s/xfrd.state"
  zonelistfile: "%[1]s/zone.list"
  username: ""
  chroot: ""
  verbosity: 0
remote-control:
  control-enable: no
zone:
  name: "%[3]s"
  zonefile: "%[4]s"
`, ndir, port, dnsBenchZone, zoneFile)
	path := filepath.Join(ndir, "nsd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := framework.Start(dir, "nsd-dnsbench", nil, "nsd", "-d", "-c", path)
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), p.Stop
}

// startEchoResponder runs the ceiling of the benchmark: a server that
// answers each query with the query itself flagged as a response (no
// lookup, no packing), one socket per core on a SO_REUSEPORT port, in its
// own process (this test binary re-run as LBDNS_ECHO_RESPONDER=addr), with
// the system calls lbdns makes (echoBlocking). What dnsperf gets from it is
// what this machine, its loopback, Go's runtime and dnsperf allow.
func startEchoResponder(b *testing.B, dir string) (string, func()) {
	addr := fmt.Sprintf("127.0.0.1:%d", freePortOrFail(b))
	p, err := framework.Start(dir, "echo-responder", []string{"LBDNS_ECHO_RESPONDER=" + addr}, os.Args[0], "-test.run", "^$")
	if err != nil {
		b.Fatal(err)
	}
	return addr, p.Stop
}

// serveEcho is the echo responder's process (see startEchoResponder): as
// lbdns, a processor more per reader (dnsserver.reserveProcs), and queries
// steered to the socket of their CPU (dnsserver.spreadByCPU).
func serveEcho(addr string) error {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) { serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1) }); err != nil {
			return err
		}
		return serr
	}}
	readers := runtime.GOMAXPROCS(0)
	runtime.GOMAXPROCS(2 * readers)
	errc := make(chan error, readers)
	for i := range readers {
		pc, err := lc.ListenPacket(context.Background(), "udp", addr)
		if err != nil {
			return err
		}
		if i == 0 {
			if err := spreadByCPU(pc, readers); err != nil {
				return err
			}
		}
		go func() { errc <- echoBlocking(pc) }()
	}
	return <-errc
}

func freePortOrFail(b *testing.B) int {
	port, err := framework.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	return port
}

// peerVersion is the first line of a server's version output.
func peerVersion(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	return strings.TrimSpace(strings.SplitN(string(out), "\n", 2)[0])
}

func lastField(s string) string {
	f := strings.Fields(s)
	if len(f) == 0 {
		return "?"
	}
	return f[len(f)-1]
}

// spreadByCPU attaches to pc's reuseport group the program lbdns attaches
// by default: each datagram to the socket at its CPU modulo the sockets.
func spreadByCPU(pc net.PacketConn, sockets int) error {
	raw, err := pc.(*net.UDPConn).SyscallConn()
	if err != nil {
		return err
	}
	prog := []unix.SockFilter{{Code: 0x20, K: 0xfffff024}, {Code: 0x94, K: uint32(sockets)}, {Code: 0x16}}
	var serr error
	if err := raw.Control(func(fd uintptr) {
		serr = unix.SetsockoptSockFprog(int(fd), unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
			&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
	}); err != nil {
		return err
	}
	return serr
}
