package probe

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"sync"
	"time"
)

// Options configure a Scheduler.
type Options struct {
	Interval, Timeout time.Duration
	// DownInterval is the time between two probes of a target that is down
	// (HAProxy's downinter); 0 means Interval.
	DownInterval time.Duration
	// FastInterval is the time to the next probe once a target's state
	// starts to change (an up target failed, a down one passed) until fall
	// or rise is reached or the streak breaks (HAProxy's fastinter); 0 means
	// Interval.
	FastInterval time.Duration
	Rise, Fall   int
	// Damping holds targets that flap withdrawn; zero is off.
	Damping Damping
	// Jitter spreads each interval by up to ±Jitter of itself.
	Jitter float64
	// Concurrency bounds the probe rounds that run at once, in each of three
	// pools: targets that are up, targets not probed yet, and targets that
	// are down. Dead targets, whose probes hold a slot for the whole
	// timeout, can then never delay the probes of live or new ones.
	Concurrency int
	// HeldConnections is how many connections of passed tcp checks may be
	// held open at once (hold.go); 0 holds none. While holding, tcp checks
	// dial themselves: Funcs[TCP] is not called.
	HeldConnections int
	Funcs           map[Kind]Func
	// Metrics count the checks sent and the results taken from another
	// target's run of the same check; nil counts nothing.
	Metrics *Metrics
	Logger  *slog.Logger
}

// Target is what to probe: an IP and its checks.
type Target struct {
	IP   netip.Addr
	Spec Spec
	// Node is the node that carries the IP, when known: the targets of one
	// node share their node checks (shared.go).
	Node string
	// Group is who the target belongs to (its namespace): the pools share
	// their slots fairly among groups.
	Group string
}

// Scheduler probes a changing set of targets, keyed by K, each in its own
// goroutine so that at most one probe per target is in flight.
type Scheduler[K comparable] struct {
	opts Options
	// onChange, if set, is called with the key of a target that changed
	// state, outside the scheduler's lock.
	onChange func(key K)
	// The pools, by the state of the targets that use them.
	pools map[State]*pool

	mu      sync.Mutex
	entries map[K]*entry
	wg      sync.WaitGroup
	shared  *sharedRuns
	holds   *holds
}

type entry struct {
	target  Target
	specKey string
	status  Status
	cancel  context.CancelFunc
	phase   uint64   // its place on the probing grid
	last    []uint64 // per check, the shared run whose result it used last (its loop's alone)
}

// NewScheduler returns a scheduler that probes nothing until Update, and
// calls onChange (if not nil) with the key of every target whose state
// changed.
func NewScheduler[K comparable](opts Options, onChange func(key K)) *Scheduler[K] {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Concurrency < 1 {
		opts.Concurrency = 1
	}
	if opts.DownInterval <= 0 {
		opts.DownInterval = opts.Interval
	}
	if opts.FastInterval <= 0 {
		opts.FastInterval = opts.Interval
	}
	s := &Scheduler[K]{opts: opts, onChange: onChange, entries: map[K]*entry{}, pools: map[State]*pool{}, shared: newSharedRuns(),
		holds: newHolds(opts.HeldConnections, opts.Metrics, opts.Logger)}
	for _, st := range []State{Unknown, Up, Down} {
		s.pools[st] = newPool(opts.Concurrency)
	}
	return s
}

// Update changes part of the probed set: targets in set that are new are
// probed at once, those whose spec changed keep their status and restart
// probing; targets in remove stop. Its cost follows the change, not the
// number of targets. Goroutines live until ctx is done or they are removed.
func (s *Scheduler[K]) Update(ctx context.Context, set map[K]Target, remove []K) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range remove {
		if e, ok := s.entries[k]; ok {
			e.cancel()
			delete(s.entries, k)
		}
	}
	for k, t := range set {
		specKey := t.IP.String() + "|" + t.Node + "|" + t.Spec.String()
		e, ok := s.entries[k]
		if ok && e.specKey == specKey {
			continue
		}
		if ok {
			e.cancel()
		}
		ne := &entry{target: t, specKey: specKey, phase: phaseOf(t), last: make([]uint64, len(t.Spec.Checks))}
		if ok {
			ne.status = e.status
		}
		ectx, cancel := context.WithCancel(ctx)
		ne.cancel = cancel
		s.entries[k] = ne
		s.wg.Add(1)
		go s.loop(ectx, k, ne)
	}
}

// StatusesOf returns the status of each probed target among keys, read at
// one moment: callers decide on this one consistent view instead of asking
// per key.
func (s *Scheduler[K]) StatusesOf(keys []K) map[K]Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[K]Status, len(keys))
	for _, k := range keys {
		if e, ok := s.entries[k]; ok {
			out[k] = e.status
		}
	}
	return out
}

// Unprobed counts the targets whose first probe round has not ended.
func (s *Scheduler[K]) Unprobed() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.entries {
		if e.status.State == Unknown {
			n++
		}
	}
	return n
}

// Wait blocks until every probe goroutine has stopped; cancel the context
// given to Update first.
func (s *Scheduler[K]) Wait() {
	s.wg.Wait()
	s.holds.wait()
}

