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
func (d DNS) validateTransfers() []error {
	var p problems
	if _, err := d.TransferAllowed(); err != nil {
		p.bad("DNS_TRANSFER_ALLOW", "%v", err)
	}
	if (d.TSIGName == "") != (d.TSIGSecret == "") {
		p.bad("DNS_TSIG_NAME", "and LBDNS_DNS_TSIG_SECRET go together: set both or neither")
	}
	if d.TSIGSecret != "" {
		if _, err := base64.StdEncoding.DecodeString(d.TSIGSecret); err != nil {
			p.bad("DNS_TSIG_SECRET", "is not base64 (as tsig-keygen prints it)")
		}
	}
	if _, ok := tsigAlgorithms[strings.ToLower(d.TSIGAlg)]; !ok {
		p.bad("DNS_TSIG_ALG", "%q is not one of hmac-sha1, hmac-sha224, hmac-sha256, hmac-sha384, hmac-sha512", d.TSIGAlg)
	}
	for _, n := range d.Notify {
		if _, _, err := net.SplitHostPort(strings.TrimSpace(n)); err != nil {
			p.bad("DNS_NOTIFY", "%q is not host:port", n)
		}
	}
	for _, ns := range d.NS {
		if _, ok := dns.IsDomainName(strings.TrimSpace(ns)); !ok || strings.TrimSpace(ns) == "" {
			p.bad("DNS_NS", "%q is not a domain name", ns)
		}
	}
	if _, err := d.NameServerAddresses(); err != nil {
		p.bad("DNS_NS_ADDRESSES", "%v", err)
	}
	return p
}

// NameServerAddresses returns LBDNS_DNS_NS_ADDRESSES by canonical name:
// only names of LBDNS_DNS_NS inside one of LBDNS_DNS_ZONES (out-of-zone
// name servers are answered by their own zones; glue for them would be
// ignored by resolvers).
func (d DNS) NameServerAddresses() (map[string][]netip.Addr, error) {
	out := map[string][]netip.Addr{}
	for _, v := range d.NSAddresses {
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
		if !slices.ContainsFunc(d.NS, func(ns string) bool { return dns.CanonicalName(strings.TrimSpace(ns)) == name }) {
			return nil, fmt.Errorf("%s is not one of LBDNS_DNS_NS", name)
		}
		if !slices.ContainsFunc(d.Zones, func(z string) bool { return dns.IsSubDomain(dns.CanonicalName(z), name) }) {
			return nil, fmt.Errorf("%s is in none of LBDNS_DNS_ZONES: its own zone answers for it", name)
		}
		out[name] = append(out[name], addr.Unmap())
	}
	return out, nil
}

// TransferAllowed returns LBDNS_DNS_TRANSFER_ALLOW, parsed.
func (d DNS) TransferAllowed() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range d.TransferAllow {
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

// TSIGAlgorithm is LBDNS_DNS_TSIG_ALG as miekg/dns names it.
func (d DNS) TSIGAlgorithm() string { return tsigAlgorithms[strings.ToLower(d.TSIGAlg)] }

// TransfersOn reports whether the embedded DNS serves zone transfers: then
// its replicas agree on serials, through the Lease holder.
func (d DNS) TransfersOn() bool {
	allow, err := d.TransferAllowed()
	return d.Addr != "" && err == nil && len(allow) > 0
}
