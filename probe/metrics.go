package probe

import (
	"time"

	"github.com/lbdns/lbdns/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics count the probes, by kind. A nil *Metrics records nothing.
type Metrics struct {
	probes   *prometheus.CounterVec
	shared   *prometheus.CounterVec
	duration *prometheus.HistogramVec
	held     prometheus.Gauge
	closed   prometheus.Counter
}

// NewMetrics creates the probes' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	r := metrics.Registrar{Reg: reg}
	return &Metrics{
		probes: r.CounterVec("lbdns_probes_total", "Probes run, by kind and result (success or failure).", "kind", "result"),
		shared: r.CounterVec("lbdns_probes_shared_total",
			"Probe results a target took from another target's run of the same check (same IP, or same node, and check), by kind: probes not sent.", "kind"),
		duration: r.HistogramVec("lbdns_probe_duration_seconds", "Time one probe took, by kind.",
			[]float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}, "kind"),
		held: r.Gauge("lbdns_probe_held_connections", "Connections of passed tcp checks held open until the next probe (LBDNS_PROBE_HELD_CONNECTIONS)."),
		closed: r.Counter("lbdns_probe_held_closed_total",
			"Held tcp check connections the backend closed: each probed its targets at once."),
	}
}

// ran records a check sent.
func (m *Metrics) ran(kind Kind, err error, took time.Duration) {
	if m == nil {
		return
	}
	result := "success"
	if err != nil {
		result = "failure"
	}
	m.probes.WithLabelValues(string(kind), result).Inc()
	m.duration.WithLabelValues(string(kind)).Observe(took.Seconds())
}

// tookShared records a result taken from another target's run.
func (m *Metrics) tookShared(kind Kind) {
	if m != nil {
		m.shared.WithLabelValues(string(kind)).Inc()
	}
}

func (m *Metrics) setHeld(n int) {
	if m != nil {
		m.held.Set(float64(n))
	}
}

func (m *Metrics) peerClosed() {
	if m != nil {
		m.closed.Inc()
	}
}
