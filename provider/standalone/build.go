package standalone

import (
	"context"
	"fmt"
	"time"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	"sigs.k8s.io/external-dns/provider"
	"sigs.k8s.io/external-dns/provider/rfc2136"
	"sigs.k8s.io/external-dns/provider/webhook"
	"sigs.k8s.io/external-dns/registry"
	"sigs.k8s.io/external-dns/registry/txt"
)

// Providers the writer can write to.
const (
	ProviderRFC2136 = "rfc2136"
	ProviderWebhook = "webhook"
)

// RFC2136Options say how to reach a DNS server by RFC 2136 updates.
type RFC2136Options struct {
	Host  string
	Port  int
	Zones []string
	// Insecure sends updates without TSIG.
	Insecure bool
	// OnConflict, if set, hears of each UPDATE the server refused because
	// the zone changed since it was read.
	OnConflict                             func()
	TSIGKeyName, TSIGSecret, TSIGSecretAlg string
}

// Webhook timeouts of requests to the provider.
const (
	webhookReadTimeout  = 5 * time.Second
	webhookWriteTimeout = 10 * time.Second
)

// newRegistry builds external-dns's provider and TXT registry. For webhook it
// asks the provider for its domain filter, so the webhook server must answer.
func newRegistry(ctx context.Context, o Options, filter *endpoint.DomainFilter) (registry.Registry, error) {
	// NewConfig does not fill in the flag defaults: every field a provider
	// reads must be set here (a zero batch size makes rfc2136 loop forever).
	edns := externaldns.NewConfig()
	edns.Provider = o.Provider
	edns.Policy = o.Policy
	edns.Registry = "txt"
	edns.TXTOwnerID = o.OwnerID
	edns.TXTOwnerOld = o.MigrateFromOwnerID
	edns.ManagedDNSRecordTypes = ManagedRecordTypes
	edns.DomainFilter = filter.Filters

	var p provider.Provider
	var err error
	switch o.Provider {
	case ProviderRFC2136:
		r := o.RFC2136
		edns.RFC2136Host = []string{r.Host}
		edns.RFC2136Port = r.Port
		edns.RFC2136Zone = r.Zones
		edns.RFC2136Insecure = r.Insecure
		edns.RFC2136TSIGKeyName = r.TSIGKeyName
		edns.RFC2136TSIGSecret = r.TSIGSecret
		edns.RFC2136TSIGSecretAlg = r.TSIGSecretAlg
		edns.RFC2136AXFR = true // the zone is read by checkedRFC2136, which fails when the transfer does
		edns.RFC2136BatchChangeSize = 50
		edns.RFC2136LoadBalancingStrategy = "disabled"
		if p, err = rfc2136.New(ctx, edns, filter); err == nil {
			p, err = newCheckedRFC2136(p, r)
		}
	case ProviderWebhook:
		edns.WebhookProviderURL = o.WebhookURL
		edns.WebhookProviderReadTimeout = webhookReadTimeout
		edns.WebhookProviderWriteTimeout = webhookWriteTimeout
		p, err = webhook.New(ctx, edns, filter)
		if err == nil && o.WebhookIncremental {
			p = incremental{p}
		}
	default:
		return nil, fmt.Errorf("unknown provider %q", o.Provider)
	}
	if err != nil {
		return nil, fmt.Errorf("%s provider: %w", o.Provider, err)
	}
	reg, err := txt.New(edns, p)
	if err != nil {
		return nil, fmt.Errorf("TXT registry: %w", err)
	}
	return reg, nil
}
