// Package framework runs the real components the e2e scenarios need on one
// machine, without containers: processes with their logs, a supervisor that
// restarts them as a kubelet would, etcd and kube-apiserver, BIND9, network
// namespaces, and the small clients (DNS, HTTP) the scenarios poll with.
// It knows nothing of lbdns's scenarios; package e2e holds those and the
// fixtures of each output.
package framework

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// Proc is one real process of the environment, logging to a file.
type Proc struct {
	Name string
	// Log is the file the process writes its output to.
	Log  string
	Cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a process with its output in dir/name.log and env added to
// this process's environment.
func Start(dir, name string, env []string, bin string, args ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &Proc{Name: name, Log: logPath, Cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// Done is closed when the process has ended.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Pid is the process's ID.
func (p *Proc) Pid() int { return p.Cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop sends SIGTERM, waits up to 15 s, then kills.
func (p *Proc) Stop() {
	if p == nil || p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
		<-p.done
	}
}

// Kill ends the process and its group at once, as a crash or a lost node
// would.
func (p *Proc) Kill() {
	if p == nil || p.Exited() {
		return
	}
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Tail returns the last lines of the process's log, for failure messages.
func (p *Proc) Tail(lines int) string {
	b, _ := os.ReadFile(p.Log)
	parts := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return string(bytes.Join(parts, []byte("\n")))
}

// Supervisor keeps a process running, restarting it whenever it exits, as a
// kubelet restarts a container. external-dns exits when its connector source
// fails; this is how it comes back.
type Supervisor struct {
	mu       sync.Mutex
	current  *Proc
	restarts int
	stopped  chan struct{}
	finished chan struct{}
}

// Supervise starts a process with start and starts it again, half a second
// after each exit, until Stop.
func Supervise(start func() (*Proc, error)) (*Supervisor, error) {
	p, err := start()
	if err != nil {
		return nil, err
	}
	s := &Supervisor{current: p, stopped: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		for {
			s.mu.Lock()
			cur := s.current
			s.mu.Unlock()
			select {
			case <-s.stopped:
				cur.Stop()
				return
			case <-cur.done:
			}
			select {
			case <-s.stopped:
				return
			case <-time.After(500 * time.Millisecond):
			}
			next, err := start()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.current = next
			s.restarts++
			s.mu.Unlock()
		}
	}()
	return s, nil
}

// Stop stops the process and its restarts; a nil Supervisor does nothing.
func (s *Supervisor) Stop() {
	if s == nil {
		return
	}
	close(s.stopped)
	<-s.finished
}

// Proc is the process running now; nil for a nil Supervisor.
func (s *Supervisor) Proc() *Proc {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// Restarts counts the restarts so far.
func (s *Supervisor) Restarts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// FreePort returns a TCP port free on 127.0.0.1 right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitFor polls cond until it is nil or the timeout passes; the error says
// what it was still waiting for.
func WaitFor(timeout time.Duration, what string, cond func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s: %w", timeout, what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
