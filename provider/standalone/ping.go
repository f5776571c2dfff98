package standalone

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/miekg/dns"
)

// pingTimeout bounds one liveness check of the provider.
const pingTimeout = time.Second

// pinger returns a cheap check that the provider answers: an SOA query of
// each zone for rfc2136, a GET of the webhook's negotiation endpoint.
func pinger(o Options) func(ctx context.Context) error {
	if o.Provider == ProviderWebhook {
		return func(ctx context.Context) error { return pingWebhook(ctx, o.WebhookURL) }
	}
	server := net.JoinHostPort(o.RFC2136.Host, strconv.Itoa(o.RFC2136.Port))
	return func(ctx context.Context) error {
		for _, zone := range o.RFC2136.Zones {
			if err := pingSOA(ctx, server, zone); err != nil {
				return err
			}
		}
		return nil
	}
}

func pingSOA(ctx context.Context, server, zone string) error {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	c := &dns.Client{Timeout: pingTimeout}
	r, _, err := c.ExchangeContext(ctx, m, server)
	if err != nil {
		return fmt.Errorf("SOA query of %s at %s: %w", zone, server, err)
	}
	if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Errorf("SOA query of %s at %s: %s with %d answers", zone, server, dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

func pingWebhook(ctx context.Context, url string) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/external.dns.webhook+json;version=1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", url, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("webhook %s: %s", url, resp.Status)
	}
	return nil
}
