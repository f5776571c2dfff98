package main

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/lbdns/lbdns/apiwatch"
	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/source/informer"
)

// clusterInformers are the trimmed informers lbdns reads the cluster from:
// Services and EndpointSlices (of one namespace, or all) and Nodes. Their
// list and watch calls go through the API server connection, so that they
// resume at once when the API server returns after an outage.
type clusterInformers struct {
	services, slices, nodes cache.SharedIndexInformer
	reader                  *informer.CacheReader
	conn                    *apiwatch.Connection
	trim                    informer.Trimmer
}

// newInformers builds the informers and the reader over their caches;
// nothing is listed until start. LBDNS_LABEL_FILTER is sent to the API
// server, so that Services it leaves out never reach the cache;
// LBDNS_ANNOTATION_FILTER is applied by the transform (the API server cannot
// select by annotation).
func newInformers(restCfg *rest.Config, cfg config.Config, conn *apiwatch.Connection) (*clusterInformers, error) {
	byLabel, byAnnotation := cfg.Tenancy.ServiceSelectors()
	inf := &clusterInformers{conn: conn, trim: informer.Trimmer{AnnotationPrefix: cfg.Source.AnnotationPrefix, AnnotationFilter: byAnnotation}}
	core, discovery, err := informerClients(restCfg, inf.trim)
	if err != nil {
		return nil, err
	}
	if inf.services, err = inf.informer(core, "services", cfg.Source.Namespace, byLabel.String(), &corev1.Service{}); err != nil {
		return nil, err
	}
	if inf.slices, err = inf.informer(discovery, "endpointslices", cfg.Source.Namespace, "", &discoveryv1.EndpointSlice{}); err != nil {
		return nil, err
	}
	if inf.nodes, err = inf.informer(core, "nodes", "", "", &corev1.Node{}); err != nil {
		return nil, err
	}
	if inf.reader, err = informer.NewCacheReader(inf.services, inf.slices, inf.nodes); err != nil {
		return nil, err
	}
	return inf, nil
}

// informerClients are the informers' REST clients of core/v1 and
// discovery/v1: protobuf, with Services and EndpointSlices decoded straight
// into what the Trimmer reads (informer.Trimmer.Projecting).
func informerClients(restCfg *rest.Config, trim informer.Trimmer) (core, discovery rest.Interface, err error) {
	httpClient, err := rest.HTTPClientFor(restCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	client := func(gv schema.GroupVersion, apiPath string) (rest.Interface, error) {
		c := rest.CopyConfig(restCfg)
		c.GroupVersion, c.APIPath = &gv, apiPath
		c.ContentType = runtime.ContentTypeProtobuf
		c.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
		c.NegotiatedSerializer = trim.Projecting(rest.CodecFactoryForGeneratedClient(scheme.Scheme, scheme.Codecs).WithoutConversion())
		rc, err := rest.RESTClientForConfigAndClient(c, httpClient)
		if err != nil {
			return nil, fmt.Errorf("creating Kubernetes client of %s: %w", gv, err)
		}
		return rc, nil
	}
	if core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, nil, err
	}
	if discovery, err = client(discoveryv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, nil, err
	}
	return core, discovery, nil
}

func (i *clusterInformers) informer(c cache.Getter, resource, namespace, labelSelector string, example runtime.Object) (cache.SharedIndexInformer, error) {
	lw := i.conn.Wrap(resource, cache.NewFilteredListWatchFromClient(c, resource, namespace, func(o *metav1.ListOptions) {
		o.LabelSelector = labelSelector
	}))
	// No namespace index: nothing lists by namespace, and it costs a set
	// entry per object.
	inf := cache.NewSharedIndexInformerWithOptions(lw, example, cache.SharedIndexInformerOptions{Indexers: cache.Indexers{}})
	if err := inf.SetTransform(i.trim.Transform); err != nil {
		return nil, fmt.Errorf("%s informer: %w", resource, err)
	}
	if err := inf.SetWatchErrorHandlerWithContext(i.conn.WatchError); err != nil {
		return nil, fmt.Errorf("%s informer: %w", resource, err)
	}
	return inf, nil
}

// run runs the informers in g until it stops.
func (i *clusterInformers) run(g *group) {
	for _, inf := range []cache.SharedIndexInformer{i.services, i.slices, i.nodes} {
		g.Go(func(ctx context.Context) error { inf.RunWithContext(ctx); return nil })
	}
}
