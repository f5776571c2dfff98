package config

import "time"

// Probe holds the active probes' settings and flap damping.
type Probe struct {
	Interval      time.Duration `env:"PROBE_INTERVAL" envDefault:"2s" help:"time between two probes of one target"`
	Timeout       time.Duration `env:"PROBE_TIMEOUT" envDefault:"1s" help:"time one probe may take"`
	DownInterval  time.Duration `env:"PROBE_DOWN_INTERVAL" help:"time between two probes of a target that is down; empty = LBDNS_PROBE_INTERVAL"`
	FastInterval  time.Duration `env:"PROBE_FAST_INTERVAL" help:"once a target's state starts to change, re-probe it this soon until fall/rise is reached; empty = a quarter of LBDNS_PROBE_INTERVAL, at least 100ms"`
	Fall          int           `env:"PROBE_FALL" envDefault:"2" help:"consecutive failures that mark a target down"`
	Rise          int           `env:"PROBE_RISE" envDefault:"2" help:"consecutive successes that mark a target up again"`
	Jitter        float64       `env:"PROBE_JITTER" envDefault:"0.1" help:"random spread of the probe interval, as a fraction (0..0.5)"`
	FlapHalfLife  time.Duration `env:"FLAP_HALF_LIFE" envDefault:"30s" help:"flap damping: the penalty of a flapping target halves in this time; 0 turns damping off"`
	FlapThreshold int           `env:"FLAP_THRESHOLD" envDefault:"3" help:"flap damping: probe result flips in quick succession that hold a target withdrawn (Flapping)"`
	Concurrency   int           `env:"PROBE_CONCURRENCY" envDefault:"64" help:"probes that may run at once, in each of three pools: targets up, new, and down"`
	Held          int           `env:"PROBE_HELD_CONNECTIONS" envDefault:"4096" help:"tcp checks that passed keep their connection open until the next probe, up to this many at once (at most a quarter of the open-file limit): a backend that closes one (its process died, its pod went) is probed at once; 0 holds none"`
}

// FastIntervalOrDefault is LBDNS_PROBE_FAST_INTERVAL, or its default: a
// quarter of the probe interval, at least 100ms and at most the interval.
func (pr Probe) FastIntervalOrDefault() time.Duration {
	if pr.FastInterval != 0 {
		return pr.FastInterval
	}
	return min(max(pr.Interval/4, 100*time.Millisecond), pr.Interval)
}

func (pr Probe) validate() []error {
	var p problems
	if pr.Interval < 100*time.Millisecond {
		p.bad("PROBE_INTERVAL", "must be at least 100ms, got %s", pr.Interval)
	}
	if pr.Timeout <= 0 || pr.Timeout > pr.Interval {
		p.bad("PROBE_TIMEOUT", "must be positive and at most LBDNS_PROBE_INTERVAL (%s), got %s", pr.Interval, pr.Timeout)
	}
	if pr.DownInterval != 0 && (pr.DownInterval < pr.Interval || pr.DownInterval > time.Hour) {
		p.bad("PROBE_DOWN_INTERVAL", "must be empty or from LBDNS_PROBE_INTERVAL (%s) to 1h, got %s", pr.Interval, pr.DownInterval)
	}
	if pr.FastInterval != 0 && (pr.FastInterval < 100*time.Millisecond || pr.FastInterval > pr.Interval) {
		p.bad("PROBE_FAST_INTERVAL", "must be empty or from 100ms to LBDNS_PROBE_INTERVAL (%s), got %s", pr.Interval, pr.FastInterval)
	}
	if pr.FlapHalfLife != 0 && (pr.FlapHalfLife < time.Second || pr.FlapHalfLife > time.Hour) {
		p.bad("FLAP_HALF_LIFE", "must be 0 (off) or 1s..1h, got %s", pr.FlapHalfLife)
	}
	if pr.FlapThreshold < 2 || pr.FlapThreshold > 100 {
		p.bad("FLAP_THRESHOLD", "must be 2..100 flips, got %d", pr.FlapThreshold)
	}
	if pr.Fall < 1 || pr.Fall > 100 {
		p.bad("PROBE_FALL", "must be 1..100, got %d", pr.Fall)
	}
	if pr.Rise < 1 || pr.Rise > 100 {
		p.bad("PROBE_RISE", "must be 1..100, got %d", pr.Rise)
	}
	if pr.Jitter < 0 || pr.Jitter > 0.5 {
		p.bad("PROBE_JITTER", "must be 0..0.5, got %g", pr.Jitter)
	}
	if pr.Held < 0 || pr.Held > 1000000 {
		p.bad("PROBE_HELD_CONNECTIONS", "must be 0 (off) to 1000000, got %d", pr.Held)
	}
	if pr.Concurrency < 1 || pr.Concurrency > 100000 {
		p.bad("PROBE_CONCURRENCY", "must be 1..100000, got %d", pr.Concurrency)
	}
	return p
}
