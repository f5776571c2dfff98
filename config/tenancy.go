package config

import (
	"strings"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/lbdns/lbdns/tenancy"
)

// validateTenancy checks who may publish which names.
func (c Config) validateTenancy() []error {
	var p problems
	switch tenancy.Mode(c.HostnameOwnership) {
	case tenancy.ModeNamespace, tenancy.ModeShared:
	default:
		p.bad("HOSTNAME_OWNERSHIP", "%q is not namespace or shared", c.HostnameOwnership)
	}
	if _, err := tenancy.ParseDomains(c.NamespaceDomains); err != nil {
		p.bad("NAMESPACE_DOMAINS", "%v", err)
	}
	if _, err := labels.Parse(c.LabelFilter); err != nil {
		p.bad("LABEL_FILTER", "not a label selector: %v", err)
	}
	if _, err := labels.Parse(c.AnnotationFilter); err != nil {
		p.bad("ANNOTATION_FILTER", "not a label selector: %v", err)
	}
	return p
}

// TenancyPolicy returns the ownership rules of hostnames. Call it on a
// validated Config.
func (c Config) TenancyPolicy() tenancy.Policy {
	domains, _ := tenancy.ParseDomains(c.NamespaceDomains)
	return tenancy.Policy{Mode: tenancy.Mode(c.HostnameOwnership), Domains: domains, Reserved: c.ReservedHostnames()}
}

// ReservedHostnames are the names of the embedded DNS zones themselves: each
// apex and its name server. A Service that names one would take over the
// zone for any resolver that trusts the answer.
func (c Config) ReservedHostnames() map[string]bool {
	if c.DNSAddr == "" {
		return nil
	}
	out := map[string]bool{}
	norm := func(n string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".") }
	for _, z := range c.DNSZones {
		zone := norm(z)
		if zone == "" {
			continue
		}
		out[zone] = true
		if len(c.DNSNS) == 0 {
			out["ns1."+zone] = true
		}
		for _, ns := range c.DNSNS {
			if n := norm(ns); n != "" {
				out[n] = true
			}
		}
	}
	return out
}

// ServiceSelectors returns LBDNS_LABEL_FILTER and LBDNS_ANNOTATION_FILTER,
// parsed (labels.Everything when empty). Call it on a validated Config.
func (c Config) ServiceSelectors() (byLabel, byAnnotation labels.Selector) {
	byLabel, _ = labels.Parse(c.LabelFilter)
	byAnnotation, _ = labels.Parse(c.AnnotationFilter)
	return byLabel, byAnnotation
}
