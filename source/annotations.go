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
	for _, a := range annotationParsers {
		v, ok := annotations[prefix+a.name]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		for _, problem := range a.parse(&s, v) {
			errs = append(errs, AnnotationError{Annotation: prefix + a.name, Value: v, Problem: problem})
		}
	}
	return s, errs
}

// annotationParsers read one annotation each into Settings and return what
// is wrong with its value.
var annotationParsers = []struct {
	name  string
	parse func(s *Settings, v string) []string
}{
	{AnnotationHostname, parseHostnames},
	{AnnotationWeight, func(s *Settings, v string) []string {
		w, err := strconv.Atoi(v)
		if err != nil || w < 0 || w > MaxWeight {
			return problem("must be an integer 0..%d; using %d", MaxWeight, DefaultWeight)
		}
		s.Weight = w
		return nil
	}},
	{AnnotationTTL, func(s *Settings, v string) []string {
		ttl, err := parseTTL(v)
		if err != nil {
			return problem("%v; using the default TTL", err)
		}
		s.TTL = ttl
		return nil
	}},
	{AnnotationProbe, func(s *Settings, v string) []string {
		switch k := probe.Kind(strings.ToLower(v)); k {
		case probe.TCP, probe.HTTP, probe.HTTPS, ProbeNone:
			s.Probe = k
			return nil
		}
		return problem("must be tcp, http, https or none; using tcp")
	}},
	{AnnotationProbePort, func(s *Settings, v string) []string {
		if err := checkPortRef(v); err != nil {
			return problem("%v; using the first Service port", err)
		}
		s.ProbePort = v
		return nil
	}},
	{AnnotationProbePath, func(s *Settings, v string) []string {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\r\n") {
			return problem("must be a path starting with '/' and without spaces; using /")
		}
		s.ProbePath = v
		return nil
	}},
	{AnnotationNodeProbe, func(s *Settings, v string) []string {
		switch m := strings.ToLower(v); m {
		case NodeProbeAuto, NodeProbeHealthCheckNodePort, NodeProbeKubeProxy, NodeProbeOff:
			s.NodeProbe = m
			return nil
		}
		return problem("must be auto, healthcheck-node-port, kube-proxy or off; using auto")
	}},
}

func problem(format string, args ...any) []string { return []string{fmt.Sprintf(format, args...)} }

// parseHostnames reads the comma-separated hostnames, lower-cased, without a
// trailing dot and without duplicates.
func parseHostnames(s *Settings, v string) []string {
	var problems []string
	seen := map[string]bool{}
	for _, h := range strings.Split(v, ",") {
		h = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if h == "" {
			continue
		}
		if err := checkHostname(h); err != nil {
			problems = append(problems, fmt.Sprintf("hostname %q: %v", h, err))
			continue
		}
		if !seen[h] {
			seen[h] = true
			s.Hostnames = append(s.Hostnames, h)
		}
	}
	if len(s.Hostnames) == 0 && len(problems) == 0 {
		return problem("no hostname given")
	}
	return problems
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
