package controller

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/lbdns/lbdns/source"
)

// ErrCachesNotSynced is returned by Run when an informer cache did not sync
// within Options.CacheSyncTimeout.
var ErrCachesNotSynced = errors.New("informer cache did not sync")

// namedSync is one informer's has-synced check, named for errors and logs.
type namedSync struct {
	name   string
	synced cache.InformerSynced
}

// NodesMoved marks IPs whose node changed outside the informers (the node
// agents' map) and triggers a reconcile.
func (c *Controller) NodesMoved(ips []netip.Addr) {
	c.dirt.addNode(ips)
	c.Trigger()
}

// AddEventHandlers makes every change of a Service, EndpointSlice or Node
// mark what it touches and trigger a reconcile, and tells the controller
// which IPs a deleted Node held. Run waits until these handlers saw every
// object of the initial lists. Call it before the informers start.
func (c *Controller) AddEventHandlers(services, slices, nodes cache.SharedIndexInformer) error {
	onServiceOrSlice := func(obj any) {
		if name, ok := source.ServiceOf(obj); ok {
			c.dirt.addService(name)
			c.Trigger()
		}
	}
	onNode := func(obj any) {
		if n, ok := untomb(obj).(*corev1.Node); ok {
			c.dirt.addNode(c.cluster.IPsOf(n))
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
			AddFunc:    onNode,
			UpdateFunc: func(old, cur any) { onNode(old); onNode(cur) }, // IPs it lost and IPs it has
			DeleteFunc: func(obj any) {
				if n, ok := untomb(obj).(*corev1.Node); ok {
					c.gone.Add(n.Name, c.cluster.IPsOf(n))
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
		c.synced = append(c.synced, namedSync{name: h.name, synced: reg.HasSynced})
	}
	return nil
}

// eachChange calls f with the object of every add and delete, and with both
// objects of an update (an EndpointSlice may move to another Service).
func eachChange(f func(obj any)) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: f, UpdateFunc: func(old, cur any) { f(old); f(cur) }, DeleteFunc: f}
}

// untomb returns the last known object of a deletion the informer missed.
func untomb(obj any) any {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		return tomb.Obj
	}
	return obj
}

// waitForCaches blocks until every handler saw its informer's initial list,
// as sample-controller's Run does, bounded by Options.CacheSyncTimeout.
func (c *Controller) waitForCaches(ctx context.Context) error {
	if c.opts.CacheSyncTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.opts.CacheSyncTimeout)
		defer cancel()
	}
	start := time.Now()
	for _, s := range c.synced {
		if !cache.WaitForCacheSync(ctx.Done(), s.synced) {
			if ctx.Err() == context.DeadlineExceeded {
				return fmt.Errorf("%w: %s not listed within %s", ErrCachesNotSynced, s.name, c.opts.CacheSyncTimeout)
			}
			return nil // shutting down
		}
	}
	c.log.Info("informer caches synced", "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}
