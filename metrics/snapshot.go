package metrics

import (
	"cmp"
	"sync/atomic"

	"github.com/lbdns/lbdns/model"
	"github.com/prometheus/client_golang/prometheus"
)

// SnapshotGauges are lbdns_target_healthy, lbdns_target_published,
// lbdns_hostname_fail_open and the hostnames' capacity (nodes and bits per
// second of the published IPs, and whether it is below their floor), made from the current snapshot at each scrape
// (as kube-state-metrics does), not kept as stored series: 10,000 targets
// would otherwise hold 20,000 series in memory and cost an update per
// change, and a vanished target could never leave a stale series behind.
type SnapshotGauges struct {
	// LocalClusterName names the cluster lbdns runs in in the cluster label
	// (Key.Cluster is empty for it). Set it before the first scrape.
	LocalClusterName           string
	snapshot                   atomic.Pointer[func() *model.Snapshot]
	healthy, published, failOp *prometheus.Desc
	nodes, capacity, low       *prometheus.Desc
	refused                    *prometheus.Desc
}

func newSnapshotGauges() *SnapshotGauges {
	return &SnapshotGauges{
		healthy: prometheus.NewDesc("lbdns_target_healthy",
			"1 if the target (one IP of one Service) is healthy, else 0.", TargetLabels, nil),
		published: prometheus.NewDesc("lbdns_target_published",
			"1 if the target is in the published set of the hostname, else 0.", TargetLabels, nil),
		failOp: prometheus.NewDesc("lbdns_hostname_fail_open",
			"1 while no target of the hostname is healthy and all are published anyway.", []string{"hostname"}, nil),
		nodes: prometheus.NewDesc("lbdns_hostname_nodes",
			"Distinct nodes that carry the published IPs of the hostname (IPs whose node is unknown count none).", []string{"hostname"}, nil),
		capacity: prometheus.NewDesc("lbdns_hostname_capacity_bits_per_second",
			"Sum of the bandwidths of the nodes that carry the published IPs of the hostname (LBDNS_NODE_BANDWIDTH, or the Node's bandwidth annotation).",
			[]string{"hostname"}, nil),
		low: prometheus.NewDesc("lbdns_hostname_capacity_low",
			"1 while the published capacity of the hostname is below the floor its Services set (lbdns.io/min-nodes, lbdns.io/min-capacity), else 0; only for hostnames with a floor.",
			[]string{"hostname"}, nil),
		refused: prometheus.NewDesc("lbdns_hostname_refused_services",
			"Services that name the hostname and may not publish it, by reason: HostnameOwned (another namespace owns it), ReservedHostname, DomainNotAllowed; only reasons with any.",
			[]string{"hostname", "reason"}, nil),
	}
}

// Follow makes the gauges read snapshot at each scrape; until then they are
// empty.
func (g *SnapshotGauges) Follow(snapshot func() *model.Snapshot) { g.snapshot.Store(&snapshot) }

// Describe implements prometheus.Collector.
func (g *SnapshotGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.healthy
	ch <- g.published
	ch <- g.failOp
	ch <- g.nodes
	ch <- g.capacity
	ch <- g.low
	ch <- g.refused
}

// Collect implements prometheus.Collector.
func (g *SnapshotGauges) Collect(ch chan<- prometheus.Metric) {
	f := g.snapshot.Load()
	if f == nil {
		return
	}
	for _, d := range (*f)().Hostnames {
		ch <- prometheus.MustNewConstMetric(g.failOp, prometheus.GaugeValue, b2f(d.FailOpen), d.Hostname)
		c := d.Capacity()
		ch <- prometheus.MustNewConstMetric(g.nodes, prometheus.GaugeValue, float64(c.Nodes), d.Hostname)
		ch <- prometheus.MustNewConstMetric(g.capacity, prometheus.GaugeValue, c.BitsPerSecond, d.Hostname)
		if !d.Floor.IsZero() {
			ch <- prometheus.MustNewConstMetric(g.low, prometheus.GaugeValue, b2f(c.Below(d.Floor)), d.Hostname)
		}
		if len(d.Refused) > 0 {
			byReason := map[string]int{}
			for _, r := range d.Refused {
				byReason[r.Reason]++
			}
			for reason, n := range byReason {
				ch <- prometheus.MustNewConstMetric(g.refused, prometheus.GaugeValue, float64(n), d.Hostname, reason)
			}
		}
		for _, t := range d.Targets {
			ip, cluster := t.IP.String(), cmp.Or(t.Cluster, g.LocalClusterName)
			ch <- prometheus.MustNewConstMetric(g.healthy, prometheus.GaugeValue, b2f(t.Healthy), cluster, d.Hostname, t.Namespace, t.Service, ip)
			ch <- prometheus.MustNewConstMetric(g.published, prometheus.GaugeValue, b2f(t.Published), cluster, d.Hostname, t.Namespace, t.Service, ip)
		}
	}
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
