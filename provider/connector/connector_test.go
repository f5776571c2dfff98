package connector

import (
	"context"
	"encoding/gob"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/internal/testmetrics"
	"github.com/lbdns/lbdns/internal/testwait"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/provider"
)

// fakeState is a controller stand-in: a snapshot and a ready channel.
type fakeState struct {
	mu      sync.Mutex
	snap    *model.Snapshot
	ready   chan struct{}
	changed chan struct{}
}

func newState() *fakeState {
	ip := netip.MustParseAddr("192.0.2.1")
	return &fakeState{
		ready:   make(chan struct{}),
		changed: make(chan struct{}),
		snap: &model.Snapshot{Generation: 1, Hostnames: model.NewDecisions([]model.Decision{{Hostname: "app.example.com", TTL: 30,
			Targets: []model.TargetDecision{{Target: model.Target{Key: model.Key{Namespace: "ns", Service: "a", IP: ip}, Weight: 100},
				Healthy: true, Published: true}}}})},
	}
}

func (f *fakeState) Snapshot() *model.Snapshot { f.mu.Lock(); defer f.mu.Unlock(); return f.snap }
func (f *fakeState) Changed() <-chan struct{}  { return f.changed }
func (f *fakeState) Ready() <-chan struct{}    { return f.ready }

func start(t *testing.T, st *fakeState, reg prometheus.Registerer) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	opts := Options{MaxConns: 4}
	if reg != nil {
		opts.Metrics = NewMetrics(reg)
		opts.Observer = &provider.SyncObserver{Output: Output, Metrics: provider.NewMetrics(reg)}
	}
	srv := New(st, st, opts)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return ln.Addr().String()
}

// read decodes what external-dns's connector source decodes.
func read(t *testing.T, addr string) []*endpoint.Endpoint {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var eps []*endpoint.Endpoint
	if err := gob.NewDecoder(conn).Decode(&eps); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return eps
}

func TestConnectorServesEndpoints(t *testing.T) {
	st := newState()
	close(st.ready)
	reg := prometheus.NewRegistry()
	addr := start(t, st, reg)
	for range 3 { // one answer per connection, every time
		eps := read(t, addr)
		if len(eps) != 1 || eps[0].DNSName != "app.example.com" || eps[0].RecordType != "A" ||
			len(eps[0].Targets) != 1 || eps[0].Targets[0] != "192.0.2.1" || eps[0].RecordTTL != 30 {
			t.Fatalf("endpoints = %v", eps)
		}
	}
	// The server counts after its write, so the count may trail the reads.
	testwait.For(t, "lbdns_sync_total{output=connector,result=success} = 3", func() bool {
		return testmetrics.Value(t, reg, "lbdns_sync_total", "output", Output, "result", "success") == 3
	})
}

func TestConnectorWritesNothingBeforeReady(t *testing.T) {
	st := newState()
	addr := start(t, st, nil)
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	// Not ready: the connection stays open and silent.
	_ = conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
	n, err := conn.Read(make([]byte, 1))
	if ne, ok := err.(net.Error); n != 0 || !ok || !ne.Timeout() {
		t.Fatalf("before ready: read %d bytes, err %v; want a timeout with nothing read", n, err)
	}

	// Ready: the held connection gets the endpoints at once.
	close(st.ready)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var eps []*endpoint.Endpoint
	if err := gob.NewDecoder(conn).Decode(&eps); err != nil {
		t.Fatalf("after ready: %v", err)
	}
	if len(eps) != 1 || eps[0].DNSName != "app.example.com" {
		t.Fatalf("endpoints = %v", eps)
	}
}

func TestConnectorBoundsConnections(t *testing.T) {
	st := newState()
	addr := start(t, st, nil) // MaxConns 4
	var conns []net.Conn
	for range 6 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns = append(conns, c)
	}
	// All six are held (4 handled, 2 waiting in the backlog), none closed.
	close(st.ready)
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		var eps []*endpoint.Endpoint
		if err := gob.NewDecoder(c).Decode(&eps); err != nil || len(eps) != 1 {
			t.Fatalf("connection %d: %v, %v", i, eps, err)
		}
	}
}
