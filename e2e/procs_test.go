package e2e

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

// proc is one real process of the environment, logging to a file.
type proc struct {
	name string
	log  string
	cmd  *exec.Cmd
	done chan struct{}
}

// startProc starts a process with its output in dir/name.log.
func startProc(dir, name string, env []string, bin string, args ...string) (*proc, error) {
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
	p := &proc{name: name, log: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	return p, nil
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to 15 s, then kills.
func (p *proc) stop() {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last lines of the process's log, for failure messages.
func (p *proc) tail(lines int) string {
	b, _ := os.ReadFile(p.log)
	parts := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return string(bytes.Join(parts, []byte("\n")))
}

// supervisor keeps a process running, restarting it whenever it exits, as a
// kubelet restarts a container. external-dns exits when its connector source
// fails; this is how it comes back.
type supervisor struct {
	mu       sync.Mutex
	current  *proc
	restarts int
	stopped  chan struct{}
	finished chan struct{}
}

func supervise(start func() (*proc, error)) (*supervisor, error) {
	p, err := start()
	if err != nil {
		return nil, err
	}
	s := &supervisor{current: p, stopped: make(chan struct{}), finished: make(chan struct{})}
	go func() {
		defer close(s.finished)
		for {
			s.mu.Lock()
			cur := s.current
			s.mu.Unlock()
			select {
			case <-s.stopped:
				cur.stop()
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

func (s *supervisor) stop() {
	if s == nil {
		return
	}
	close(s.stopped)
	<-s.finished
}

func (s *supervisor) proc() *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// freePort returns a TCP port free on 127.0.0.1 right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitFor polls cond until it is nil or the timeout passes; the error says
// what it was still waiting for.
func waitFor(timeout time.Duration, what string, cond func() error) error {
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

func (s *supervisor) restartCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.restarts
}

// kill ends the process at once, as a crash or a lost node would.
func (p *proc) kill() {
	if p == nil || p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}
