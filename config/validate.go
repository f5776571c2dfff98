package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/miekg/dns"
	"k8s.io/apimachinery/pkg/util/validation"
)

// validateClusters checks the cluster names: DNS labels, each once.
func (c Config) validateClusters() []error {
	var p problems
	if errs := validation.IsDNS1123Label(c.ClusterName); len(errs) > 0 {
		p.bad("CLUSTER_NAME", "%q is not a DNS label (lower-case letters, digits, '-'): %s", c.ClusterName, errs[0])
	}
	seen := map[string]bool{c.ClusterName: true}
	for _, r := range c.RemoteClusters() {
		switch {
		case r.Kubeconfig == "":
			p.bad("CLUSTERS", "cluster %q has no kubeconfig path", r.Name)
		case len(validation.IsDNS1123Label(r.Name)) > 0:
			p.bad("CLUSTERS", "cluster name %q (of %s) is not a DNS label; write name=path", r.Name, r.Kubeconfig)
		case seen[r.Name]:
			p.bad("CLUSTERS", "cluster name %q is used twice (LBDNS_CLUSTER_NAME is %q); write name=path", r.Name, c.ClusterName)
		}
		seen[r.Name] = true
	}
	if !c.WatchLocalCluster && len(c.RemoteClusters()) == 0 {
		p.bad("LOCAL_CLUSTER", "false leaves no cluster to watch: set LBDNS_CLUSTERS")
	}
	return p
}

// validateAgents checks the node agent settings, of lbdns and of lbdns agent.
func (c Config) validateAgents() []error {
	var p problems
	if c.AgentPort < 0 || c.AgentPort > 65535 {
		p.bad("AGENT_PORT", "must be empty (off) or 1..65535, got %d", c.AgentPort)
	}
	if c.AgentInterval < time.Second || c.AgentInterval > 5*time.Minute {
		p.bad("AGENT_INTERVAL", "must be 1s..5m, got %s", c.AgentInterval)
	}
	if err := checkHostPort(c.AgentListenAddr()); err != nil {
		p.bad("AGENT_ADDR", "%v", err)
	}
	if c.AgentPort != 0 && c.AgentToken == "" && !c.AgentInsecure {
		p.bad("AGENT_TOKEN", "is empty while LBDNS_AGENT_PORT is set: the agents listen on the nodes' addresses, which may be public, and serve only requests with the token; set the same token on lbdns and the agents (or LBDNS_AGENT_INSECURE=true)")
	}
	return p
}

// validateProbes checks the probe and flap damping settings.
func (c Config) validateProbes() []error {
	var p problems
	if c.ProbeInterval < 100*time.Millisecond {
		p.bad("PROBE_INTERVAL", "must be at least 100ms, got %s", c.ProbeInterval)
	}
	if c.ProbeTimeout <= 0 || c.ProbeTimeout > c.ProbeInterval {
		p.bad("PROBE_TIMEOUT", "must be positive and at most LBDNS_PROBE_INTERVAL (%s), got %s", c.ProbeInterval, c.ProbeTimeout)
	}
	if c.ProbeDownInterval != 0 && (c.ProbeDownInterval < c.ProbeInterval || c.ProbeDownInterval > time.Hour) {
		p.bad("PROBE_DOWN_INTERVAL", "must be empty or from LBDNS_PROBE_INTERVAL (%s) to 1h, got %s", c.ProbeInterval, c.ProbeDownInterval)
	}
	if c.ProbeFastInterval != 0 && (c.ProbeFastInterval < 100*time.Millisecond || c.ProbeFastInterval > c.ProbeInterval) {
		p.bad("PROBE_FAST_INTERVAL", "must be empty or from 100ms to LBDNS_PROBE_INTERVAL (%s), got %s", c.ProbeInterval, c.ProbeFastInterval)
	}
	if c.FlapHalfLife != 0 && (c.FlapHalfLife < time.Second || c.FlapHalfLife > time.Hour) {
		p.bad("FLAP_HALF_LIFE", "must be 0 (off) or 1s..1h, got %s", c.FlapHalfLife)
	}
	if c.FlapThreshold < 2 || c.FlapThreshold > 100 {
		p.bad("FLAP_THRESHOLD", "must be 2..100 flips, got %d", c.FlapThreshold)
	}
	if c.ProbeFall < 1 || c.ProbeFall > 100 {
		p.bad("PROBE_FALL", "must be 1..100, got %d", c.ProbeFall)
	}
	if c.ProbeRise < 1 || c.ProbeRise > 100 {
		p.bad("PROBE_RISE", "must be 1..100, got %d", c.ProbeRise)
	}
	if c.ProbeJitter < 0 || c.ProbeJitter > 0.5 {
		p.bad("PROBE_JITTER", "must be 0..0.5, got %g", c.ProbeJitter)
	}
	if c.ProbeConcurrency < 1 || c.ProbeConcurrency > 100000 {
		p.bad("PROBE_CONCURRENCY", "must be 1..100000, got %d", c.ProbeConcurrency)
	}
	return p
}

// problems collects validation errors, each naming its variable.
type problems []error

func (p *problems) bad(name, format string, args ...any) {
	*p = append(*p, fmt.Errorf("%s%s: %s", Prefix, name, fmt.Sprintf(format, args...)))
}

