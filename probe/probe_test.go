package probe

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// listen opens a real loopback listener and returns its IP and port.
func listen(t testing.TB) (net.Listener, netip.Addr, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	ap := netip.MustParseAddrPort(ln.Addr().String())
	return ln, ap.Addr(), int(ap.Port())
}

// acceptForever accepts connections and holds them open without a byte.
func acceptForever(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(io.Discard, c) }()
		}
	}()
}

// closedPort returns a loopback port with nothing listening.
func closedPort(t *testing.T) (netip.Addr, int) {
	ln, ip, port := listen(t)
	ln.Close()
	return ip, port
}

func httpServer(t *testing.T, h http.HandlerFunc) (netip.Addr, int) {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	return ap.Addr(), int(ap.Port())
}

func status(code int) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func TestProbeFuncs(t *testing.T) {
	funcs := Funcs()
	run := func(kind Kind, ip netip.Addr, port int, path string, timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return funcs[kind](ctx, ip, Check{Kind: kind, Port: port, Path: path})
	}

	t.Run("tcp accepting", func(t *testing.T) {
		ln, ip, port := listen(t)
		acceptForever(ln)
		if err := run(TCP, ip, port, "", time.Second); err != nil {
			t.Fatalf("want success, got %v", err)
		}
	})
	t.Run("tcp refused", func(t *testing.T) {
		ip, port := closedPort(t)
		err := run(TCP, ip, port, "", time.Second)
		if err == nil || !strings.Contains(err.Error(), "refused") {
			t.Fatalf("want connection refused, got %v", err)
		}
	})
	t.Run("http accepting but never answering times out", func(t *testing.T) {
		ln, ip, port := listen(t)
		acceptForever(ln)
		start := time.Now()
		err := run(HTTP, ip, port, "/", 200*time.Millisecond)
		if err == nil || !strings.Contains(err.Error(), "deadline") {
			t.Fatalf("want a deadline error, got %v", err)
		}
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("probe ignored its timeout: took %s", took)
		}
	})
	t.Run("http 200", func(t *testing.T) {
		var gotPath, gotHost atomic.Value
		ip, port := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
			gotPath.Store(r.URL.Path)
			gotHost.Store(r.Host)
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := funcs[HTTP](ctx, ip, Check{Kind: HTTP, Port: port, Path: "/ready", Host: "app.example.com"}); err != nil {
			t.Fatalf("want success, got %v", err)
		}
		if gotPath.Load() != "/ready" || gotHost.Load() != "app.example.com" {
			t.Fatalf("request path %v host %v", gotPath.Load(), gotHost.Load())
		}
	})
	t.Run("http 503", func(t *testing.T) {
		ip, port := httpServer(t, status(http.StatusServiceUnavailable))
		if err := run(HTTP, ip, port, "/", time.Second); err == nil || !strings.Contains(err.Error(), "503") {
			t.Fatalf("want HTTP 503 failure, got %v", err)
		}
	})
	t.Run("http redirect is an answer and is not followed", func(t *testing.T) {
		var hits atomic.Int32
		ip, port := httpServer(t, func(w http.ResponseWriter, r *http.Request) {
			hits.Add(1)
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		})
		if err := run(HTTP, ip, port, "/", time.Second); err != nil {
			t.Fatalf("want success on 302, got %v", err)
		}
		if hits.Load() != 1 {
			t.Fatalf("redirect followed: %d requests", hits.Load())
		}
	})
	t.Run("https with a self-signed certificate", func(t *testing.T) {
		srv := httptest.NewTLSServer(status(http.StatusNoContent))
		defer srv.Close()
		ap := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "https://"))
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if err := funcs[HTTPS](ctx, ap.Addr(), Check{Kind: HTTPS, Port: int(ap.Port()), Path: "/", Host: "app.example.com"}); err != nil {
			t.Fatalf("want success, got %v", err)
		}
	})
	t.Run("http answer with 200,000 tiny headers fails", func(t *testing.T) {
		ln, ip, port := listen(t)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				go func() {
					defer c.Close()
					_, _ = c.Read(make([]byte, 4096))
					_, _ = io.WriteString(c, "HTTP/1.1 200 OK\r\n"+strings.Repeat("X: y\r\n", 200000)+"\r\n")
				}()
			}
		}()
		err := run(HTTP, ip, port, "/", 2*time.Second)
		if err == nil || !strings.Contains(err.Error(), "headers exceed 64 KiB") {
			t.Fatalf("want a failure naming the header bound, got %v", err)
		}
	})
	t.Run("kube-proxy healthz 503 without local endpoints", func(t *testing.T) {
		var localEndpoints atomic.Int32
		ip, port := httpServer(t, kubeProxyHealthz(&localEndpoints))
		if err := run(HealthCheckNodePort, ip, port, "/healthz", time.Second); err == nil {
			t.Fatal("want failure with no local endpoints")
		}
		localEndpoints.Store(1)
		if err := run(HealthCheckNodePort, ip, port, "/healthz", time.Second); err != nil {
			t.Fatalf("want success with a local endpoint, got %v", err)
		}
	})
}

// kubeProxyHealthz answers like kube-proxy's healthCheckNodePort server.
func kubeProxyHealthz(local *atomic.Int32) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		n := local.Load()
		if n == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		_, _ = w.Write([]byte(`{"service":{"namespace":"default","name":"web"},"localEndpoints":` + string(rune('0'+n)) + `}`))
	}
}

func TestStatusHysteresis(t *testing.T) {
	fail := context.DeadlineExceeded
	now := time.Unix(1000, 0)
	steps := []struct {
		err       error
		want      State
		changed   bool
		successes int
		failures  int
	}{
		{nil, Up, true, 1, 0},     // first result decides
		{fail, Up, false, 0, 1},   // one failure is not enough (fall 2)
		{nil, Up, false, 1, 0},    // success resets the failure count
		{fail, Up, false, 0, 1},   //
		{fail, Down, true, 0, 2},  // second consecutive failure: down
		{nil, Down, false, 1, 0},  // one success is not enough (rise 3)
		{nil, Down, false, 2, 0},  //
		{fail, Down, false, 0, 1}, // a failure resets the success count
		{nil, Down, false, 1, 0},
		{nil, Down, false, 2, 0},
		{nil, Up, true, 3, 0}, // third consecutive success: up
	}
	var s Status
	for i, step := range steps {
		now = now.Add(time.Second)
		var changed bool
		s, changed = s.next(step.err, now, 3, 2, Damping{})
		if s.State != step.want || changed != step.changed || s.Successes != step.successes || s.Failures != step.failures {
			t.Fatalf("step %d: got %v changed=%v s=%d f=%d, want %v changed=%v s=%d f=%d",
				i, s.State, changed, s.Successes, s.Failures, step.want, step.changed, step.successes, step.failures)
		}
		if changed && !s.LastTransition.Equal(now) {
			t.Fatalf("step %d: LastTransition not updated", i)
		}
	}
	if s2, _ := (Status{}).next(fail, now, 3, 2, Damping{}); s2.State != Down || s2.LastError == "" {
		t.Fatalf("first failure: %+v", s2)
	}
}
