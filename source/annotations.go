package source

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/lbdns/lbdns/bandwidth"
	"github.com/lbdns/lbdns/model"
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
	// AnnotationProbeHold: "false" stops lbdns from keeping the tcp probe's
	// connection open between probes (for servers that serve one
	// connection at a time).
	AnnotationProbeHold = "probe-hold"
	// AnnotationMinCapacity and AnnotationMinNodes set the hostnames' floor.
	AnnotationMinCapacity = "min-capacity"
	AnnotationMinNodes    = "min-nodes"
	// AnnotationShareWith lists the namespaces the owner of a hostname lets
	// join it.
	AnnotationShareWith = "share-with"
	// AnnotationBandwidth is read on Nodes: the node's bandwidth.
	AnnotationBandwidth = "bandwidth"
)

// Defaults and bounds of the annotations.
const (
	DefaultWeight = 100
	MaxWeight     = 1000
	maxMinNodes   = 1000
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
	// NoHold: the tcp probe's connection is closed at once, not held.
	NoHold bool
	// Floor is the capacity the hostnames should keep (a signal only).
	Floor model.Floor
	// ShareWith lists the namespaces this Service lets join its hostnames,
	// when its namespace owns them ("*": every namespace).
	ShareWith []string
}

// AnnotationError is one bad annotation value; the setting keeps its default.
type AnnotationError struct {
	Annotation, Value, Problem string
}

func (e AnnotationError) Error() string {
	return fmt.Sprintf("annotation %s=%s: %s", e.Annotation, quoteShort(e.Value), e.Problem)
}

// maxQuoted bounds how much of a bad value a message quotes: a Service may
// carry an annotation of hundreds of kilobytes, and every message about it
// goes to the log, to /status readers and into an event.
const maxQuoted = 64

// quoteShort quotes s, cut to maxQuoted bytes with its length said.
func quoteShort(s string) string {
	if len(s) <= maxQuoted {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("%q... (%d bytes)", strings.ToValidUTF8(s[:maxQuoted], ""), len(s))
}

// DefaultMaxHostnames is the default cap on hostnames per Service.
const DefaultMaxHostnames = 20

// ParseAnnotations reads the annotations that start with prefix. A Service
// without the hostname annotation has no Hostnames; one with more than
// maxHostnames (0: DefaultMaxHostnames) keeps the first ones. Every bad value yields one error per
// annotation, whatever its size, and leaves that setting at its default;
// nothing else changes.
func ParseAnnotations(prefix string, maxHostnames int, annotations map[string]string) (Settings, []AnnotationError) {
	s := Settings{Weight: DefaultWeight, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto}
	if maxHostnames <= 0 {
		maxHostnames = DefaultMaxHostnames
	}
	var errs []AnnotationError
	for _, a := range annotationParsers {
		v, ok := annotations[prefix+a.name]
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		for _, problem := range a.parse(&s, v, maxHostnames) {
			errs = append(errs, AnnotationError{Annotation: prefix + a.name, Value: v, Problem: problem})
		}
	}
	return s, errs
}

// annotationParsers read one annotation each into Settings and return what
// is wrong with its value.
var annotationParsers = []struct {
	name  string
	parse func(s *Settings, v string, maxHostnames int) []string
}{
	{AnnotationHostname, parseHostnames},
	{AnnotationWeight, func(s *Settings, v string, _ int) []string {
		w, err := strconv.Atoi(v)
		if err != nil || w < 0 || w > MaxWeight {
			return problem("must be an integer 0..%d; using %d", MaxWeight, DefaultWeight)
		}
		s.Weight = w
		return nil
	}},
	{AnnotationTTL, func(s *Settings, v string, _ int) []string {
		ttl, err := parseTTL(v)
		if err != nil {
			return problem("%v; using the default TTL", err)
		}
		s.TTL = ttl
		return nil
	}},
	{AnnotationProbe, func(s *Settings, v string, _ int) []string {
		switch k := probe.Kind(strings.ToLower(v)); k {
		case probe.TCP, probe.HTTP, probe.HTTPS, ProbeNone:
			s.Probe = k
			return nil
		}
		return problem("must be tcp, http, https or none; using tcp")
	}},
	{AnnotationProbePort, func(s *Settings, v string, _ int) []string {
		if err := checkPortRef(v); err != nil {
			return problem("%v; using the first Service port", err)
		}
		s.ProbePort = v
		return nil
	}},
	{AnnotationProbePath, func(s *Settings, v string, _ int) []string {
		if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " \t\r\n") {
			return problem("must be a path starting with '/' and without spaces; using /")
		}
		s.ProbePath = v
		return nil
	}},
	{AnnotationNodeProbe, func(s *Settings, v string, _ int) []string {
		switch m := strings.ToLower(v); m {
		case NodeProbeAuto, NodeProbeHealthCheckNodePort, NodeProbeKubeProxy, NodeProbeOff:
			s.NodeProbe = m
			return nil
		}
		return problem("must be auto, healthcheck-node-port, kube-proxy or off; using auto")
	}},
	{AnnotationProbeHold, func(s *Settings, v string, _ int) []string {
		switch strings.ToLower(v) {
		case "true":
			return nil
		case "false":
			s.NoHold = true
			return nil
		}
		return problem("must be true or false; using true")
	}},
	{AnnotationMinCapacity, func(s *Settings, v string, _ int) []string {
		b, err := bandwidth.Parse(v)
		if err != nil {
			return problem("%v; no capacity floor", err)
		}
		s.Floor.BitsPerSecond = float64(b)
		return nil
	}},
	{AnnotationShareWith, parseShareWith},
	{AnnotationMinNodes, func(s *Settings, v string, _ int) []string {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxMinNodes {
			return problem("must be an integer 1..%d; no node floor", maxMinNodes)
		}
		s.Floor.Nodes = n
		return nil
	}},
}

