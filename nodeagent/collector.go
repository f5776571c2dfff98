package nodeagent

import (
	"slices"

	"github.com/lbdns/lbdns/model"
	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports, at each scrape, whether each agent answers and the
// measured throughput of the interfaces that carry published IPs: per
// interface, and per hostname the sum over the distinct interfaces of its
// published IPs (all the traffic of those interfaces, the hostname's and any
// other's: the node's bandwidth is what they share).
type Collector struct {
	poller   *Poller
	snapshot func() *model.Snapshot

	up, tx, rx, hostTx *prometheus.Desc
}

// NewCollector returns the collector of a Poller, reading the published
// IPs from snapshot.
func NewCollector(p *Poller, snapshot func() *model.Snapshot) *Collector {
	return &Collector{poller: p, snapshot: snapshot,
		up: prometheus.NewDesc("lbdns_agent_up",
			"1 if the node's agent answered the last round, else 0.", []string{"node"}, nil),
		tx: prometheus.NewDesc("lbdns_node_transmit_bits_per_second",
			"Bits per second the node's interface sent, as its agent measured them; for interfaces that hold a published IP.", []string{"node", "interface"}, nil),
		rx: prometheus.NewDesc("lbdns_node_receive_bits_per_second",
			"Bits per second the node's interface received, as its agent measured them; for interfaces that hold a published IP.", []string{"node", "interface"}, nil),
		hostTx: prometheus.NewDesc("lbdns_hostname_transmit_bits_per_second",
			"Sum of lbdns_node_transmit_bits_per_second over the distinct interfaces that hold the published IPs of the hostname.", []string{"hostname"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.up
	ch <- c.tx
	ch <- c.rx
	ch <- c.hostTx
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	agents, _ := c.poller.Status()
	for _, a := range agents {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, b2f(a.Answering), a.Node)
	}
	type carrier struct{ node, ifc string }
	exported := map[carrier]bool{}
	for d := range c.snapshot().Hostnames.All() {
		var sum float64
		var mine []carrier
		for _, t := range d.Targets {
			pl, ok := c.poller.PlaceOf(t.IP)
			k := carrier{pl.Node, pl.Interface.Name}
			if !t.Published || !ok || slices.Contains(mine, k) {
				continue
			}
			mine = append(mine, k)
			sum += pl.Interface.TransmitBitsPerSecond
			if !exported[k] {
				exported[k] = true
				ch <- prometheus.MustNewConstMetric(c.tx, prometheus.GaugeValue, pl.Interface.TransmitBitsPerSecond, k.node, k.ifc)
				ch <- prometheus.MustNewConstMetric(c.rx, prometheus.GaugeValue, pl.Interface.ReceiveBitsPerSecond, k.node, k.ifc)
			}
		}
		if len(mine) > 0 {
			ch <- prometheus.MustNewConstMetric(c.hostTx, prometheus.GaugeValue, sum, d.Hostname)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
