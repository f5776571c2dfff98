// Package controller runs lbdns's loop: on every change of the cluster or of a
// probe result it rebuilds the hostname groups, decides each one's published
// set, reports transitions (logs, events, metrics) and hands a new snapshot to
// the outputs.
package controller

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
	"k8s.io/client-go/tools/record"
)

// changeHistory bounds the generations a snapshot remembers for latency.
const changeHistory = 64

// minReconcileGap spaces reconciles during event storms (say, 10,000
// Services created at once): each one rebuilds every hostname, so back to
// back they would keep a core busy. A lone change still reconciles at once.
const minReconcileGap = 200 * time.Millisecond

// ClusterReader reads the current cluster state.
type ClusterReader interface {
	Read() (source.Cluster, error)
}

// Options configure a Controller.
type Options struct {
	Build    source.Options
	FailOpen bool
	Probe    probe.Options
	Logger   *slog.Logger
	Recorder record.EventRecorder
	Metrics  *metrics.Metrics
}

// Controller owns the health state and the current snapshot.
type Controller struct {
	opts    Options
	log     *slog.Logger
	cluster ClusterReader
	probes  *probe.Scheduler[health.Key]
	trigger chan struct{}

	snap    atomic.Pointer[health.Snapshot]
	ready   chan struct{}
	isReady atomic.Bool

	subMu   sync.Mutex
	changed chan struct{} // closed and replaced on every new generation

	deletedMu sync.Mutex
	deleted   map[netip.Addr]deletedNode

	// Owned by the loop goroutine.
	state      *reportState
	readyAfter time.Time // when readiness stops waiting for first probes
}

// readyGrace is added to one probe timeout to bound the wait for the first
// probe round: results need a moment to arrive after their timeout.
const readyGrace = 100 * time.Millisecond

type deletedNode struct {
	name string
	at   time.Time
}

// New returns a controller; nothing runs until Run.
func New(cluster ClusterReader, opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		opts:    opts,
		log:     opts.Logger,
		cluster: cluster,
		trigger: make(chan struct{}, 1),
		ready:   make(chan struct{}),
		changed: make(chan struct{}),
		deleted: map[netip.Addr]deletedNode{},
		state:   newReportState(),
	}
	popts := opts.Probe
	popts.OnChange = c.Trigger
	popts.Logger = opts.Logger
	c.probes = probe.NewScheduler[health.Key](popts)
	c.snap.Store(&health.Snapshot{})
	return c
}

// Trigger asks for a reconcile soon; many triggers coalesce into one.
func (c *Controller) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// NodeDeleted records that a Node went away, so that the IPs it held are
// withdrawn until a Node holds them again or their probes pass rise times.
func (c *Controller) NodeDeleted(name string, ips []netip.Addr) {
	c.deletedMu.Lock()
	now := time.Now()
	for _, ip := range ips {
		c.deleted[ip] = deletedNode{name: name, at: now}
	}
	c.deletedMu.Unlock()
	c.Trigger()
}

// Snapshot returns the latest snapshot.
func (c *Controller) Snapshot() *health.Snapshot { return c.snap.Load() }

// Ready is closed once the first full probe round has ended.
func (c *Controller) Ready() <-chan struct{} { return c.ready }

// IsReady reports whether Ready is closed.
func (c *Controller) IsReady() bool { return c.isReady.Load() }

// Changed returns a channel that is closed at the next new generation.
func (c *Controller) Changed() <-chan struct{} {
	c.subMu.Lock()
	defer c.subMu.Unlock()
	return c.changed
}

// Run reconciles until ctx is done, then waits for the probes to stop. Start
// it after the informer caches synced.
func (c *Controller) Run(ctx context.Context) {
	defer c.probes.Wait()
	c.Trigger()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.trigger:
		}
		if wait := minReconcileGap - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(wait): // triggers meanwhile coalesce into this reconcile
			}
			select {
			case <-c.trigger:
			default:
			}
		}
		last = time.Now()
		if err := c.reconcile(ctx); err != nil {
			// The caches are in memory: an error here is a bug, not weather.
			c.log.Error("reconcile failed", "err", err)
		}
	}
}

