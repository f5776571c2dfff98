package provider

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/internal/testsnap"
	"github.com/lbdns/lbdns/internal/testwait"
)

// recorder is a Writer that remembers what it was asked to write and fails
// while failures > 0.
type recorder struct {
	mu       sync.Mutex
	failures int
	writes   []Desired
}

func (r *recorder) Write(_ context.Context, d Desired) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes = append(r.writes, d)
	if r.failures > 0 {
		r.failures--
		return errors.New("server unavailable")
	}
	return nil
}

// last returns the hostnames of the last write, and the number of writes.
func (r *recorder) last() ([]string, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.writes) == 0 {
		return nil, 0
	}
	var names []string
	for _, ep := range r.writes[len(r.writes)-1].Endpoints {
		names = append(names, ep.DNSName)
	}
	slices.Sort(names)
	return slices.Compact(names), len(r.writes)
}

func TestWriteLoopWaitsFiltersRetriesAndFollows(t *testing.T) {
	f := testsnap.NewFeed(testsnap.Build(1, map[string][]string{"a.example.com": {"192.0.2.1"}, "b.example.org": {"192.0.2.2"}}))
	w := &recorder{failures: 2}
	m := NewMetrics(prometheus.NewRegistry())
	loop := NewWriteLoop(f, f, w, LoopOptions{Output: "test", DomainFilter: endpoint.NewDomainFilter([]string{"example.com"}),
		SyncInterval: time.Hour, Debounce: 5 * time.Millisecond, MinBackoff: 5 * time.Millisecond, Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	time.Sleep(30 * time.Millisecond)
	if _, n := w.last(); n != 0 {
		t.Fatalf("%d writes before ready", n)
	}
	f.MakeReady()
	testwait.For(t, "a write after two failures", func() bool { _, n := w.last(); return n == 3 })
	if names, _ := w.last(); !slices.Equal(names, []string{"a.example.com"}) {
		t.Fatalf("wrote %v, want only the hostname inside the domain filter", names)
	}
	if v := testutil.ToFloat64(m.syncs.WithLabelValues("test", "error")); v != 2 {
		t.Errorf("lbdns_sync_total{result=error} = %v, want 2", v)
	}
	f.Set(testsnap.Build(2, map[string][]string{"a.example.com": {"192.0.2.1"}, "c.example.com": {"192.0.2.3"}}))
	testwait.For(t, "the change written", func() bool {
		names, _ := w.last()
		return slices.Equal(names, []string{"a.example.com", "c.example.com"})
	})
}

// A closed fence holds every write back without counting a failure; the
// write happens once the fence opens.
func TestWriteLoopFence(t *testing.T) {
	f := testsnap.NewFeed(testsnap.Build(1, map[string][]string{"a.example.com": {"192.0.2.1"}}))
	f.MakeReady()
	w := &recorder{}
	m := NewMetrics(prometheus.NewRegistry())
	var open atomic.Bool
	loop := NewWriteLoop(f, f, w, LoopOptions{Output: "test", SyncInterval: time.Hour, MinBackoff: 5 * time.Millisecond,
		Fence:   func() error { return map[bool]error{false: errors.New("lease not held"), true: nil}[open.Load()] },
		Metrics: m})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	testwait.For(t, "a fenced write counted", func() bool { return testutil.ToFloat64(m.fencedWrites.WithLabelValues("test")) >= 3 })
	if _, n := w.last(); n != 0 {
		t.Fatalf("%d writes through a closed fence", n)
	}
	if v := testutil.ToFloat64(m.syncs.WithLabelValues("test", "error")); v != 0 {
		t.Errorf("fenced writes counted as %v failed syncs", v)
	}
	open.Store(true)
	testwait.For(t, "the write once the fence opened", func() bool { _, n := w.last(); return n == 1 })
}

// outage is a Writer whose destination is down while down is set: writes
// and pings fail.
type outage struct {
	recorder
	down atomic.Bool
}

func (o *outage) Write(ctx context.Context, d Desired) error {
	if o.down.Load() {
		return errors.New("i/o timeout")
	}
	return o.recorder.Write(ctx, d)
}

func (o *outage) Ping(context.Context) error {
	if o.down.Load() {
		return errors.New("i/o timeout")
	}
	return nil
}

// After a long outage the backoff is long; pings end it when the
// destination answers again.
func TestWriteLoopRetriesWhenPingsAnswerAgain(t *testing.T) {
	f := testsnap.NewFeed(testsnap.Build(1, map[string][]string{"a.example.com": {"192.0.2.1"}}))
	f.MakeReady()
	w := &outage{}
	w.down.Store(true)
	loop := NewWriteLoop(f, f, w, LoopOptions{Output: "test", SyncInterval: time.Hour,
		MinBackoff: time.Hour, MaxBackoff: time.Hour, PingInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { loop.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	time.Sleep(100 * time.Millisecond) // the first sync failed; an hour of backoff began
	w.down.Store(false)
	testwait.For(t, "the write once pings answered", func() bool { _, n := w.last(); return n == 1 })
}

// planner is a Writer that plans one change per endpoint in a dry run.
type planner struct{}

func (planner) Write(_ context.Context, d Desired) error {
	if !d.DryRun {
		return errors.New("wrote in a dry run")
	}
	for _, ep := range d.Endpoints {
		d.Planned(Change{Action: "create", Name: ep.DNSName + " " + ep.RecordType, Records: ep.Targets})
	}
	return nil
}

// A dry run's plan is logged when it changes, not on every sync, and shown
// in the status.
func TestDryRunLogsAPlanOnce(t *testing.T) {
	var logs strings.Builder
	obs := &SyncObserver{Output: "test"}
	l := NewWriteLoop(nil, nil, planner{}, LoopOptions{Output: "test", DryRun: true, Observer: obs,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	snap := testsnap.Build(1, map[string][]string{"a.example.com": {"192.0.2.1"}})
	for range 3 {
		if err := l.Sync(context.Background(), snap); err != nil {
			t.Fatal(err)
		}
	}
	if n := strings.Count(logs.String(), "dry run: would change"); n != 1 {
		t.Errorf("the same plan logged %d times:\n%s", n, logs.String())
	}
	if err := l.Sync(context.Background(), testsnap.Build(2, nil)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "dry run: nothing to change") {
		t.Errorf("an empty plan was not logged:\n%s", logs.String())
	}
	if st := obs.Status(); !st.DryRun || len(st.Plan) != 0 {
		t.Errorf("status after the empty plan: %+v", st)
	}
}
