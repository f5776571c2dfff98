package config

import (
	"encoding/base64"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"

	"github.com/miekg/dns"
)

// tsigAlgorithms are the TSIG algorithms by their configuration names.
var tsigAlgorithms = map[string]string{
	"hmac-sha1": dns.HmacSHA1, "hmac-sha224": dns.HmacSHA224, "hmac-sha256": dns.HmacSHA256,
	"hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512,
}

// validateDNSTransfers checks who may transfer the zones and whom to notify.
func (c Config) validateDNSTransfers() []error {
	var p problems
	if _, err := c.DNSTransferAllowed(); err != nil {
		p.bad("DNS_TRANSFER_ALLOW", "%v", err)
	}
	if (c.DNSTSIGName == "") != (c.DNSTSIGSecret == "") {
		p.bad("DNS_TSIG_NAME", "and LBDNS_DNS_TSIG_SECRET go together: set both or neither")
	}
	if c.DNSTSIGSecret != "" {
		if _, err := base64.StdEncoding.DecodeString(c.DNSTSIGSecret); err != nil {
			p.bad("DNS_TSIG_SECRET", "is not base64 (as tsig-keygen prints it)")
		}
	}
	if _, ok := tsigAlgorithms[strings.ToLower(c.DNSTSIGAlg)]; !ok {
		p.bad("DNS_TSIG_ALG", "%q is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", c.DNSTSIGAlg)
	}
	for _, n := range c.DNSNotify {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(n)); err != nil {
			p.bad("DNS_NOTIFY", "%q is not host:port", n)
		}
	}
	for _, ns := range c.DNSNS {
		if _, ok := dns.IsDomainName(strings.TrimSpace(ns)); !ok || strings.TrimSpace(ns) == "" {
			p.bad("DNS_NS", "%q is not a domain name", ns)
		}
	}
	if _, err := c.DNSNameServerAddresses(); err != nil {
		p.bad("DNS_NS_ADDRESSES", "%v", err)
	}
	return p
}

// DNSNameServerAddresses returns LBDNS_DNS_NS_ADDRESSES by canonical name:
// only names of LBDNS_DNS_NS inside one of LBDNS_DNS_ZONES (out-of-zone
// name servers are answered by their own zones; glue for them would be
// ignored by resolvers).
func (c Config) DNSNameServerAddresses() (map[string][]netip.Addr, error) {
	out := map[string][]netip.Addr{}
	for _, v := range c.DNSNSAddresses {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		name, ip, ok := strings.Cut(v, "=")
		addr, err := netip.ParseAddr(strings.TrimSpace(ip))
		if !ok || err != nil {
			return nil, fmt.Errorf("%q is not name=IP", v)
		}
		name = dns.CanonicalName(strings.TrimSpace(name))
		if !slices.ContainsFunc(c.DNSNS, func(ns string) bool { return dns.CanonicalName(strings.TrimSpace(ns)) == name }) {
			return nil, fmt.Errorf("%s is not one of LBDNS_DNS_NS", name)
		}
		if !slices.ContainsFunc(c.DNSZones, func(z string) bool { return dns.IsSubDomain(dns.CanonicalName(z), name) }) {
			return nil, fmt.Errorf("%s is in none of LBDNS_DNS_ZONES: its own zone answers for it", name)
		}
		out[name] = append(out[name], addr.Unmap())
	}
	return out, nil
}

// DNSTransferAllowed returns LBDNS_DNS_TRANSFER_ALLOW, parsed.
func (c Config) DNSTransferAllowed() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range c.DNSTransferAllow {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// DNSTSIGAlgorithm is LBDNS_DNS_TSIG_ALG as miekg/dns names it.
func (c Config) DNSTSIGAlgorithm() string { return tsigAlgorithms[strings.ToLower(c.DNSTSIGAlg)] }
