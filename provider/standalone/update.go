package standalone

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/plan"
)

// ErrConflict is the error of an UPDATE the server refused because its
// prerequisites failed: the zone is no longer what lbdns read (another
// writer, or a stale leader, changed it in between). Nothing of that
// hostname was changed; the next sync reads again.
var ErrConflict = errors.New("the zone changed since it was read")

// updateTimeout bounds one UPDATE exchange.
const updateTimeout = 10 * time.Second

// defaultRecordTTL is the TTL of records without one (the TXT ownership
// records), as external-dns's rfc2136 provider gives them.
const defaultRecordTTL = 300

// fenceKey carries the write's fence to ApplyChanges, which the registry
// calls without it.
type fenceKey struct{}

func withFence(ctx context.Context, fence func() error) context.Context {
	return context.WithValue(ctx, fenceKey{}, fence)
}

func fenceOf(ctx context.Context) func() error {
	if f, ok := ctx.Value(fenceKey{}).(func() error); ok && f != nil {
		return f
	}
	return func() error { return nil }
}

// ApplyChanges sends the change of each hostname (its A and AAAA records and
// their TXT ownership records) as one RFC 2136 UPDATE message, which the
// server applies whole or not at all, whose prerequisites state what lbdns
// read: a created RRset did not exist, an updated or deleted one holds
// exactly the values read. external-dns's own provider sends A and TXT
// records in separate batches and goes on after a failed one: a half-applied
// change could leave an A record without its ownership record, which no sync
// would ever withdraw. The fence is asked before each message, so a writer
// that lost its Lease during a long sync stops at once.
func (p *checkedRFC2136) ApplyChanges(ctx context.Context, c *plan.Changes) error {
	fence := fenceOf(ctx)
	var conflicts []error
	for _, u := range groupByHostname(c) {
		zone := p.zoneOf(u.hostname)
		if zone == "" {
			return fmt.Errorf("%s is in none of the zones %v", u.hostname, p.zones)
		}
		if err := fence(); err != nil {
			return err
		}
		m, err := u.message(zone)
		if err != nil {
			return err
		}
		err = p.send(ctx, m)
		switch {
		case errors.Is(err, ErrConflict):
			if p.onConflict != nil {
				p.onConflict()
			}
			conflicts = append(conflicts, fmt.Errorf("%s: %w", u.hostname, err))
		case err != nil:
			return fmt.Errorf("UPDATE of %s: %w", u.hostname, errors.Join(append(conflicts, err)...))
		}
	}
	if len(conflicts) > 0 {
		return fmt.Errorf("%d hostnames not written, the server refused their UPDATE: %w", len(conflicts), errors.Join(conflicts...))
	}
	return nil
}

// zoneOf is the longest zone that holds name.
func (p *checkedRFC2136) zoneOf(name string) string {
	best := ""
	for _, z := range p.zones {
		zone := dns.Fqdn(strings.ToLower(z))
		if dns.IsSubDomain(zone, dns.Fqdn(strings.ToLower(name))) && len(zone) > len(best) {
			best = zone
		}
	}
	return best
}

// send signs and sends one UPDATE over TCP and reads its answer.
func (p *checkedRFC2136) send(ctx context.Context, m *dns.Msg) error {
	c := &dns.Client{Net: "tcp", Timeout: updateTimeout}
	if p.tsig != nil {
		m.SetTsig(p.tsig.name, p.tsig.alg, 300, time.Now().Unix())
		c.TsigSecret = map[string]string{p.tsig.name: p.tsig.secret}
	}
	r, _, err := c.ExchangeContext(ctx, m, p.server)
	if err != nil {
		return err
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
		return nil
	case dns.RcodeYXRrset, dns.RcodeNXRrset, dns.RcodeYXDomain, dns.RcodeNameError:
		return fmt.Errorf("%w (%s)", ErrConflict, dns.RcodeToString[r.Rcode])
	}
	return fmt.Errorf("the server answered %s", dns.RcodeToString[r.Rcode])
}

// hostnameUpdate is the change of one hostname's records.
type hostnameUpdate struct {
	hostname                              string
	create, updateOld, updateNew, deletes []*endpoint.Endpoint
}

// groupByHostname splits the changes by the hostname each record belongs
// to: its own name, or, for a TXT ownership record, the name it owns.
func groupByHostname(c *plan.Changes) []*hostnameUpdate {
	byName := map[string]*hostnameUpdate{}
	var order []string
	add := func(eps []*endpoint.Endpoint, pick func(*hostnameUpdate) *[]*endpoint.Endpoint) {
		for _, ep := range eps {
			h := ep.DNSName
			if owned := ep.Labels[endpoint.OwnedRecordLabelKey]; ep.RecordType == endpoint.RecordTypeTXT && owned != "" {
				h = owned
			}
			h = strings.TrimSuffix(strings.ToLower(h), ".")
			u := byName[h]
			if u == nil {
				u = &hostnameUpdate{hostname: h}
				byName[h] = u
				order = append(order, h)
			}
			*pick(u) = append(*pick(u), ep)
		}
	}
	add(c.Create, func(u *hostnameUpdate) *[]*endpoint.Endpoint { return &u.create })
	add(c.UpdateOld, func(u *hostnameUpdate) *[]*endpoint.Endpoint { return &u.updateOld })
	add(c.UpdateNew, func(u *hostnameUpdate) *[]*endpoint.Endpoint { return &u.updateNew })
	add(c.Delete, func(u *hostnameUpdate) *[]*endpoint.Endpoint { return &u.deletes })
	slices.Sort(order)
	out := make([]*hostnameUpdate, len(order))
	for i, h := range order {
		out[i] = byName[h]
	}
	return out
}

// message is the UPDATE of one hostname: prerequisites first (a created
// RRset must not exist; an updated or deleted one must hold exactly the
// values read), then the removals and additions.
func (u *hostnameUpdate) message(zone string) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetUpdate(zone)
	read := append(slices.Clone(u.updateOld), u.deletes...)
	steps := []struct {
		eps []*endpoint.Endpoint
		add func([]dns.RR)
	}{
		{u.create, m.RRsetNotUsed}, {read, m.Used}, {read, m.Remove}, {append(slices.Clone(u.updateNew), u.create...), m.Insert},
	}
	for _, s := range steps {
		for _, ep := range s.eps {
			rrs, err := rrsOf(ep) // made anew for each section: the sections change the records' class and TTL
			if err != nil {
				return nil, err
			}
			s.add(rrs)
		}
	}
	return m, nil
}

// rrsOf turns an endpoint into its resource records, parsed from zone-file
// text as external-dns's rfc2136 provider writes them: a TXT target comes
// quoted ("heritage=external-dns,..."), and only the parser reads it as one
// string without the quotes, which the registry reads back as its own.
func rrsOf(ep *endpoint.Endpoint) ([]dns.RR, error) {
	ttl := int64(defaultRecordTTL)
	if ep.RecordTTL.IsConfigured() {
		ttl = int64(ep.RecordTTL)
	}
	var out []dns.RR
	for _, v := range ep.Targets {
		rr, err := dns.NewRR(fmt.Sprintf("%s %d IN %s %s", dns.Fqdn(ep.DNSName), ttl, ep.RecordType, v))
		if err != nil || rr == nil {
			return nil, fmt.Errorf("record %s %s %q: %v", ep.DNSName, ep.RecordType, v, err)
		}
		out = append(out, rr)
	}
	return out, nil
}
