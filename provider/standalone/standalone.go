// Package standalone writes the published sets straight to a DNS provider
// (rfc2136 or any external-dns webhook provider), with external-dns's own plan
// and TXT registry, so no external-dns pod is needed. Records the registry
// does not attribute to this owner are never changed or deleted.
package standalone

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/registry"

	"github.com/lbdns/lbdns/provider"
)

// ManagedRecordTypes are the record types lbdns owns.
var ManagedRecordTypes = []string{endpoint.RecordTypeA, endpoint.RecordTypeAAAA}

// Options configure a Writer for a provider.
type Options struct {
	// Provider is ProviderRFC2136 or ProviderWebhook.
	Provider string
	RFC2136  RFC2136Options
	// WebhookURL is the address of an external-dns webhook provider.
	WebhookURL string
	// WebhookIncremental sends changes of a record set as the records that
	// come and go, additions first (incremental.go).
	WebhookIncremental bool
	// OwnerID marks the records this writer owns in the TXT registry.
	OwnerID string
	// MigrateFromOwnerID, if set, is an owner ID whose records this
	// writer adopts (rewriting their TXT records to OwnerID).
	MigrateFromOwnerID string
	// Policy is an external-dns policy: sync or upsert-only.
	Policy string
	Logger *slog.Logger
}

// Writer writes the published sets through a TXT registry. It is a
// provider.Writer; run it with a provider.WriteLoop.
type Writer struct {
	policy plan.Policy
	log    *slog.Logger

	mu      sync.Mutex // serialises writes
	reg     registry.Registry
	connect func(context.Context, *endpoint.DomainFilter) (registry.Registry, error)
	ping    func(context.Context) error // nil: no cheap check
}

// New returns a writer for the provider in o. It connects on its first
// write (a webhook provider must answer to be set up); a failed connection
// fails that write, and the loop retries it.
func New(o Options) (*Writer, error) {
	policy, ok := plan.Policies[o.Policy]
	if !ok {
		return nil, fmt.Errorf("unknown policy %q", o.Policy)
	}
	if o.Provider != ProviderRFC2136 && o.Provider != ProviderWebhook {
		return nil, fmt.Errorf("unknown provider %q", o.Provider)
	}
	w := newWriter(nil, policy, o.Logger)
	w.connect = func(ctx context.Context, filter *endpoint.DomainFilter) (registry.Registry, error) {
		return newRegistry(ctx, o, filter)
	}
	w.ping = pinger(o)
	return w, nil
}

// Ping checks cheaply whether the provider answers (provider.Pinger), so
// that the loop retries a failed sync the moment the server is back.
func (w *Writer) Ping(ctx context.Context) error {
	if w.ping == nil {
		return nil
	}
	return w.ping(ctx)
}

func newWriter(reg registry.Registry, policy plan.Policy, log *slog.Logger) *Writer {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if policy == nil {
		policy = &plan.SyncPolicy{}
	}
	return &Writer{reg: reg, policy: policy, log: log}
}

// Write reads the current records through the registry, plans against the
// desired ones and applies the changes.
func (w *Writer) Write(ctx context.Context, d provider.Desired) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.reg == nil {
		reg, err := w.connect(ctx, d.DomainFilter)
		if err != nil {
			return fmt.Errorf("setting up the DNS provider: %w", err)
		}
		w.reg = reg
	}
	current, err := w.reg.Records(ctx)
	if err != nil {
		return fmt.Errorf("reading records: %w", err)
	}
	filter := endpoint.MatchAllDomainFilters{w.reg.GetDomainFilter(), d.DomainFilter}
	ownable, unownable := splitOwnable(d.Endpoints, filter)
	desired, err := w.reg.AdjustEndpoints(ownable)
	if err != nil {
		return fmt.Errorf("adjusting endpoints: %w", err)
	}
	p := (&plan.Plan{
		Policies: []plan.Policy{w.policy},
		Current:  current,
		Desired:  desired,
		// The registry's own filter (a webhook's) and lbdns's: records
		// outside either are left alone.
		DomainFilter:   filter,
		ManagedRecords: ManagedRecordTypes,
		OwnerID:        w.reg.OwnerID(),
	}).Calculate()
	if !p.Changes.HasChanges() {
		return unownable
	}
	c := p.Changes
	if d.DryRun {
		reportPlan(c, d.Planned)
		return unownable
	}
	if err := d.Fence(); err != nil { // the read and the plan took time: ask again right before writing
		return err
	}
	w.log.Info("applying DNS changes", "generation", d.Generation,
		"create", len(c.Create), "update", len(c.UpdateNew), "delete", len(c.Delete))
	if err := w.reg.ApplyChanges(withFence(ctx, d.Fence), c); err != nil {
		return fmt.Errorf("applying changes: %w", err)
	}
	return unownable
}

// splitOwnable keeps the endpoints whose TXT ownership records (external-dns's
// registry names them "<type>-<name>", e.g. a-app.example.com) are inside the
// domain filter. A name whose record is outside (a filter of exactly
// app.example.com leaves out a-app.example.com) could be created, but never
// owned, so never updated or deleted: lbdns writes none of it and returns an
// error naming it, which marks the output failing.
func splitOwnable(eps []*endpoint.Endpoint, filter endpoint.DomainFilterInterface) ([]*endpoint.Endpoint, error) {
	var kept []*endpoint.Endpoint
	var bad []string
	firstTXT := ""
	for _, ep := range eps {
		txt := strings.ToLower(ep.RecordType) + "-" + ep.DNSName
		switch {
		case filter.Match(txt):
			kept = append(kept, ep)
		case !slices.Contains(bad, ep.DNSName):
			bad = append(bad, ep.DNSName)
			firstTXT = cmp.Or(firstTXT, txt)
		}
	}
	if len(bad) == 0 {
		return kept, nil
	}
	return kept, fmt.Errorf("not written: %d hostnames whose TXT ownership record is outside the domain filter (LBDNS_DOMAIN_FILTER), "+
		"so lbdns could create them but never update or delete them: %s (the first one's record: %s); widen the filter to their parent domain",
		len(bad), strings.Join(bad[:min(len(bad), 5)], ", "), firstTXT)
}

// reportPlan hands each record set the plan would create, update or delete
// to planned, as a dry run shows it.
func reportPlan(c *plan.Changes, planned func(provider.Change)) {
	records := func(ep *endpoint.Endpoint) []string { return slices.Clone([]string(ep.Targets)) }
	name := func(ep *endpoint.Endpoint) string { return ep.DNSName + " " + ep.RecordType }
	for _, ep := range c.Create {
		planned(provider.Change{Action: "create", Name: name(ep), Records: records(ep)})
	}
	for _, ep := range c.UpdateNew {
		planned(provider.Change{Action: "update", Name: name(ep), Records: records(ep)})
	}
	for _, ep := range c.Delete {
		planned(provider.Change{Action: "delete", Name: name(ep)})
	}
}
