// Package nodeagent tells lbdns where each LB IP sits and what the node's
// interfaces carry. The agent (lbdns agent, a DaemonSet with hostNetwork)
// answers GET /v1/node with the addresses of its node's interfaces and their
// transmit and receive rates, read from the kernel's counters; the Poller,
// in lbdns, asks every node's agent and maps IP -> node from the answers.
// The agent needs no Kubernetes permissions.
package nodeagent

import (
	"net/netip"
	"time"
)

// Path is where an agent answers.
const Path = "/v1/node"

// Report is an agent's answer: its node and the node's interfaces.
type Report struct {
	Node       string      `json:"node"`
	Taken      time.Time   `json:"taken"`
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one network interface of the node with its addresses and the
// bits per second it moved over the agent's last window (0 until it has two
// samples).
type Interface struct {
	Name                  string       `json:"name"`
	Addresses             []netip.Addr `json:"addresses"`
	TransmitBitsPerSecond float64      `json:"transmitBitsPerSecond"`
	ReceiveBitsPerSecond  float64      `json:"receiveBitsPerSecond"`
}

// placeable reports whether an address can be an LB IP that sits on one
// node: loopback, link-local and unspecified addresses are every node's.
func placeable(ip netip.Addr) bool {
	return ip.IsValid() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() && !ip.IsUnspecified() && !ip.IsMulticast()
}

// sharedInterfaces are interfaces that hold the same addresses on every
// node: kube-proxy's IPVS mode binds every Service IP to kube-ipvs0.
var sharedInterfaces = map[string]bool{"kube-ipvs0": true}
