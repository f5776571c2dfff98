// Package config reads lbdns's settings from LBDNS_* environment variables,
// validates them in one pass, and describes them for --help.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v10"
	"github.com/lbdns/lbdns/bandwidth"
)

// Prefix is the prefix of every environment variable lbdns reads.
const Prefix = "LBDNS_"

// ConnectorOff is the LBDNS_CONNECTOR_ADDR value that disables the connector.
const ConnectorOff = "off"

// Config holds every setting. The `help` tag feeds --help.
type Config struct {
	LogLevel  string `env:"LOG_LEVEL" envDefault:"info" help:"debug, info, warn or error"`
	LogFormat string `env:"LOG_FORMAT" envDefault:"text" help:"text or json"`

	HTTPAddr              string `env:"HTTP_ADDR" envDefault:":9797" help:"address of /metrics, /healthz, /readyz and /status"`
	HTTPMaxConns          int    `env:"HTTP_MAX_CONNS" envDefault:"1024" help:"connections the HTTP server (and lbdns agent's) holds at once; more are closed at accept"`
	HTTPMaxConnsPerClient int    `env:"HTTP_MAX_CONNS_PER_CLIENT" envDefault:"32" help:"connections one client IP may hold at once on the HTTP server (and lbdns agent's)"`
	Pprof                 bool   `env:"PPROF" envDefault:"false" help:"serve Go's profiles at /debug/pprof/ on LBDNS_HTTP_ADDR"`
	ConnectorAddr         string `env:"CONNECTOR_ADDR" envDefault:"127.0.0.1:7980" help:"address external-dns --source=connector reads from (pass it as --connector-source-server); 'off' disables it"`

	ClusterName       string   `env:"CLUSTER_NAME" envDefault:"local" help:"name of the cluster lbdns runs in, in the cluster label of metrics, /status and logs"`
	Clusters          []string `env:"CLUSTERS" envSeparator:"," help:"remote clusters whose Services join the same hostnames: kubeconfig files, comma-separated, each name=path or a path whose base name (without extension) is the cluster's name"`
	WatchLocalCluster bool     `env:"LOCAL_CLUSTER" envDefault:"true" help:"also watch the Services of the cluster lbdns runs in (false: only LBDNS_CLUSTERS; the Lease, events and DNSEndpoints still use it)"`

	AnnotationPrefix    string                  `env:"ANNOTATION_PREFIX" envDefault:"lbdns.io/" help:"prefix of the Service annotations lbdns reads"`
	MaxHostnames        int                     `env:"MAX_HOSTNAMES_PER_SERVICE" envDefault:"20" help:"hostnames one Service may ask for; further ones are ignored with a warning"`
	Namespace           string                  `env:"NAMESPACE" help:"watch Services in this namespace only; empty watches all"`
	CacheSyncTimeout    time.Duration           `env:"CACHE_SYNC_TIMEOUT" envDefault:"60s" help:"how long to wait for the informer caches at start"`
	TTL                 int64                   `env:"TTL" envDefault:"30" help:"record TTL in seconds when a Service sets none"`
	WithdrawCordoned    bool                    `env:"WITHDRAW_CORDONED" envDefault:"true" help:"withdraw the IPs of cordoned (unschedulable) nodes, as before a drain; false keeps them while the node is Ready (Kubernetes keeps cordoned nodes in cloud load balancers)"`
	MinTTL              int64                   `env:"MIN_TTL" envDefault:"0" help:"the least TTL of every record lbdns publishes, in seconds: a Service asking for less is raised to it (noted in /status); IONOS Cloud DNS refuses TTLs under 60; 0 = none"`
	FailOpen            bool                    `env:"FAIL_OPEN" envDefault:"true" help:"publish every weight>0 target when none is healthy"`
	KubeProxyHealthPort int                     `env:"KUBE_PROXY_HEALTHZ_PORT" envDefault:"10256" help:"port of kube-proxy's /healthz for node-probe=kube-proxy"`
	NodeBandwidth       bandwidth.BitsPerSecond `env:"NODE_BANDWIDTH" envDefault:"2G" help:"bandwidth of one node's network interface, for the capacity of a hostname (bits/s; K, M, G, T count in thousands: 2G, 1.5G, 10G); the Node annotation <prefix>bandwidth overrides it per node"`

	HostnameOwnership string `env:"HOSTNAME_OWNERSHIP" envDefault:"namespace" help:"namespace: a hostname belongs to the namespace of its oldest Service, other namespaces join only when the owner lists them in <prefix>share-with; shared: every Service that names a hostname joins it (a cluster of one team)"`
	NamespaceDomains  string `env:"NAMESPACE_DOMAINS" help:"tie namespaces to the domains they may claim names in: ns=domain[,domain];ns2=domain;*=domain ('*' is every namespace not listed; without it they may claim nothing); empty = any name"`
	LabelFilter       string `env:"LABEL_FILTER" help:"only Services whose labels match this label selector (like external-dns --label-filter), e.g. team in (a,b); empty = all"`
	AnnotationFilter  string `env:"ANNOTATION_FILTER" help:"only Services whose annotations match this label selector (like external-dns --annotation-filter); empty = all"`

	AgentPort     int           `env:"AGENT_PORT" help:"ask the node agent (lbdns agent) of every Node on this port of the Node's InternalIP where the LB IPs sit and what the interfaces carry; empty = no agents, Node addresses only"`
	AgentInterval time.Duration `env:"AGENT_INTERVAL" envDefault:"5s" help:"time between two rounds of asking the node agents"`
	AgentAddr     string        `env:"AGENT_ADDR" envDefault:":9798" help:"lbdns agent: address it serves on (set it to the node's IP, status.hostIP, to keep it off public addresses)"`
	AgentToken    string        `env:"AGENT_TOKEN" help:"a shared secret: lbdns agent answers only requests that carry it (Authorization: Bearer), and lbdns sends it; empty = none (then keep the agent's port closed to anything but lbdns)" secret:"true"`
	AgentInsecure bool          `env:"AGENT_INSECURE" envDefault:"false" help:"let lbdns agent serve, and lbdns ask agents, without LBDNS_AGENT_TOKEN (only where nothing but lbdns can reach the agents' port)"`
	AgentNodeName string        `env:"AGENT_NODE_NAME" help:"lbdns agent: the name of its node (the downward API's spec.nodeName); empty = the host name"`

	ProbeInterval     time.Duration `env:"PROBE_INTERVAL" envDefault:"2s" help:"time between two probes of one target"`
	ProbeTimeout      time.Duration `env:"PROBE_TIMEOUT" envDefault:"1s" help:"time one probe may take"`
	ProbeDownInterval time.Duration `env:"PROBE_DOWN_INTERVAL" help:"time between two probes of a target that is down; empty = LBDNS_PROBE_INTERVAL"`
	ProbeFastInterval time.Duration `env:"PROBE_FAST_INTERVAL" help:"once a target's state starts to change, re-probe it this soon until fall/rise is reached; empty = a quarter of LBDNS_PROBE_INTERVAL, at least 100ms"`
	ProbeFall         int           `env:"PROBE_FALL" envDefault:"2" help:"consecutive failures that mark a target down"`
	ProbeRise         int           `env:"PROBE_RISE" envDefault:"2" help:"consecutive successes that mark a target up again"`
	ProbeJitter       float64       `env:"PROBE_JITTER" envDefault:"0.1" help:"random spread of the probe interval, as a fraction (0..0.5)"`
	FlapHalfLife      time.Duration `env:"FLAP_HALF_LIFE" envDefault:"30s" help:"flap damping: the penalty of a flapping target halves in this time; 0 turns damping off"`
	FlapThreshold     int           `env:"FLAP_THRESHOLD" envDefault:"3" help:"flap damping: probe result flips in quick succession that hold a target withdrawn (Flapping)"`
	ProbeConcurrency  int           `env:"PROBE_CONCURRENCY" envDefault:"64" help:"probes that may run at once, in each of three pools: targets up, new, and down"`

	Provider           string        `env:"PROVIDER" help:"standalone DNS updater: rfc2136 or webhook; empty = off"`
	RFC2136Host        string        `env:"RFC2136_HOST" help:"rfc2136: DNS server to update"`
	RFC2136Port        int           `env:"RFC2136_PORT" envDefault:"53" help:"rfc2136: its port"`
	RFC2136Zone        string        `env:"RFC2136_ZONE" help:"rfc2136: zone(s) to update, comma-separated"`
	RFC2136TSIGKey     string        `env:"RFC2136_TSIG_KEYNAME" help:"rfc2136: TSIG key name"`
	RFC2136TSIGSecret  string        `env:"RFC2136_TSIG_SECRET" help:"rfc2136: TSIG secret (base64); never logged" secret:"true"`
	RFC2136TSIGAlg     string        `env:"RFC2136_TSIG_SECRET_ALG" envDefault:"hmac-sha256" help:"rfc2136: TSIG algorithm"`
	RFC2136Insecure    bool          `env:"RFC2136_INSECURE" envDefault:"false" help:"rfc2136: send updates without TSIG"`
	WebhookURL         string        `env:"WEBHOOK_URL" help:"webhook: URL of an external-dns webhook provider, e.g. http://localhost:8888"`
	WebhookIncremental bool          `env:"WEBHOOK_INCREMENTAL" envDefault:"false" help:"webhook: send a change of a record set as the single records that come and go, additions first, so a name never goes empty (on for the IONOS webhook; only for providers that create and delete single records of a set)"`
	TXTOwnerID         string        `env:"TXT_OWNER_ID" help:"owner ID in the TXT ownership records; records of other owners are never changed; empty = unique to this installation (lbdns-<first 8 of the kube-system namespace's UID>[-<LBDNS_LEADER_ELECT_NAME>]), shown in /status"`
	Policy             string        `env:"POLICY" envDefault:"sync" help:"sync (create, update, delete) or upsert-only (never delete)"`
	DomainFilter       []string      `env:"DOMAIN_FILTER" envSeparator:"," help:"limit the standalone updater to these domains, comma-separated"`
	SyncInterval       time.Duration `env:"SYNC_INTERVAL" envDefault:"1m" help:"full sync of the writers (standalone, DNSEndpoint) at least this often"`

	CRDNamespace string `env:"CRD_NAMESPACE" help:"write one DNSEndpoint per hostname in this namespace; empty = off"`

	DNSAddr                  string        `env:"DNS_ADDR" help:"embedded authoritative DNS server, UDP and TCP, e.g. 127.0.0.1:5353; empty = off"`
	DNSZones                 []string      `env:"DNS_ZONES" envSeparator:"," help:"zones the embedded DNS server answers for, comma-separated"`
	DNSNS                    []string      `env:"DNS_NS" envSeparator:"," help:"name servers of the zones (NS records), comma-separated; the first is the SOA's MNAME; empty = ns1.<zone>"`
	DNSNSAddresses           []string      `env:"DNS_NS_ADDRESSES" envSeparator:"," help:"addresses of name servers inside the zones, name=IP, comma-separated, a name once per address: answered for those names and given as glue with the NS records and in transfers, e.g. ns1.lb.example.com=192.0.2.10,ns1.lb.example.com=2001:db8::10"`
	DNSTransferAllow         []string      `env:"DNS_TRANSFER_ALLOW" envSeparator:"," help:"client networks (CIDR, comma-separated) that may transfer the zones (AXFR; IXFR answered whole) over TCP; empty = none"`
	DNSTSIGName              string        `env:"DNS_TSIG_NAME" help:"TSIG key required on every zone transfer and signing every NOTIFY; empty = none"`
	DNSTSIGSecret            string        `env:"DNS_TSIG_SECRET" help:"its secret (base64); never logged" secret:"true"`
	DNSTSIGAlg               string        `env:"DNS_TSIG_ALG" envDefault:"hmac-sha256" help:"its algorithm: hmac-sha256, hmac-sha512, ..."`
	DNSNotify                []string      `env:"DNS_NOTIFY" envSeparator:"," help:"secondaries (host:port, comma-separated) sent a NOTIFY on every change of the zones"`
	DNSHostmaster            string        `env:"DNS_HOSTMASTER" help:"SOA mailbox; empty = hostmaster.<zone>"`
	DNSRRLRate               int           `env:"DNS_RRL_RATE" envDefault:"20" help:"response rate limiting: UDP responses per second per client network (/24, /56) and kind of answer; 0 = off"`
	DNSRRLSlip               int           `env:"DNS_RRL_SLIP" envDefault:"2" help:"response rate limiting: every Nth limited response is sent truncated (TC) instead of dropped; 0 = drop all"`
	DNSMaxAnswers            int           `env:"DNS_MAX_ANSWERS" envDefault:"16" help:"embedded DNS: addresses in one answer at most (a weighted choice, anew for every query; Route 53 gives 8); 0 = all"`
	DNSTCPMaxConns           int           `env:"DNS_TCP_MAX_CONNS" envDefault:"1000" help:"embedded DNS: TCP connections held at once; more are closed at accept"`
	DNSTCPMaxConnsPerNetwork int           `env:"DNS_TCP_MAX_CONNS_PER_NETWORK" envDefault:"50" help:"embedded DNS: TCP connections one client network (/24, /56) may hold at once"`
	DNSTCPIdleTimeout        time.Duration `env:"DNS_TCP_IDLE_TIMEOUT" envDefault:"10s" help:"embedded DNS: time a TCP client may take to send a whole query, the first or the next (RFC 7766)"`
	DNSWeightByNode          bool          `env:"DNS_WEIGHT_BY_NODE" envDefault:"false" help:"embedded DNS: make the node, not the IP, the unit of the weighted order (the weights of a hostname's IPs on one node are split among them); LBDNS_WEIGHT_BY_NODE, its old name, still works"`
	DNSRRLExempt             []string      `env:"DNS_RRL_EXEMPT" envSeparator:"," help:"response rate limiting: client networks (CIDR, comma-separated) never limited"`

	LeaderElect          bool          `env:"LEADER_ELECT" envDefault:"false" help:"only the holder of the Lease lbdns writes (standalone, DNSEndpoint) and, with zone transfers on, gives the embedded DNS's zones their serials (ConfigMap <LBDNS_LEADER_ELECT_NAME>-dns-serials)"`
	LeaderElectNamespace string        `env:"LEADER_ELECT_NAMESPACE" envDefault:"lbdns" help:"namespace of the Lease"`
	LeaderElectName      string        `env:"LEADER_ELECT_NAME" envDefault:"lbdns" help:"name of the Lease: give each lbdns installation that shares a namespace its own"`
	LeaseDuration        time.Duration `env:"LEADER_ELECT_LEASE_DURATION" envDefault:"15s" help:"how long a lost leader's lease blocks a new one"`
	RenewDeadline        time.Duration `env:"LEADER_ELECT_RENEW_DEADLINE" envDefault:"10s" help:"how long the leader retries renewing before it gives up"`
	RetryPeriod          time.Duration `env:"LEADER_ELECT_RETRY_PERIOD" envDefault:"2s" help:"how often candidates try to acquire or renew"`
}

