package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/bandwidth"
	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/httpserver"
	"github.com/lbdns/lbdns/lbset"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/nodeagent"
	"github.com/lbdns/lbdns/source/informer"
	"github.com/lbdns/lbdns/tenancy"
)

// sets is the LoadBalancerSet controller of the local cluster
// (LBDNS_SETS=true): its own informers of the sets and of their Services
// (label lbdns.io/set), and a decision round every LBDNS_SETS_INTERVAL or
// when one of them changes.
type sets struct {
	cfg      config.Config
	ctl      *lbset.Controller
	setInf   cache.SharedIndexInformer
	svcInf   cache.SharedIndexInformer
	view     *setView
	trigger  chan struct{}
	log      *slog.Logger
	lbdnsCtl *controller.Controller
}

// startSets runs the LoadBalancerSets in g when LBDNS_SETS is on, and
// returns what /status shows of them.
func startSets(g *group, cfg config.Config, restCfg *rest.Config, client kubernetes.Interface, clusters []watchedCluster,
	ctl *controller.Controller, agents any, recorder record.EventRecorder, lease *heldLease, m *lbset.Metrics, log *slog.Logger) (httpserver.Sets, error) {
	s, err := newSets(cfg, restCfg, client, clusters, ctl, agents, recorder, mayWrite(lease, ctl), m, log)
	if err != nil || s == nil {
		return nil, err // an untyped nil: /status then shows no sets
	}
	g.Go(s.run)
	return s.ctl, nil
}

// newSets checks that the CRD is installed and builds the controller; nil
// when LBDNS_SETS is off.
func newSets(cfg config.Config, restCfg *rest.Config, client kubernetes.Interface, clusters []watchedCluster, ctl *controller.Controller,
	agents any, recorder record.EventRecorder, leading func() bool, m *lbset.Metrics, log *slog.Logger) (*sets, error) {
	if !cfg.Sets.Enabled {
		return nil, nil
	}
	gv := lbset.Group + "/" + lbset.Version
	if _, err := client.Discovery().ServerResourcesForGroupVersion(gv); err != nil {
		return nil, fmt.Errorf("LBDNS_SETS=true, but the API server does not serve %s (install the CRD: kubectl apply -k manifests/sets): %w", gv, err)
	}
	var reader *informer.CacheReader
	for _, c := range clusters {
		if c.name == "" {
			reader = c.inf.reader
		}
	}
	if reader == nil {
		return nil, fmt.Errorf("LBDNS_SETS=true needs the local cluster (LBDNS_LOCAL_CLUSTER=true)")
	}
	dyn, err := dynamic.NewForConfig(restCfg)
	if err != nil {
		return nil, fmt.Errorf("LoadBalancerSets: %w", err)
	}
	poller, _ := agents.(*nodeagent.Poller)
	view := &setView{reader: reader, ctl: ctl, poller: poller, policy: cfg.TenancyPolicy(), prefix: cfg.Source.AnnotationPrefix,
		bandwidth: bandwidth.BitsPerSecond(cfg.Source.NodeBandwidth)}
	s := &sets{cfg: cfg, view: view, trigger: make(chan struct{}, 1), log: log.With("component", "sets"), lbdnsCtl: ctl}
	s.ctl = lbset.New(client, dyn, view, lbset.Options{AnnotationPrefix: cfg.Source.AnnotationPrefix,
		DrainFor: 2 * time.Duration(max(cfg.Publish.TTL, cfg.Publish.MinTTL)) * time.Second, Leading: leading, Recorder: recorder, Logger: s.log, Metrics: m})
	s.setInf = dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, cfg.Source.Namespace, nil).
		ForResource(lbset.GroupVersionResource).Informer()
	s.svcInf = informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(cfg.Source.Namespace),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = lbset.LabelSet })).Core().V1().Services().Informer()
	poke := cache.ResourceEventHandlerFuncs{AddFunc: func(any) { s.poke() }, UpdateFunc: func(any, any) { s.poke() }, DeleteFunc: func(any) { s.poke() }}
	for _, inf := range []cache.SharedIndexInformer{s.setInf, s.svcInf} {
		if _, err := inf.AddEventHandler(poke); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *sets) poke() {
	select {
	case s.trigger <- struct{}{}:
	default:
	}
}

