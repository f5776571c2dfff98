package config

import (
	"net/url"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Standalone providers.
const (
	ProviderRFC2136 = "rfc2136"
	ProviderWebhook = "webhook"
)

// Standalone is the updater that writes to a DNS server without
// external-dns: RFC 2136 or any external-dns webhook provider.
type Standalone struct {
	Provider           string `env:"PROVIDER" help:"standalone DNS updater: rfc2136 or webhook; empty = off"`
	RFC2136            RFC2136
	WebhookURL         string   `env:"WEBHOOK_URL" help:"webhook: URL of an external-dns webhook provider, e.g. http://localhost:8888"`
	WebhookIncremental bool     `env:"WEBHOOK_INCREMENTAL" envDefault:"false" help:"webhook: send a change of a record set as the single records that come and go, additions first, so a name never goes empty (on for the IONOS webhook; only for providers that create and delete single records of a set)"`
	TXTOwnerID         string   `env:"TXT_OWNER_ID" help:"owner ID in the TXT ownership records; records of other owners are never changed; empty = unique to this installation (lbdns-<first 8 of the kube-system namespace's UID>[-<LBDNS_LEADER_ELECT_NAME>]), shown in /status"`
	Policy             string   `env:"POLICY" envDefault:"sync" help:"sync (create, update, delete) or upsert-only (never delete)"`
	DomainFilter       []string `env:"DOMAIN_FILTER" envSeparator:"," help:"limit the standalone updater to these domains, comma-separated"`
}

// RFC2136 is the DNS server the rfc2136 updater writes to.
type RFC2136 struct {
	Host       string `env:"RFC2136_HOST" help:"rfc2136: DNS server to update"`
	Port       int    `env:"RFC2136_PORT" envDefault:"53" help:"rfc2136: its port"`
	Zone       string `env:"RFC2136_ZONE" help:"rfc2136: zone(s) to update, comma-separated"`
	TSIGKey    string `env:"RFC2136_TSIG_KEYNAME" help:"rfc2136: TSIG key name"`
	TSIGSecret string `env:"RFC2136_TSIG_SECRET" help:"rfc2136: TSIG secret (base64); never logged" secret:"true"`
	TSIGAlg    string `env:"RFC2136_TSIG_SECRET_ALG" envDefault:"hmac-sha256" help:"rfc2136: TSIG algorithm"`
	Insecure   bool   `env:"RFC2136_INSECURE" envDefault:"false" help:"rfc2136: send updates without TSIG"`
}

func (s Standalone) validate() []error {
	var p problems
	switch s.Provider {
	case "":
	case ProviderRFC2136:
		p = append(p, s.RFC2136.validate()...)
	case ProviderWebhook:
		if u, err := url.Parse(s.WebhookURL); s.WebhookURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.bad("WEBHOOK_URL", "%q must be an http(s) URL when LBDNS_PROVIDER=webhook", s.WebhookURL)
		}
	default:
		p.bad("PROVIDER", "%q is not rfc2136, webhook or empty", s.Provider)
	}
	if strings.ContainsAny(s.TXTOwnerID, ",=\" \t") {
		p.bad("TXT_OWNER_ID", "%q must be without spaces, commas, '=' or quotes", s.TXTOwnerID)
	}
	if s.Policy != "sync" && s.Policy != "upsert-only" {
		p.bad("POLICY", "%q is not sync or upsert-only", s.Policy)
	}
	return p
}

func (r RFC2136) validate() []error {
	var p problems
	if r.Host == "" {
		p.bad("RFC2136_HOST", "must be set when LBDNS_PROVIDER=rfc2136")
	}
	if r.Zone == "" {
		p.bad("RFC2136_ZONE", "must be set when LBDNS_PROVIDER=rfc2136")
	}
	if r.Port < 1 || r.Port > 65535 {
		p.bad("RFC2136_PORT", "must be 1..65535, got %d", r.Port)
	}
	if !r.Insecure && (r.TSIGKey == "" || r.TSIGSecret == "") {
		p.bad("RFC2136_TSIG_KEYNAME", "and LBDNS_RFC2136_TSIG_SECRET must be set (or LBDNS_RFC2136_INSECURE=true)")
	}
	switch r.TSIGAlg {
	case "hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512":
	default:
		p.bad("RFC2136_TSIG_SECRET_ALG", "%q is not one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", r.TSIGAlg)
	}
	return p
}

// Writers are what the outputs that write share, and the DNSEndpoint
// writer.
type Writers struct {
	SyncInterval time.Duration `env:"SYNC_INTERVAL" envDefault:"1m" help:"full sync of the writers (standalone, DNSEndpoint) at least this often"`
	CRDNamespace string        `env:"CRD_NAMESPACE" help:"write one DNSEndpoint per hostname in this namespace; empty = off"`
	DryRun       bool          `env:"DRY_RUN" envDefault:"false" help:"the writers (standalone, DNSEndpoint) read and plan as always, log and show in /status what they would change, and change nothing: a first look at a production zone"`
}

func (w Writers) validate() []error {
	var p problems
	if w.SyncInterval < time.Second {
		p.bad("SYNC_INTERVAL", "must be at least 1s, got %s", w.SyncInterval)
	}
	if w.CRDNamespace != "" && len(validation.IsDNS1123Label(w.CRDNamespace)) > 0 {
		p.bad("CRD_NAMESPACE", "%q is not a valid namespace name", w.CRDNamespace)
	}
	return p
}

// LeaderElection is the Lease that lets one replica write.
type LeaderElection struct {
	Enabled       bool          `env:"LEADER_ELECT" envDefault:"false" help:"only the holder of the Lease lbdns writes (standalone, DNSEndpoint) and, with zone transfers on, gives the embedded DNS's zones their serials (ConfigMap <LBDNS_LEADER_ELECT_NAME>-dns-serials)"`
	Namespace     string        `env:"LEADER_ELECT_NAMESPACE" envDefault:"lbdns" help:"namespace of the Lease"`
	Name          string        `env:"LEADER_ELECT_NAME" envDefault:"lbdns" help:"name of the Lease: give each lbdns installation that shares a namespace its own"`
	LeaseDuration time.Duration `env:"LEADER_ELECT_LEASE_DURATION" envDefault:"15s" help:"how long a lost leader's lease blocks a new one"`
	RenewDeadline time.Duration `env:"LEADER_ELECT_RENEW_DEADLINE" envDefault:"10s" help:"how long the leader retries renewing before it gives up"`
	RetryPeriod   time.Duration `env:"LEADER_ELECT_RETRY_PERIOD" envDefault:"2s" help:"how often candidates try to acquire or renew"`
}

// validate checks the Lease's settings; they matter only when Enabled.
func (l LeaderElection) validate() []error {
	var p problems
	if len(validation.IsDNS1123Subdomain(l.Name)) > 0 {
		p.bad("LEADER_ELECT_NAME", "%q is not a valid object name", l.Name)
	}
	if len(validation.IsDNS1123Label(l.Namespace)) > 0 {
		p.bad("LEADER_ELECT_NAMESPACE", "%q is not a valid namespace name", l.Namespace)
	}
	if l.RetryPeriod <= 0 || l.RenewDeadline <= l.RetryPeriod || l.LeaseDuration <= l.RenewDeadline {
		p.bad("LEADER_ELECT_LEASE_DURATION", "need LEASE_DURATION (%s) > RENEW_DEADLINE (%s) > RETRY_PERIOD (%s) > 0",
			l.LeaseDuration, l.RenewDeadline, l.RetryPeriod)
	}
	return p
}