// Standalone providers.
const (
	ProviderRFC2136 = "rfc2136"
	ProviderWebhook = "webhook"
)

// Load parses the environment (as KEY=VALUE pairs, like os.Environ) into a
// Config and validates it.
func Load(environ []string) (Config, error) {
	var cfg Config
	vars := toMap(environ)
	for old, name := range renamed {
		if v, ok := vars[old]; ok {
			if _, set := vars[name]; !set {
				vars[name] = v
			}
		}
	}
	if err := env.ParseWithOptions(&cfg, env.Options{Prefix: Prefix, Environment: vars}); err != nil {
		return Config{}, explainParseError(err, vars)
	}
	return cfg, cfg.Validate()
}

// renamed maps old variable names, still read, to their new ones.
var renamed = map[string]string{
	Prefix + "WEIGHT_BY_NODE": Prefix + "DNS_WEIGHT_BY_NODE",
}

// Deprecated lists what environ sets under an old name, each with the name to
// use instead, for a warning at start.
func Deprecated(environ []string) []string {
	vars := toMap(environ)
	var out []string
	for old, name := range renamed {
		if _, ok := vars[old]; ok {
			out = append(out, fmt.Sprintf("%s is deprecated: use %s", old, name))
		}
	}
	slices.Sort(out)
	return out
}

