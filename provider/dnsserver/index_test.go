package dnsserver

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/lbdns/lbdns/model"
	"github.com/miekg/dns"
)

// BenchmarkNewIndexOneChange measures the index of a snapshot of 1,000 and
// of 10,000 hostnames (10 IPs each) in which one hostname was decided anew:
// the cost the embedded DNS adds to every change, which should not grow
// with the hostnames.
func BenchmarkNewIndexOneChange(b *testing.B) {
	for _, size := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("hostnames=%d", size), func(b *testing.B) { benchmarkNewIndexOneChange(b, size) })
	}
}

func benchmarkNewIndexOneChange(b *testing.B, size int) {
	snap := &model.Snapshot{}
	var ds []model.Decision
	for h := range size {
		d := model.Decision{Hostname: fmt.Sprintf("h%05d.example.com", h), TTL: 30, Pass: 1}
		for i := range 10 {
			d.Targets = append(d.Targets, target(fmt.Sprintf("s%d", i), fmt.Sprintf("10.%d.%d.%d", h/250, h%250, i+1), 100, true))
		}
		ds = append(ds, d)
	}
	snap.Hostnames = model.NewDecisions(ds)
	// The next snapshot: one hostname decided anew, as the controller makes
	// it. The loop alternates between the two, so that it measures the
	// index alone.
	next := *snap
	changed := ds[size/2]
	changed.Targets = slices.Clone(changed.Targets)
	changed.Pass = 2
	next.Hostnames = snap.Hostnames.Replace([]string{changed.Hostname}, []model.Decision{changed})
	snaps := []*model.Snapshot{snap, &next}
	prev := newIndex(snap, nil, false)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		prev = newIndex(snaps[i%2], prev, false)
	}
}

// An index built snapshot after snapshot from its predecessor answers every
// lookup as one built from scratch: names that come, go, change their
// addresses, lose all of them, and empty non-terminals above them.
func TestIndexIncrementalMatchesFull(t *testing.T) {
	names := []string{"example.com", "a.example.com", "b.a.example.com", "c.b.a.example.com", "d.example.com",
		"*.w.example.com", "x.y.z.example.com", "other.test"}
	probes := append(slices.Clone(names), "b.example.com", "y.z.example.com", "z.example.com", "q.w.example.com",
		"nope.example.com", "test", "com")
	rnd := rand.New(rand.NewPCG(1, 2))
	var ix *index
	for step := range 300 {
		snap := &model.Snapshot{Generation: uint64(step)}
		var ds []model.Decision
		for i, n := range names {
			if rnd.IntN(3) == 0 {
				continue // not in this snapshot
			}
			var d model.Decision
			if ix != nil && rnd.IntN(2) == 0 {
				if old := ix.shards[ix.shardOf(n)].byHostname[n]; old != nil {
					d = old.decision // undecided: carried over unchanged
				}
			}
			if d.Hostname == "" {
				d = model.Decision{Hostname: n, TTL: 30, Pass: uint64(step + 1)}
				for j := range rnd.IntN(3) {
					d.Targets = append(d.Targets, target(fmt.Sprintf("s%d", j), fmt.Sprintf("192.0.2.%d", 10*i+j+1), 100, rnd.IntN(4) > 0))
				}
			}
			ds = append(ds, d)
		}
		slices.SortFunc(ds, func(a, b model.Decision) int { return strings.Compare(a.Hostname, b.Hostname) })
		snap.Hostnames = model.NewDecisions(ds)
		ix = newIndex(snap, ix, false)
		full := fullIndex(snap, false)
		for _, p := range probes {
			name := dns.CanonicalName(p)
			n1, ok1 := ix.lookup(name)
			n2, ok2 := full.lookup(name)
			if ok1 != ok2 || (n1 == nil) != (n2 == nil) || n1 != nil && !slices.Equal(n1.a.ips, n2.a.ips) {
				t.Fatalf("step %d, %s: incremental index says %v %+v, a full one %v %+v", step, p, ok1, n1, ok2, n2)
			}
		}
	}
}
