package config

import (
	"fmt"
	"net"
)

// Log says how lbdns logs.
type Log struct {
	Level  string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	Format string `env:"LOG_FORMAT" envDefault:"text" help:"text or json"`
}

func (l Log) validate() []error {
	var p problems
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		p.bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", l.Level)
	}
	if l.Format != "text" && l.Format != "json" {
		p.bad("LOG_FORMAT", "%q is not text or json", l.Format)
	}
	return p
}

// HTTP is the server of /metrics, /healthz, /readyz and /status.
type HTTP struct {
	Addr string `env:"HTTP_ADDR" envDefault:":9797" help:"address of /metrics, /healthz, /readyz and /status"`
	HTTPLimits
	Pprof bool `env:"PPROF" envDefault:"false" help:"serve Go's profiles at /debug/pprof/ on LBDNS_HTTP_ADDR"`
}

// HTTPLimits bound the connections of lbdns's HTTP server and lbdns agent's.
type HTTPLimits struct {
	MaxConns          int `env:"HTTP_MAX_CONNS" envDefault:"1024" help:"connections the HTTP server (and lbdns agent's) holds at once; more are closed at accept"`
	MaxConnsPerClient int `env:"HTTP_MAX_CONNS_PER_CLIENT" envDefault:"32" help:"connections one client IP may hold at once on the HTTP server (and lbdns agent's)"`
}

func (h HTTP) validate() []error {
	var p problems
	if err := checkHostPort(h.Addr); err != nil {
		p.bad("HTTP_ADDR", "%v", err)
	}
	return append(p, h.HTTPLimits.validate()...)
}

func (h HTTPLimits) validate() []error {
	var p problems
	if h.MaxConns < 1 || h.MaxConns > 100000 {
		p.bad("HTTP_MAX_CONNS", "must be 1..100000, got %d", h.MaxConns)
	}
	if h.MaxConnsPerClient < 1 || h.MaxConnsPerClient > h.MaxConns {
		p.bad("HTTP_MAX_CONNS_PER_CLIENT", "must be 1..LBDNS_HTTP_MAX_CONNS (%d), got %d", h.MaxConns, h.MaxConnsPerClient)
	}
	return p
}

// ConnectorOff is the LBDNS_CONNECTOR_ADDR value that disables the connector.
const ConnectorOff = "off"

// Connector is the output external-dns --source=connector reads.
type Connector struct {
	Addr string `env:"CONNECTOR_ADDR" envDefault:"127.0.0.1:7980" help:"address external-dns --source=connector reads from (pass it as --connector-source-server); 'off' disables it"`
}

func (c Connector) validate() []error {
	var p problems
	if c.Addr != ConnectorOff {
		if err := checkHostPort(c.Addr); err != nil {
			p.bad("CONNECTOR_ADDR", "%v (use %q to disable)", err, ConnectorOff)
		}
	}
	return p
}

func checkHostPort(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port", addr)
	}
	if port == "" {
		return fmt.Errorf("%q has no port", addr)
	}
	return nil
}
