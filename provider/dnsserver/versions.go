package dnsserver

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// SerialBoard is where the replicas of lbdns agree on their zones' serials,
// so that a secondary may transfer from any of them: the replica that holds
// the Lease announces the serial it gave each new version of a zone's data
// (known by its digest); the others adopt the serial announced for the data
// they have. A replica whose data is announced nowhere (it saw a change
// before or without the leader) uses a serial of its own meanwhile.
type SerialBoard interface {
	// Agreed is the newest serial announced for the zone's data of digest.
	Agreed(zone, digest string) (uint32, bool)
	// DigestOf is the digest announced with serial.
	DigestOf(zone string, serial uint32) (string, bool)
	// Announce gives the zone's new data of digest a serial of at least
	// serial and above every one announced, if this replica may announce
	// (it holds the Lease); false: it may not, nothing was announced.
	Announce(zone, digest string, serial uint32) (uint32, bool)
	// Changed is closed when the announcements change.
	Changed() <-chan struct{}
}

// ixfrHistory bounds the versions of a zone kept for incremental transfers
// (RFC 1995): a secondary further behind gets the whole zone.
const ixfrHistory = 64

// zoneVersion is what a zone publishes at its serial, kept when transfers
// are on: the records a transfer sends (so serial and records always go
// together), their digest, and the steps from the last versions, oldest
// first, for IXFR.
type zoneVersion struct {
	serial uint32
	digest string
	rrs    []dns.RR          // the address records, sorted by their text
	byText map[string]dns.RR // the same, by their text
	diffs  []zoneDiff
}

// zoneDiff is one version step: what left and what came.
type zoneDiff struct {
	from       uint32
	fromDigest string
	to         uint32
	gone       []dns.RR
	comein     []dns.RR
}

// transfersOn says whether zones are kept as versions: only secondaries
// need serials that follow the data.
func (s *Server) transfersOn() bool { return len(s.opts.Transfer.Allow) > 0 }

// serialOf is the zone's serial for the index's snapshot.
func (s *Server) serialOf(ix *index, zone string) uint32 {
	if !s.transfersOn() {
		return s.plainSerial(ix)
	}
	return s.versionOf(ix, zone).serial
}

// plainSerial, without transfers, is one serial for every zone: the time of
// the snapshot's generation in Unix seconds, one more than the last when
// two generations fall in one second, so it only moves forward, also across
// restarts (as long as changes come slower than one a second on average).
func (s *Server) plainSerial(ix *index) uint32 {
	s.serialMu.Lock()
	defer s.serialMu.Unlock()
	if gen := ix.snap.Generation; gen != s.versionGen || s.serial == 0 {
		s.versionGen, s.serial = gen, max(s.serial+1, uint32(changeTime(ix).Unix()))
	}
	return s.serial
}

// versionOf is the zone's version for the index's snapshot, or a newer one
// when another caller has already moved on.
func (s *Server) versionOf(ix *index, zone string) *zoneVersion {
	s.serialMu.Lock()
	defer s.serialMu.Unlock()
	if ix.snap.Generation > s.versionGen || s.versions == nil {
		s.versionGen = ix.snap.Generation
		s.recordVersions(ix)
	}
	return s.versions[zone]
}

// currentSerial is the zone's last serial given out (0: none yet).
func (s *Server) currentSerial(zone string) uint32 {
	s.serialMu.Lock()
	defer s.serialMu.Unlock()
	if v := s.versions[zone]; v != nil {
		return v.serial
	}
	return s.serial
}

// recordVersions makes a new version of every zone whose records changed;
// a zone whose records did not change keeps its serial. The caller holds
// serialMu.
func (s *Server) recordVersions(ix *index) {
	if s.versions == nil {
		s.versions = map[string]*zoneVersion{}
	}
	at := changeTime(ix)
	for _, zone := range s.zones {
		rrs, texts := sortedByText(s.addressRecords(ix, zone))
		digest := s.digest(zone, texts)
		old := s.versions[zone]
		if old != nil && old.digest == digest {
			continue
		}
		v := &zoneVersion{digest: digest, rrs: rrs, byText: make(map[string]dns.RR, len(rrs))}
		for i, rr := range rrs {
			v.byText[texts[i]] = rr
		}
		var last uint32
		if old != nil {
			last = old.serial
		}
		v.serial = s.nextSerial(zone, digest, last, at)
		if old != nil {
			v.diffs = append(old.diffs, diffOf(old, v))
			if len(v.diffs) > ixfrHistory {
				v.diffs = slices.Clone(v.diffs[len(v.diffs)-ixfrHistory:])
			}
		}
		s.versions[zone] = v
		s.noteSerial(zone, v.serial)
	}
}