// run decides every set once lbdns is ready, then every interval and after
// each change of a set or of one of its Services.
func (s *sets) run(ctx context.Context) error {
	go s.setInf.RunWithContext(ctx)
	go s.svcInf.RunWithContext(ctx)
	syncCtx, cancel := context.WithTimeout(ctx, s.cfg.Source.CacheSyncTimeout)
	synced := cache.WaitForCacheSync(syncCtx.Done(), s.setInf.HasSynced, s.svcInf.HasSynced)
	cancel()
	if ctx.Err() != nil {
		return nil
	}
	if !synced {
		return fmt.Errorf("LoadBalancerSets: LoadBalancerSets and Services not listed within %s (LBDNS_CACHE_SYNC_TIMEOUT): "+
			"check that lbdns may list and watch them (kubectl apply -k manifests/sets)", s.cfg.Source.CacheSyncTimeout)
	}
	select {
	case <-ctx.Done():
		return nil
	case <-s.lbdnsCtl.Ready():
	}
	tick := time.NewTicker(s.cfg.Sets.Interval)
	defer tick.Stop()
	for {
		s.round(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-s.trigger:
			time.Sleep(200 * time.Millisecond) // changes come in bursts: one round for them
		}
	}
}

func (s *sets) round(ctx context.Context) {
	var all []*lbset.LoadBalancerSet
	for _, o := range s.setInf.GetStore().List() {
		u, ok := o.(*unstructured.Unstructured)
		if !ok {
			continue
		}
		set, err := lbset.FromUnstructured(u.Object)
		if err != nil {
			s.log.Warn("a LoadBalancerSet is unreadable, left alone", "name", u.GetNamespace()+"/"+u.GetName(), "err", err)
			continue
		}
		all = append(all, set)
	}
	var svcs []*corev1.Service
	for _, o := range s.svcInf.GetStore().List() {
		if svc, ok := o.(*corev1.Service); ok {
			svcs = append(svcs, svc)
		}
	}
	s.ctl.Sync(ctx, "", all, svcs)
}

// setView is lbdns's view of the local cluster as the sets read it.
type setView struct {
	reader    *informer.CacheReader
	ctl       *controller.Controller
	poller    *nodeagent.Poller
	policy    tenancy.Policy
	prefix    string
	bandwidth bandwidth.BitsPerSecond
}

func (v *setView) Nodes() []*corev1.Node { return v.reader.AllNodes() }

func (v *setView) ReadyNodesOf(namespace, service string) []string {
	var out []string
	for _, ep := range v.reader.ReadyEndpointsOf(types.NamespacedName{Namespace: namespace, Name: service}) {
		if ep.Node != "" {
			out = append(out, ep.Node)
		}
	}
	return out
}

func (v *setView) Published(hostname, namespace, service string, ip netip.Addr) bool {
	d, ok := v.ctl.Snapshot().Hostnames.Find(hostname)
	return ok && slices.ContainsFunc(d.Targets, func(t model.TargetDecision) bool {
		return t.Published && t.Key.Namespace == namespace && t.Key.Service == service && t.Key.IP == ip.Unmap()
	})
}

func (v *setView) Traffic(ip netip.Addr) (float64, bool) {
	if v.poller == nil {
		return 0, false
	}
	p, ok := v.poller.PlaceOf(ip)
	if !ok || p.Stale {
		return 0, false
	}
	return max(p.Interface.TransmitBitsPerSecond, p.Interface.ReceiveBitsPerSecond), true
}

func (v *setView) Bandwidth(n *corev1.Node) float64 {
	if b, err := bandwidth.Parse(n.Annotations[v.prefix+"bandwidth"]); err == nil && b > 0 {
		return float64(b)
	}
	return float64(v.bandwidth)
}

// MayClaim applies the tenancy rules to a set's hostname before any of its
// Services exists: reserved names, the namespace's domains, and in
// namespace mode a hostname another namespace owns and does not share.
func (v *setView) MayClaim(namespace, hostname string) (bool, string) {
	_, verdicts := v.policy.Resolve(hostname, []tenancy.Claim{{Namespace: namespace, Name: "(LoadBalancerSet)"}})
	if !verdicts[0].Allowed && verdicts[0].Reason != "" {
		return false, verdicts[0].Detail
	}
	d, ok := v.ctl.Snapshot().Hostnames.Find(hostname)
	if !ok || d.Owner == "" || d.Owner == namespace || v.policy.Mode != tenancy.ModeNamespace {
		return true, ""
	}
	if slices.ContainsFunc(d.Targets, func(t model.TargetDecision) bool { return t.Key.Namespace == namespace }) {
		return true, "" // the owner shares it with this namespace
	}
	return false, fmt.Sprintf("%s belongs to namespace %s, which does not share it with %s", hostname, d.Owner, namespace)
}

// mayWrite is the sets' fence: they write only while this replica surely
// holds the Lease (with leader election) and its view of the cluster is
// current.
func mayWrite(lease *heldLease, ctl *controller.Controller) func() bool {
	return func() bool {
		if lease != nil && lease.Held() != nil {
			return false
		}
		return ctl.Fresh() == nil
	}
}