// explainParseError rewrites the env library's errors, which name struct
// fields, so that each names the variable and the value the user gave.
func explainParseError(err error, vars map[string]string) error {
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return fmt.Errorf("reading environment: %w", err)
	}
	t := reflect.TypeOf(Config{})
	var errs []error
	for _, e := range agg.Errors {
		var pe env.ParseError
		if !errors.As(e, &pe) {
			errs = append(errs, e)
			continue
		}
		f, ok := t.FieldByName(pe.Name)
		if !ok {
			errs = append(errs, e)
			continue
		}
		name := Prefix + f.Tag.Get("env")
		errs = append(errs, fmt.Errorf("%s: %q is not a valid %s (default %s)", name, vars[name], typeWord(f.Type), f.Tag.Get("envDefault")))
	}
	return errors.Join(errs...)
}

func typeWord(t reflect.Type) string {
	switch {
	case t == reflect.TypeOf(time.Duration(0)):
		return "duration like 2s or 500ms"
	case t == reflect.TypeOf(bandwidth.BitsPerSecond(0)):
		return "bandwidth like 2G, 1.5G or 500M (bits per second)"
	case t.Kind() == reflect.Bool:
		return "boolean (true or false)"
	case t.Kind() == reflect.Slice:
		return "comma-separated list"
	case t.Kind() == reflect.Float64:
		return "number"
	default:
		return "integer"
	}
}

