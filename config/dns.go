package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNS is the embedded authoritative DNS server.
type DNS struct {
	Addr                  string        `env:"DNS_ADDR" help:"embedded authoritative DNS server, UDP and TCP, e.g. 127.0.0.1:5353; empty = off"`
	Zones                 []string      `env:"DNS_ZONES" envSeparator:"," help:"zones the embedded DNS server answers for, comma-separated"`
	NS                    []string      `env:"DNS_NS" envSeparator:"," help:"name servers of the zones (NS records), comma-separated; the first is the SOA's MNAME; empty = ns1.<zone>"`
	NSAddresses           []string      `env:"DNS_NS_ADDRESSES" envSeparator:"," help:"addresses of name servers inside the zones, name=IP, comma-separated, a name once per address: answered for those names and given as glue with the NS records and in transfers, e.g. ns1.lb.example.com=192.0.2.10,ns1.lb.example.com=2001:db8::10"`
	TransferAllow         []string      `env:"DNS_TRANSFER_ALLOW" envSeparator:"," help:"client networks (CIDR, comma-separated) that may transfer the zones (AXFR; IXFR answered whole) over TCP; empty = none"`
	TSIGName              string        `env:"DNS_TSIG_NAME" help:"TSIG key required on every zone transfer and signing every NOTIFY; empty = none"`
	TSIGSecret            string        `env:"DNS_TSIG_SECRET" help:"its secret (base64); never logged" secret:"true"`
	TSIGAlg               string        `env:"DNS_TSIG_ALG" envDefault:"hmac-sha256" help:"its algorithm: hmac-sha256, hmac-sha512, ..."`
	Notify                []string      `env:"DNS_NOTIFY" envSeparator:"," help:"secondaries (host:port, comma-separated) sent a NOTIFY on every change of the zones"`
	Hostmaster            string        `env:"DNS_HOSTMASTER" help:"SOA mailbox; empty = hostmaster.<zone>"`
	RRLRate               int           `env:"DNS_RRL_RATE" envDefault:"20" help:"response rate limiting: UDP responses per second per client network (/24, /56) and kind of answer; 0 = off"`
	RRLSlip               int           `env:"DNS_RRL_SLIP" envDefault:"2" help:"response rate limiting: every Nth limited response is sent truncated (TC) instead of dropped; 0 = drop all"`
	MaxAnswers            int           `env:"DNS_MAX_ANSWERS" envDefault:"16" help:"embedded DNS: addresses in one answer at most (a weighted choice, anew for every query; Route 53 gives 8); 0 = all"`
	TCPMaxConns           int           `env:"DNS_TCP_MAX_CONNS" envDefault:"1000" help:"embedded DNS: TCP connections held at once; more are closed at accept"`
	TCPMaxConnsPerNetwork int           `env:"DNS_TCP_MAX_CONNS_PER_NETWORK" envDefault:"50" help:"embedded DNS: TCP connections one client network (/24, /56) may hold at once"`
	TCPIdleTimeout        time.Duration `env:"DNS_TCP_IDLE_TIMEOUT" envDefault:"10s" help:"embedded DNS: time a TCP client may take to send a whole query, the first or the next (RFC 7766)"`
	WeightByNode          bool          `env:"DNS_WEIGHT_BY_NODE" envDefault:"false" help:"embedded DNS: make the node, not the IP, the unit of the weighted order (the weights of a hostname's IPs on one node are split among them); LBDNS_WEIGHT_BY_NODE, its old name, still works"`
	RRLExempt             []string      `env:"DNS_RRL_EXEMPT" envSeparator:"," help:"response rate limiting: client networks (CIDR, comma-separated) never limited"`
	UDPSpread             string        `env:"DNS_UDP_SPREAD" envDefault:"cpu" help:"embedded DNS: how the kernel spreads UDP queries over the server's sockets (one per core): cpu = to the socket of the CPU that received the datagram (cache-local, 1.3x the queries per second here), flow = by a hash of the client's address and port (the kernel's default; better when one CPU receives all traffic, e.g. a single-queue NIC without RPS)"`
}

// validate checks the embedded DNS server's settings: the transfer
// settings always (they are the ones a typo makes unsafe), the rest when
// the server is on.
func (d DNS) validate() []error {
	p := problems(d.validateTransfers())
	if d.Addr == "" {
		return p
	}
	if err := checkHostPort(d.Addr); err != nil {
		p.bad("DNS_ADDR", "%v", err)
	}
	if len(d.Zones) == 0 {
		p.bad("DNS_ZONES", "must name at least one zone when LBDNS_DNS_ADDR is set")
	}
	if d.MaxAnswers < 0 || d.MaxAnswers > 1000 {
		p.bad("DNS_MAX_ANSWERS", "must be 0 (all) or 1..1000, got %d", d.MaxAnswers)
	}
	if d.TCPMaxConns < 1 || d.TCPMaxConns > 1000000 {
		p.bad("DNS_TCP_MAX_CONNS", "must be 1..1000000, got %d", d.TCPMaxConns)
	}
	if d.TCPMaxConnsPerNetwork < 1 || d.TCPMaxConnsPerNetwork > d.TCPMaxConns {
		p.bad("DNS_TCP_MAX_CONNS_PER_NETWORK", "must be 1..LBDNS_DNS_TCP_MAX_CONNS (%d), got %d", d.TCPMaxConns, d.TCPMaxConnsPerNetwork)
	}
	if d.TCPIdleTimeout < 100*time.Millisecond || d.TCPIdleTimeout > 2*time.Minute {
		p.bad("DNS_TCP_IDLE_TIMEOUT", "must be 100ms..2m, got %s", d.TCPIdleTimeout)
	}
	for _, z := range d.Zones {
		if _, ok := dns.IsDomainName(z); !ok || strings.Trim(z, ".") == "" {
			p.bad("DNS_ZONES", "%q is not a domain name", z)
		}
	}
	if d.RRLRate < 0 || d.RRLRate > 1_000_000 {
		p.bad("DNS_RRL_RATE", "must be 0 (off) to 1000000, got %d", d.RRLRate)
	}
	if d.UDPSpread != "cpu" && d.UDPSpread != "flow" {
		p.bad("DNS_UDP_SPREAD", "must be cpu or flow, got %q", d.UDPSpread)
	}
	if d.RRLSlip < 0 || d.RRLSlip > 10 {
		p.bad("DNS_RRL_SLIP", "must be 0..10, got %d", d.RRLSlip)
	}
	if _, err := d.ExemptNetworks(); err != nil {
		p.bad("DNS_RRL_EXEMPT", "%v", err)
	}
	return p
}

// ExemptNetworks parses LBDNS_DNS_RRL_EXEMPT.
func (d DNS) ExemptNetworks() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range d.RRLExempt {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a network like 192.0.2.0/24", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// ReservedHostnames are the names of the embedded DNS zones themselves: each
// apex and its name server. A Service that names one would take over the
// zone for any resolver that trusts the answer.
func (d DNS) ReservedHostnames() map[string]bool {
	if d.Addr == "" {
		return nil
	}
	out := map[string]bool{}
	norm := func(n string) string { return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".") }
	for _, z := range d.Zones {
		zone := norm(z)
		if zone == "" {
			continue
		}
		out[zone] = true
		if len(d.NS) == 0 {
			out["ns1."+zone] = true
		}
		for _, ns := range d.NS {
			if n := norm(ns); n != "" {
				out[n] = true
			}
		}
	}
	return out
}
