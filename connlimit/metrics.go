package connlimit

import (
	"github.com/lbdns/lbdns/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count what the bounded listeners refuse and hold, by listener
// (dns, http). A nil *Metrics records nothing.
type Metrics struct {
	r       metrics.Registrar
	refused *prometheus.CounterVec
}

// NewMetrics creates the listeners' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	r := metrics.Registrar{Reg: reg}
	return &Metrics{r: r, refused: r.CounterVec("lbdns_connections_refused_total",
		"Connections closed as soon as they were accepted because the listener held its most, by listener (dns, http) and reason: total, network (the client network's share) or evicted (closed to make room for a client network holding fewer).",
		"listener", "reason")}
}

// Refused is the Options.Refused of listener: it counts each refusal.
func (m *Metrics) Refused(listener string) func(reason string) {
	if m == nil {
		return nil
	}
	return func(reason string) { m.refused.WithLabelValues(listener, reason).Inc() }
}

// WatchOpen reports l's open connections as lbdns_open_connections{listener}
// at each scrape. Call it once per listener name.
func (m *Metrics) WatchOpen(listener string, l *Listener) {
	if m == nil {
		return
	}
	m.r.GaugeFunc("lbdns_open_connections", "Connections a listener holds open now (its bounds: LBDNS_*_MAX_CONNS).",
		prometheus.Labels{"listener": listener}, func() float64 { return float64(l.Open()) })
}
