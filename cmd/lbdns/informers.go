package main

import (
	"context"

	"k8s.io/client-go/informers"
	coreinformers "k8s.io/client-go/informers/core/v1"
	discoveryinformers "k8s.io/client-go/informers/discovery/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/lbdns/lbdns/source"
)

// clusterInformers are the trimmed informers lbdns reads the cluster from:
// Services and EndpointSlices (of one namespace, or all) and Nodes.
type clusterInformers struct {
	svcFactory, nodeFactory informers.SharedInformerFactory
	services                coreinformers.ServiceInformer
	slices                  discoveryinformers.EndpointSliceInformer
	nodes                   coreinformers.NodeInformer
	reader                  *source.ClusterReader
}

// newInformers builds the informers and the reader over their caches;
// nothing is listed until start.
func newInformers(client kubernetes.Interface, namespace string) (*clusterInformers, error) {
	svcFactory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(namespace), informers.WithTransform(source.Trim))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(source.Trim))
	inf := &clusterInformers{
		svcFactory:  svcFactory,
		nodeFactory: nodeFactory,
		services:    svcFactory.Core().V1().Services(),
		slices:      svcFactory.Discovery().V1().EndpointSlices(),
		nodes:       nodeFactory.Core().V1().Nodes(),
	}
	reader, err := source.NewClusterReader(inf.services, inf.slices, inf.nodes)
	if err != nil {
		return nil, err
	}
	inf.reader = reader
	return inf, nil
}

func (i *clusterInformers) start(ctx context.Context) {
	i.svcFactory.Start(ctx.Done())
	i.nodeFactory.Start(ctx.Done())
}

// shutdown waits for the informers' goroutines; cancel start's ctx first.
func (i *clusterInformers) shutdown() {
	i.svcFactory.Shutdown()
	i.nodeFactory.Shutdown()
}
