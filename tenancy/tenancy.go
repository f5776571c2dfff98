// Package tenancy decides who may publish a hostname on a cluster shared by
// teams: a hostname belongs to one namespace, that of the oldest Service
// that names it (creation time, then namespace and name, as Gateway API
// settles listener conflicts); the owner may share it with other
// namespaces; an operator may reserve names and tie namespaces to domains.
// It is pure: claims come in, a verdict per claim comes out.
package tenancy

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Mode says whether hostnames belong to namespaces.
type Mode string

// Modes of LBDNS_HOSTNAME_OWNERSHIP.
const (
	// ModeNamespace: a hostname belongs to one namespace (the default).
	ModeNamespace Mode = "namespace"
	// ModeShared: every Service that names a hostname joins it (a cluster
	// of one team).
	ModeShared Mode = "shared"
)

// ShareWithAll in a share-with list lets every namespace join.
const ShareWithAll = "*"

// Reason says why a claim is refused. Reasons are Kubernetes event reasons.
type Reason string

// Reasons a claim is refused.
const (
	// Owned: another namespace owns the hostname and does not share it.
	Owned Reason = "HostnameOwned"
	// Reserved: the name is an embedded zone's apex or name server.
	Reserved Reason = "ReservedHostname"
	// DomainNotAllowed: the namespace may not claim names in this domain
	// (LBDNS_NAMESPACE_DOMAINS).
	DomainNotAllowed Reason = "DomainNotAllowed"
)

// Claim is one Service that names a hostname.
type Claim struct {
	// Cluster is empty for the cluster lbdns runs in. The same namespace
	// name in every cluster is one owner (namespace sameness).
	Cluster, Namespace, Name string
	Created                  time.Time
	// ShareWith lists the namespaces the Service lets join its hostnames
	// (read only on the owner's Services).
	ShareWith []string
}

// String is "namespace/name", after "cluster/" for a remote cluster.
func (c Claim) String() string {
	s := c.Namespace + "/" + c.Name
	if c.Cluster != "" {
		return c.Cluster + "/" + s
	}
	return s
}

// older orders claims by age: creation time, then namespace, name and
// cluster, so that two lbdns replicas always pick the same owner.
func older(a, b Claim) int {
	return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name),
		cmp.Compare(a.Cluster, b.Cluster))
}

// Verdict is what the policy says of one claim: allowed, or refused with a
// reason and a message for its Service's owner.
type Verdict struct {
	Allowed bool
	Reason  Reason
	Detail  string
}

// Policy is the operator's settings. The zero value lets every Service
// join every hostname (ModeShared, nothing reserved, no domains).
type Policy struct {
	Mode Mode
	// Reserved names are never published from a Service (lower case,
	// without a trailing dot).
	Reserved map[string]bool
	// Domains ties namespaces to the domains they may claim names in; nil
	// lets every namespace claim any name.
	Domains *Domains
}

// Resolve decides the claims on one hostname: which may publish it, and
// the namespace that owns it ("" when none may, or in ModeShared). The
// verdicts are in the order of claims.
func (p Policy) Resolve(hostname string, claims []Claim) (owner string, verdicts []Verdict) {
	verdicts = make([]Verdict, len(claims))
	var candidates []int // claims that pass the per-Service rules
	for i, c := range claims {
		switch {
		case p.Reserved[hostname]:
			verdicts[i] = Verdict{Reason: Reserved, Detail: fmt.Sprintf(
				"%s is a name of the embedded DNS zone itself (its apex or a name server): never published from a Service", hostname)}
		case !p.Domains.Allows(c.Namespace, hostname):
			verdicts[i] = Verdict{Reason: DomainNotAllowed, Detail: fmt.Sprintf(
				"namespace %s may not claim %s: LBDNS_NAMESPACE_DOMAINS allows it %s", c.Namespace, hostname, p.Domains.Describe(c.Namespace))}
		default:
			candidates = append(candidates, i)
		}
	}
	if len(candidates) == 0 {
		return "", verdicts
	}
	if p.Mode != ModeNamespace {
		for _, i := range candidates {
			verdicts[i].Allowed = true
		}
		return "", verdicts
	}
	first := slices.MinFunc(candidates, func(a, b int) int { return older(claims[a], claims[b]) })
	owner = claims[first].Namespace
	shared := map[string]bool{}
	for _, i := range candidates {
		if claims[i].Namespace == owner {
			for _, ns := range claims[i].ShareWith {
				shared[ns] = true
			}
		}
	}
	for _, i := range candidates {
		ns := claims[i].Namespace
		if ns == owner || shared[ns] || shared[ShareWithAll] {
			verdicts[i].Allowed = true
			continue
		}
		verdicts[i] = Verdict{Reason: Owned, Detail: fmt.Sprintf(
			"%s belongs to namespace %s (its oldest Service is %s), which does not share it with %s: not published from this Service; the owner can add %s to its share-with annotation",
			hostname, owner, claims[first], ns, ns)}
	}
	return owner, verdicts
}

// Domains ties namespaces to the domains in which they may claim names.
type Domains struct {
	byNamespace map[string][]string
	// others applies to namespaces not listed ("*="); nil: none may claim.
	others []string
}

// ParseDomains reads "ns=domain,domain;ns2=domain;*=domain": each namespace
// may claim names equal to or under its domains; "*" stands for every
// namespace not listed, and without it an unlisted namespace may claim
// nothing. Empty: nil (no restriction).
func ParseDomains(v string) (*Domains, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	d := &Domains{byNamespace: map[string][]string{}}
	for entry := range strings.SplitSeq(v, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		ns, list, ok := strings.Cut(entry, "=")
		ns = strings.TrimSpace(ns)
		if !ok || ns == "" {
			return nil, fmt.Errorf("%q: want namespace=domain[,domain]", entry)
		}
		var domains []string
		for raw := range strings.SplitSeq(list, ",") {
			dom := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
			if dom == "" {
				continue
			}
			if strings.ContainsAny(dom, " *=;") || strings.HasPrefix(dom, ".") {
				return nil, fmt.Errorf("%q: %q is not a domain", entry, raw)
			}
			domains = append(domains, dom)
		}
		if len(domains) == 0 {
			return nil, fmt.Errorf("%q: no domain given", entry)
		}
		if ns == "*" {
			if d.others != nil {
				return nil, fmt.Errorf("%q: '*' given twice", entry)
			}
			d.others = domains
			continue
		}
		if _, dup := d.byNamespace[ns]; dup {
			return nil, fmt.Errorf("%q: namespace %s given twice", entry, ns)
		}
		d.byNamespace[ns] = domains
	}
	return d, nil
}

func (d *Domains) of(namespace string) []string {
	if ds, ok := d.byNamespace[namespace]; ok {
		return ds
	}
	return d.others
}

// Allows reports whether namespace may claim hostname: the name is one of
// its domains or under one. A wildcard "*.a.example.com" is under
// a.example.com. A nil Domains allows everything.
func (d *Domains) Allows(namespace, hostname string) bool {
	if d == nil {
		return true
	}
	for _, dom := range d.of(namespace) {
		if hostname == dom || strings.HasSuffix(hostname, "."+dom) {
			return true
		}
	}
	return false
}

// Describe says what a namespace may claim, for messages.
func (d *Domains) Describe(namespace string) string {
	ds := d.of(namespace)
	if len(ds) == 0 {
		return "no domain"
	}
	return "only names under " + strings.Join(ds, ", ")
}