// Validate checks every setting and reports all problems at once, each
// naming its variable.
func (c Config) Validate() error {
	var p problems
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		p.bad("LOG_LEVEL", "%q is not one of debug, info, warn, error", c.LogLevel)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		p.bad("LOG_FORMAT", "%q is not text or json", c.LogFormat)
	}
	if err := checkHostPort(c.HTTPAddr); err != nil {
		p.bad("HTTP_ADDR", "%v", err)
	}
	if c.HTTPMaxConns < 1 || c.HTTPMaxConns > 100000 {
		p.bad("HTTP_MAX_CONNS", "must be 1..100000, got %d", c.HTTPMaxConns)
	}
	if c.HTTPMaxConnsPerClient < 1 || c.HTTPMaxConnsPerClient > c.HTTPMaxConns {
		p.bad("HTTP_MAX_CONNS_PER_CLIENT", "must be 1..LBDNS_HTTP_MAX_CONNS (%d), got %d", c.HTTPMaxConns, c.HTTPMaxConnsPerClient)
	}
	if c.ConnectorAddr != ConnectorOff {
		if err := checkHostPort(c.ConnectorAddr); err != nil {
			p.bad("CONNECTOR_ADDR", "%v (use %q to disable)", err, ConnectorOff)
		}
	}
	if c.AnnotationPrefix == "" || !strings.HasSuffix(c.AnnotationPrefix, "/") {
		p.bad("ANNOTATION_PREFIX", "%q must end with '/', like lbdns.io/", c.AnnotationPrefix)
	}
	if c.MaxHostnames < 1 || c.MaxHostnames > 1000 {
		p.bad("MAX_HOSTNAMES_PER_SERVICE", "must be 1..1000, got %d", c.MaxHostnames)
	}
	if c.CacheSyncTimeout <= 0 {
		p.bad("CACHE_SYNC_TIMEOUT", "must be positive, got %s", c.CacheSyncTimeout)
	}
	if c.TTL < 1 || c.TTL > 2147483647 {
		p.bad("TTL", "must be 1..2147483647 seconds, got %d", c.TTL)
	}
	if c.MinTTL < 0 || c.MinTTL > 86400 {
		p.bad("MIN_TTL", "must be 0 (none) to 86400 seconds, got %d", c.MinTTL)
	} else if c.TTL < c.MinTTL {
		p.bad("TTL", "%d is below LBDNS_MIN_TTL (%d): records would be published with %d", c.TTL, c.MinTTL, c.MinTTL)
	}
	if c.KubeProxyHealthPort < 1 || c.KubeProxyHealthPort > 65535 {
		p.bad("KUBE_PROXY_HEALTHZ_PORT", "must be 1..65535, got %d", c.KubeProxyHealthPort)
	}
	p = append(p, c.validateAgents()...)
	p = append(p, c.validateClusters()...)
	p = append(p, c.validateProbes()...)
	p = append(p, c.validateWriters()...)
	p = append(p, c.validateDNS()...)
	p = append(p, c.validateTenancy()...)
	p = append(p, c.validateDNSTransfers()...)
	return errors.Join(p...)
}

