// Package testsnap builds health snapshots, and feeds them, for the tests of
// the outputs.
package testsnap

import (
	"maps"
	"net/netip"
	"slices"
	"sync"

	"github.com/lbdns/lbdns/model"
)

// Build returns a snapshot of generation gen in which every listed IP of
// every hostname is healthy and published with weight 100 and TTL 30.
func Build(gen uint64, hosts map[string][]string) *model.Snapshot {
	s := &model.Snapshot{Generation: gen}
	var ds []model.Decision
	for _, h := range slices.Sorted(maps.Keys(hosts)) {
		ips := hosts[h]
		d := model.Decision{Hostname: h, TTL: 30}
		for _, ip := range ips {
			d.Targets = append(d.Targets, model.TargetDecision{Target: model.Target{
				Key: model.Key{Namespace: "web", Service: "svc", IP: netip.MustParseAddr(ip)}, Weight: 100},
				Healthy: true, Published: true})
		}
		ds = append(ds, d)
	}
	s.Hostnames = model.NewDecisions(ds)
	return s
}

// Feed is a snapshot source for the outputs' tests: Set replaces the
// snapshot and wakes Changed; Ready is closed by MakeReady.
type Feed struct {
	mu      sync.Mutex
	snap    *model.Snapshot
	changed chan struct{}
	ready   chan struct{}
}

// NewFeed returns a feed of snap, not ready yet.
func NewFeed(snap *model.Snapshot) *Feed {
	return &Feed{snap: snap, changed: make(chan struct{}), ready: make(chan struct{})}
}

// Snapshot returns the current snapshot.
func (f *Feed) Snapshot() *model.Snapshot { f.mu.Lock(); defer f.mu.Unlock(); return f.snap }

// Changed is closed at the next Set.
func (f *Feed) Changed() <-chan struct{} { f.mu.Lock(); defer f.mu.Unlock(); return f.changed }

// Ready is closed by MakeReady.
func (f *Feed) Ready() <-chan struct{} { return f.ready }

// MakeReady closes Ready.
func (f *Feed) MakeReady() { close(f.ready) }

// Set replaces the snapshot and closes the channel Changed returned.
func (f *Feed) Set(snap *model.Snapshot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.snap = snap
	close(f.changed)
	f.changed = make(chan struct{})
}
