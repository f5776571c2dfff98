package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// heldLease is the Lease lock that remembers, by this process's own
// monotonic clock, when this replica last wrote itself into the Lease as
// its holder. Other replicas count the lease from when they see that write,
// which is after the request was sent, so the lease is surely held for the
// renew deadline after that moment: that is when writes are allowed. A
// leader paused longer than that (SIGSTOP, a frozen VM) finds on waking
// that it may not write, before client-go has even noticed it lost the
// Lease.
type heldLease struct {
	resourcelock.Interface
	valid time.Duration // how long after a renewal writes are allowed

	mu      sync.Mutex
	renewed time.Time // when the last successful renewal was sent; zero: not held
}

func (l *heldLease) Create(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	sent := time.Now()
	err := l.Interface.Create(ctx, r)
	l.note(r, sent, err)
	return err
}

func (l *heldLease) Update(ctx context.Context, r resourcelock.LeaderElectionRecord) error {
	sent := time.Now()
	err := l.Interface.Update(ctx, r)
	l.note(r, sent, err)
	return err
}

func (l *heldLease) note(r resourcelock.LeaderElectionRecord, sent time.Time, err error) {
	if err != nil {
		return // a failed renewal proves nothing; the last good one still counts until it expires
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r.HolderIdentity == l.Identity() {
		l.renewed = sent
	} else {
		l.renewed = time.Time{} // released
	}
}

// Held returns nil while this replica surely holds the Lease.
func (l *heldLease) Held() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.renewed.IsZero() {
		return fmt.Errorf("this replica does not hold the Lease")
	}
	if age := time.Since(l.renewed); age >= l.valid {
		return fmt.Errorf("the Lease was last renewed %s ago by this replica's clock (writes allowed for %s)",
			age.Round(time.Millisecond), l.valid)
	}
	return nil
}
