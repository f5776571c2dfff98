package dnsserver

import (
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// RRL configures response rate limiting, with BIND's semantics: answers
// over UDP to one client network (an IPv4 /24, an IPv6 /56) that are alike
// (same name and type, or the same error of a zone) are limited to Rate per
// second; of the responses over the limit, every Slip-th is sent truncated
// (an empty answer with TC set, so that a real resolver retries over TCP,
// which a spoofed source cannot) and the others are dropped. An
// authoritative server that answers everyone at full speed is a reflector
// for amplification attacks with spoofed sources; RRL caps what it sends to
// any victim while real resolvers still get answers. TCP is never limited.
type RRL struct {
	// Rate is the responses per second allowed per client network and
	// kind of response; 0 turns RRL off.
	Rate int
	// Slip: every Slip-th limited response is sent truncated; 0 drops
	// them all, 1 truncates them all.
	Slip int
	// Exempt client networks are never limited.
	Exempt []netip.Prefix
}

// RRL defaults, as BIND documents them for authoritative servers.
const (
	DefaultRRLRate = 20
	DefaultRRLSlip = 2
	rrlV4Prefix    = 24
	rrlV6Prefix    = 56
	// maxRRLEntries bounds the memory of the limiter; beyond it, entries of
	// networks that stopped sending are dropped first.
	maxRRLEntries = 100_000
)

// rrlVerdict is what becomes of one response.
type rrlVerdict int

const (
	rrlSend rrlVerdict = iota
	rrlSlip
	rrlDrop
)

func (v rrlVerdict) String() string {
	return [...]string{"sent", "slipped", "dropped"}[v]
}

// limiter keeps one token bucket per client network and kind of response.
type limiter struct {
	rrl RRL

	mu      sync.Mutex
	buckets map[rrlKey]*bucket
}

type rrlKey struct {
	network netip.Prefix
	kind    string // rcode class, qtype and name (the zone for errors)
}

type bucket struct {
	tokens  float64
	last    time.Time
	limited int // responses over the limit in a row, for Slip
}

func newLimiter(r RRL) *limiter {
	return &limiter{rrl: r, buckets: map[rrlKey]*bucket{}}
}

// verdict decides the fate of a response to client, and counts it.
func (l *limiter) verdict(client netip.Addr, kind string, now time.Time) rrlVerdict {
	if l == nil || l.rrl.Rate <= 0 {
		return rrlSend
	}
	client = client.Unmap()
	for _, p := range l.rrl.Exempt {
		if p.Contains(client) {
			return rrlSend
		}
	}
	bits := rrlV4Prefix
	if client.Is6() {
		bits = rrlV6Prefix
	}
	network, _ := client.Prefix(bits)
	key := rrlKey{network: network, kind: kind}
	rate := float64(l.rrl.Rate)

	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= maxRRLEntries {
			l.prune(now)
		}
		b = &bucket{tokens: rate, last: now}
		l.buckets[key] = b
	}
	b.tokens = min(rate, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		b.limited = 0
		return rrlSend
	}
	b.limited++
	if l.rrl.Slip > 0 && b.limited%l.rrl.Slip == 0 {
		return rrlSlip
	}
	return rrlDrop
}

// prune forgets buckets that are full again (their network stopped
// sending), and, if that is not enough, half of all.
func (l *limiter) prune(now time.Time) {
	rate := float64(l.rrl.Rate)
	for k, b := range l.buckets {
		if b.tokens+now.Sub(b.last).Seconds()*rate >= rate {
			delete(l.buckets, k)
		}
	}
	for k := range l.buckets {
		if len(l.buckets) < maxRRLEntries/2 {
			break
		}
		delete(l.buckets, k)
	}
}

// responseKind names what makes responses alike for RRL: NXDOMAIN and
// errors by zone (so that random names do not each get their own budget),
// answers by name and type.
func responseKind(req, resp *dns.Msg, zone string) string {
	if resp.Rcode != dns.RcodeSuccess {
		return dns.RcodeToString[resp.Rcode] + "/" + zone
	}
	if len(req.Question) != 1 {
		return "other"
	}
	q := req.Question[0]
	return dns.TypeToString[q.Qtype] + "/" + strings.ToLower(q.Name)
}

// limit applies response rate limiting to a UDP response.
func (s *Server) limit(w dns.ResponseWriter, req, resp *dns.Msg, now time.Time) rrlVerdict {
	if s.limiter == nil {
		return rrlSend
	}
	addr, ok := w.RemoteAddr().(*net.UDPAddr)
	if !ok {
		return rrlSend
	}
	client, _ := netip.AddrFromSlice(addr.IP)
	zone := ""
	if len(req.Question) == 1 {
		zone = s.zoneOf(dns.CanonicalName(req.Question[0].Name))
	}
	return s.limiter.verdict(client, responseKind(req, resp, zone), now)
}

// truncated is resp emptied with TC set: a real resolver retries over TCP.
func truncated(resp *dns.Msg) *dns.Msg {
	tc := resp.Copy()
	tc.Truncated = true
	tc.Answer, tc.Ns = nil, nil
	tc.Extra = slices.DeleteFunc(tc.Extra, func(rr dns.RR) bool { return rr.Header().Rrtype != dns.TypeOPT })
	return tc
}

func (s *Server) countLimited(v rrlVerdict) {
	if m := s.opts.Metrics; m != nil {
		m.rateLimited.WithLabelValues(v.String()).Inc()
	}
}
