// Package probe checks whether a target IP answers, and keeps each target's
// health with hysteresis: one probe in flight per target, `fall` failures
// before down, `rise` successes before up.
package probe

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
)

// Kind names a way to probe.
type Kind string

// The probe kinds. The last two are node probes: they ask the node that
// carries the IP, the way a cloud load balancer does.
const (
	TCP                 Kind = "tcp"
	HTTP                Kind = "http"
	HTTPS               Kind = "https"
	HealthCheckNodePort Kind = "healthcheck-node-port"
	KubeProxy           Kind = "kube-proxy"
)

// Check is one probe of one port of the target IP.
type Check struct {
	Kind Kind
	Port int
	// Path is the HTTP path; Host the HTTP Host header and TLS server name
	// (empty: the IP). Both are unused by tcp.
	Path string
	Host string
	// NoHold: a tcp check whose connection is closed at once even when the
	// scheduler holds connections (hold.go), for a server that serves one
	// connection at a time.
	NoHold bool
}

func (c Check) String() string {
	if c.Kind == TCP {
		if c.NoHold {
			return fmt.Sprintf("%s:%d(no-hold)", c.Kind, c.Port)
		}
		return fmt.Sprintf("%s:%d", c.Kind, c.Port)
	}
	return fmt.Sprintf("%s:%d%s", c.Kind, c.Port, c.Path)
}

// Spec is what to probe for one target: every check must pass. An empty Spec
// means the target is not probed and its health comes from Kubernetes alone.
type Spec struct {
	Checks []Check
}

// String is a stable form of the spec, used to notice when it changes.
func (s Spec) String() string {
	parts := make([]string, len(s.Checks))
	for i, c := range s.Checks {
		parts[i] = c.String()
	}
	return strings.Join(parts, ",")
}

// Func probes one check of one IP. It returns nil when the check passed and
// otherwise an error that says why, short enough for a log line and /status.
// It must return when ctx is done.
type Func func(ctx context.Context, ip netip.Addr, c Check) error

// Funcs maps each kind to its probe function.
func Funcs() map[Kind]Func {
	return map[Kind]Func{
		TCP:                 probeTCP,
		HTTP:                probeHTTP,
		HTTPS:               probeHTTP,
		HealthCheckNodePort: probeHTTP,
		KubeProxy:           probeHTTP,
	}
}
