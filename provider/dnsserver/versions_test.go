package dnsserver

import (
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lbdns/lbdns/internal/testsnap"
	"github.com/lbdns/lbdns/model"
)

// boardState is what replicas share in these tests (the ConfigMap of the
// real board); memBoard is one replica's view, leading or not.
type boardState struct {
	mu      sync.Mutex
	entries map[string][]boardEntry
	changed chan struct{}
}

type boardEntry struct {
	serial uint32
	digest string
}

type memBoard struct {
	state   *boardState
	leading bool
}

// leaderless is a board view that never announces.
func leaderless(state *boardState) *memBoard { return &memBoard{state: state} }

func newBoardState() *boardState {
	return &boardState{entries: map[string][]boardEntry{}, changed: make(chan struct{})}
}

func (b *memBoard) Agreed(zone, digest string) (uint32, bool) {
	b.state.mu.Lock()
	defer b.state.mu.Unlock()
	es := b.state.entries[zone]
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].digest == digest {
			return es[i].serial, true
		}
	}
	return 0, false
}

func (b *memBoard) DigestOf(zone string, serial uint32) (string, bool) {
	b.state.mu.Lock()
	defer b.state.mu.Unlock()
	for _, e := range b.state.entries[zone] {
		if e.serial == serial {
			return e.digest, true
		}
	}
	return "", false
}

func (b *memBoard) Announce(zone, digest string, serial uint32) (uint32, bool) {
	if !b.leading {
		return serial, false
	}
	b.state.mu.Lock()
	defer b.state.mu.Unlock()
	es := b.state.entries[zone]
	if n := len(es); n > 0 {
		serial = max(serial, es[n-1].serial+1)
	}
	b.state.entries[zone] = append(es, boardEntry{serial, digest})
	close(b.state.changed)
	b.state.changed = make(chan struct{})
	return serial, true
}

func (b *memBoard) Changed() <-chan struct{} {
	b.state.mu.Lock()
	defer b.state.mu.Unlock()
	return b.state.changed
}

// replica is one lbdns's embedded DNS over its own feed of snapshots (each
// replica probes for itself: its generations are its own).
func replica(board SerialBoard, hosts map[string][]string) (*Server, *testsnap.Feed) {
	feed := testsnap.NewFeed(testsnap.Build(1, hosts))
	return New(feed, Options{Zones: []string{"example.com", "other.test"}, Serials: board,
		Transfer: Transfer{Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}}}), feed
}

func serialNow(s *Server, zone string) uint32 { return s.serialOf(s.index(), zone) }

// at is a snapshot of generation gen whose last change happened at unix
// second sec.
func at(gen uint64, sec int64, hosts map[string][]string) *model.Snapshot {
	snap := testsnap.Build(gen, hosts)
	snap.Changes = []model.Change{{Generation: gen, At: time.Unix(sec, 0)}}
	return snap
}

