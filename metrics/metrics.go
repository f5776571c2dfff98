// Package metrics is what lbdns's metric owners share. Each package defines
// and updates its own metrics (probe, controller, provider and its outputs,
// connlimit); cmd/lbdns owns the registry and hands it to each. Names are
// part of the product contract: docs/metrics.md is generated from what
// cmd/lbdns registers (make docs), and dashboards and alerts use them.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Registrar creates metrics and registers each on Reg, panicking on a
// duplicate name as MustRegister does: two owners of one name is a bug.
type Registrar struct{ Reg prometheus.Registerer }

func register[C prometheus.Collector](r Registrar, c C) C {
	r.Reg.MustRegister(c)
	return c
}

// Gauge is a gauge without labels.
func (r Registrar) Gauge(name, help string) prometheus.Gauge {
	return register(r, prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help}))
}

// GaugeVec is a gauge with labels.
func (r Registrar) GaugeVec(name, help string, labels ...string) *prometheus.GaugeVec {
	return register(r, prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, labels))
}

// GaugeFunc is a gauge read from value at each scrape.
func (r Registrar) GaugeFunc(name, help string, constLabels prometheus.Labels, value func() float64) {
	register(r, prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: constLabels}, value))
}

// Counter is a counter without labels.
func (r Registrar) Counter(name, help string) prometheus.Counter {
	return register(r, prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help}))
}

// CounterVec is a counter with labels.
func (r Registrar) CounterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return register(r, prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels))
}

// Histogram is a histogram without labels.
func (r Registrar) Histogram(name, help string, buckets []float64) prometheus.Histogram {
	return register(r, prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}))
}

// HistogramVec is a histogram with labels.
func (r Registrar) HistogramVec(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
	return register(r, prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, labels))
}
