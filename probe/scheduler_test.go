package probe

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/internal/testwait"
)

func TestSchedulerFollowsARealListener(t *testing.T) {
	ln, ip, port := listen(t)
	acceptForever(ln)
	var changes atomic.Int32
	s := NewScheduler[string](Options{
		Interval: 20 * time.Millisecond, Timeout: 500 * time.Millisecond, Rise: 2, Fall: 2,
		Jitter: 0.2, Concurrency: 4, Funcs: Funcs(), OnChange: func() { changes.Add(1) },
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()

	s.Sync(ctx, map[string]Target{"web": {IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}}}}})
	state := func(want State) func() bool {
		return func() bool { st, ok := s.Status("web"); return ok && st.State == want }
	}
	testwait.For(t, "up", state(Up))

	ln.Close()
	testwait.For(t, "down after the listener closed", state(Down))
	st, _ := s.Status("web")
	if st.Failures < 2 || st.LastError == "" {
		t.Fatalf("down with %d failures, error %q", st.Failures, st.LastError)
	}

	ln2, err := net.Listen("tcp", netip.AddrPortFrom(ip, uint16(port)).String())
	if err != nil {
		t.Fatalf("re-listening: %v", err)
	}
	defer ln2.Close()
	acceptForever(ln2)
	testwait.For(t, "up again after rise", state(Up))
	if st, _ := s.Status("web"); st.Successes < 2 {
		t.Fatalf("up after %d successes, want rise=2", st.Successes)
	}
	if changes.Load() < 3 {
		t.Fatalf("OnChange called %d times, want at least 3 (up, down, up)", changes.Load())
	}

	if st, _ := s.Status("web"); st.Rounds < uint64(st.Successes+st.Failures) || st.Rounds < 5 {
		t.Fatalf("%d rounds recorded after up, down, up", st.Rounds)
	}

	s.Sync(ctx, nil)
	if _, ok := s.Status("web"); ok {
		t.Fatal("removed target still has a status")
	}
}

// Status reads one key from the one-lock view of every status.
func (s *Scheduler[K]) Status(k K) (Status, bool) {
	st, ok := s.Statuses()[k]
	return st, ok
}

func TestSchedulerOneProbeInFlightAndBounded(t *testing.T) {
	const targets, bound = 20, 3
	var mu sync.Mutex
	inFlight := map[netip.Addr]int{}
	total, maxTotal, maxPerTarget := 0, 0, 0
	var rounds atomic.Int32
	slow := func(ctx context.Context, ip netip.Addr, _ Check) error {
		mu.Lock()
		inFlight[ip]++
		total++
		maxPerTarget = max(maxPerTarget, inFlight[ip])
		maxTotal = max(maxTotal, total)
		mu.Unlock()
		select {
		case <-time.After(15 * time.Millisecond):
		case <-ctx.Done():
		}
		mu.Lock()
		inFlight[ip]--
		total--
		mu.Unlock()
		rounds.Add(1)
		return nil
	}
	s := NewScheduler[int](Options{
		Interval: time.Millisecond, Timeout: time.Second, Rise: 1, Fall: 1, Concurrency: bound,
		Funcs: map[Kind]Func{TCP: slow},
	})
	ctx, cancel := context.WithCancel(context.Background())
	desired := map[int]Target{}
	for i := range targets {
		desired[i] = Target{IP: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), Spec: Spec{Checks: []Check{{Kind: TCP, Port: 1}}}}
	}
	s.Sync(ctx, desired)
	testwait.For(t, "100 probe rounds", func() bool { return rounds.Load() >= 100 })
	cancel()
	s.Wait()
	if maxPerTarget != 1 {
		t.Errorf("max probes in flight for one target = %d, want 1", maxPerTarget)
	}
	if maxTotal > bound || maxTotal < 2 {
		t.Errorf("max probes in flight = %d, want 2..%d", maxTotal, bound)
	}
}

func TestSchedulerSpecChangeKeepsStatus(t *testing.T) {
	ln, ip, port := listen(t)
	acceptForever(ln)
	s := NewScheduler[string](Options{Interval: 10 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2, Concurrency: 1, Funcs: Funcs()})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Sync(ctx, map[string]Target{"a": {IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}}}}})
	testwait.For(t, "up", func() bool { st, _ := s.Status("a"); return st.State == Up })
	// A new spec whose check fails: the target stays up until fall failures.
	s.Sync(ctx, map[string]Target{"a": {IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}, {Kind: "unknown-kind", Port: 1}}}}})
	if st, _ := s.Status("a"); st.State != Up {
		t.Fatalf("spec change reset the state to %v", st.State)
	}
	testwait.For(t, "down with the failing check", func() bool { st, _ := s.Status("a"); return st.State == Down })
}
