package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/httpserver"
	"github.com/lbdns/lbdns/nodeagent"
	"github.com/lbdns/lbdns/source/informer"
)

// agentWindow is the window over which the agent averages rates.
const agentWindow = 10 * time.Second

// runAgent is `lbdns agent`: it serves its node's interfaces, addresses and
// rates on LBDNS_AGENT_ADDR until ctx ends. It talks to no API server.
// Its settings were validated: the token is set unless Insecure.
func runAgent(ctx context.Context, cfg config.AgentConfig, log *slog.Logger) error {
	node := cfg.Agent.NodeName
	if node == "" {
		var err error
		if node, err = os.Hostname(); err != nil {
			return fmt.Errorf("LBDNS_AGENT_NODE_NAME is empty and the host name is unknown: %w", err)
		}
	}
	ln, err := net.Listen("tcp", cfg.Agent.ListenAddr())
	if err != nil {
		return fmt.Errorf("node agent (LBDNS_AGENT_ADDR): %w", err)
	}
	a := nodeagent.NewAgent(node, agentWindow, log)
	go a.Run(ctx)
	srv, bounded := httpserver.Bounded(a.Handler(cfg.Agent.Token), ln, httpLimits(cfg.HTTPLimits), nil)
	go func() { _ = shutdownHTTPWhenDone(ctx, srv) }()
	log.Info("lbdns agent serving", "version", version, "node", node, "addr", ln.Addr().String(), "tokenRequired", cfg.Agent.Token != "")
	return serveHTTP(srv, bounded)
}

// startAgentPoller asks the node agents every LBDNS_AGENT_INTERVAL, once
// the Nodes are listed, makes their map the first source of IP -> node and
// exports what they measure. Nil when LBDNS_AGENT_PORT is off.
func startAgentPoller(g *group, cfg config.Config, reader *informer.CacheReader, nodesSynced cache.InformerSynced,
	ctl *controller.Controller, reg prometheus.Registerer, log *slog.Logger) *nodeagent.Poller {
	if cfg.Agent.Port == 0 {
		return nil
	}
	p := nodeagent.NewPoller(nodeagent.PollerOptions{Port: cfg.Agent.Port, Interval: cfg.Agent.Interval,
		Timeout: min(2*time.Second, cfg.Agent.Interval), Endpoints: func() []nodeagent.Endpoint { return agentEndpoints(reader.AllNodes()) },
		Token: cfg.Agent.Token, Moved: ctl.NodesMoved, Logger: log})
	reader.SetPlacement(p)
	reg.MustRegister(nodeagent.NewCollector(p, ctl.Snapshot))
	g.Go(func(ctx context.Context) error {
		if cache.WaitForCacheSync(ctx.Done(), nodesSynced) {
			p.Run(ctx)
		}
		return nil
	})
	return p
}

// agentEndpoints returns where each Node's agent listens: its first
// InternalIP. A Node without one has no agent lbdns can reach.
func agentEndpoints(nodes []*corev1.Node) []nodeagent.Endpoint {
	var out []nodeagent.Endpoint
	for _, n := range nodes {
		for _, a := range n.Status.Addresses {
			if ip, err := netip.ParseAddr(a.Address); err == nil && a.Type == corev1.NodeInternalIP {
				out = append(out, nodeagent.Endpoint{Node: n.Name, Addr: ip.Unmap()})
				break
			}
		}
	}
	return out
}
