package main

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/apiwatch"
	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/httpserver"
)

// watchedCluster is one cluster whose Services lbdns watches: the local one
// (name "") or one of LBDNS_CLUSTERS.
type watchedCluster struct {
	name     string
	conn     *apiwatch.Connection
	inf      *clusterInformers
	recorder record.EventRecorder
}

// watchClusters prepares the informers of the local cluster (unless
// LBDNS_LOCAL_CLUSTER=false) and of every remote cluster, each with its own
// API connection and event recorder (events go to the cluster that owns
// the Service). The returned stop ends the remote recorders.
func watchClusters(ctx context.Context, cfg config.Config, local *rest.Config, localConn *apiwatch.Connection,
	localRecorder record.EventRecorder, leading *atomic.Bool, log *slog.Logger) ([]watchedCluster, func(), error) {
	var out []watchedCluster
	var stops []func()
	stop := func() {
		for _, s := range stops {
			s()
		}
	}
	if cfg.Clusters.WatchLocal {
		inf, err := newInformers(local, cfg, localConn)
		if err != nil {
			return nil, stop, err
		}
		out = append(out, watchedCluster{conn: localConn, inf: inf, recorder: localRecorder})
	}
	for _, rc := range cfg.Clusters.Remote() {
		restCfg, client, err := remoteClient(rc)
		if err != nil {
			return nil, stop, err
		}
		conn := apiwatch.New(func(ctx context.Context) error {
			return client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
		}, log.With("cluster", rc.Name))
		inf, err := newInformers(restCfg, cfg, conn)
		if err != nil {
			return nil, stop, fmt.Errorf("cluster %s: %w", rc.Name, err)
		}
		broadcaster := record.NewBroadcaster(record.WithContext(ctx))
		broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
		stops = append(stops, broadcaster.Shutdown)
		recorder := gatedRecorder{inner: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "lbdns"}), leading: leading}
		out = append(out, watchedCluster{name: rc.Name, conn: conn, inf: inf, recorder: recorder})
	}
	return out, stop, nil
}

// remoteClient is the client of one cluster of LBDNS_CLUSTERS, from its
// kubeconfig file.
func remoteClient(rc config.RemoteCluster) (*rest.Config, kubernetes.Interface, error) {
	restCfg, err := clientcmd.BuildConfigFromFlags("", rc.Kubeconfig)
	if err != nil {
		return nil, nil, fmt.Errorf("LBDNS_CLUSTERS: cluster %s: reading %s: %w", rc.Name, rc.Kubeconfig, err)
	}
	client, err := typedClient(restCfg)
	if err != nil {
		return nil, nil, fmt.Errorf("LBDNS_CLUSTERS: cluster %s: %w", rc.Name, err)
	}
	return restCfg, client, nil
}

// addClusters hands every watched cluster to the controller and exports
// whether each is connected.
func addClusters(ctl *controller.Controller, clusters []watchedCluster, reg prometheus.Registerer, cfg config.Config) error {
	registerClusterGauges(reg, cfg, clusters)
	for _, c := range clusters {
		ctl.AddCluster(c.name, c.inf.reader, c.recorder)
		if err := ctl.AddClusterEventHandlers(c.name, c.inf.services, c.inf.slices, c.inf.nodes); err != nil {
			return err
		}
	}
	return nil
}

// runClusters runs every cluster's informers in g until it stops.
func runClusters(g *group, clusters []watchedCluster) {
	for _, c := range clusters {
		c.inf.run(g)
	}
}

// startAgents starts the node agents' poller over the local cluster's
// Nodes (LBDNS_AGENT_PORT); nil when off or when lbdns does not watch the
// local cluster.
func startAgents(g *group, cfg config.Config, clusters []watchedCluster, ctl *controller.Controller,
	reg prometheus.Registerer, log *slog.Logger) httpserver.Agents {
	for _, c := range clusters {
		if c.name == "" {
			if p := startAgentPoller(g, cfg, c.inf.reader, c.inf.nodes.HasSynced, ctl, reg, log); p != nil {
				return p
			}
		}
	}
	return nil
}

// clusterStatuses names each watched cluster's API connection for /status
// and the status page.
func clusterStatuses(cfg config.Config, clusters []watchedCluster) []httpserver.NamedCluster {
	var out []httpserver.NamedCluster
	for _, c := range clusters {
		out = append(out, httpserver.NamedCluster{Name: clusterName(cfg, c.name), Local: c.name == "", Cluster: c.conn})
	}
	return out
}

// registerClusterGauges exports lbdns_cluster_connected{cluster}.
func registerClusterGauges(reg prometheus.Registerer, cfg config.Config, clusters []watchedCluster) {
	for _, c := range clusters {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "lbdns_cluster_connected",
			Help:        "1 while the cluster's API server answers lbdns, else 0 (its targets then keep their last Kubernetes state; probes decide).",
			ConstLabels: prometheus.Labels{"cluster": clusterName(cfg, c.name)},
		}, func() float64 {
			if c.conn.Status().Connected {
				return 1
			}
			return 0
		}))
	}
}

func clusterName(cfg config.Config, name string) string {
	if name == "" {
		return cfg.Clusters.LocalName
	}
	return name
}
