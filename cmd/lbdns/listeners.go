package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/connlimit"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/httpserver"
	"github.com/lbdns/lbdns/provider"
	"github.com/lbdns/lbdns/provider/connector"
	"github.com/lbdns/lbdns/provider/dnsserver"
)

// serveReaders starts the outputs every replica serves: the connector and
// the embedded DNS server, each when its listener is open.
func serveReaders(g *group, cfg config.Config, ls listeners, ctl *controller.Controller, outputs *provider.Outputs, m allMetrics,
	serials dnsserver.SerialBoard, log *slog.Logger) {
	if ls.connector != nil {
		srv := connector.New(ctl, ctl, connector.Options{Logger: log, Observer: outputs.Observer(connector.Output), Metrics: m.connector})
		g.Go(func(ctx context.Context) error {
			if err := srv.Serve(ctx, ls.connector); err != nil {
				return fmt.Errorf("connector (LBDNS_CONNECTOR_ADDR): %w", err)
			}
			return nil
		})
	}
	if ls.dnsUDP != nil {
		exempt, _ := cfg.DNS.ExemptNetworks()       // validated with the configuration
		nsAddrs, _ := cfg.DNS.NameServerAddresses() // validated with the configuration
		srv := dnsserver.New(ctl, dnsserver.Options{Zones: cfg.DNS.Zones, NS: cfg.DNS.NS, NSAddresses: nsAddrs, Hostmaster: cfg.DNS.Hostmaster,
			RRL: dnsserver.RRL{Rate: cfg.DNS.RRLRate, Slip: cfg.DNS.RRLSlip, Exempt: exempt}, WeightByNode: cfg.DNS.WeightByNode,
			TCP:        dnsserver.TCPLimits{MaxConns: cfg.DNS.TCPMaxConns, MaxConnsPerNetwork: cfg.DNS.TCPMaxConnsPerNetwork, IdleTimeout: cfg.DNS.TCPIdleTimeout},
			MaxAnswers: cfg.DNS.MaxAnswers, Transfer: dnsTransfer(cfg), Serials: serials, SpreadByFlow: cfg.DNS.UDPSpread == "flow",
			Ready: ctl.IsReady, Logger: log, Observer: outputs.Observer(dnsserver.Output),
			Metrics: m.dns, Listeners: m.listeners})
		g.Go(func(ctx context.Context) error {
			if err := srv.Serve(ctx, ls.dnsUDP, ls.dnsTCP); err != nil {
				return fmt.Errorf("DNS server (LBDNS_DNS_ADDR): %w", err)
			}
			return nil
		})
	}
}

// dnsTransfer is who may transfer the embedded DNS's zones, and whom it
// notifies. Call it on a validated Config.
func dnsTransfer(cfg config.Config) dnsserver.Transfer {
	allow, _ := cfg.DNS.TransferAllowed()
	t := dnsserver.Transfer{Allow: allow, Notify: cfg.DNS.Notify}
	if cfg.DNS.TSIGName != "" {
		t.TSIG = &dnsserver.TSIG{Name: cfg.DNS.TSIGName, Secret: cfg.DNS.TSIGSecret, Algorithm: cfg.DNS.TSIGAlgorithm()}
	}
	return t
}

// startHTTP serves /metrics, /status and the rest on ln until the group ends.
func startHTTP(g *group, ln net.Listener, src httpserver.Sources, cfg config.Config, m *connlimit.Metrics) {
	srv, bounded := httpserver.Bounded(httpserver.Handler(src), ln, httpLimits(cfg.HTTP.HTTPLimits), m.Refused("http"))
	m.WatchOpen("http", bounded)
	g.Go(func(context.Context) error { return serveHTTP(srv, bounded) })
	g.Go(func(ctx context.Context) error { return shutdownHTTPWhenDone(ctx, srv) })
}

func httpLimits(l config.HTTPLimits) httpserver.Limits {
	return httpserver.Limits{MaxConns: l.MaxConns, MaxConnsPerClient: l.MaxConnsPerClient}
}

func serveHTTP(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("HTTP server (LBDNS_HTTP_ADDR): %w", err)
	}
	return nil
}

// shutdownHTTPWhenDone closes the HTTP server once ctx is done, letting
// requests in flight finish for a few seconds.
func shutdownHTTPWhenDone(ctx context.Context, srv *http.Server) error {
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	return nil
}

// listeners are the sockets lbdns serves on; nil when that output is off.
type listeners struct {
	http, connector, dnsTCP net.Listener
	dnsUDP                  net.PacketConn
}

// openListeners opens every configured socket, or none: an address in use is
// an error that names its variable.
func openListeners(cfg config.Config) (listeners, error) {
	var ls listeners
	var err error
	fail := func(name string, err error) (listeners, error) {
		ls.close()
		return listeners{}, fmt.Errorf("%s: %w", name, err)
	}
	if ls.http, err = net.Listen("tcp", cfg.HTTP.Addr); err != nil {
		return fail("LBDNS_HTTP_ADDR", err)
	}
	if cfg.Connector.Addr != config.ConnectorOff {
		if ls.connector, err = net.Listen("tcp", cfg.Connector.Addr); err != nil {
			return fail("LBDNS_CONNECTOR_ADDR", err)
		}
	}
	if cfg.DNS.Addr != "" {
		udp, err := dnsserver.ListenUDP(cfg.DNS.Addr)
		if err != nil {
			return fail("LBDNS_DNS_ADDR", err)
		}
		ls.dnsUDP = udp
		if ls.dnsTCP, err = net.Listen("tcp", cfg.DNS.Addr); err != nil {
			return fail("LBDNS_DNS_ADDR", err)
		}
	}
	return ls, nil
}

func (ls listeners) close() {
	for _, l := range []net.Listener{ls.http, ls.connector, ls.dnsTCP} {
		if l != nil {
			l.Close()
		}
	}
	if ls.dnsUDP != nil {
		ls.dnsUDP.Close()
	}
}
