package main

import (
	"context"
	"log/slog"
	"sync"
)

// group runs the parts of lbdns until ctx is done or the first one fails;
// then it cancels the others and waits for them.
type group struct {
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu  sync.Mutex
	err error // the first failure
}

func newGroup(ctx context.Context) *group {
	ctx, cancel := context.WithCancel(ctx)
	return &group{ctx: ctx, cancel: cancel}
}

// Go runs f; an error from f stops the group.
func (g *group) Go(f func(ctx context.Context) error) {
	g.wg.Go(func() {
		if err := f(g.ctx); err != nil {
			g.mu.Lock()
			if g.err == nil {
				g.err = err
			}
			g.mu.Unlock()
			g.cancel()
		}
	})
}

// Stop stops the group without a failure: lbdns is done.
func (g *group) Stop() { g.cancel() }

func (g *group) failure() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.err
}

// Wait blocks until the group stops, waits for every part to return, and
// returns the first failure.
func (g *group) Wait(log *slog.Logger) error {
	<-g.ctx.Done()
	if g.failure() == nil {
		log.Info("shutting down")
	}
	g.wg.Wait()
	g.cancel()
	err := g.failure()
	if err != nil {
		log.Error("stopped", "err", err)
	}
	return err
}
