// Package controller runs lbdns's loop: on every change of the cluster or of a
// probe result it rebuilds the hostname groups, decides each one's published
// set, reports transitions (logs, events, metrics) and hands a new snapshot to
// the outputs.
package controller

import (
	"context"
	"log/slog"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/health"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
)

// minReconcileGap spaces reconciles during event storms (say, 10,000
// Services created at once): each one rebuilds every hostname, so back to
// back they would keep a core busy. A lone change still reconciles at once.
const minReconcileGap = 200 * time.Millisecond

// minJumpGap is the shortest gap in the controller's clock ticks taken for a
// time jump, so that a short probe interval does not make every scheduling
// hiccup one.
const minJumpGap = 500 * time.Millisecond

// readyGrace is added to one probe timeout to bound the wait for the first
// probe round: results need a moment to arrive after their timeout.
const readyGrace = 100 * time.Millisecond

// ClusterReader reads the current cluster state.
type ClusterReader interface {
	Read() (source.Cluster, error)
}

// Options configure a Controller.
type Options struct {
	Build    source.Options
	FailOpen bool
	Probe    probe.Options
	// CacheSyncTimeout bounds the wait for the informer caches in Run; 0
	// waits as long as the context lives.
	CacheSyncTimeout time.Duration
	Logger           *slog.Logger
	Recorder         record.EventRecorder
	Metrics          *metrics.Metrics
}

// Controller owns the health state and the current snapshot.
type Controller struct {
	opts    Options
	log     *slog.Logger
	cluster ClusterReader
	probes  *probe.Scheduler[health.Key]
	gone    *goneNodes
	fresh   *freshness
	synced  []namedSync
	trigger chan struct{}

	snap    atomic.Pointer[health.Snapshot]
	ready   chan struct{}
	isReady atomic.Bool

	subMu   sync.Mutex
	changed chan struct{} // closed and replaced on every new generation

	// Owned by the loop goroutine.
	everHealthy map[health.Key]bool
	// failOpenTold holds the hostnames whose FailOpen event was sent.
	failOpenTold map[string]bool
	warned       map[types.UID]map[string]bool
	readyAfter   time.Time   // when readiness stops waiting for first probes
	recheck      *time.Timer // triggers a reconcile while deleted Nodes hold IPs back
}

// New returns a controller; nothing runs until Run.
func New(cluster ClusterReader, opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		opts:         opts,
		log:          opts.Logger,
		cluster:      cluster,
		gone:         newGoneNodes(opts.Probe.Rise),
		fresh:        newFreshness(max(opts.Probe.Interval, minJumpGap)),
		trigger:      make(chan struct{}, 1),
		ready:        make(chan struct{}),
		changed:      make(chan struct{}),
		everHealthy:  map[health.Key]bool{},
		failOpenTold: map[string]bool{},
	}
	popts := opts.Probe
	popts.OnChange = c.Trigger
	popts.Logger = opts.Logger
	c.probes = probe.NewScheduler[health.Key](popts)
	c.recheck = time.AfterFunc(time.Hour, c.Trigger)
	c.recheck.Stop()
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

