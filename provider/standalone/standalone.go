// Package standalone writes the published sets straight to a DNS provider
// (rfc2136 or any external-dns webhook provider), with external-dns's own plan
// and TXT registry, so no external-dns pod is needed. Records the registry
// does not attribute to this owner are never changed or deleted.
package standalone

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/registry"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/provider"
)

// ManagedRecordTypes are the record types lbdns owns.
var ManagedRecordTypes = []string{endpoint.RecordTypeA, endpoint.RecordTypeAAAA}

// Readiness tells when the published sets may be written.
type Readiness interface {
	Ready() <-chan struct{}
}

// Options configure a Writer.
type Options struct {
	// Output names the writer in metrics and logs (rfc2136, webhook).
	Output       string
	Registry     registry.Registry
	Policy       plan.Policy
	DomainFilter endpoint.DomainFilterInterface
	// SyncInterval is the longest time between two full syncs.
	SyncInterval time.Duration
	// Debounce collects a burst of changes into one sync.
	Debounce time.Duration
	// MinBackoff and MaxBackoff bound the retry delay after a failed sync.
	MinBackoff, MaxBackoff time.Duration
	Logger                 *slog.Logger
	Metrics                *metrics.Metrics
}

// Writer syncs the published sets to a registry.
type Writer struct {
	snaps    provider.Snapshots
	ready    Readiness
	opts     Options
	observer *provider.SyncObserver
}

// New returns a writer; nothing happens until Run.
func New(snaps provider.Snapshots, ready Readiness, opts Options) *Writer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Debounce <= 0 {
		opts.Debounce = 200 * time.Millisecond
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = time.Minute
	}
	if opts.Policy == nil {
		opts.Policy = &plan.SyncPolicy{}
	}
	return &Writer{snaps: snaps, ready: ready, opts: opts,
		observer: &provider.SyncObserver{Output: opts.Output, Metrics: opts.Metrics}}
}

// Run waits until lbdns is ready, then syncs after every change of a
// published set (debounced) and at least every SyncInterval, until ctx is
// done. A failed sync is retried with capped exponential backoff.
func (w *Writer) Run(ctx context.Context) {
	select {
	case <-w.ready.Ready():
	case <-ctx.Done():
		return
	}
	log := w.opts.Logger.With("output", w.opts.Output)
	backoff := time.Duration(0)
	full := time.NewTimer(0)
	defer full.Stop()
	for {
		changed := w.snaps.Changed()
		snap := w.snaps.Snapshot()
		if err := w.Sync(ctx, snap); err != nil {
			if ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, w.opts.MinBackoff), w.opts.MaxBackoff)
			log.Error("sync failed; will retry", "err", err, "retryIn", backoff.String())
			if !sleep(ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		full.Reset(w.opts.SyncInterval)
		select {
		case <-ctx.Done():
			return
		case <-full.C:
		case <-changed:
			if !sleep(ctx, w.opts.Debounce) {
				return
			}
		}
	}
}

// Sync writes one snapshot: it reads the current records through the
// registry, plans against the published sets, and applies the changes.
func (w *Writer) Sync(ctx context.Context, snap *health.Snapshot) error {
	err := w.sync(ctx, snap)
	w.observer.Observe(snap, err)
	return err
}

func (w *Writer) sync(ctx context.Context, snap *health.Snapshot) error {
	reg := w.opts.Registry
	current, err := reg.Records(ctx)
	if err != nil {
		return fmt.Errorf("reading records: %w", err)
	}
	desired, err := reg.AdjustEndpoints(provider.Endpoints(snap))
	if err != nil {
		return fmt.Errorf("adjusting endpoints: %w", err)
	}
	filters := endpoint.MatchAllDomainFilters{reg.GetDomainFilter()}
	if w.opts.DomainFilter != nil {
		filters = append(filters, w.opts.DomainFilter)
	}
	p := (&plan.Plan{
		Policies:       []plan.Policy{w.opts.Policy},
		Current:        current,
		Desired:        desired,
		DomainFilter:   filters,
		ManagedRecords: ManagedRecordTypes,
		OwnerID:        reg.OwnerID(),
	}).Calculate()
	if !p.Changes.HasChanges() {
		return nil
	}
	c := p.Changes
	w.opts.Logger.Info("applying DNS changes", "output", w.opts.Output, "generation", snap.Generation,
		"create", len(c.Create), "update", len(c.UpdateNew), "delete", len(c.Delete))
	if err := reg.ApplyChanges(ctx, c); err != nil {
		return fmt.Errorf("applying changes: %w", err)
	}
	return nil
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
