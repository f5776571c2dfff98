package dnsserver

import (
	"context"
	"time"

	"github.com/miekg/dns"
)

// Retrying a NOTIFY that got no answer (RFC 1996 section 3.6): a few times,
// backing off, until a newer change supersedes it.
const (
	notifyTries   = 5
	notifyBackoff = time.Second
	notifyTimeout = 2 * time.Second
)

// notifyLoop tells the secondaries of every new generation of the published
// data (RFC 1996), once lbdns is ready.
func (s *Server) notifyLoop(ctx context.Context) {
	var told uint64
	for {
		changed := s.snaps.Changed()
		snap := s.snaps.Snapshot()
		if snap.Generation > told && (s.opts.Ready == nil || s.opts.Ready()) {
			told = snap.Generation
			serial := s.serialOf(s.index())
			s.notifyAll(ctx, told, serial)
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-time.After(time.Second): // readiness has no channel: look again
		}
	}
}

// notifyAll sends a NOTIFY of every zone to every secondary, each until it
// is acknowledged, given up, or a newer generation supersedes it.
func (s *Server) notifyAll(ctx context.Context, gen uint64, serial uint32) {
	for _, target := range s.opts.Transfer.Notify {
		for _, zone := range s.zones {
			go s.notifyOne(ctx, gen, target, zone, serial) // the next change does not wait for slow secondaries
		}
	}
}

func (s *Server) notifyOne(ctx context.Context, gen uint64, target, zone string, serial uint32) {
	wait := notifyBackoff
	for try := 1; try <= notifyTries; try++ {
		err := s.sendNotify(ctx, target, zone, serial)
		if err == nil {
			s.countNotify("acknowledged")
			return
		}
		s.opts.Logger.Debug("NOTIFY not acknowledged", "secondary", target, "zone", zone, "serial", serial, "try", try, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if s.snaps.Snapshot().Generation != gen {
			return // a newer NOTIFY is on its way
		}
		wait *= 2
	}
	s.countNotify("failed")
	s.opts.Logger.Warn("NOTIFY never acknowledged: the secondary picks the change up at its next refresh", "secondary", target, "zone", zone, "serial", serial)
}

func (s *Server) sendNotify(ctx context.Context, target, zone string, serial uint32) error {
	m := new(dns.Msg)
	m.SetNotify(zone)
	m.Answer = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: zone, Rrtype: dns.TypeSOA, Class: dns.ClassINET}, Ns: s.nsNames(zone)[0],
		Mbox: "hostmaster." + zone, Serial: serial}}
	c := &dns.Client{Timeout: notifyTimeout}
	if k := s.opts.Transfer.TSIG; k != nil {
		m.SetTsig(dns.Fqdn(k.Name), k.Algorithm, 300, time.Now().Unix())
		c.TsigSecret = map[string]string{dns.Fqdn(k.Name): k.Secret}
	}
	r, _, err := c.ExchangeContext(ctx, m, target)
	if err != nil {
		return err
	}
	if r.Rcode != dns.RcodeSuccess {
		return &notifyError{rcode: r.Rcode}
	}
	return nil
}

type notifyError struct{ rcode int }

func (e *notifyError) Error() string { return "answered " + dns.RcodeToString[e.rcode] }

func (s *Server) countNotify(result string) {
	if m := s.opts.Metrics; m != nil {
		m.DNSNotifies.WithLabelValues(result).Inc()
	}
}
