package controller

import (
	"cmp"
	"sync/atomic"

	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/model"
	"github.com/prometheus/client_golang/prometheus"
)

// snapshotGauges are lbdns_target_healthy, lbdns_target_published,
// lbdns_hostname_fail_open and the hostnames' capacity (nodes and bits per
// second of the published IPs, and whether it is below their floor), made from the current snapshot at each scrape
// (as kube-state-metrics does), not kept as stored series: 10,000 targets
// would otherwise hold 20,000 series in memory and cost an update per
// change, and a vanished target could never leave a stale series behind.
type snapshotGauges struct {
	followed                   atomic.Pointer[followedSnapshot]
	healthy, published, failOp *prometheus.Desc
	nodes, capacity, low       *prometheus.Desc
	refused                    *prometheus.Desc
}

// followedSnapshot is what the gauges read: the snapshot, and the name of
// the cluster lbdns runs in for the cluster label (Key.Cluster is empty for
// it).
type followedSnapshot struct {
	snapshot     func() *model.Snapshot
	localCluster string
}

// targetLabels are the labels of the per-target gauges.
var targetLabels = []string{"cluster", "hostname", "namespace", "service", "ip"}

func newSnapshotGauges() *snapshotGauges {
	return &snapshotGauges{
		healthy: prometheus.NewDesc("lbdns_target_healthy",
			"1 if the target (one IP of one Service) is healthy, else 0.", targetLabels, nil),
		published: prometheus.NewDesc("lbdns_target_published",
			"1 if the target is in the published set of the hostname, else 0.", targetLabels, nil),
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

// follow makes the gauges read snapshot at each scrape; until then they are
// empty.
func (g *snapshotGauges) follow(snapshot func() *model.Snapshot, localCluster string) {
	g.followed.Store(&followedSnapshot{snapshot: snapshot, localCluster: localCluster})
}

// Describe implements prometheus.Collector.
func (g *snapshotGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.healthy
	ch <- g.published
	ch <- g.failOp
	ch <- g.nodes
	ch <- g.capacity
	ch <- g.low
	ch <- g.refused
}

// Collect implements prometheus.Collector.
func (g *snapshotGauges) Collect(ch chan<- prometheus.Metric) {
	f := g.followed.Load()
	if f == nil {
		return
	}
	for d := range f.snapshot().Hostnames.All() {
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
			ip, cluster := t.IP.String(), cmp.Or(t.Cluster, f.localCluster)
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

// Metrics are the controller's: the view's size, the passes, the
// transitions, and the gauges read from the snapshot. A nil *Metrics
// records nothing.
type Metrics struct {
	snapshot          *snapshotGauges
	transitions       *prometheus.CounterVec
	reconcileDuration prometheus.Histogram
	ready             prometheus.Gauge
	hostnames         prometheus.Gauge
	targets           prometheus.Gauge
}

// NewMetrics creates the controller's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	r := metrics.Registrar{Reg: reg}
	snapshot := newSnapshotGauges()
	reg.MustRegister(snapshot)
	return &Metrics{
		snapshot: snapshot,
		transitions: r.CounterVec("lbdns_target_transitions_total",
			"Health transitions of targets, by hostname and new state (healthy or unhealthy).", "hostname", "to"),
		reconcileDuration: r.Histogram("lbdns_reconcile_duration_seconds", "Time one reconcile took: the Services and hostnames a change touched (all of them at start).",
			prometheus.ExponentialBuckets(0.0005, 2.5, 12)),
		ready:     r.Gauge("lbdns_ready", "1 once caches synced and every target finished its first probe."),
		hostnames: r.Gauge("lbdns_hostnames", "Hostnames lbdns manages."),
		targets:   r.Gauge("lbdns_targets", "Targets (Service IPs) lbdns manages."),
	}
}
