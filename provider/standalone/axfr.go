package standalone

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/provider"
)

// transferTimeout bounds the dial and each read of one zone transfer.
const transferTimeout = 10 * time.Second

// checkedRFC2136 is external-dns's rfc2136 provider with a zone read that
// fails when the transfer does, and writes that are one UPDATE per hostname
// with prerequisites (update.go). external-dns v0.22's Records logs a refused
// or broken AXFR and returns the records it got, often none, with no error:
// a plan from that "empty zone" only creates, an RFC 2136 create adds, and a
// withdrawn IP would stay in DNS for good while every sync counted as a
// success. Here every zone must arrive whole (NOERROR, SOA first and last)
// or the read is an error and nothing is planned.
type checkedRFC2136 struct {
	provider.Provider // writes: external-dns's rfc2136 provider
	server            string
	zones             []string
	tsig              *tsigKey // nil: unsigned
	// onConflict, if set, hears of each UPDATE refused for its
	// prerequisites.
	onConflict func()
}

type tsigKey struct{ name, secret, alg string }

func newCheckedRFC2136(inner provider.Provider, o RFC2136Options) (*checkedRFC2136, error) {
	p := &checkedRFC2136{Provider: inner, server: net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), zones: o.Zones, onConflict: o.OnConflict}
	if !o.Insecure {
		alg, ok := tsigAlgorithms[strings.ToLower(o.TSIGSecretAlg)]
		if !ok {
			return nil, fmt.Errorf("unknown TSIG algorithm %q", o.TSIGSecretAlg)
		}
		p.tsig = &tsigKey{name: dns.Fqdn(o.TSIGKeyName), secret: o.TSIGSecret, alg: alg}
	}
	return p, nil
}

var tsigAlgorithms = map[string]string{
	"hmac-md5": dns.HmacMD5, "hmac-sha1": dns.HmacSHA1, "hmac-sha224": dns.HmacSHA224,
	"hmac-sha256": dns.HmacSHA256, "hmac-sha384": dns.HmacSHA384, "hmac-sha512": dns.HmacSHA512,
}

// Records transfers every zone and converts its records as external-dns's
// rfc2136 provider does. Any zone that does not arrive whole fails the read.
func (p *checkedRFC2136) Records(ctx context.Context) ([]*endpoint.Endpoint, error) {
	var rrs []dns.RR
	for _, zone := range p.zones {
		got, err := p.transfer(ctx, zone)
		if err != nil {
			return nil, fmt.Errorf("zone transfer (AXFR) of %s from %s: %w", zone, p.server, err)
		}
		rrs = append(rrs, got...)
	}
	return toEndpoints(rrs), nil
}

// transfer reads one zone. miekg/dns's Transfer reports a non-NOERROR rcode,
// a first record that is not the SOA, a TSIG failure and a stream cut before
// the closing SOA as an error on the channel.
func (p *checkedRFC2136) transfer(ctx context.Context, zone string) ([]dns.RR, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	t := &dns.Transfer{DialTimeout: transferTimeout, ReadTimeout: transferTimeout, WriteTimeout: transferTimeout}
	if p.tsig != nil {
		m.SetTsig(p.tsig.name, p.tsig.alg, 300, time.Now().Unix())
		t.TsigSecret = map[string]string{p.tsig.name: p.tsig.secret}
	}
	envs, err := t.In(m, p.server)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	var failed error
	for e := range envs { // drain: In's goroutine ends only when the channel does
		if e.Error != nil && failed == nil {
			failed = e.Error
		}
		rrs = append(rrs, e.RR...)
	}
	if failed != nil {
		return nil, explainTransferError(failed)
	}
	if len(rrs) == 0 || rrs[0].Header().Rrtype != dns.TypeSOA {
		return nil, errors.New("the transfer held no SOA record")
	}
	return rrs, nil
}

// explainTransferError names the usual cause of miekg/dns's terse errors.
func explainTransferError(err error) error {
	switch {
	case strings.Contains(err.Error(), "bad xfr rcode"):
		return fmt.Errorf("%w: the server refused the transfer (check allow-transfer for lbdns's TSIG key)", err)
	case errors.Is(err, dns.ErrSoa):
		return fmt.Errorf("%w: the transfer did not start with the zone's SOA", err)
	}
	return err
}

// toEndpoints groups records by name and type, in the order they came, as
// external-dns's rfc2136 Records does.
func toEndpoints(rrs []dns.RR) []*endpoint.Endpoint {
	type nameType struct{ name, typ string }
	index := map[nameType]*endpoint.Endpoint{}
	var eps []*endpoint.Endpoint
	for _, rr := range rrs {
		typ, values := recordValues(rr)
		if typ == "" || rr.Header().Class != dns.ClassINET {
			continue
		}
		key := nameType{strings.TrimSuffix(rr.Header().Name, "."), typ}
		if ep := index[key]; ep != nil {
			ep.Targets = append(ep.Targets, values...)
			continue
		}
		ep := endpoint.NewEndpointWithTTL(rr.Header().Name, typ, endpoint.TTL(rr.Header().Ttl), values...)
		if ep == nil { // a label over 63 characters
			continue
		}
		index[key] = ep
		eps = append(eps, ep)
	}
	return eps
}

func recordValues(rr dns.RR) (string, []string) {
	switch r := rr.(type) {
	case *dns.A:
		return endpoint.RecordTypeA, []string{r.A.String()}
	case *dns.AAAA:
		return endpoint.RecordTypeAAAA, []string{r.AAAA.String()}
	case *dns.TXT:
		return endpoint.RecordTypeTXT, r.Txt
	case *dns.CNAME:
		return endpoint.RecordTypeCNAME, []string{r.Target}
	case *dns.NS:
		return endpoint.RecordTypeNS, []string{r.Ns}
	case *dns.PTR:
		return endpoint.RecordTypePTR, []string{r.Ptr}
	}
	return "", nil
}
