package main

import (
	"github.com/lbdns/lbdns/lbset"
	"runtime"
	"time"

	"github.com/lbdns/lbdns/connlimit"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/provider"
	"github.com/lbdns/lbdns/provider/connector"
	"github.com/lbdns/lbdns/provider/dnsserver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// allMetrics are the metrics of every part of lbdns, each part's own, on the
// one registry cmd owns. docs/metrics.md is generated from what newMetrics
// registers, so a metric added to a part shows up there.
type allMetrics struct {
	controller *controller.Metrics
	probes     *probe.Metrics
	outputs    *provider.Metrics
	connector  *connector.Metrics
	dns        *dnsserver.Metrics
	listeners  *connlimit.Metrics
	sets       *lbset.Metrics
	// leader is 1 while this replica runs the writers; writers says which
	// are configured, whether or not this replica runs them.
	leader  prometheus.Gauge
	writers *prometheus.GaugeVec
}

// newRegistry is the registry /metrics serves: the Go and process
// collectors and every part's metrics.
func newRegistry() (*prometheus.Registry, allMetrics) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg, newMetrics(reg)
}

func newMetrics(reg prometheus.Registerer) allMetrics {
	r := metrics.Registrar{Reg: reg}
	r.GaugeVec("lbdns_build_info", "Always 1; labels say which lbdns runs.", "version", "goversion").
		WithLabelValues(version, runtime.Version()).Set(1)
	return allMetrics{
		controller: controller.NewMetrics(reg),
		probes:     probe.NewMetrics(reg),
		outputs:    provider.NewMetrics(reg),
		connector:  connector.NewMetrics(reg),
		dns:        dnsserver.NewMetrics(reg),
		listeners:  connlimit.NewMetrics(reg),
		sets:       lbset.NewMetrics(reg),
		leader:     r.Gauge("lbdns_leader", "1 while this replica runs the writers (it holds the Lease, or leader election is off)."),
		writers: r.GaugeVec("lbdns_writers",
			"1 for each output that writes (standalone, DNSEndpoint) configured on this replica, by output; it writes only where lbdns_leader is 1.", "output"),
	}
}

// watchClusterView registers lbdns_cluster_view_age_seconds, read from age
// at each scrape.
func watchClusterView(reg prometheus.Registerer, age func(now time.Time) time.Duration) {
	metrics.Registrar{Reg: reg}.GaugeFunc("lbdns_cluster_view_age_seconds",
		"How long the view of the cluster has not followed it: 0 while the API server answers, else the time since it stopped.",
		nil, func() float64 { return age(time.Now()).Seconds() })
}
