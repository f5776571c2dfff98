package dnsserver

import (
	"github.com/lbdns/lbdns/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the embedded DNS server's.
type Metrics struct {
	queries     *prometheus.CounterVec
	duration    *metrics.ShardedHistogram // a shard per UDP reader
	rateLimited *prometheus.CounterVec
	transfers   *prometheus.CounterVec
	notifies    *prometheus.CounterVec
	zoneSerial  *prometheus.GaugeVec
}

// NewMetrics creates the DNS server's metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	r := metrics.Registrar{Reg: reg}
	return &Metrics{
		queries: r.CounterVec("lbdns_dns_queries_total", "Queries the embedded DNS server answered, by query type and response code.", "qtype", "rcode"),
		duration: r.ShardedHistogram("lbdns_dns_request_duration_seconds", "Time the embedded DNS server took to answer one query.",
			[]float64{.00001, .000025, .00005, .0001, .00025, .0005, .001, .0025, .005, .01, .05}),
		rateLimited: r.CounterVec("lbdns_dns_rate_limited_total",
			"Responses of the embedded DNS server over its rate limit (RRL), by what became of them: slipped (sent truncated) or dropped.", "action"),
		transfers: r.CounterVec("lbdns_dns_transfers_total",
			"Zone transfers (AXFR/IXFR) asked of the embedded DNS server, by result: served (the whole zone), served_incremental (IXFR), refused (network not allowed, UDP, not a zone), unsigned (no valid TSIG), not_ready, error (cut).",
			"result"),
		notifies: r.CounterVec("lbdns_dns_notifies_total",
			"NOTIFYs of the embedded DNS server to its secondaries, by result: acknowledged or failed (never acknowledged after the retries).", "result"),
		zoneSerial: r.GaugeVec("lbdns_dns_zone_serial",
			"SOA serial the embedded DNS server gives out for each zone, with transfers on: replicas that agree (LBDNS_LEADER_ELECT) show the same serial for the same data.", "zone"),
	}
}