// FastInterval is LBDNS_PROBE_FAST_INTERVAL, or its default: a quarter of
// the probe interval, at least 100ms and at most the interval.
func (c Config) FastInterval() time.Duration {
	if c.ProbeFastInterval != 0 {
		return c.ProbeFastInterval
	}
	return min(max(c.ProbeInterval/4, 100*time.Millisecond), c.ProbeInterval)
}

// RemoteCluster is one entry of LBDNS_CLUSTERS.
type RemoteCluster struct {
	Name, Kubeconfig string
}

// RemoteClusters returns LBDNS_CLUSTERS, each with its name.
func (c Config) RemoteClusters() []RemoteCluster {
	var out []RemoteCluster
	for _, e := range c.Clusters {
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

// AgentListenAddr is LBDNS_AGENT_ADDR, with an IPv6 host put in brackets:
// the manifests write "$(HOST_IP):9798", which on an IPv6 node reads
// "fd00::1:9798".
func (c Config) AgentListenAddr() string {
	if _, _, err := net.SplitHostPort(c.AgentAddr); err == nil {
		return c.AgentAddr
	}
	i := strings.LastIndexByte(c.AgentAddr, ':')
	if i < 0 {
		return c.AgentAddr
	}
	if ip, err := netip.ParseAddr(c.AgentAddr[:i]); err == nil && ip.Is6() {
		return net.JoinHostPort(ip.String(), c.AgentAddr[i+1:])
	}
	return c.AgentAddr
}

// RRLExempt parses LBDNS_DNS_RRL_EXEMPT.
func (c Config) RRLExempt() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.DNSRRLExempt {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return nil, fmt.Errorf("%q is not a network like 192.0.2.0/24", s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// DNSTransfersOn reports whether the embedded DNS serves zone transfers:
// then its replicas agree on serials, through the Lease holder.
func (c Config) DNSTransfersOn() bool {
	allow, err := c.DNSTransferAllowed()
	return c.DNSAddr != "" && err == nil && len(allow) > 0
}

// NeedsLease reports whether this replica campaigns for the Lease: with
// leader election, for the writers and for the embedded DNS's serials.
func (c Config) NeedsLease() bool { return c.LeaderElect && (c.HasWriters() || c.DNSTransfersOn()) }

// HasWriters reports whether any output that writes (standalone,
// DNSEndpoint) is on.
func (c Config) HasWriters() bool { return c.Provider != "" || c.CRDNamespace != "" }

func toMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}