// nextSerial is the serial of a zone's new data: the one the replicas
// agreed on for it, else the time of the change (one more than the last
// when that is not ahead), announced when this replica may announce.
func (s *Server) nextSerial(zone, digest string, last uint32, at time.Time) uint32 {
	next := max(last+1, uint32(at.Unix()))
	b := s.opts.Serials
	if b == nil {
		return next
	}
	if agreed, ok := b.Agreed(zone, digest); ok && agreed > last {
		return agreed
	}
	if announced, ok := b.Announce(zone, digest, next); ok {
		return announced
	}
	// Not the Lease holder, and the data not announced (yet): a serial of
	// its own, behind its clock, so that the holder's serial for the same
	// data, when it comes, is above it and replaces it.
	return max(last+1, uint32(at.Add(-ownSerialLag).Unix()))
}

// ownSerialLag is how far behind the time of a change a replica that does
// not hold the Lease puts its own serial: more than replicas' views of one
// change differ (probe interval x fall + timeout) plus the time an
// announcement takes to reach them.
const ownSerialLag = 10 * time.Second

// agree brings every zone's serial in line with the board: a serial
// announced for its data above its own is adopted (the data are the same: a
// step that changes nothing); data not announced with its serial are
// announced when this replica may (it just took the Lease, or saw the
// change while nobody held it), which may move its serial above every one
// announced before. It reports whether any zone's serial moved.
func (s *Server) agree() bool {
	b := s.opts.Serials
	if b == nil {
		return false
	}
	s.serialMu.Lock()
	defer s.serialMu.Unlock()
	moved := false
	for zone, old := range s.versions {
		agreed, ok := b.Agreed(zone, old.digest)
		switch {
		case ok && agreed == old.serial:
			continue
		case ok && agreed > old.serial:
		default: // above the own serials the others gave it meanwhile, made behind their clocks
			if agreed, ok = b.Announce(zone, old.digest, max(old.serial, uint32(time.Now().Unix()))); !ok || agreed == old.serial {
				continue
			}
		}
		v := *old
		v.serial = agreed
		v.diffs = append(slices.Clip(old.diffs), zoneDiff{from: old.serial, fromDigest: old.digest, to: agreed})
		if len(v.diffs) > ixfrHistory {
			v.diffs = v.diffs[len(v.diffs)-ixfrHistory:]
		}
		s.versions[zone] = &v
		s.noteSerial(zone, agreed)
		moved = true
	}
	return moved
}

// diffOf is the step from old to v.
func diffOf(old, v *zoneVersion) zoneDiff {
	d := zoneDiff{from: old.serial, fromDigest: old.digest, to: v.serial}
	for k, rr := range old.byText {
		if _, kept := v.byText[k]; !kept {
			d.gone = append(d.gone, rr)
		}
	}
	for k, rr := range v.byText {
		if _, had := old.byText[k]; !had {
			d.comein = append(d.comein, rr)
		}
	}
	slices.SortFunc(d.gone, compareRR)
	slices.SortFunc(d.comein, compareRR)
	return d
}

// digest names a zone's data: its name servers, their glue and every
// address record.
// Replicas with the same configuration and the same published sets compute
// the same digest.
func (s *Server) digest(zone string, texts []string) string {
	h := sha256.New()
	for _, rr := range append(s.nsRecords(zone), s.glue(zone)...) {
		h.Write([]byte(rr.String() + "\n"))
	}
	for _, t := range texts {
		h.Write([]byte(t + "\n"))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// sortedByText returns the records in the order of their text, one order on
// every replica (answers come in weighted order), and those texts.
func sortedByText(rrs []dns.RR) ([]dns.RR, []string) {
	type keyed struct {
		text string
		rr   dns.RR
	}
	ks := make([]keyed, len(rrs))
	for i, rr := range rrs {
		ks[i] = keyed{rr.String(), rr}
	}
	slices.SortFunc(ks, func(a, b keyed) int { return strings.Compare(a.text, b.text) })
	texts := make([]string, len(ks))
	for i, k := range ks {
		rrs[i], texts[i] = k.rr, k.text
	}
	return rrs, texts
}

// noteSerial shows the zone's serial as a metric.
func (s *Server) noteSerial(zone string, serial uint32) {
	if m := s.opts.Metrics; m != nil {
		m.zoneSerial.WithLabelValues(zone).Set(float64(serial))
	}
}

// changeTime is when the snapshot's last change happened (now if it says
// nothing).
func changeTime(ix *index) time.Time {
	if c := ix.snap.Changes; len(c) > 0 {
		return c[len(c)-1].At
	}
	return time.Now()
}

func compareRR(a, b dns.RR) int {
	switch x, y := a.String(), b.String(); {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
