package httpserver

import (
	"net/netip"

	"github.com/lbdns/lbdns/lbset"
	"github.com/lbdns/lbdns/nodeagent"
)

// The optional parts /status and the page show: node agents and
// LoadBalancerSets.

// Agents are the node agents lbdns asks (nodeagent.Poller).
type Agents interface {
	Status() ([]nodeagent.AgentStatus, map[netip.Addr][]string)
}

// Sets are the LoadBalancerSets lbdns keeps (lbset.Controller).
type Sets interface {
	Reports() []lbset.Report
}

func newAgentsStatus(a Agents) ([]nodeagent.AgentStatus, map[string][]string) {
	agents, ambiguous := a.Status()
	if agents == nil {
		agents = []nodeagent.AgentStatus{}
	}
	var out map[string][]string
	for ip, nodes := range ambiguous {
		if out == nil {
			out = map[string][]string{}
		}
		out[ip.String()] = nodes
	}
	return agents, out
}