func (c *Controller) reconcile(ctx context.Context) error {
	start := time.Now()
	cluster, err := c.cluster.Read()
	if err != nil {
		return err
	}
	cluster.DeletedNodes = c.deletedNodes(cluster)

	groups, warnings := source.Build(cluster, c.opts.Build)
	c.reportWarnings(warnings)

	desired := map[health.Key]probe.Target{}
	targets := 0
	for _, g := range groups {
		for _, t := range g.Targets {
			targets++
			if len(t.Probe.Checks) > 0 {
				desired[t.Key] = probe.Target{IP: t.IP, Spec: t.Probe}
			}
		}
	}
	c.probes.Sync(ctx, desired)
	c.markDeletedDown(groups)

	decisions := make([]health.Decision, len(groups))
	for i, g := range groups {
		decisions[i] = health.Decide(g, c.probes.Status, c.opts.FailOpen)
	}

	if !c.isReady.Load() {
		if c.readyAfter.IsZero() {
			c.readyAfter = start.Add(c.opts.Probe.Timeout + readyGrace)
			time.AfterFunc(c.opts.Probe.Timeout+readyGrace, c.Trigger)
		}
		if pending := c.pendingProbes(desired); pending == 0 || !start.Before(c.readyAfter) {
			c.isReady.Store(true)
			c.report(decisions, serviceRefs(cluster.Services), true)
			c.publish(decisions, start)
			close(c.ready)
			c.log.Info("ready", "hostnames", len(groups), "targets", targets, "stillWaitingForFirstProbe", pending)
		}
	} else {
		c.report(decisions, serviceRefs(cluster.Services), false)
		c.publish(decisions, start)
	}
	if m := c.opts.Metrics; m != nil {
		m.Hostnames.Set(float64(len(groups)))
		m.Targets.Set(float64(targets))
		if c.isReady.Load() {
			m.Ready.Set(1)
		}
		m.ReconcileDuration.Observe(time.Since(start).Seconds())
	}
	return nil
}

// pendingProbes counts targets whose first probe round has not ended.
func (c *Controller) pendingProbes(desired map[health.Key]probe.Target) int {
	n := 0
	for k := range desired {
		if st, ok := c.probes.Status(k); !ok || st.State == probe.Unknown {
			n++
		}
	}
	return n
}

// deletedNodes returns the IPs of deleted Nodes that still count, and forgets
// those a Node holds again or whose probes came back after the deletion.
func (c *Controller) deletedNodes(cluster source.Cluster) map[netip.Addr]string {
	c.deletedMu.Lock()
	defer c.deletedMu.Unlock()
	out := make(map[netip.Addr]string, len(c.deleted))
	for ip, d := range c.deleted {
		if _, held := cluster.Nodes[ip]; held || c.recoveredSince(ip, d.at) {
			delete(c.deleted, ip)
			continue
		}
		out[ip] = d.name
	}
	return out
}

// recoveredSince reports whether some probed target with this IP went up
// after t.
func (c *Controller) recoveredSince(ip netip.Addr, t time.Time) bool {
	for _, k := range c.state.keysByIP[ip] {
		if st, ok := c.probes.Status(k); ok && st.State == probe.Up && st.LastTransition.After(t) {
			return true
		}
	}
	return false
}

// markDeletedDown forces the probes of targets on deleted Nodes down once, so
// they must pass rise probes after the deletion to return. It also forgets
// IPs that no target has any more.
func (c *Controller) markDeletedDown(groups []health.Group) {
	c.deletedMu.Lock()
	defer c.deletedMu.Unlock()
	keysByIP := map[netip.Addr][]health.Key{}
	for _, g := range groups {
		for _, t := range g.Targets {
			keysByIP[t.IP] = append(keysByIP[t.IP], t.Key)
		}
	}
	for ip, d := range c.deleted {
		keys, ok := keysByIP[ip]
		if !ok {
			delete(c.deleted, ip)
			continue
		}
		for _, k := range keys {
			if st, ok := c.probes.Status(k); ok && st.State == probe.Up && !st.LastTransition.After(d.at) {
				c.probes.MarkDown(k, "node "+d.name+" was deleted")
			}
		}
	}
	c.state.keysByIP = keysByIP
}

// publish stores a new snapshot and wakes the outputs when a published set
// changed.
func (c *Controller) publish(decisions []health.Decision, at time.Time) {
	prev := c.snap.Load()
	next := &health.Snapshot{Generation: prev.Generation, Changes: prev.Changes, Taken: at, Hostnames: decisions,
		Transitions: slices.Clone(c.state.recent)}
	if !samePublished(prev.Hostnames, decisions) || prev.Generation == 0 {
		next.Generation++
		changes := append([]health.Change(nil), prev.Changes...)
		changes = append(changes, health.Change{Generation: next.Generation, At: at})
		if len(changes) > changeHistory {
			changes = changes[len(changes)-changeHistory:]
		}
		next.Changes = changes
	}
	c.snap.Store(next)
	if next.Generation != prev.Generation {
		c.subMu.Lock()
		close(c.changed)
		c.changed = make(chan struct{})
		c.subMu.Unlock()
	}
}

func samePublished(a, b []health.Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !health.SamePublished(a[i], b[i]) {
			return false
		}
	}
	return true
}
