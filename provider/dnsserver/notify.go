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

// versionLoop keeps the zones' serials current once lbdns is ready (so no
// query waits while a version is made), adopts the serials the replicas
// agreed on, and tells the secondaries of every new serial of a zone
// (RFC 1996).
func (s *Server) versionLoop(ctx context.Context) {
	told := map[string]uint32{}
	for {
		changed := s.snaps.Changed()
		var agreed <-chan struct{}
		if b := s.opts.Serials; b != nil {
			agreed = b.Changed()
		}
		ready := s.opts.Ready == nil || s.opts.Ready()
		if ready && len(s.zones) > 0 {
			ix := s.index()
			s.serialOf(ix, s.zones[0]) // makes the versions of every zone
			s.agree()
			for _, zone := range s.zones {
				if serial := s.serialOf(ix, zone); serial != told[zone] {
					told[zone] = serial
					s.notifyZone(ctx, zone, serial)
				}
			}
		}
		var poll <-chan time.Time
		if !ready {
			poll = time.After(time.Second) // readiness has no channel: look again
		}
		select {
		case <-ctx.Done():
			return
		case <-changed:
		case <-agreed:
		case <-poll:
		}
	}
}

// notifyZone sends a NOTIFY of the zone to every secondary, each until it
// is acknowledged, given up, or a newer serial supersedes it.
func (s *Server) notifyZone(ctx context.Context, zone string, serial uint32) {
	for _, target := range s.opts.Transfer.Notify {
		go s.notifyOne(ctx, target, zone, serial) // the next change does not wait for slow secondaries
	}
}

func (s *Server) notifyOne(ctx context.Context, target, zone string, serial uint32) {
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
		if s.currentSerial(zone) != serial {
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
		m.notifies.WithLabelValues(result).Inc()
	}
}
