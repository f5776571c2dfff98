package main

import (
	"log/slog"

	"k8s.io/client-go/kubernetes"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/dnsserial"
	"github.com/lbdns/lbdns/provider/dnsserver"
)

// serialBoard returns where the replicas agree on the embedded DNS's
// serials (the ConfigMap <Lease name>-dns-serials, written by the Lease
// holder), running in g; nil without transfers or without leader election:
// each replica then gives its own serials.
func serialBoard(g *group, cfg config.Config, client kubernetes.Interface, lease *heldLease, log *slog.Logger) dnsserver.SerialBoard {
	if lease == nil || !cfg.DNS.TransfersOn() {
		if cfg.DNS.TransfersOn() {
			log.Info("zone transfers without leader election: each replica gives its own serials (set LBDNS_LEADER_ELECT=true for replicas that agree)")
		}
		return nil
	}
	b := dnsserial.New(client, cfg.LeaderElection.Namespace, serialsConfigMap(cfg), lease.Held, log.With("part", "dns-serials"))
	g.Go(b.Run)
	return b
}

// serialsConfigMap is the name of the ConfigMap of the agreed serials.
func serialsConfigMap(cfg config.Config) string { return cfg.LeaderElection.Name + "-dns-serials" }
