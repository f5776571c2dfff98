package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/model"
)

// Writer makes one destination (a DNS provider, DNSEndpoint objects) match
// the published sets.
type Writer interface {
	// Write makes the destination match desired. An error means it may not
	// match yet; the loop retries.
	Write(ctx context.Context, desired Desired) error
}

// Pinger is a Writer that can check cheaply whether its destination
// answers. While syncs fail, the loop pings it every LoopOptions.PingInterval and
// retries at once when it answers again, instead of waiting out the
// backoff.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Desired is what one write is to achieve.
type Desired struct {
	// Generation is the snapshot's, for logs.
	Generation uint64
	// Endpoints are the published sets inside DomainFilter.
	Endpoints []*endpoint.Endpoint
	// DomainFilter bounds what the writer may change: records outside it
	// are left alone, whoever owns them. Never nil.
	DomainFilter *endpoint.DomainFilter
	// Fence must be called immediately before each change the writer
	// makes; when it returns an error (wrapping ErrFenced), the writer
	// changes nothing and returns that error. Never nil.
	Fence func() error
	// DryRun: the writer reads and plans as always, hands each change it
	// would make to Planned, and changes nothing.
	DryRun  bool
	Planned func(Change)
}

// ErrFenced is the error of a write held back by the fence: this replica
// may not write now (it no longer holds the Lease by its own clock, or its
// view is stale after a time jump). It is not the output's failure.
var ErrFenced = errors.New("write fenced")

// Defaults of LoopOptions.
const (
	DefaultDebounce     = 200 * time.Millisecond
	DefaultMinBackoff   = time.Second
	DefaultMaxBackoff   = 30 * time.Second
	DefaultPingInterval = time.Second
)

// LoopOptions configure a WriteLoop.
type LoopOptions struct {
	// Output names the writer in metrics and logs.
	Output string
	// DomainFilter limits the hostnames written; nil means all.
	DomainFilter *endpoint.DomainFilter
	// SyncInterval is the longest time between two full writes.
	SyncInterval time.Duration
	// Debounce collects a burst of changes into one write.
	Debounce time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failed write,
	// which doubles from one to the next.
	MinBackoff, MaxBackoff time.Duration
	// PingInterval is how often a failing Pinger is asked whether it
	// answers again.
	PingInterval time.Duration
	Logger       *slog.Logger
	// Fence says whether this replica may write now; nil always may. An
	// error holds every change back, so it must be cheap.
	Fence func() error
	// Observer records each sync; nil makes one over Metrics.
	Observer *SyncObserver
	Metrics  *Metrics
	// DryRun makes every sync a plan: the writer changes nothing; the loop
	// logs the plan when it differs from the last and shows it in the
	// output's status.
	DryRun bool
}

// WriteLoop drives a Writer: it waits until lbdns is ready, then writes after
// every change of a published set (debounced) and at least every
// SyncInterval, retrying failures with capped exponential backoff.
type WriteLoop struct {
	snaps    Snapshots
	ready    Readiness
	writer   Writer
	opts     LoopOptions
	observer *SyncObserver
	fenced   bool // the last write was held back
}

// NewWriteLoop returns a loop; nothing happens until Run.
func NewWriteLoop(snaps Snapshots, ready Readiness, w Writer, opts LoopOptions) *WriteLoop {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Logger = opts.Logger.With("output", opts.Output)
	if opts.DomainFilter == nil {
		opts.DomainFilter = endpoint.NewDomainFilter(nil)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = DefaultMinBackoff
	}
	if opts.PingInterval <= 0 {
		opts.PingInterval = DefaultPingInterval
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(DefaultMaxBackoff, opts.MinBackoff)
	}
	if opts.Observer == nil {
		opts.Observer = &SyncObserver{Output: opts.Output, Metrics: opts.Metrics}
	}
	if opts.Fence == nil {
		opts.Fence = func() error { return nil }
	}
	return &WriteLoop{snaps: snaps, ready: ready, writer: w, opts: opts, observer: opts.Observer}
}

// Run writes until ctx is done.
func (l *WriteLoop) Run(ctx context.Context) {
	select {
	case <-l.ready.Ready():
	case <-ctx.Done():
		return
	}
	var backoff time.Duration
	full := time.NewTimer(0)
	defer full.Stop()
	for {
		changed := l.snaps.Changed()
		if err := l.Sync(ctx, l.snaps.Snapshot()); err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, ErrFenced) { // not a failure: ask again soon
				if !sleep(ctx, l.opts.MinBackoff) {
					return
				}
				continue
			}
			backoff = min(max(2*backoff, l.opts.MinBackoff), l.opts.MaxBackoff)
			l.opts.Logger.Debug("sync failed; will retry", "err", err, "retryIn", backoff.String())
			if !l.waitToRetry(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		full.Reset(l.opts.SyncInterval)
		select {
		case <-ctx.Done():
			return
		case <-full.C:
		case <-changed:
			if !sleep(ctx, l.opts.Debounce) {
				return
			}
		}
	}
}

