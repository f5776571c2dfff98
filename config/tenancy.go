package config

import (
	"k8s.io/apimachinery/pkg/labels"

	"github.com/lbdns/lbdns/tenancy"
)

// Tenancy says who may publish which names.
type Tenancy struct {
	HostnameOwnership string `env:"HOSTNAME_OWNERSHIP" envDefault:"namespace" help:"namespace: a hostname belongs to the namespace of its oldest Service, other namespaces join only when the owner lists them in <prefix>share-with; shared: every Service that names a hostname joins it (a cluster of one team)"`
	NamespaceDomains  string `env:"NAMESPACE_DOMAINS" help:"tie namespaces to the domains they may claim names in: ns=domain[,domain];ns2=domain;*=domain ('*' is every namespace not listed; without it they may claim nothing); empty = any name"`
	LabelFilter       string `env:"LABEL_FILTER" help:"only Services whose labels match this label selector (like external-dns --label-filter), e.g. team in (a,b); empty = all"`
	AnnotationFilter  string `env:"ANNOTATION_FILTER" help:"only Services whose annotations match this label selector (like external-dns --annotation-filter); empty = all"`
}

func (t Tenancy) validate() []error {
	var p problems
	switch tenancy.Mode(t.HostnameOwnership) {
	case tenancy.ModeNamespace, tenancy.ModeShared:
	default:
		p.bad("HOSTNAME_OWNERSHIP", "%q is not namespace or shared", t.HostnameOwnership)
	}
	if _, err := tenancy.ParseDomains(t.NamespaceDomains); err != nil {
		p.bad("NAMESPACE_DOMAINS", "%v", err)
	}
	if _, err := labels.Parse(t.LabelFilter); err != nil {
		p.bad("LABEL_FILTER", "not a label selector: %v", err)
	}
	if _, err := labels.Parse(t.AnnotationFilter); err != nil {
		p.bad("ANNOTATION_FILTER", "not a label selector: %v", err)
	}
	return p
}

// TenancyPolicy returns the ownership rules of hostnames. Call it on a
// validated Config.
func (c Config) TenancyPolicy() tenancy.Policy {
	domains, _ := tenancy.ParseDomains(c.Tenancy.NamespaceDomains)
	return tenancy.Policy{Mode: tenancy.Mode(c.Tenancy.HostnameOwnership), Domains: domains, Reserved: c.DNS.ReservedHostnames()}
}

// ServiceSelectors returns LBDNS_LABEL_FILTER and LBDNS_ANNOTATION_FILTER,
// parsed (labels.Everything when empty). Call it on a validated Tenancy.
func (t Tenancy) ServiceSelectors() (byLabel, byAnnotation labels.Selector) {
	byLabel, _ = labels.Parse(t.LabelFilter)
	byAnnotation, _ = labels.Parse(t.AnnotationFilter)
	return byLabel, byAnnotation
}
