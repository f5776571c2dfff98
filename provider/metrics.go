package provider

import (
	"time"

	"github.com/lbdns/lbdns/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are what every output reports, by its name in the output label.
// A nil *Metrics records nothing.
type Metrics struct {
	publishLatency  *prometheus.HistogramVec
	syncs           *prometheus.CounterVec
	lastSync        *prometheus.GaugeVec
	fencedWrites    *prometheus.CounterVec
	updateConflicts *prometheus.CounterVec
}

// NewMetrics creates the outputs' metrics on reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	r := metrics.Registrar{Reg: reg}
	return &Metrics{
		publishLatency: r.HistogramVec("lbdns_publish_latency_seconds", "Time from a change of a published set to an output reflecting it, by output.",
			[]float64{.01, .05, .1, .25, .5, 1, 2, 5, 10, 20, 30, 60, 120, 300}, "output"),
		syncs:    r.CounterVec("lbdns_sync_total", "Times an output handed out or wrote the published sets, by output and result.", "output", "result"),
		lastSync: r.GaugeVec("lbdns_last_sync_timestamp_seconds", "Unix time of the last successful sync, by output.", "output"),
		fencedWrites: r.CounterVec("lbdns_fenced_writes_total",
			"Writes held back because this replica may not write (Lease not held by its own clock, or a stale view after a time jump), by output.", "output"),
		updateConflicts: r.CounterVec("lbdns_update_conflicts_total",
			"RFC 2136 UPDATEs of one hostname the DNS server refused because their prerequisites failed: the zone changed since lbdns read it (another writer, or a stale leader); nothing of that hostname changed, the next sync reads again. By output.",
			"output"),
	}
}

func (m *Metrics) synced(output string, err error, now time.Time) {
	if m == nil {
		return
	}
	if err != nil {
		m.syncs.WithLabelValues(output, "error").Inc()
		return
	}
	m.syncs.WithLabelValues(output, "success").Inc()
	m.lastSync.WithLabelValues(output).Set(float64(now.UnixNano()) / 1e9)
}

// latencyStarts makes the output's latency series exist before its first
// change.
func (m *Metrics) latencyStarts(output string) {
	if m != nil {
		m.publishLatency.WithLabelValues(output)
	}
}

func (m *Metrics) reflected(output string, took time.Duration) {
	if m != nil {
		m.publishLatency.WithLabelValues(output).Observe(took.Seconds())
	}
}

func (m *Metrics) fenced(output string) {
	if m != nil {
		m.fencedWrites.WithLabelValues(output).Inc()
	}
}

// UpdateConflict counts an UPDATE of output the server refused on its
// prerequisites.
func (m *Metrics) UpdateConflict(output string) {
	if m != nil {
		m.updateConflicts.WithLabelValues(output).Inc()
	}
}
