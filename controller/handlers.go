package controller

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/lbdns/lbdns/source"
)

// AddEventHandlers makes every change of a Service, EndpointSlice or Node
// trigger a reconcile, and tells the controller which IPs a deleted Node
// held. Call it before the informers start.
func (c *Controller) AddEventHandlers(services, slices, nodes cache.SharedIndexInformer) error {
	trigger := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.Trigger() },
		UpdateFunc: func(any, any) { c.Trigger() },
		DeleteFunc: func(any) { c.Trigger() },
	}
	for _, inf := range []cache.SharedIndexInformer{services, slices} {
		if _, err := inf.AddEventHandler(trigger); err != nil {
			return fmt.Errorf("adding event handler: %w", err)
		}
	}
	_, err := nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.Trigger() },
		UpdateFunc: func(any, any) { c.Trigger() },
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if n, ok := obj.(*corev1.Node); ok {
				c.NodeDeleted(n.Name, source.NodeIPs(n))
			}
		},
	})
	if err != nil {
		return fmt.Errorf("adding Node event handler: %w", err)
	}
	return nil
}
