package framework

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// IP runs the ip command; the error carries its output.
func IP(args ...string) error {
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("ip %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// IPIgnoreExists runs the ip command, taking "File exists" as done.
func IPIgnoreExists(args ...string) error {
	if err := IP(args...); err != nil && !strings.Contains(err.Error(), "File exists") {
		return err
	}
	return nil
}

// nsMu serialises namespace switches of this process's threads (one at a
// time keeps them easy to reason about; they are rare).
var nsMu sync.Mutex

// InNetns runs f on a thread that has entered the named network namespace;
// sockets f opens stay in it. The thread returns to the root namespace
// after, or is retired if it cannot.
func InNetns(name string, f func() error) error {
	nsMu.Lock()
	defer nsMu.Unlock()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked if the way back fails: the thread then ends with the goroutine
		root, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			errc <- err
			return
		}
		defer root.Close()
		target, err := os.Open("/run/netns/" + name)
		if err != nil {
			errc <- err
			return
		}
		defer target.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("entering %s: %w", name, err)
			return
		}
		err = f()
		if unix.Setns(int(root.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// Forward listens on addr and copies each connection to and from target:
// the nodes reach the API server, which listens on loopback, through it.
func Forward(addr, target string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				u, err := net.Dial("tcp", target)
				if err != nil {
					return
				}
				defer u.Close()
				go func() { _, _ = io.Copy(u, c); u.Close() }()
				_, _ = io.Copy(c, u)
			}()
		}
	}()
	return ln, nil
}