// loop probes one target at its intervals, and at once when the connection
// held for its first tcp check is closed by the other end.
func (s *Scheduler[K]) loop(ctx context.Context, k K, e *entry) {
	defer s.wg.Done()
	heldKey, holding := s.heldKeyOf(e.target)
	if holding {
		s.holds.use(heldKey)
		defer s.holds.release(heldKey)
	}
	var held *heldConn
	timer := time.NewTimer(0) // the first probe runs at once
	defer timer.Stop()
	for {
		closed := false
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-held.goneC():
			closed = true
		case <-held.replacedC():
			held = s.holds.current(heldKey)
			continue
		}
		st := s.status(e)
		err := s.round(ctx, e, s.pools[st.State], claim{group: e.target.Group, since: st.LastTransition,
			changing: closed || st.Successes > 0 && st.State == Down || st.Failures > 0 && st.State == Up})
		if ctx.Err() != nil {
			return // removed or shutting down: this result means nothing
		}
		timer.Reset(s.delay(e, s.record(k, e, err), time.Now()))
		if holding {
			held = s.holds.current(heldKey)
		}
	}
}

// heldKeyOf returns the run key of t's first tcp check that may be held,
// if the scheduler holds connections.
func (s *Scheduler[K]) heldKeyOf(t Target) (runKey, bool) {
	if s.holds == nil {
		return runKey{}, false
	}
	for _, c := range t.Spec.Checks {
		if c.Kind == TCP && !c.NoHold {
			return keyOf(t, c), true
		}
	}
	return runKey{}, false
}

func (s *Scheduler[K]) status(e *entry) Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return e.status
}

// round runs every check of e's target within one timeout, holding a slot
// of the pool, and returns the first failure. A check that another target
// runs at the same moment is not run twice (shared.go).
func (s *Scheduler[K]) round(ctx context.Context, e *entry, p *pool, c claim) error {
	if err := p.acquire(ctx, c); err != nil {
		return err
	}
	defer p.release(c.group)
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	t := e.target
	for i, c := range t.Spec.Checks {
		f, ok := s.opts.Funcs[c.Kind]
		if !ok {
			return fmt.Errorf("%s: no probe of this kind", c)
		}
		key := keyOf(t, c)
		id, err, ran := s.shared.do(ctx, key, e.last[i], func() error {
			start := time.Now()
			err := s.check(ctx, f, t.IP, c, key)
			s.opts.Metrics.ran(c.Kind, err, time.Since(start)) // executions only: a shared result is not a probe
			return err
		})
		e.last[i] = id
		if !ran {
			s.opts.Metrics.tookShared(c.Kind)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
	}
	return nil
}

// check runs one check; a tcp check that passed leaves its connection to
// the holds, which keep it or close it.
func (s *Scheduler[K]) check(ctx context.Context, f Func, ip netip.Addr, c Check, key runKey) error {
	if c.Kind != TCP || c.NoHold || s.holds == nil {
		return f(ctx, ip, c)
	}
	conn, err := dialTCP(ctx, ip, c)
	if err != nil {
		s.holds.failed(key)
		return err
	}
	s.holds.keep(key, conn)
	return nil
}

// record folds a result into the target's status and returns it.
func (s *Scheduler[K]) record(k K, e *entry, err error) Status {
	s.mu.Lock()
	if s.entries[k] != e { // replaced or removed meanwhile
		s.mu.Unlock()
		return Status{}
	}
	var changed bool
	e.status, changed = e.status.next(err, time.Now(), s.opts.Rise, s.opts.Fall, s.opts.Damping)
	st := e.status
	s.mu.Unlock()
	if changed {
		s.opts.Logger.Debug("probe state changed", "target", k, "ip", e.target.IP, "state", st.State, "err", st.LastError)
		if s.onChange != nil {
			s.onChange(k)
		}
	}
	return st
}

// delay returns the time to the next probe of a target with status st:
// soon and on its own while its state is changing (the fast interval,
// jittered); otherwise on the grid of its IP or node, at the interval
// (jittered), or at the down interval while it is down.
func (s *Scheduler[K]) delay(e *entry, st Status, now time.Time) time.Duration {
	switch {
	case st.State == Up && st.Failures > 0, st.State == Down && st.Successes > 0:
		d := s.opts.FastInterval
		if s.opts.Jitter > 0 {
			d += time.Duration((rand.Float64()*2 - 1) * s.opts.Jitter * float64(d))
		}
		return d
	case st.State == Down:
		// Not jittered: a dead target has no cycle of its own to fall in step
		// with, and without jitter a returning one is found within the down
		// interval, not up to a jitter later.
		return nextOnGrid(now, downInterval(s.opts.DownInterval, now.Sub(st.LastTransition)), e.phase, 0).Sub(now)
	default:
		return nextOnGrid(now, s.opts.Interval, e.phase, s.opts.Jitter).Sub(now)
	}
}

// Backing off the probes of long-dead targets, as Envoy lengthens an
// ejection: a target down for longer than downBackoffAfter is probed half as
// often for every further downBackoffAfter, up to every maxDownBackoff (or
// the down interval, if longer). Thousands of targets dead for good then
// cost few probes, and a recently failed one is not queued behind them.
const (
	downBackoffAfter = time.Minute
	maxDownBackoff   = 30 * time.Second
)

// downInterval is the time between two probes of a target down for downFor.
func downInterval(base, downFor time.Duration) time.Duration {
	limit := max(base, maxDownBackoff)
	d := base
	for n := downFor / downBackoffAfter; n > 0 && d < limit; n-- {
		d *= 2
	}
	return min(d, limit)
}
