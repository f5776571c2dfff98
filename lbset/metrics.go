package lbset

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbdns/lbdns/metrics"
)

// Metrics show what the sets do. A nil *Metrics records nothing.
type Metrics struct {
	services    *prometheus.GaugeVec
	desired     *prometheus.GaugeVec
	utilization *prometheus.GaugeVec
	actions     *prometheus.CounterVec
	errors      *prometheus.CounterVec
}

// NewMetrics creates the sets' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	r := metrics.Registrar{Reg: reg}
	return &Metrics{
		services: r.GaugeVec("lbdns_set_services", "Services of a LoadBalancerSet, by state (Ready: its IP is published; Pending; Draining).",
			"namespace", "set", "state"),
		desired:     r.GaugeVec("lbdns_set_desired_services", "The number of Services a LoadBalancerSet keeps now.", "namespace", "set"),
		utilization: r.GaugeVec("lbdns_set_utilization", "A LoadBalancerSet's traffic over its ready Services' capacity (nodes x bandwidth), 0..1.", "namespace", "set"),
		actions: r.CounterVec("lbdns_set_actions_total", "Services a LoadBalancerSet created, drained or deleted (dry runs not counted).",
			"namespace", "set", "action"),
		errors: r.CounterVec("lbdns_set_errors_total", "Writes of a LoadBalancerSet (Services, status) the API server refused.", "namespace", "set"),
	}
}

// observe records one round of a set, with the status it reached.
func (m *Metrics) observe(ns, name string, status Status, o Outcome) {
	if m == nil {
		return
	}
	counts := map[string]int{"Ready": 0, "Pending": 0, "Draining": 0}
	for _, s := range status.Services {
		counts[s.State]++
	}
	for state, n := range counts {
		m.services.WithLabelValues(ns, name, state).Set(float64(n))
	}
	m.desired.WithLabelValues(ns, name).Set(float64(o.Plan.Desired))
	m.utilization.WithLabelValues(ns, name).Set(o.Plan.Utilization)
	for _, a := range o.Written {
		m.actions.WithLabelValues(ns, name, string(a.Kind)).Inc()
	}
	if o.Err != nil {
		m.errors.WithLabelValues(ns, name).Inc()
	}
}

// forget drops the series of a set that is gone.
func (m *Metrics) forget(ns, name string) {
	if m == nil {
		return
	}
	labels := prometheus.Labels{"namespace": ns, "set": name}
	for _, v := range []interface{ DeletePartialMatch(prometheus.Labels) int }{m.services, m.desired, m.utilization, m.actions, m.errors} {
		v.DeletePartialMatch(labels)
	}
}
