package probe

import (
	"context"
	"errors"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Identical checks of several targets run once: two Services with the same
// LB IP and check, or the node probes of the IPs on one node (a node check
// asks the node, whichever of its IPs it is sent to). Targets in their
// steady state probe on a grid (nextOnGrid) on which every target of one IP
// or node has the same moments, so their rounds meet and share each run of
// a check they have in common; a target whose state is changing probes on
// its own and shares only what it meets.

// shareGrace is how long a finished run still serves the targets that
// asked at the same moment but woke up a little later.
const shareGrace = 20 * time.Millisecond

// sweepEvery bounds the finished runs kept: every sweepEvery runs, those
// past their grace are forgotten.
const sweepEvery = 1024

// runKey identifies a check wherever it runs: a node check by its node when
// the node is known, any other by the IP it probes.
type runKey struct {
	ip    netip.Addr
	node  string
	check Check
}

func keyOf(t Target, c Check) runKey {
	if t.Node != "" && (c.Kind == HealthCheckNodePort || c.Kind == KubeProxy) {
		return runKey{node: t.Node, check: c}
	}
	return runKey{ip: t.IP, check: c}
}

// sharedRuns hands the result of one execution of a check to every target
// that asks for it while it runs or within shareGrace after, each result to
// each target once: fall and rise count distinct executions.
type sharedRuns struct {
	mu   sync.Mutex
	runs map[runKey]*run
	seq  uint64
}

type run struct {
	id   uint64
	done chan struct{}
	err  error
	end  time.Time
}

func newSharedRuns() *sharedRuns { return &sharedRuns{runs: map[runKey]*run{}} }

// do returns the result of key's check for a target whose previous result
// of it came from run last: the run in flight, or one that ended within
// shareGrace, unless that is the one it used already; otherwise it executes
// the check. It returns the run's id and whether this call executed it.
func (r *sharedRuns) do(ctx context.Context, key runKey, last uint64, exec func() error) (uint64, error, bool) {
	r.mu.Lock()
	if cur := r.runs[key]; cur != nil && cur.id != last {
		select {
		case <-cur.done:
			if time.Since(cur.end) <= shareGrace {
				r.mu.Unlock()
				return cur.id, cur.err, false
			}
		default:
			r.mu.Unlock()
			select {
			case <-cur.done:
			case <-ctx.Done():
				return 0, ctx.Err(), false
			}
			// A run cut short because its own target went away says
			// nothing of the check: run it again.
			if !errors.Is(cur.err, context.Canceled) {
				return cur.id, cur.err, false
			}
			r.mu.Lock()
		}
	}
	r.seq++
	if r.seq%sweepEvery == 0 {
		r.sweep()
	}
	mine := &run{id: r.seq, done: make(chan struct{})}
	r.runs[key] = mine
	r.mu.Unlock()

	mine.err = exec()
	r.mu.Lock()
	mine.end = time.Now()
	close(mine.done)
	r.mu.Unlock()
	return mine.id, mine.err, true
}

// sweep forgets the runs past their grace; r.mu is held.
func (r *sharedRuns) sweep() {
	for k, run := range r.runs {
		select {
		case <-run.done:
			if time.Since(run.end) > shareGrace {
				delete(r.runs, k)
			}
		default:
		}
	}
}

var phaseSeed = maphash.MakeSeed()

// phaseOf places a target on the probing grid: by its node when its node
// probes are shared, else by its IP.
func phaseOf(t Target) uint64 {
	if t.Node != "" {
		for _, c := range t.Spec.Checks {
			if c.Kind == HealthCheckNodePort || c.Kind == KubeProxy {
				return maphash.String(phaseSeed, t.Node)
			}
		}
	}
	b := t.IP.As16()
	return maphash.Bytes(phaseSeed, b[:])
}

// nextOnGrid returns the next moment, at least a quarter period after now,
// at which a target of this phase probes: once per period, at the phase's
// place in it, moved by up to ±jitter of the period, differently in each
// period but the same for every target of the phase.
func nextOnGrid(now time.Time, period time.Duration, phase uint64, jitter float64) time.Time {
	p, n := int64(period), now.UnixNano()
	cycle := n / p
	var at int64
	for c := cycle; c <= cycle+3; c++ {
		j := float64(mix(phase^uint64(c)))/(1<<64)*2 - 1 // in [-1, 1), fixed for the phase and period
		at = c*p + int64(phase%uint64(p)) + int64(j*jitter*float64(p))
		if at-n >= p/4 {
			break
		}
	}
	return time.Unix(0, at)
}

// mix is splitmix64's finaliser: a well-spread hash of x.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	return x ^ x>>31
}