// validateWriters checks the standalone updater and the DNSEndpoint writer.
func (c Config) validateWriters() []error {
	var p problems
	switch c.Provider {
	case "":
	case ProviderRFC2136:
		c.validateRFC2136(&p)
	case ProviderWebhook:
		if u, err := url.Parse(c.WebhookURL); c.WebhookURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.bad("WEBHOOK_URL", "%q must be an http(s) URL when LBDNS_PROVIDER=webhook", c.WebhookURL)
		}
	default:
		p.bad("PROVIDER", "%q is not rfc2136, webhook or empty", c.Provider)
	}
	if strings.ContainsAny(c.TXTOwnerID, ",=\" \t") {
		p.bad("TXT_OWNER_ID", "%q must be without spaces, commas, '=' or quotes", c.TXTOwnerID)
	}
	if c.Policy != "sync" && c.Policy != "upsert-only" {
		p.bad("POLICY", "%q is not sync or upsert-only", c.Policy)
	}
	if c.SyncInterval < time.Second {
		p.bad("SYNC_INTERVAL", "must be at least 1s, got %s", c.SyncInterval)
	}
	if c.CRDNamespace != "" && len(validation.IsDNS1123Label(c.CRDNamespace)) > 0 {
		p.bad("CRD_NAMESPACE", "%q is not a valid namespace name", c.CRDNamespace)
	}
	if c.LeaderElect {
		if len(validation.IsDNS1123Subdomain(c.LeaderElectName)) > 0 {
			p.bad("LEADER_ELECT_NAME", "%q is not a valid object name", c.LeaderElectName)
		}
		if len(validation.IsDNS1123Label(c.LeaderElectNamespace)) > 0 {
			p.bad("LEADER_ELECT_NAMESPACE", "%q is not a valid namespace name", c.LeaderElectNamespace)
		}
		if c.RetryPeriod <= 0 || c.RenewDeadline <= c.RetryPeriod || c.LeaseDuration <= c.RenewDeadline {
			p.bad("LEADER_ELECT_LEASE_DURATION", "need LEASE_DURATION (%s) > RENEW_DEADLINE (%s) > RETRY_PERIOD (%s) > 0",
				c.LeaseDuration, c.RenewDeadline, c.RetryPeriod)
		}
	}
	return p
}

func (c Config) validateRFC2136(p *problems) {
	if c.RFC2136Host == "" {
		p.bad("RFC2136_HOST", "must be set when LBDNS_PROVIDER=rfc2136")
	}
	if c.RFC2136Zone == "" {
		p.bad("RFC2136_ZONE", "must be set when LBDNS_PROVIDER=rfc2136")
	}
	if c.RFC2136Port < 1 || c.RFC2136Port > 65535 {
		p.bad("RFC2136_PORT", "must be 1..65535, got %d", c.RFC2136Port)
	}
	if !c.RFC2136Insecure && (c.RFC2136TSIGKey == "" || c.RFC2136TSIGSecret == "") {
		p.bad("RFC2136_TSIG_KEYNAME", "and LBDNS_RFC2136_TSIG_SECRET must be set (or LBDNS_RFC2136_INSECURE=true)")
	}
	switch c.RFC2136TSIGAlg {
	case "hmac-md5", "hmac-sha1", "hmac-sha224", "hmac-sha256", "hmac-sha384", "hmac-sha512":
	default:
		p.bad("RFC2136_TSIG_SECRET_ALG", "%q is not one of hmac-md5, hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", c.RFC2136TSIGAlg)
	}
}

// validateDNS checks the embedded DNS server.
func (c Config) validateDNS() []error {
	var p problems
	if c.DNSAddr == "" {
		return nil
	}
	if err := checkHostPort(c.DNSAddr); err != nil {
		p.bad("DNS_ADDR", "%v", err)
	}
	if len(c.DNSZones) == 0 {
		p.bad("DNS_ZONES", "must name at least one zone when LBDNS_DNS_ADDR is set")
	}
	if c.DNSMaxAnswers < 0 || c.DNSMaxAnswers > 1000 {
		p.bad("DNS_MAX_ANSWERS", "must be 0 (all) or 1..1000, got %d", c.DNSMaxAnswers)
	}
	if c.DNSTCPMaxConns < 1 || c.DNSTCPMaxConns > 1000000 {
		p.bad("DNS_TCP_MAX_CONNS", "must be 1..1000000, got %d", c.DNSTCPMaxConns)
	}
	if c.DNSTCPMaxConnsPerNetwork < 1 || c.DNSTCPMaxConnsPerNetwork > c.DNSTCPMaxConns {
		p.bad("DNS_TCP_MAX_CONNS_PER_NETWORK", "must be 1..LBDNS_DNS_TCP_MAX_CONNS (%d), got %d", c.DNSTCPMaxConns, c.DNSTCPMaxConnsPerNetwork)
	}
	if c.DNSTCPIdleTimeout < 100*time.Millisecond || c.DNSTCPIdleTimeout > 2*time.Minute {
		p.bad("DNS_TCP_IDLE_TIMEOUT", "must be 100ms..2m, got %s", c.DNSTCPIdleTimeout)
	}
	for _, z := range c.DNSZones {
		if _, ok := dns.IsDomainName(z); !ok || strings.Trim(z, ".") == "" {
			p.bad("DNS_ZONES", "%q is not a domain name", z)
		}
	}
	if c.DNSRRLRate < 0 || c.DNSRRLRate > 1_000_000 {
		p.bad("DNS_RRL_RATE", "must be 0 (off) to 1000000, got %d", c.DNSRRLRate)
	}
	if c.DNSRRLSlip < 0 || c.DNSRRLSlip > 10 {
		p.bad("DNS_RRL_SLIP", "must be 0..10, got %d", c.DNSRRLSlip)
	}
	if _, err := c.RRLExempt(); err != nil {
		p.bad("DNS_RRL_EXEMPT", "%v", err)
	}
	return p
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	return nil
}
