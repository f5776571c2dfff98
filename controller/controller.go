// Package controller runs lbdns's loop: on every change of the cluster or of a
// probe result it recomputes the Services and hostnames the change touches,
// decides those hostnames' published sets, reports transitions (logs, events,
// metrics) and hands a new snapshot, sharing every other hostname with the
// previous one, to the outputs.
package controller

import (
	"context"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/source"
	"github.com/lbdns/lbdns/tenancy"
)

// minReconcileGap spaces reconciles during event storms (say, 10,000
// Services created at once), so that changes arriving meanwhile are handled
// together. A lone change still reconciles at once.
const minReconcileGap = 200 * time.Millisecond

// minJumpGap is the shortest gap in the controller's clock ticks taken for a
// time jump, so that a short probe interval does not make every scheduling
// hiccup one.
const minJumpGap = 500 * time.Millisecond

// readyGrace is added to one probe timeout to bound the wait for the first
// probe round: results need a moment to arrive after their timeout.
const readyGrace = 100 * time.Millisecond

// ClusterReader reads the cached cluster state: Services by name, the names
// of all of them, and (source.Lookup) EndpointSlices and Nodes.
type ClusterReader interface {
	source.Lookup
	Service(types.NamespacedName) *corev1.Service
	ServiceNames() []types.NamespacedName
	// IPsOf returns the IPs a Node holds (its addresses and, with node
	// agents, what its agent reports).
	IPsOf(*corev1.Node) []netip.Addr
}

// Options configure a Controller.
type Options struct {
	Build    source.Options
	FailOpen bool
	// Tenancy decides which Services may publish a hostname; the zero
	// value lets every one.
	Tenancy tenancy.Policy
	Probe   probe.Options
	// CacheSyncTimeout bounds the wait for the informer caches in Run; 0
	// waits as long as the context lives.
	CacheSyncTimeout time.Duration
	// LocalClusterName names the cluster lbdns runs in, in logs (its keys
	// have an empty Cluster).
	LocalClusterName string
	Logger           *slog.Logger
	Recorder         record.EventRecorder
	Metrics          *Metrics
}

// clusterView is one cluster's part: its cached objects, the model of its
// opted-in Services, and where its events go.
type clusterView struct {
	name     string // "" for the cluster lbdns runs in
	reader   ClusterReader
	model    *source.Model
	recorder record.EventRecorder
	synced   []namedSync
}

// Controller owns the health state and the current snapshot.
type Controller struct {
	opts Options
	log  *slog.Logger
	// passes counts the decision passes published (model.Decision.Pass).
	passes uint64
	// views holds every cluster's part by name, and order the same sorted
	// by name, the local cluster ("") first.
	views   map[string]*clusterView
	order   []*clusterView
	dirt    *dirt
	probes  *probe.Scheduler[model.Key]
	gone    *goneNodes
	fresh   *freshness
	trigger chan struct{}

	snap    atomic.Pointer[model.Snapshot]
	ready   chan struct{}
	isReady atomic.Bool

	subMu   sync.Mutex
	changed chan struct{} // closed and replaced on every new generation

	// Owned by the loop goroutine.
	everHealthy map[model.Key]bool
	// told is what the Services of each hostname were told of its episodes.
	told   *told
	warned map[serviceRef]warned
	// damped holds the targets held withdrawn by flap damping, until when.
	damped     map[model.Key]time.Time
	readyAfter time.Time   // when readiness stops waiting for first probes
	recheck    *time.Timer // triggers a reconcile while a hold may end unannounced
}

// New returns a controller of the cluster lbdns runs in (nil: none, only
// the remote clusters AddCluster adds); nothing runs until Run.
func New(cluster ClusterReader, opts Options) *Controller {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	c := &Controller{
		opts:        opts,
		log:         opts.Logger,
		views:       map[string]*clusterView{},
		dirt:        newDirt(),
		gone:        newGoneNodes(opts.Probe.Rise),
		fresh:       newFreshness(max(opts.Probe.Interval, minJumpGap)),
		trigger:     make(chan struct{}, 1),
		ready:       make(chan struct{}),
		changed:     make(chan struct{}),
		everHealthy: map[model.Key]bool{},
		told:        newTold(),
		warned:      map[serviceRef]warned{},
		damped:      map[model.Key]time.Time{},
	}
	popts := opts.Probe
	popts.Logger = opts.Logger
	c.probes = probe.NewScheduler(popts, func(k model.Key) { c.dirt.addKey(k); c.Trigger() })
	c.recheck = time.AfterFunc(time.Hour, func() { c.dirt.setRecheck(); c.Trigger() })
	c.recheck.Stop()
	if cluster != nil {
		c.AddCluster("", cluster, opts.Recorder)
	}
	c.snap.Store(&model.Snapshot{})
	if opts.Metrics != nil {
		opts.Metrics.snapshot.follow(c.Snapshot, c.clusterName(""))
	}
	return c
}

// AddCluster adds a remote cluster (name not empty) whose Services join the
// hostnames of every other cluster's; its events go to recorder. Call it
// before Run.
func (c *Controller) AddCluster(name string, reader ClusterReader, recorder record.EventRecorder) {
	build := c.opts.Build
	build.Cluster = name
	v := &clusterView{name: name, reader: reader, model: source.NewModel(build), recorder: recorder}
	c.views[name] = v
	c.order = append(c.order, v)
	slices.SortFunc(c.order, func(a, b *clusterView) int { return strings.Compare(a.name, b.name) })
}

// Trigger asks for a reconcile soon; many triggers coalesce into one.
func (c *Controller) Trigger() {
	select {
	case c.trigger <- struct{}{}:
	default:
	}
}

// Snapshot returns the latest snapshot.
func (c *Controller) Snapshot() *model.Snapshot { return c.snap.Load() }

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
		c.reconcile(ctx)
	}
}

// observe records the size of the cluster view and the pass's duration.
func (c *Controller) observe(start time.Time) {
	m := c.opts.Metrics
	if m == nil {
		return
	}
	hostnames, targets := c.size()
	m.hostnames.Set(float64(hostnames))
	m.targets.Set(float64(targets))
	if c.isReady.Load() {
		m.ready.Set(1)
	}
	m.reconcileDuration.Observe(time.Since(start).Seconds())
}