// Run waits for the informer caches (an error if they do not sync in time),
// then reconciles until ctx is done and waits for the probes to stop.
func (c *Controller) Run(ctx context.Context) error {
	go c.watchClock(ctx.Done())
	if err := c.waitForCaches(ctx); err != nil {
		return err
	}
	defer c.probes.Wait()
	defer c.recheck.Stop()
	c.Trigger()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-c.trigger:
		}
		if wait := minReconcileGap - time.Since(last); wait > 0 {
			select {
			case <-ctx.Done():
				return nil
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

// reconcile is one pass: read the cluster, build the hostname groups, sync
// the probes, decide, and once ready diff, report and publish.
func (c *Controller) reconcile(ctx context.Context) error {
	start := time.Now()
	cluster, err := c.cluster.Read()
	if err != nil {
		return err
	}
	groups, warnings := source.Build(cluster, c.opts.Build)
	c.reportWarnings(warnings)
	probed := c.syncProbes(ctx, groups)
	prev := c.snap.Load()
	prior := priorOf(prev)
	facts := c.facts(cluster, groups, prior, start)
	decisions := decide(groups, facts, c.opts.FailOpen)
	defer c.observe(start, groups)

	first, ready := c.readiness(start, probed, facts.Probes)
	if !ready {
		return nil
	}
	ch := diff(prev, prior, decisions, c.everHealthy)
	c.report(ch, decisions, prev, newServiceRefs(cluster.Services), first)
	c.publish(prev, decisions, ch.Targets, start)
	if first {
		close(c.ready)
		c.log.Info("ready", "hostnames", len(groups), "targets", countTargets(groups), "stillWaitingForFirstProbe", pending(probed, facts.Probes))
	}
	return nil
}

// syncProbes makes the prober probe exactly the targets that have checks,
// and returns them.
func (c *Controller) syncProbes(ctx context.Context, groups []health.Group) map[health.Key]probe.Target {
	desired := map[health.Key]probe.Target{}
	for _, g := range groups {
		for _, t := range g.Targets {
			if len(t.ProbeSpec.Checks) > 0 {
				desired[t.Key] = probe.Target{IP: t.IP, Spec: t.ProbeSpec}
			}
		}
	}
	c.probes.Sync(ctx, desired)
	return desired
}

// facts reads the probe statuses once and weighs the deleted Nodes against
// them and the cluster.
func (c *Controller) facts(cluster source.Cluster, groups []health.Group, prior map[health.Key]health.Prior, now time.Time) health.Facts {
	statuses := c.probes.Statuses()
	var gone map[netip.Addr]string
	if c.gone.Len() > 0 { // the usual case is none: skip the indexes
		held := func(ip netip.Addr) bool { _, ok := cluster.Nodes[ip]; return ok }
		gone = c.gone.View(held, keysByIP(groups), statuses)
	}
	c.scheduleRecheck(len(gone) > 0, statuses, now)
	return health.Facts{Probes: statuses, GoneNodes: gone, Prior: prior, Now: now}
}

// scheduleRecheck asks for a reconcile when a hold may end without any
// state change to trigger one: a deleted Node's hold ends with probe
// results (look again soon), a flap damping hold at a known time.
func (c *Controller) scheduleRecheck(goneNodes bool, statuses map[health.Key]probe.Status, now time.Time) {
	var wait time.Duration
	if goneNodes {
		wait = max(c.opts.Probe.Interval/2, 50*time.Millisecond)
	}
	for _, st := range statuses {
		if st.Damped(now) {
			if d := st.DampedUntil.Sub(now) + 10*time.Millisecond; wait == 0 || d < wait {
				wait = d
			}
		}
	}
	if wait > 0 {
		c.recheck.Reset(wait)
	}
}

// keysByIP indexes the targets by IP.
func keysByIP(groups []health.Group) map[netip.Addr][]health.Key {
	out := map[netip.Addr][]health.Key{}
	for _, g := range groups {
		for _, t := range g.Targets {
			out[t.IP] = append(out[t.IP], t.Key)
		}
	}
	return out
}

func decide(groups []health.Group, f health.Facts, failOpen bool) []health.Decision {
	decisions := make([]health.Decision, len(groups))
	for i, g := range groups {
		decisions[i] = health.Decide(g, f, failOpen)
	}
	return decisions
}

// readiness reports whether lbdns is ready, and whether it became ready in
// this pass. It is ready once every probed target finished its first round,
// or one probe timeout after the first pass, whichever comes first.
func (c *Controller) readiness(start time.Time, probed map[health.Key]probe.Target, statuses map[health.Key]probe.Status) (first, ready bool) {
	if c.isReady.Load() {
		return false, true
	}
	if c.readyAfter.IsZero() {
		wait := c.opts.Probe.Timeout + readyGrace
		c.readyAfter = start.Add(wait)
		time.AfterFunc(wait, c.Trigger)
	}
	if pending(probed, statuses) > 0 && start.Before(c.readyAfter) {
		return false, false
	}
	c.isReady.Store(true)
	return true, true
}

// pending counts the probed targets whose first probe round has not ended.
func pending(probed map[health.Key]probe.Target, statuses map[health.Key]probe.Status) int {
	n := 0
	for k := range probed {
		if statuses[k].State == probe.Unknown {
			n++
		}
	}
	return n
}

func countTargets(groups []health.Group) int {
	n := 0
	for _, g := range groups {
		n += len(g.Targets)
	}
	return n
}

// observe records the size of the cluster view and the pass's duration.
func (c *Controller) observe(start time.Time, groups []health.Group) {
	m := c.opts.Metrics
	if m == nil {
		return
	}
	m.Hostnames.Set(float64(len(groups)))
	m.Targets.Set(float64(countTargets(groups)))
	if c.isReady.Load() {
		m.Ready.Set(1)
	}
	m.ReconcileDuration.Observe(time.Since(start).Seconds())
}
