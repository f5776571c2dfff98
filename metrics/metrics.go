// Package metrics defines lbdns's Prometheus metrics on a registry that the
// caller owns. Names are part of the product contract (see DESIGN.md).
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every lbdns metric.
type Metrics struct {
	TargetHealthy        *prometheus.GaugeVec
	TargetPublished      *prometheus.GaugeVec
	HostnameFailOpen     *prometheus.GaugeVec
	ProbesTotal          *prometheus.CounterVec
	ProbeDuration        *prometheus.HistogramVec
	TargetTransitions    *prometheus.CounterVec
	PublishLatency       *prometheus.HistogramVec
	SyncTotal            *prometheus.CounterVec
	LastSyncTimestamp    *prometheus.GaugeVec
	Ready                prometheus.Gauge
	Hostnames            prometheus.Gauge
	Targets              prometheus.Gauge
	ReconcileDuration    prometheus.Histogram
	ConnectorConnections *prometheus.CounterVec
	BuildInfo            *prometheus.GaugeVec
	Leader               prometheus.Gauge
	DNSQueries           *prometheus.CounterVec
	DNSDuration          prometheus.Histogram
}

// TargetLabels are the labels of the per-target gauges.
var TargetLabels = []string{"hostname", "namespace", "service", "ip"}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		TargetHealthy: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbdns_target_healthy",
			Help: "1 if the target (one IP of one Service) is healthy, else 0.",
		}, TargetLabels),
		TargetPublished: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbdns_target_published",
			Help: "1 if the target is in the published set of the hostname, else 0.",
		}, TargetLabels),
		HostnameFailOpen: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbdns_hostname_fail_open",
			Help: "1 while no target of the hostname is healthy and all are published anyway.",
		}, []string{"hostname"}),
		ProbesTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbdns_probes_total",
			Help: "Probes run, by kind and result (success or failure).",
		}, []string{"kind", "result"}),
		ProbeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lbdns_probe_duration_seconds",
			Help:    "Time one probe took, by kind.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"kind"}),
		TargetTransitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbdns_target_transitions_total",
			Help: "Health transitions of targets, by hostname and new state (healthy or unhealthy).",
		}, []string{"hostname", "to"}),
		PublishLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "lbdns_publish_latency_seconds",
			Help:    "Time from a change of a published set to an output reflecting it, by output.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300},
		}, []string{"output"}),
		SyncTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbdns_sync_total",
			Help: "Times an output handed out or wrote the published sets, by output and result.",
		}, []string{"output", "result"}),
		LastSyncTimestamp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbdns_last_sync_timestamp_seconds",
			Help: "Unix time of the last successful sync, by output.",
		}, []string{"output"}),
		Ready: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbdns_ready",
			Help: "1 once caches synced and every target finished its first probe.",
		}),
		Hostnames: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbdns_hostnames",
			Help: "Hostnames lbdns manages.",
		}),
		Targets: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbdns_targets",
			Help: "Targets (Service IPs) lbdns manages.",
		}),
		ReconcileDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lbdns_reconcile_duration_seconds",
			Help:    "Time one recomputation of all hostnames took.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2.5, 12),
		}),
		ConnectorConnections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbdns_connector_connections_total",
			Help: "Connector connections, by result (served, error, closed_before_ready).",
		}, []string{"result"}),
		BuildInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "lbdns_build_info",
			Help: "Always 1; labels say which lbdns runs.",
		}, []string{"version", "goversion"}),
		Leader: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "lbdns_leader",
			Help: "1 while this replica runs the writers (it holds the Lease, or leader election is off).",
		}),
		DNSQueries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "lbdns_dns_queries_total",
			Help: "Queries the embedded DNS server answered, by query type and response code.",
		}, []string{"qtype", "rcode"}),
		DNSDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "lbdns_dns_request_duration_seconds",
			Help:    "Time the embedded DNS server took to answer one query.",
			Buckets: []float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05},
		}),
	}
	reg.MustRegister(m.DNSQueries, m.DNSDuration, m.Leader, m.TargetHealthy, m.TargetPublished, m.HostnameFailOpen, m.ProbesTotal, m.ProbeDuration,
		m.TargetTransitions, m.PublishLatency, m.SyncTotal, m.LastSyncTimestamp, m.Ready, m.Hostnames,
		m.Targets, m.ReconcileDuration, m.ConnectorConnections, m.BuildInfo)
	return m
}