// Output names the loop's writer.
func (l *WriteLoop) Output() string { return l.opts.Output }

// RunOnce waits until lbdns is ready and syncs once (lbdns --once). A sync
// held back by the fence (the Lease not yet provably held, a view not yet
// fresh) is tried again until ctx ends.
func (l *WriteLoop) RunOnce(ctx context.Context) error {
	select {
	case <-l.ready.Ready():
	case <-ctx.Done():
		return ctx.Err()
	}
	for {
		err := l.Sync(ctx, l.snaps.Snapshot())
		if !errors.Is(err, ErrFenced) || ctx.Err() != nil {
			return err
		}
		if !sleep(ctx, l.opts.MinBackoff) {
			return fmt.Errorf("%w (until the end of --once's time)", err)
		}
	}
}

// Sync writes one snapshot and records the result: in the metrics, in the
// output's status, and in the log once per change of that status (a failing
// output retrying every few seconds says so once, not every time).
func (l *WriteLoop) Sync(ctx context.Context, snap *model.Snapshot) error {
	var plan Plan
	err := l.fence()
	if err == nil {
		d := l.desired(snap)
		if l.opts.DryRun {
			d.DryRun, d.Planned = true, func(c Change) { plan = append(plan, c) }
		}
		err = l.writer.Write(ctx, d)
	}
	if ctx.Err() != nil {
		return err // shutting down or no longer leading: not the output's fault
	}
	if errors.Is(err, ErrFenced) {
		l.noteFenced(err)
		return err
	}
	l.fenced = false
	if l.opts.DryRun && err == nil {
		l.notePlan(plan.sorted())
	}
	st, changed := l.observer.Observe(snap, err)
	switch {
	case !changed:
	case err != nil:
		l.opts.Logger.Error("sync failing: DNS no longer follows health changes", "err", err, "failures", st.Failures,
			"failingSince", st.FailingSince.Format(time.RFC3339))
	default:
		l.opts.Logger.Info("sync recovered", "generation", snap.Generation)
	}
	return err
}

// waitToRetry waits out the backoff after a failed sync. With a Pinger it
// pings every PingInterval meanwhile and ends the wait early when the
// destination answers after not answering: an outage's end is noticed
// within about a second, however long the outage was. A destination that
// answers pings while syncs fail (say, a refused zone transfer) gets the
// plain backoff. It returns false when ctx is done.
func (l *WriteLoop) waitToRetry(ctx context.Context, backoff time.Duration) bool {
	p, ok := l.writer.(Pinger)
	if !ok {
		return sleep(ctx, backoff)
	}
	deadline := time.Now().Add(backoff)
	for wasDown := false; ; {
		step := min(l.opts.PingInterval, time.Until(deadline))
		if step <= 0 {
			return true
		}
		if !sleep(ctx, step) {
			return false
		}
		pctx, cancel := context.WithTimeout(ctx, max(l.opts.PingInterval, time.Second))
		err := p.Ping(pctx)
		cancel()
		if err == nil && wasDown {
			l.opts.Logger.Info("destination answers again: syncing now")
			return true
		}
		wasDown = err != nil
	}
}

// fence asks the fence, and marks a refusal as ErrFenced.
func (l *WriteLoop) fence() error {
	if err := l.opts.Fence(); err != nil {
		if errors.Is(err, ErrFenced) {
			return err
		}
		return fmt.Errorf("%w: %w", ErrFenced, err)
	}
	return nil
}

// notePlan shows a dry run's plan in the output's status, and logs it when
// it differs from the last one (a sync every minute with nothing new to say
// says nothing).
func (l *WriteLoop) notePlan(plan Plan) {
	if !l.observer.planned(plan) {
		return
	}
	if len(plan) == 0 {
		l.opts.Logger.Info("dry run: nothing to change")
		return
	}
	for _, c := range plan {
		l.opts.Logger.Info("dry run: would change", "action", c.Action, "name", c.Name, "records", strings.Join(c.Records, " "))
	}
	l.opts.Logger.Info("dry run: plan", "changes", len(plan))
}

// noteFenced counts a held-back write, and logs the first of a row.
func (l *WriteLoop) noteFenced(err error) {
	l.opts.Metrics.fenced(l.opts.Output)
	if !l.fenced {
		l.opts.Logger.Info("write held back", "reason", err.Error())
	}
	l.fenced = true
}

// desired applies the domain filter, for every writer alike.
func (l *WriteLoop) desired(snap *model.Snapshot) Desired {
	d := Desired{Generation: snap.Generation, DomainFilter: l.opts.DomainFilter, Fence: l.fence}
	for _, ep := range Endpoints(snap) {
		if l.opts.DomainFilter.Match(ep.DNSName) {
			d.Endpoints = append(d.Endpoints, ep)
		}
	}
	return d
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
