package source

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lbdns/lbdns/probe"
)

// Annotation names, after the configurable prefix.
const (
	AnnotationHostname  = "hostname"
	AnnotationWeight    = "weight"
	AnnotationTTL       = "ttl"
	AnnotationProbe     = "probe"
	AnnotationProbePort = "probe-port"
	AnnotationProbePath = "probe-path"
	AnnotationNodeProbe = "node-probe"
)

// Defaults and bounds of the annotations.
const (
	DefaultWeight = 100
	MaxWeight     = 1000
	maxTTL        = 2147483647
)

// ProbeNone disables the active probe of the Service port.
const ProbeNone probe.Kind = "none"

// NodeProbe modes of the node-probe annotation.
const (
	NodeProbeAuto                = "auto"
	NodeProbeHealthCheckNodePort = "healthcheck-node-port"
	NodeProbeKubeProxy           = "kube-proxy"
	NodeProbeOff                 = "off"
)

// Settings are a Service's lbdns annotations, parsed. Zero values mean
// "default": TTL 0 is the global TTL, ProbePort "" the first Service port.
type Settings struct {
	Hostnames []string
	Weight    int
	TTL       int64
	Probe     probe.Kind
	ProbePort string
	ProbePath string
	NodeProbe string
}

// AnnotationError is one bad annotation value; the setting keeps its default.
type AnnotationError struct {
	Annotation, Value, Problem string
}

func (e AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s=%q: %s", e.Annotation, e.Value, e.Problem)
}

// ParseAnnotations reads the annotations that start with prefix. A Service
// without the hostname annotation has no Hostnames. Every bad value yields an
// error and leaves that setting at its default; nothing else changes.
func ParseAnnotations(prefix string, annotations map[string]string) (Settings, []AnnotationError) {
	s := Settings{Weight: DefaultWeight, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto}
	var errs []AnnotationError
	get := func(name string) (string, string, bool) {
		v, ok := annotations[prefix+name]
		return prefix + name, strings.TrimSpace(v), ok
	}
	fail := func(key, value, format string, args ...any) {
		errs = append(errs, AnnotationError{Annotation: key, Value: value, Problem: fmt.Sprintf(format, args...)})
	}

	if key, v, ok := get(AnnotationHostname); ok {
		seen := map[string]bool{}
		for _, h := range strings.Split(v, ",") {
			h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
			if h == "" {
				continue
			}
			if err := checkHostname(h); err != nil {
				fail(key, v, "hostname %q: %v", h, err)
				continue
			}
			if !seen[h] {
				seen[h] = true
				s.Hostnames = append(s.Hostnames, h)
			}
		}
		if len(s.Hostnames) == 0 && len(errs) == 0 {
			fail(key, v, "no hostname given")
		}
	}
	if key, v, ok := get(AnnotationWeight); ok {
		w, err := strconv.Atoi(v)
		if err != nil || w < 0 || w > MaxWeight {
			fail(key, v, "must be an integer 0..%d; using %d", MaxWeight, DefaultWeight)
		} else {
			s.Weight = w
		}
	}
	if key, v, ok := get(AnnotationTTL); ok {
		ttl, err := parseTTL(v)
		if err != nil {
			fail(key, v, "%v; using the default TTL", err)
		} else {
			s.TTL = ttl
		}
	}
	if key, v, ok := get(AnnotationProbe); ok {
		switch k := probe.Kind(strings.ToLower(v)); k {
		case probe.TCP, probe.HTTP, probe.HTTPS, ProbeNone:
			s.Probe = k
		default:
			fail(key, v, "must be tcp, http, https or none; using tcp")
		}
	}
	if key, v, ok := get(AnnotationProbePort); ok {
		if err := checkPortRef(v); err != nil {
			fail(key, v, "%v; using the first Service port", err)
		} else {
			s.ProbePort = v
		}
	}
	if key, v, ok := get(AnnotationProbePath); ok {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\r\n") {
			fail(key, v, "must be a path starting with '/' and without spaces; using /")
		} else {
			s.ProbePath = v
		}
	}
	if key, v, ok := get(AnnotationNodeProbe); ok {
		switch m := strings.ToLower(v); m {
		case NodeProbeAuto, NodeProbeHealthCheckNodePort, NodeProbeKubeProxy, NodeProbeOff:
			s.NodeProbe = m
		default:
			fail(key, v, "must be auto, healthcheck-node-port, kube-proxy or off; using auto")
		}
	}
	return s, errs
}

// parseTTL accepts whole seconds ("60") or a Go duration ("1m"), as
// external-dns's ttl annotation does.
func parseTTL(v string) (int64, error) {
	secs, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		d, derr := time.ParseDuration(v)
		if derr != nil {
			return 0, fmt.Errorf("not seconds or a duration")
		}
		if d%time.Second != 0 {
			return 0, fmt.Errorf("not a whole number of seconds")
		}
		secs = int64(d / time.Second)
	}
	if secs < 1 || secs > maxTTL {
		return 0, fmt.Errorf("must be 1..%d seconds", maxTTL)
	}
	return secs, nil
}

// checkPortRef accepts a port number or an IANA-style Service port name.
func checkPortRef(v string) error {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > 65535 {
			return fmt.Errorf("port must be 1..65535")
		}
		return nil
	}
	if v == "" || len(v) > 63 {
		return fmt.Errorf("not a port number or name")
	}
	for _, r := range v {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("not a port number or name")
		}
	}
	return nil
}

// checkHostname accepts a DNS name of letters, digits and hyphens, with an
// optional leading "*." wildcard label.
func checkHostname(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return fmt.Errorf("needs at least two labels")
	}
	for i, l := range labels {
		if i == 0 && l == "*" {
			continue
		}
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q must be 1..63 characters", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q must not start or end with '-'", l)
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return fmt.Errorf("label %q has character %q", l, r)
			}
		}
	}
	return nil
}
