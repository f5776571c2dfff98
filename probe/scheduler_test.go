package probe

import (
	"context"
	"errors"
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
		Jitter: 0.2, Concurrency: 4, Funcs: Funcs(),
	}, func(string) { changes.Add(1) })
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()

	s.Update(ctx, map[string]Target{"web": {IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}}}}}, nil)
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

	s.Update(ctx, nil, []string{"web"})
	if _, ok := s.Status("web"); ok {
		t.Fatal("removed target still has a status")
	}
}

// Status reads one key's status.
func (s *Scheduler[K]) Status(k K) (Status, bool) {
	st, ok := s.StatusesOf([]K{k})[k]
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
	}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	desired := map[int]Target{}
	for i := range targets {
		desired[i] = Target{IP: netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)}), Spec: Spec{Checks: []Check{{Kind: TCP, Port: 1}}}}
	}
	s.Update(ctx, desired, nil)
	testwait.For(t, "100 probe rounds", func() bool { return rounds.Load() >= 100 })
	cancel()
	s.Wait()
	if maxPerTarget != 1 {
		t.Errorf("max probes in flight for one target = %d, want 1", maxPerTarget)
	}
	if maxTotal > 3*bound || maxTotal < 2 { // three pools: up, pending, down
		t.Errorf("max probes in flight = %d, want 2..%d", maxTotal, 3*bound)
	}
}

func TestSchedulerSpecChangeKeepsStatus(t *testing.T) {
	ln, ip, port := listen(t)
	acceptForever(ln)
	s := NewScheduler[string](Options{Interval: 10 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2, Concurrency: 1, Funcs: Funcs()}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Update(ctx, map[string]Target{"a": {IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}}}}}, nil)
	testwait.For(t, "up", func() bool { st, _ := s.Status("a"); return st.State == Up })
	// A new spec whose check fails: the target stays up until fall failures.
	s.Update(ctx, map[string]Target{"a": {IP: ip, Spec: Spec{Checks: []Check{{Kind: TCP, Port: port}, {Kind: "unknown-kind", Port: 1}}}}}, nil)
	if st, _ := s.Status("a"); st.State != Up {
		t.Fatalf("spec change reset the state to %v", st.State)
	}
	testwait.For(t, "down with the failing check", func() bool { st, _ := s.Status("a"); return st.State == Down })
}

