package controller

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lbdns/lbdns/probe"
)

// ErrStaleView is returned by Fresh while lbdns's view may be out of date
// after a time jump.
var ErrStaleView = errors.New("view may be stale after a time jump")

// clockTick is how often the controller notes that it runs; a longer gap
// between two notes is a time jump (the process was paused, the machine
// suspended, or starved of CPU).
const clockTick = 100 * time.Millisecond

// freshness remembers time jumps. After one, the published sets were decided
// on probe results from before the jump: they count as fresh again only once
// every published target that is up by its probes has a result from after
// it (a stale "up" would publish a dead IP; targets published while down, by
// fail-open, are published whatever their next result).
type freshness struct {
	maxGap time.Duration // a gap longer than this is a jump

	mu       sync.Mutex
	lastTick time.Time
	jumpedAt time.Time // zero when no jump awaits a fresh probe round
}

func newFreshness(maxGap time.Duration) *freshness {
	return &freshness{maxGap: maxGap, lastTick: time.Now()}
}

// tick notes that the process runs now, and records a jump, returning its
// length, if the last note is too old.
func (f *freshness) tick(now time.Time) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	gap := now.Sub(f.lastTick)
	f.lastTick = now
	if gap > f.maxGap {
		f.jumpedAt = now
		return gap
	}
	return 0
}

// pending returns the time of a jump that still awaits a fresh probe round,
// or an error when a jump is under way right now (the ticker has not run
// since the process resumed).
func (f *freshness) pending(now time.Time) (time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if gap := now.Sub(f.lastTick); gap > f.maxGap {
		return time.Time{}, fmt.Errorf("%w: the process did not run for %s", ErrStaleView, gap.Round(time.Millisecond))
	}
	return f.jumpedAt, nil
}

func (f *freshness) settle(jumpedAt time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.jumpedAt.Equal(jumpedAt) {
		f.jumpedAt = time.Time{}
	}
}

// Fresh returns nil when the published sets rest on a current view, and an
// error wrapping ErrStaleView while a time jump awaits a fresh probe round.
// Writers call it right before they write (composed with the Lease's fence
// in cmd/lbdns); it changes nothing but the memory of the jump.
func (c *Controller) Fresh() error {
	jumpedAt, err := c.fresh.pending(time.Now())
	if err != nil || jumpedAt.IsZero() {
		return err
	}
	snap := c.snap.Load()
	stale := 0
	for d := range snap.Hostnames.All() {
		for _, t := range d.Targets {
			if t.Published && t.Probed && t.ProbeStatus.State == probe.Up && !t.ProbeStatus.LastProbe.After(jumpedAt) {
				stale++
			}
		}
	}
	if !snap.Taken.After(jumpedAt) || stale > 0 { // watchClock has the loop decide again meanwhile
		return fmt.Errorf("%w at %s: waiting for a fresh probe round (%d published targets not probed since)",
			ErrStaleView, jumpedAt.Format(time.RFC3339), stale)
	}
	c.fresh.settle(jumpedAt)
	c.log.Info("fresh probe round after a time jump: writing again", "jumpedAt", jumpedAt.Format(time.RFC3339))
	return nil
}

// redecideAfterJump spaces the passes that decide everything again while a
// time jump awaits a fresh probe round.
const redecideAfterJump = 250 * time.Millisecond

// watchClock notes the time every clockTick until done, says when it
// jumped, and, until a fresh probe round settled the jump, has the loop
// decide everything again now and then: probe results that change no state
// trigger no reconcile, yet the writers wait for a snapshot made of them.
func (c *Controller) watchClock(done <-chan struct{}) {
	c.fresh.tick(time.Now())
	t := time.NewTicker(clockTick)
	defer t.Stop()
	var redecided time.Time
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			if gap := c.fresh.tick(now); gap > 0 {
				c.log.Warn("time jump: writes wait for a fresh probe round", "gap", gap.Round(time.Millisecond).String())
			}
			// Fresh settles the jump once the snapshot is fresh, writers or not.
			if jumpedAt, _ := c.fresh.pending(now); !jumpedAt.IsZero() && c.Fresh() != nil && now.Sub(redecided) >= redecideAfterJump {
				redecided = now
				c.dirt.setRedecide()
				c.Trigger()
			}
		}
	}
}