func problem(format string, args ...any) []string { return []string{fmt.Sprintf(format, args...)} }

// parseHostnames reads the comma-separated hostnames, lower-cased, without a
// trailing dot and without duplicates, at most maxHostnames of them. Its
// problems are summed up, so that a value of thousands of bad names costs
// one short message.
func parseHostnames(s *Settings, v string, maxHostnames int) []string {
	var bad, over int
	var firstBad string
	seen := map[string]bool{}
	for raw := range strings.SplitSeq(v, ",") {
		h := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(raw)), ".")
		if h == "" || seen[h] {
			continue
		}
		if err := checkHostname(h); err != nil {
			if bad++; bad == 1 {
				firstBad = fmt.Sprintf("%s: %v", quoteShort(h), err)
			}
			continue
		}
		if len(s.Hostnames) == maxHostnames {
			over++
			continue
		}
		seen[h] = true
		s.Hostnames = append(s.Hostnames, h)
	}
	var problems []string
	switch {
	case bad == 1:
		problems = problem("hostname %s", firstBad)
	case bad > 1:
		problems = problem("%d names are not valid hostnames, the first: %s", bad, firstBad)
	case len(s.Hostnames) == 0:
		problems = problem("no hostname given")
	}
	if over > 0 {
		problems = append(problems, fmt.Sprintf("more than %d hostnames (the limit per Service): %d more ignored", maxHostnames, over))
	}
	return problems
}

// maxShareWith bounds the namespaces one share-with annotation may list.
const maxShareWith = 100

// parseShareWith reads comma-separated namespace names, or "*".
func parseShareWith(s *Settings, v string, _ int) []string {
	var bad int
	var firstBad string
	for raw := range strings.SplitSeq(v, ",") {
		ns := strings.TrimSpace(raw)
		switch {
		case ns == "" || slices.Contains(s.ShareWith, ns):
		case ns != "*" && len(validation.IsDNS1123Label(ns)) > 0:
			if bad++; bad == 1 {
				firstBad = quoteShort(ns)
			}
		case len(s.ShareWith) == maxShareWith:
			return problem("more than %d namespaces: the rest ignored", maxShareWith)
		default:
			s.ShareWith = append(s.ShareWith, ns)
		}
	}
	if bad > 0 {
		return problem("%d entries are not namespace names, the first: %s; they are ignored", bad, firstBad)
	}
	return nil
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
// optional leading "*." wildcard label; not an IP address.
func checkHostname(h string) error {
	if len(h) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return fmt.Errorf("an IP address, not a hostname")
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

// serviceAnnotations and nodeAnnotations are the annotations of lbdns (after
// its prefix) that Build reads; no other key of the prefix is kept, so that
// a tenant cannot make the cache hold what lbdns never reads.
var (
	serviceAnnotations = []string{AnnotationHostname, AnnotationWeight, AnnotationTTL, AnnotationProbe, AnnotationProbePort,
		AnnotationProbePath, AnnotationNodeProbe, AnnotationProbeHold, AnnotationMinCapacity, AnnotationMinNodes, AnnotationShareWith}
	nodeAnnotations = []string{AnnotationBandwidth}
)

// ServiceAnnotations are the annotations lbdns reads on Services (after its
// prefix); the docs list each.
func ServiceAnnotations() []string { return slices.Clone(serviceAnnotations) }

// NodeAnnotations are the annotations lbdns reads on Nodes.
func NodeAnnotations() []string { return slices.Clone(nodeAnnotations) }