// Dead targets whose probes hang until the timeout (as a blackholed IP's
// do) hold the slots of their own pool only: a live target keeps its rate.
func TestSchedulerDeadTargetsDoNotStarveLiveOnes(t *testing.T) {
	live := netip.MustParseAddr("127.0.0.1")
	var liveProbes atomic.Int32
	probe := func(ctx context.Context, ip netip.Addr, _ Check) error {
		if ip == live || ip == netip.MustParseAddr("127.0.0.2") {
			liveProbes.Add(1)
			return nil
		}
		<-ctx.Done() // blackholed: nothing ever answers
		return ctx.Err()
	}
	const interval = 20 * time.Millisecond
	s := NewScheduler[int](Options{Interval: interval, Timeout: 200 * time.Millisecond, Rise: 1, Fall: 1, Concurrency: 4,
		Funcs: map[Kind]Func{TCP: probe}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	check := Spec{Checks: []Check{{Kind: TCP, Port: 1}}}
	desired := map[int]Target{0: {IP: live, Spec: check}}
	s.Update(ctx, desired, nil)
	testwait.For(t, "the live target up", func() bool { st, _ := s.Status(0); return st.State == Up })
	for i := 1; i <= 50; i++ {
		desired[i] = Target{IP: netip.AddrFrom4([4]byte{127, 77, 0, byte(i)}), Spec: check}
	}
	s.Update(ctx, desired, nil)
	before := liveProbes.Load()
	time.Sleep(time.Second)
	// 50 dead targets x 200 ms over 4 slots let one round through every
	// 50 ms; the live target has a pool of its own and keeps its rate.
	if n := liveProbes.Load() - before; n < 20 {
		t.Fatalf("the live target was probed %d times in 1s at a %s interval: starved by dead ones", n, interval)
	}
	// A new target is not queued behind the dead ones either.
	testwait.For(t, "every dead target down", func() bool {
		for k := 1; k <= 50; k++ {
			if st, _ := s.Status(k); st.State != Down {
				return false
			}
		}
		return true
	})
	newcomer := netip.MustParseAddr("127.0.0.2")
	desired[99] = Target{IP: newcomer, Spec: check}
	added := time.Now()
	s.Update(ctx, desired, nil)
	testwait.For(t, "the new target probed", func() bool { st, _ := s.Status(99); return st.State != Unknown })
	// Behind the dead targets it would wait for 50 x 200 ms / 4 slots =
	// 2.5 s; alone in its pool it is probed at once (a wide bound here).
	if took := time.Since(added); took > time.Second {
		t.Errorf("the new target's first probe took %s behind dead targets", took)
	}
}

// Once an up target fails, it is probed again at the fast interval until
// fall failures mark it down; once down, at the down interval again.
func TestSchedulerFastIntervalWhileTheStateChanges(t *testing.T) {
	var mu sync.Mutex
	var failing bool
	var failedAt []time.Time
	check := func(context.Context, netip.Addr, Check) error {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			failedAt = append(failedAt, time.Now())
			return errors.New("refused")
		}
		return nil
	}
	const interval, fast = 400 * time.Millisecond, 20 * time.Millisecond
	s := NewScheduler[string](Options{Interval: interval, FastInterval: fast, Timeout: 100 * time.Millisecond, Rise: 2, Fall: 3,
		Concurrency: 1, Funcs: map[Kind]Func{TCP: check}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	s.Update(ctx, map[string]Target{"a": {IP: netip.MustParseAddr("127.0.0.1"), Spec: Spec{Checks: []Check{{Kind: TCP, Port: 1}}}}}, nil)
	testwait.For(t, "up", func() bool { st, _ := s.Status("a"); return st.State == Up })
	mu.Lock()
	failing = true
	mu.Unlock()
	testwait.For(t, "down", func() bool { st, _ := s.Status("a"); return st.State == Down })
	testwait.For(t, "a probe at the down interval", func() bool { mu.Lock(); defer mu.Unlock(); return len(failedAt) >= 4 })
	mu.Lock()
	defer mu.Unlock()
	for i, gap := range []time.Duration{failedAt[1].Sub(failedAt[0]), failedAt[2].Sub(failedAt[1])} {
		if gap >= interval/2 {
			t.Errorf("failure %d came %s after the one before: not at the fast interval (%s)", i+2, gap, fast)
		}
	}
	if gap := failedAt[3].Sub(failedAt[2]); gap < interval/2 {
		t.Errorf("a down target was probed again after %s: still at the fast interval", gap)
	}
}

// A target that failed recently and comes back is not queued behind
// another tenant's dead targets, which hold the down pool's slots for their
// whole timeout.
func TestSchedulerRestoreIsNotQueuedBehindDeadTargets(t *testing.T) {
	live := netip.MustParseAddr("127.0.0.3")
	var liveUp atomic.Bool
	liveUp.Store(true)
	probe := func(ctx context.Context, ip netip.Addr, _ Check) error {
		if ip == live {
			if liveUp.Load() {
				return nil
			}
			return errors.New("refused")
		}
		<-ctx.Done() // blackholed
		return ctx.Err()
	}
	s := NewScheduler[int](Options{Interval: 20 * time.Millisecond, Timeout: 200 * time.Millisecond, Rise: 2, Fall: 1, Concurrency: 4,
		Funcs: map[Kind]Func{TCP: probe}}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	check := Spec{Checks: []Check{{Kind: TCP, Port: 1}}}
	desired := map[int]Target{0: {IP: live, Spec: check, Group: "team-a"}}
	for i := 1; i <= 50; i++ {
		desired[i] = Target{IP: netip.AddrFrom4([4]byte{127, 78, 0, byte(i)}), Spec: check, Group: "mallory"}
	}
	s.Update(ctx, desired, nil)
	testwait.For(t, "every dead target down", func() bool {
		for k := 1; k <= 50; k++ {
			if st, _ := s.Status(k); st.State != Down {
				return false
			}
		}
		return true
	})
	liveUp.Store(false)
	testwait.For(t, "the live target down", func() bool { st, _ := s.Status(0); return st.State == Down })
	liveUp.Store(true)
	back := time.Now()
	testwait.For(t, "the live target up again", func() bool { st, _ := s.Status(0); return st.State == Up })
	// FIFO behind 50 dead x 200 ms over 4 slots: 2.5 s per round, 5 s for
	// rise 2. First in line: two intervals and a little (a wide bound).
	if took := time.Since(back); took > time.Second {
		t.Errorf("restored after %s behind dead targets", took)
	}
}
