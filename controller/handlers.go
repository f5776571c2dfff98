package controller

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/lbdns/lbdns/source/informer"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"
)

// ErrCachesNotSynced is returned by Run when an informer cache did not sync
// within Options.CacheSyncTimeout.
var ErrCachesNotSynced = errors.New("informer cache did not sync")

// namedSync is one informer's has-synced check, named for errors and logs.
type namedSync struct {
	name   string
	synced cache.DoneChecker
}

// waitSynced waits until every informer of v delivered its initial list,
// or ctx ends, and returns the name of one that had not. It waits on the
// handlers' channels: cache.WaitForCacheSync polls every 100 ms, which at
// start cost up to 100 ms of nothing.
func waitSynced(ctx context.Context, v *clusterView) (string, bool) {
	for _, s := range v.synced {
		select {
		case <-s.synced.Done():
		case <-ctx.Done():
			select {
			case <-s.synced.Done(): // both were ready
			default:
				return s.name, false
			}
		}
	}
	return "", true
}

// NodesMoved marks IPs of the local cluster whose node changed outside the
// informers (the node agents' map) and triggers a reconcile.
func (c *Controller) NodesMoved(ips []netip.Addr) {
	c.dirt.addNode("", ips)
	c.Trigger()
}

// AddClusterEventHandlers makes every change of a Service, EndpointSlice or
// Node of a cluster (AddCluster) mark what it touches and trigger a
// reconcile, and tells the controller which IPs a deleted Node held. Run
// waits until these handlers saw every object of the initial lists. Call it
// before the informers start.
func (c *Controller) AddClusterEventHandlers(cluster string, services, slices, nodes cache.SharedIndexInformer) error {
	v := c.views[cluster]
	if v == nil {
		return fmt.Errorf("no cluster %q: AddCluster first", cluster)
	}
	onServiceOrSlice := func(objs ...any) {
		marked := false
		for _, obj := range objs {
			if name, ok := informer.ServiceOf(obj); ok {
				c.dirt.addService(serviceRef{cluster: cluster, NamespacedName: name})
				marked = true
			}
		}
		if marked {
			c.Trigger() // once for both sides of an update: a second one would wake the loop for nothing
		}
	}
	onNode := func(objs ...any) {
		marked := false
		for _, obj := range objs {
			if n, ok := untomb(obj).(*corev1.Node); ok {
				c.dirt.addNode(cluster, v.reader.IPsOf(n))
				marked = true
			}
		}
		if marked {
			c.Trigger()
		}
	}
	handlers := []struct {
		name     string
		informer cache.SharedIndexInformer
		handler  cache.ResourceEventHandler
	}{
		{"Services", services, eachChange(onServiceOrSlice)},
		{"EndpointSlices", slices, eachChange(onServiceOrSlice)},
		{"Nodes", nodes, cache.ResourceEventHandlerFuncs{
			AddFunc:    func(obj any) { onNode(obj) },
			UpdateFunc: func(old, cur any) { onNode(old, cur) }, // IPs it lost and IPs it has
			DeleteFunc: func(obj any) {
				if n, ok := untomb(obj).(*corev1.Node); ok {
					c.gone.Add(cluster, n.Name, v.reader.IPsOf(n))
				}
				onNode(obj)
			},
		}},
	}
	for _, h := range handlers {
		reg, err := h.informer.AddEventHandler(h.handler)
		if err != nil {
			return fmt.Errorf("adding %s event handler: %w", h.name, err)
		}
		v.synced = append(v.synced, namedSync{name: h.name, synced: reg.HasSyncedChecker()})
	}
	return nil
}

// eachChange calls f with the object of every add and delete, and with both
// objects of an update (an EndpointSlice may move to another Service).
func eachChange(f func(objs ...any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: func(obj any) { f(obj) }, UpdateFunc: func(old, cur any) { f(old, cur) },
		DeleteFunc: func(obj any) { f(obj) }}
}

// untomb returns the last known object of a deletion the informer missed.
func untomb(obj any) any {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return tomb.Obj
	}
	return obj
}

// waitForCaches blocks until every handler saw its informer's initial list,
// as sample-controller's Run does, each cluster bounded by
// Options.CacheSyncTimeout. The local cluster must sync; a remote one that
// does not is logged and joins when it does: lbdns is ready with the
// clusters it can reach.
func (c *Controller) waitForCaches(ctx context.Context) error {
	errs := make([]error, len(c.order))
	took := make([]time.Duration, len(c.order))
	var wg sync.WaitGroup
	for i, v := range c.order { // at once: a dark cluster delays the others by nothing
		wg.Go(func() {
			start := time.Now()
			errs[i], took[i] = c.waitForCluster(ctx, v), time.Since(start)
		})
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil // shutting down
	}
	for i, v := range c.order {
		switch err := errs[i]; {
		case err != nil && v.name == "":
			return err
		case err != nil:
			c.log.Warn("remote cluster not synced: lbdns goes on without it until it syncs", "cluster", v.name, "err", err)
			go c.joinLate(ctx, v)
		default:
			c.log.Info("informer caches synced", "cluster", c.clusterName(v.name), "took", took[i].Round(time.Millisecond).String())
		}
	}
	return nil
}

func (c *Controller) waitForCluster(ctx context.Context, v *clusterView) error {
	if c.opts.CacheSyncTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CacheSyncTimeout)
		defer cancel()
	}
	if name, ok := waitSynced(ctx, v); !ok {
		return fmt.Errorf("%w: %s not listed within %s", ErrCachesNotSynced, name, c.opts.CacheSyncTimeout)
	}
	return nil
}

// joinLate waits for a remote cluster that did not sync in time, then has
// every Service read again.
func (c *Controller) joinLate(ctx context.Context, v *clusterView) {
	if _, ok := waitSynced(ctx, v); !ok {
		return
	}
	c.log.Info("remote cluster synced late", "cluster", v.name)
	c.dirt.setAll()
	c.Trigger()
}

// clusterName is how logs and labels name a cluster: the local one by
// Options.LocalClusterName.
func (c *Controller) clusterName(name string) string {
	if name == "" {
		return cmp.Or(c.opts.LocalClusterName, "local")
	}
	return name
}
