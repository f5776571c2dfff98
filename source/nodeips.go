package source

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
)

// MappedBy says how lbdns learnt which node holds an IP.
type MappedBy string

// NodeIPs returns the IP addresses in a Node's status.
func NodeIPs(n *corev1.Node) []netip.Addr {
	var ips []netip.Addr
	for _, a := range n.Status.Addresses {
		if ip, err := netip.ParseAddr(a.Address); err == nil {
			ips = append(ips, ip.Unmap())
		}
	}
	return ips
}

// The two sources of the IP -> node map.
const (
	MappedByAgent       MappedBy = "agent"        // the node's agent reports the IP on an interface
	MappedByNodeAddress MappedBy = "node-address" // the Node lists the IP in status.addresses
)
