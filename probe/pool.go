package probe

import (
	"context"
	"sync"
	"time"
)

// pool bounds the probe rounds that run at once in one of the scheduler's
// pools, and gives a freed slot to the waiter that needs it most, not to the
// one that asked first: a target whose state is changing (a dead target
// passing again) before the rest; then the group (namespace) holding the
// fewest slots, so that one tenant's thousand dead targets cannot starve
// another's; then the target that changed state most recently (recently
// failed before long dead, whose probes only hold slots until their
// timeout); then the first to ask.
type pool struct {
	mu      sync.Mutex
	free    int
	inUse   map[string]int
	waiting []*waiter
	arrived uint64
}

// claim is who asks for a slot.
type claim struct {
	group    string
	changing bool      // its state is changing: rise or fall under way
	since    time.Time // when its state last changed
}

type waiter struct {
	claim
	order uint64
	ready chan struct{}
}

func newPool(size int) *pool { return &pool{free: size, inUse: map[string]int{}} }

// acquire waits for a slot; release it with release(c.group).
func (p *pool) acquire(ctx context.Context, c claim) error {
	p.mu.Lock()
	if p.free > 0 && len(p.waiting) == 0 {
		p.free--
		p.inUse[c.group]++
		p.mu.Unlock()
		return nil
	}
	p.arrived++
	w := &waiter{claim: c, order: p.arrived, ready: make(chan struct{})}
	p.waiting = append(p.waiting, w)
	p.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		defer p.mu.Unlock()
		select {
		case <-w.ready: // granted meanwhile: hand it on
			p.releaseLocked(c.group)
		default:
			p.remove(w)
		}
		return ctx.Err()
	}
}

func (p *pool) release(group string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseLocked(group)
}

func (p *pool) releaseLocked(group string) {
	if p.inUse[group]--; p.inUse[group] <= 0 {
		delete(p.inUse, group)
	}
	if len(p.waiting) == 0 {
		p.free++
		return
	}
	best := p.waiting[0]
	for _, w := range p.waiting[1:] {
		if p.before(w, best) {
			best = w
		}
	}
	p.remove(best)
	p.inUse[best.group]++
	close(best.ready)
}

// before reports whether a gets the next slot rather than b.
func (p *pool) before(a, b *waiter) bool {
	if a.changing != b.changing {
		return a.changing
	}
	if ua, ub := p.inUse[a.group], p.inUse[b.group]; ua != ub {
		return ua < ub
	}
	if !a.since.Equal(b.since) {
		return a.since.After(b.since)
	}
	return a.order < b.order
}

func (p *pool) remove(w *waiter) {
	for i, o := range p.waiting {
		if o == w {
			p.waiting = append(p.waiting[:i], p.waiting[i+1:]...)
			return
		}
	}
}
