// Package metrics defines lbdns's Prometheus metrics on a registry that the
// caller owns. Names are part of the product contract: docs/metrics.md is
// generated from them (make docs), and dashboards and alerts use them.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics holds every lbdns metric.
type Metrics struct {
	// Snapshot holds the per-target and per-hostname gauges.
	Snapshot             *SnapshotGauges
	ProbesTotal          *prometheus.CounterVec
	ProbesShared         *prometheus.CounterVec
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
	FencedWrites         *prometheus.CounterVec
	DNSRateLimited       *prometheus.CounterVec
	ConnectionsRefused   *prometheus.CounterVec
	UpdateConflicts      *prometheus.CounterVec
	DNSTransfers         *prometheus.CounterVec
	DNSNotifies          *prometheus.CounterVec
	DNSZoneSerial        *prometheus.GaugeVec

	reg prometheus.Registerer
}

// TargetLabels are the labels of the per-target gauges.
var TargetLabels = []string{"cluster", "hostname", "namespace", "service", "ip"}

// New creates the metrics and registers them on reg.
func New(reg prometheus.Registerer) *Metrics {
	r := registrar{reg}
	snapshot := newSnapshotGauges()
	reg.MustRegister(snapshot)
	return &Metrics{
		reg:         reg,
		Snapshot:    snapshot,
		ProbesTotal: r.counterVec("lbdns_probes_total", "Probes run, by kind and result (success or failure).", "kind", "result"),
		ProbesShared: r.counterVec("lbdns_probes_shared_total",
			"Probe results a target took from another target's run of the same check (same IP, or same node, and check), by kind: probes not sent.", "kind"),
		ProbeDuration: r.histogramVec("lbdns_probe_duration_seconds", "Time one probe took, by kind.",
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "kind"),
		TargetTransitions: r.counterVec("lbdns_target_transitions_total",
			"Health transitions of targets, by hostname and new state (healthy or unhealthy).", "hostname", "to"),
		PublishLatency: r.histogramVec("lbdns_publish_latency_seconds", "Time from a change of a published set to an output reflecting it, by output.",
			[]float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300}, "output"),
		SyncTotal:         r.counterVec("lbdns_sync_total", "Times an output handed out or wrote the published sets, by output and result.", "output", "result"),
		LastSyncTimestamp: r.gaugeVec("lbdns_last_sync_timestamp_seconds", "Unix time of the last successful sync, by output.", "output"),
		Ready:             r.gauge("lbdns_ready", "1 once caches synced and every target finished its first probe."),
		Hostnames:         r.gauge("lbdns_hostnames", "Hostnames lbdns manages."),
		Targets:           r.gauge("lbdns_targets", "Targets (Service IPs) lbdns manages."),
		ReconcileDuration: r.histogram("lbdns_reconcile_duration_seconds", "Time one reconcile took: the Services and hostnames a change touched (all of them at start).",
			prometheus.ExponentialBuckets(0.0005, 2.5, 12)),
		ConnectorConnections: r.counterVec("lbdns_connector_connections_total",
			"Connector connections, by result (served, error, closed_before_ready).", "result"),
		BuildInfo:  r.gaugeVec("lbdns_build_info", "Always 1; labels say which lbdns runs.", "version", "goversion"),
		Leader:     r.gauge("lbdns_leader", "1 while this replica runs the writers (it holds the Lease, or leader election is off)."),
		DNSQueries: r.counterVec("lbdns_dns_queries_total", "Queries the embedded DNS server answered, by query type and response code.", "qtype", "rcode"),
		DNSRateLimited: r.counterVec("lbdns_dns_rate_limited_total",
			"Responses of the embedded DNS server over its rate limit (RRL), by what became of them: slipped (sent truncated) or dropped.", "action"),
		ConnectionsRefused: r.counterVec("lbdns_connections_refused_total",
			"Connections closed as soon as they were accepted because the listener held its most, by listener (dns, http) and reason: total, network (the client network's share) or evicted (closed to make room for a client network holding fewer).",
			"listener", "reason"),
		DNSTransfers: r.counterVec("lbdns_dns_transfers_total",
			"Zone transfers (AXFR/IXFR) asked of the embedded DNS server, by result: served (the whole zone), served_incremental (IXFR), refused (network not allowed, UDP, not a zone), unsigned (no valid TSIG), not_ready, error (cut).",
			"result"),
		DNSNotifies: r.counterVec("lbdns_dns_notifies_total",
			"NOTIFYs of the embedded DNS server to its secondaries, by result: acknowledged or failed (never acknowledged after the retries).", "result"),
		DNSZoneSerial: r.gaugeVec("lbdns_dns_zone_serial",
			"SOA serial the embedded DNS server gives out for each zone, with transfers on: replicas that agree (LBDNS_LEADER_ELECT) show the same serial for the same data.", "zone"),
		UpdateConflicts: r.counterVec("lbdns_update_conflicts_total",
			"RFC 2136 UPDATEs of one hostname the DNS server refused because their prerequisites failed: the zone changed since lbdns read it (another writer, or a stale leader); nothing of that hostname changed, the next sync reads again. By output.",
			"output"),
		FencedWrites: r.counterVec("lbdns_fenced_writes_total",
			"Writes held back because this replica may not write (Lease not held by its own clock, or a stale view after a time jump), by output.", "output"),
		DNSDuration: r.histogram("lbdns_dns_request_duration_seconds", "Time the embedded DNS server took to answer one query.",
			[]float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05}),
	}
}

// WatchClusterView registers lbdns_cluster_view_age_seconds, read from age
// at each scrape.
func (m *Metrics) WatchClusterView(age func(now time.Time) time.Duration) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "lbdns_cluster_view_age_seconds",
		Help: "How long the view of the cluster has not followed it: 0 while the API server answers, else the time since it stopped.",
	}, func() float64 { return age(time.Now()).Seconds() }))
}

// WatchConnections registers lbdns_open_connections{listener}, read from
// open at each scrape.
func (m *Metrics) WatchConnections(listener string, open func() int) {
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "lbdns_open_connections",
		Help:        "Connections a listener holds open now (its bounds: LBDNS_*_MAX_CONNS).",
		ConstLabels: prometheus.Labels{"listener": listener},
	}, func() float64 { return float64(open()) }))
}

// registrar creates metrics and registers each on its registry.
type registrar struct{ reg prometheus.Registerer }

func register[C prometheus.Collector](r registrar, c C) C {
	r.reg.MustRegister(c)
	return c
}

func (r registrar) gauge(name, help string) prometheus.Gauge {
	return register(r, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

func (r registrar) gaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

func (r registrar) counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

func (r registrar) histogram(name, help string, buckets []float64) prometheus.Histogram {
	return register(r, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

func (r registrar) histogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}
