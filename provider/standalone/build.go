package standalone

import (
	"context"
	"fmt"
	"strings"
	"time"

	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/provider"
	"sigs.k8s.io/external-dns/provider/rfc2136"
	"sigs.k8s.io/external-dns/provider/webhook"
	"sigs.k8s.io/external-dns/registry"
	"sigs.k8s.io/external-dns/registry/txt"

	"github.com/lbdns/lbdns/config"
)

// Setup is what a Writer needs from the configuration.
type Setup struct {
	Registry     registry.Registry
	Policy       plan.Policy
	DomainFilter *endpoint.DomainFilter
}

// NewSetup builds the provider and the TXT registry of external-dns from
// lbdns's configuration. For webhook it asks the provider for its domain
// filter, so the webhook server must answer.
func NewSetup(ctx context.Context, c config.Config) (Setup, error) {
	// NewConfig does not fill in the flag defaults: every field a provider
	// reads must be set here (a zero batch size makes rfc2136 loop forever).
	edns := externaldns.NewConfig()
	edns.Provider = c.Provider
	edns.Policy = c.Policy
	edns.Registry = "txt"
	edns.TXTOwnerID = c.TXTOwnerID
	edns.ManagedDNSRecordTypes = ManagedRecordTypes
	edns.DomainFilter = c.DomainFilter
	domainFilter := endpoint.NewDomainFilter(c.DomainFilter)

	var p provider.Provider
	var err error
	switch c.Provider {
	case config.ProviderRFC2136:
		edns.RFC2136Host = []string{c.RFC2136Host}
		edns.RFC2136Port = c.RFC2136Port
		edns.RFC2136Zone = splitList(c.RFC2136Zone)
		edns.RFC2136Insecure = c.RFC2136Insecure
		edns.RFC2136TSIGKeyName = c.RFC2136TSIGKey
		edns.RFC2136TSIGSecret = c.RFC2136TSIGSecret
		edns.RFC2136TSIGSecretAlg = c.RFC2136TSIGAlg
		edns.RFC2136AXFR = true // without zone transfers the plan could never update or delete
		edns.RFC2136BatchChangeSize = 50
		edns.RFC2136LoadBalancingStrategy = "disabled"
		p, err = rfc2136.New(ctx, edns, domainFilter)
	case config.ProviderWebhook:
		edns.WebhookProviderURL = c.WebhookURL
		edns.WebhookProviderReadTimeout = 5 * time.Second
		edns.WebhookProviderWriteTimeout = 10 * time.Second
		p, err = webhook.New(ctx, edns, domainFilter)
	default:
		return Setup{}, fmt.Errorf("unknown provider %q", c.Provider)
	}
	if err != nil {
		return Setup{}, fmt.Errorf("LBDNS_PROVIDER=%s: %w", c.Provider, err)
	}
	reg, err := txt.New(edns, p)
	if err != nil {
		return Setup{}, fmt.Errorf("TXT registry: %w", err)
	}
	policy, ok := plan.Policies[c.Policy]
	if !ok {
		return Setup{}, fmt.Errorf("LBDNS_POLICY=%q is not a policy", c.Policy)
	}
	return Setup{Registry: reg, Policy: policy, DomainFilter: domainFilter}, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
