package dnsserial

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/lbdns/lbdns/internal/testwait"
)

// lease is a test's stand-in for the Lease: held or not.
type lease struct{ held atomic.Bool }

func (l *lease) Held() error {
	if l.held.Load() {
		return nil
	}
	return errors.New("not held")
}

// The leader's announcements reach another replica through the ConfigMap;
// a replica that does not hold the Lease announces nothing; a new leader
// announces above every serial announced before.
func TestBoardAgreesThroughTheConfigMap(t *testing.T) {
	client := fake.NewClientset()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var leaderLease, followerLease lease
	leaderLease.held.Store(true)
	leader := New(client, "lbdns", "lbdns-dns-serials", leaderLease.Held, slog.New(slog.DiscardHandler))
	follower := New(client, "lbdns", "lbdns-dns-serials", followerLease.Held, slog.New(slog.DiscardHandler))
	go func() { _ = leader.Run(ctx) }()
	go func() { _ = follower.Run(ctx) }()

	if s, ok := follower.Announce("dns.test.", "d1", 100); ok || s != 100 {
		t.Fatalf("a replica without the Lease announced: %d, %v", s, ok)
	}
	s1, ok := leader.Announce("dns.test.", "d1", 100)
	if !ok || s1 != 100 {
		t.Fatalf("leader's announcement: %d, %v", s1, ok)
	}
	testwait.For(t, "the follower seeing the announcement", func() bool { s, ok := follower.Agreed("dns.test.", "d1"); return ok && s == 100 })
	if d, ok := follower.DigestOf("dns.test.", 100); !ok || d != "d1" {
		t.Errorf("DigestOf(100) = %q, %v", d, ok)
	}

	// The Lease moves: the new leader announces above what the old one did,
	// even when its own clock says less.
	leaderLease.held.Store(false)
	followerLease.held.Store(true)
	s2, ok := follower.Announce("dns.test.", "d2", 90)
	if !ok || s2 != 101 {
		t.Fatalf("new leader's announcement: %d, %v (want 101)", s2, ok)
	}
	if _, ok := leader.Announce("dns.test.", "d3", 200); ok {
		t.Fatal("the old leader announced after losing the Lease")
	}
	testwait.For(t, "the old leader seeing the new one's announcement", func() bool { s, ok := leader.Agreed("dns.test.", "d2"); return ok && s == 101 })
	cm, err := client.CoreV1().ConfigMaps("lbdns").Get(ctx, "lbdns-dns-serials", metav1.GetOptions{})
	if err != nil || cm.Data["dns.test"] != "100 d1\n101 d2\n" {
		t.Fatalf("ConfigMap: %v, %v", cm.Data, err)
	}
}

// An announcement made while the Lease was held but written after it was
// lost is dropped, not written.
func TestBoardDropsWhatItCannotWriteWhileHolding(t *testing.T) {
	client := fake.NewClientset()
	var l lease
	l.held.Store(true)
	b := New(client, "lbdns", "serials", l.Held, slog.New(slog.DiscardHandler))
	b.Announce("dns.test.", "d1", 5)
	l.held.Store(false)
	if err := b.writePending(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().ConfigMaps("lbdns").Get(context.Background(), "serials", metav1.GetOptions{}); err == nil {
		t.Fatal("written without the Lease")
	}
	if _, ok := b.Agreed("dns.test.", "d1"); ok {
		t.Fatal("a dropped announcement still counts as agreed")
	}
}

func TestMergeKeepsTheLastAndParseSkipsGarbage(t *testing.T) {
	var many []Entry
	for i := range Keep + 10 {
		many = append(many, Entry{Serial: uint32(1000 + i), Digest: fmt.Sprint("d", i)})
	}
	m := Merge(map[string][]Entry{"a.": many[:40]}, map[string][]Entry{"a.": many[30:], "b.": {{Serial: 7, Digest: "x"}}})
	if len(m["a."]) != Keep || m["a."][0].Serial != 1010 || m["a."][Keep-1].Serial != 1073 || len(m["b."]) != 1 {
		t.Fatalf("merged: %d entries from %d", len(m["a."]), m["a."][0].Serial)
	}
	back := Parse(Format(m))
	if len(back["a."]) != Keep || back["b."][0] != (Entry{7, "x"}) {
		t.Fatalf("round trip: %v", back["b."])
	}
	got := Parse(map[string]string{"z": "12 ok\nnot a line\n0 zero\n99999999999 big\n13\n", "_root": "1 r\n"})
	if len(got["z."]) != 1 || got["z."][0] != (Entry{12, "ok"}) || got["."][0] != (Entry{1, "r"}) {
		t.Fatalf("parsed: %v", got)
	}
}
