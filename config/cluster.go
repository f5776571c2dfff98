package config

import (
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/lbdns/lbdns/bandwidth"
)

// Clusters are the clusters whose Services lbdns watches.
type Clusters struct {
	LocalName   string   `env:"CLUSTER_NAME" envDefault:"local" help:"name of the cluster lbdns runs in, in the cluster label of metrics, /status and logs"`
	Kubeconfigs []string `env:"CLUSTERS" envSeparator:"," help:"remote clusters whose Services join the same hostnames: kubeconfig files, comma-separated, each name=path or a path whose base name (without extension) is the cluster's name"`
	WatchLocal  bool     `env:"LOCAL_CLUSTER" envDefault:"true" help:"also watch the Services of the cluster lbdns runs in (false: only LBDNS_CLUSTERS; the Lease, events and DNSEndpoints still use it)"`
}

// RemoteCluster is one entry of LBDNS_CLUSTERS.
type RemoteCluster struct {
	Name, Kubeconfig string
}

// Remote returns LBDNS_CLUSTERS, each with its name.
func (c Clusters) Remote() []RemoteCluster {
	var out []RemoteCluster
	for _, e := range c.Kubeconfigs {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		name, path, ok := strings.Cut(e, "=")
		if !ok {
			path = e
			name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		}
		out = append(out, RemoteCluster{Name: strings.TrimSpace(name), Kubeconfig: strings.TrimSpace(path)})
	}
	return out
}

// validate checks the cluster names: DNS labels, each once.
func (c Clusters) validate() []error {
	var p problems
	if errs := validation.IsDNS1123Label(c.LocalName); len(errs) > 0 {
		p.bad("CLUSTER_NAME", "%q is not a DNS label (lower-case letters, digits, '-'): %s", c.LocalName, errs[0])
	}
	seen := map[string]bool{c.LocalName: true}
	for _, r := range c.Remote() {
		switch {
		case r.Kubeconfig == "":
			p.bad("CLUSTERS", "cluster %q has no kubeconfig path", r.Name)
		case len(validation.IsDNS1123Label(r.Name)) > 0:
			p.bad("CLUSTERS", "cluster name %q (of %s) is not a DNS label; write name=path", r.Name, r.Kubeconfig)
		case seen[r.Name]:
			p.bad("CLUSTERS", "cluster name %q is used twice (LBDNS_CLUSTER_NAME is %q); write name=path", r.Name, c.LocalName)
		}
		seen[r.Name] = true
	}
	if !c.WatchLocal && len(c.Remote()) == 0 {
		p.bad("LOCAL_CLUSTER", "false leaves no cluster to watch: set LBDNS_CLUSTERS")
	}
	return p
}

// Source says how lbdns reads Services, EndpointSlices and Nodes.
type Source struct {
	AnnotationPrefix    string                  `env:"ANNOTATION_PREFIX" envDefault:"lbdns.io/" help:"prefix of the Service annotations lbdns reads"`
	MaxHostnames        int                     `env:"MAX_HOSTNAMES_PER_SERVICE" envDefault:"20" help:"hostnames one Service may ask for; further ones are ignored with a warning"`
	Namespace           string                  `env:"NAMESPACE" help:"watch Services in this namespace only; empty watches all"`
	CacheSyncTimeout    time.Duration           `env:"CACHE_SYNC_TIMEOUT" envDefault:"60s" help:"how long to wait for the informer caches at start"`
	WithdrawCordoned    bool                    `env:"WITHDRAW_CORDONED" envDefault:"true" help:"withdraw the IPs of cordoned (unschedulable) nodes, as before a drain; false keeps them while the node is Ready (Kubernetes keeps cordoned nodes in cloud load balancers)"`
	KubeProxyHealthPort int                     `env:"KUBE_PROXY_HEALTHZ_PORT" envDefault:"10256" help:"port of kube-proxy's /healthz for node-probe=kube-proxy"`
	NodeBandwidth       bandwidth.BitsPerSecond `env:"NODE_BANDWIDTH" envDefault:"2G" help:"bandwidth of one node's network interface, for the capacity of a hostname (bits/s; K, M, G, T count in thousands: 2G, 1.5G, 10G); the Node annotation <prefix>bandwidth overrides it per node"`
}

func (s Source) validate() []error {
	var p problems
	if s.AnnotationPrefix == "" || !strings.HasSuffix(s.AnnotationPrefix, "/") {
		p.bad("ANNOTATION_PREFIX", "%q must end with '/', like lbdns.io/", s.AnnotationPrefix)
	}
	if s.MaxHostnames < 1 || s.MaxHostnames > 1000 {
		p.bad("MAX_HOSTNAMES_PER_SERVICE", "must be 1..1000, got %d", s.MaxHostnames)
	}
	if s.CacheSyncTimeout <= 0 {
		p.bad("CACHE_SYNC_TIMEOUT", "must be positive, got %s", s.CacheSyncTimeout)
	}
	if s.KubeProxyHealthPort < 1 || s.KubeProxyHealthPort > 65535 {
		p.bad("KUBE_PROXY_HEALTHZ_PORT", "must be 1..65535, got %d", s.KubeProxyHealthPort)
	}
	return p
}

// Publish says what every output publishes: TTLs and fail open.
type Publish struct {
	TTL      int64 `env:"TTL" envDefault:"30" help:"record TTL in seconds when a Service sets none"`
	MinTTL   int64 `env:"MIN_TTL" envDefault:"0" help:"the least TTL of every record lbdns publishes, in seconds: a Service asking for less is raised to it (noted in /status); IONOS Cloud DNS refuses TTLs under 60; 0 = none"`
	FailOpen bool  `env:"FAIL_OPEN" envDefault:"true" help:"publish every weight>0 target when none is healthy"`
}

func (pub Publish) validate() []error {
	var p problems
	if pub.TTL < 1 || pub.TTL > 2147483647 {
		p.bad("TTL", "must be 1..2147483647 seconds, got %d", pub.TTL)
	}
	if pub.MinTTL < 0 || pub.MinTTL > 86400 {
		p.bad("MIN_TTL", "must be 0 (none) to 86400 seconds, got %d", pub.MinTTL)
	} else if pub.TTL < pub.MinTTL {
		p.bad("TTL", "%d is below LBDNS_MIN_TTL (%d): records would be published with %d", pub.TTL, pub.MinTTL, pub.MinTTL)
	}
	return p
}