// Two replicas with the same data serve the same serial, whichever saw a
// change first; a zone whose data did not change keeps its serial; an IXFR
// from a serial only one replica gave out gets the whole zone.
func TestReplicasAgreeOnSerials(t *testing.T) {
	state := newBoardState()
	before := map[string][]string{"app.example.com": {"192.0.2.1", "192.0.2.2"}, "x.other.test": {"192.0.2.7"}}
	leader, leaderFeed := replica(&memBoard{state, true}, before)
	follower, followerFeed := replica(&memBoard{state, false}, before)
	const zone, other = "example.com.", "other.test."

	first := serialNow(leader, zone)
	if got := serialNow(follower, zone); got != first {
		t.Fatalf("same data at start: leader %d, follower %d", first, got)
	}
	otherFirst := serialNow(leader, other)

	// The follower sees the withdrawal first: a serial of its own.
	after := map[string][]string{"app.example.com": {"192.0.2.1"}, "x.other.test": {"192.0.2.7"}}
	t0 := int64(first) + 10
	followerFeed.Set(at(7, t0, after))
	own := serialNow(follower, zone)
	if own <= first {
		t.Fatalf("follower's serial %d after %d", own, first)
	}
	if _, ok := follower.incremental(follower.versionOf(follower.index(), zone), zone, own, follower.soa(zone, own)); !ok {
		t.Fatal("IXFR from the current serial: not 'up to date'")
	}
	// The leader sees it, announces; the follower adopts.
	leaderFeed.Set(at(2, t0+1, after))
	agreed := serialNow(leader, zone)
	if !follower.agree() || agreed <= own {
		t.Fatalf("the follower did not move to the leader's serial %d from its own %d", agreed, own)
	}
	if got := serialNow(follower, zone); got != agreed {
		t.Fatalf("after the leader's announcement: leader %d, follower %d (own %d)", agreed, got, own)
	}
	v := follower.versionOf(follower.index(), zone)
	if _, ok := follower.incremental(v, zone, own, follower.soa(zone, v.serial)); ok {
		t.Error("an IXFR from the follower's own serial was answered incrementally: another replica may have given it to other data")
	}

	// The leader sees the restore first; the follower, later, finds the
	// data announced and takes that serial at once.
	leaderFeed.Set(at(3, t0+5, before))
	restored := serialNow(leader, zone)
	followerFeed.Set(at(8, t0+9, before))
	if got := serialNow(follower, zone); got != restored {
		t.Fatalf("restore: leader %d, follower %d", restored, got)
	}
	if got := serialNow(leader, other); got != otherFirst {
		t.Errorf("the other zone's serial moved %d -> %d though its data did not change", otherFirst, got)
	}
	v = leader.versionOf(leader.index(), zone)
	rrs, ok := leader.incremental(v, zone, first, leader.soa(zone, v.serial))
	if !ok || countA(rrs) != 2 { // two steps: 192.0.2.2 out, and in again
		t.Errorf("IXFR from the agreed serial %d: incremental %v, %v", first, ok, rrs)
	}

	// A replica that starts later with the same data takes the agreed serial.
	late, _ := replica(&memBoard{state, false}, before)
	if got := serialNow(late, zone); got != restored {
		t.Errorf("a new replica serves %d for the data agreed as %d", got, restored)
	}
}

// Without a board the serial still follows the data per zone, and only
// moves forward.
func TestSerialsFollowDataPerZone(t *testing.T) {
	s, feed := replica(nil, map[string][]string{"app.example.com": {"192.0.2.1"}, "x.other.test": {"192.0.2.7"}})
	a, b := serialNow(s, "example.com."), serialNow(s, "other.test.")
	for i := range 3 {
		feed.Set(testsnap.Build(uint64(i+2), map[string][]string{"app.example.com": {"192.0.2.1", netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}).String()}, "x.other.test": {"192.0.2.7"}}))
		next := serialNow(s, "example.com.")
		if next <= a {
			t.Fatalf("serial %d -> %d", a, next)
		}
		a = next
	}
	if got := serialNow(s, "other.test."); got != b {
		t.Errorf("other.test.: %d -> %d without a change", b, got)
	}
}

// Changes seen while nobody holds the Lease get serials of their own on each
// replica, which may differ; the replica that takes the Lease announces its
// data above them all, and the others adopt that serial.
func TestNewLeaderSettlesSerialsGivenWithoutOne(t *testing.T) {
	state := newBoardState()
	before := map[string][]string{"app.example.com": {"192.0.2.1", "192.0.2.2"}}
	after := map[string][]string{"app.example.com": {"192.0.2.1"}}
	b1, b2 := leaderless(state), leaderless(state)
	r1, feed1 := replica(b1, before)
	r2, feed2 := replica(b2, before)
	const zone = "example.com."
	now := time.Now().Unix()
	feed1.Set(at(2, now-3, after))
	feed2.Set(at(2, now-1, after))
	s1, s2 := serialNow(r1, zone), serialNow(r2, zone)
	if s1 == 0 || s2 == 0 {
		t.Fatal("no serials")
	}
	b2.leading = true // r2 takes the Lease
	if !r2.agree() {
		t.Fatal("the new Lease holder did not announce its data")
	}
	r1.agree()
	if a, b := serialNow(r1, zone), serialNow(r2, zone); a != b || a <= max(s1, s2) {
		t.Fatalf("after the new holder announced: %d and %d (before %d and %d)", a, b, s1, s2)
	}
}
