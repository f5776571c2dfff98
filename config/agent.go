package config

import (
	"net"
	"net/netip"
	"strings"
	"time"
)

// Agent holds the node agent's settings: those of lbdns, which asks the
// agents, and those of `lbdns agent`, which answers.
type Agent struct {
	Port     int           `env:"AGENT_PORT" help:"ask the node agent (lbdns agent) of every Node on this port of the Node's InternalIP where the LB IPs sit and what the interfaces carry; empty = no agents, Node addresses only"`
	Interval time.Duration `env:"AGENT_INTERVAL" envDefault:"5s" help:"time between two rounds of asking the node agents"`
	Addr     string        `env:"AGENT_ADDR" envDefault:":9798" help:"lbdns agent: address it serves on (set it to the node's IP, status.hostIP, to keep it off public addresses)"`
	Token    string        `env:"AGENT_TOKEN" help:"a shared secret: lbdns agent answers only requests that carry it (Authorization: Bearer), and lbdns sends it; empty = none (then keep the agent's port closed to anything but lbdns)" secret:"true"`
	Insecure bool          `env:"AGENT_INSECURE" envDefault:"false" help:"let lbdns agent serve, and lbdns ask agents, without LBDNS_AGENT_TOKEN (only where nothing but lbdns can reach the agents' port)"`
	NodeName string        `env:"AGENT_NODE_NAME" help:"lbdns agent: the name of its node (the downward API's spec.nodeName); empty = the host name"`
}

// validate checks the settings of lbdns (isAgent false) or of lbdns
// agent (true); the address is checked for both, so that --check-config
// of a shared environment catches it.
func (a Agent) validate(isAgent bool) []error {
	var p problems
	if err := checkHostPort(a.ListenAddr()); err != nil {
		p.bad("AGENT_ADDR", "%v", err)
	}
	if isAgent {
		if a.Token == "" && !a.Insecure {
			p.bad("AGENT_TOKEN", "is empty: lbdns agent serves its node's addresses and traffic only to requests with the token "+
				"(it listens on the node's address, which may be public); set it from a Secret, or LBDNS_AGENT_INSECURE=true where nothing else can reach the port")
		}
		return p
	}
	if a.Port < 0 || a.Port > 65535 {
		p.bad("AGENT_PORT", "must be empty (off) or 1..65535, got %d", a.Port)
	}
	if a.Interval < time.Second || a.Interval > 5*time.Minute {
		p.bad("AGENT_INTERVAL", "must be 1s..5m, got %s", a.Interval)
	}
	if a.Port != 0 && a.Token == "" && !a.Insecure {
		p.bad("AGENT_TOKEN", "is empty while LBDNS_AGENT_PORT is set: the agents listen on the nodes' addresses, which may be public, and serve only requests with the token; set the same token on lbdns and the agents (or LBDNS_AGENT_INSECURE=true)")
	}
	return p
}

// ListenAddr is LBDNS_AGENT_ADDR, with an IPv6 host put in brackets: the
// manifests write "$(HOST_IP):9798", which on an IPv6 node reads
// "fd00::1:9798".
func (a Agent) ListenAddr() string {
	if _, _, err := net.SplitHostPort(a.Addr); err == nil {
		return a.Addr
	}
	i := strings.LastIndexByte(a.Addr, ':')
	if i < 0 {
		return a.Addr
	}
	if ip, err := netip.ParseAddr(a.Addr[:i]); err == nil && ip.Is6() {
		return net.JoinHostPort(ip.String(), a.Addr[i+1:])
	}
	return a.Addr
}
