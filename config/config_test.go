package config

import (
	"strings"
	"testing"
	"time"
)

func TestLoadDefaults(t *testing.T) {
	cfg, err := Load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Probe.Interval != 2*time.Second || cfg.Probe.Timeout != time.Second || cfg.Probe.Fall != 2 || cfg.Probe.Rise != 2 ||
		cfg.Publish.TTL != 30 || !cfg.Publish.FailOpen || cfg.Connector.Addr != "127.0.0.1:7980" || cfg.HTTP.Addr != ":9797" ||
		cfg.Source.AnnotationPrefix != "lbdns.io/" || cfg.Source.KubeProxyHealthPort != 10256 {
		t.Fatalf("defaults: %+v", cfg)
	}
	for interval, want := range map[string]time.Duration{"2s": 500 * time.Millisecond, "200ms": 100 * time.Millisecond, "100ms": 100 * time.Millisecond} {
		cfg, err := Load([]string{"LBDNS_PROBE_INTERVAL=" + interval, "LBDNS_PROBE_TIMEOUT=100ms"})
		if err != nil || cfg.Probe.FastIntervalOrDefault() != want {
			t.Errorf("interval %s: fast interval %s (%v), want %s", interval, cfg.Probe.FastIntervalOrDefault(), err, want)
		}
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		env  []string
		want []string
	}{
		{[]string{"LBDNS_PROBE_INTERVAL=2"}, []string{`LBDNS_PROBE_INTERVAL: "2" is not a valid duration`}},
		{[]string{"LBDNS_PROBE_FALL=x", "LBDNS_FAIL_OPEN=maybe"}, []string{"LBDNS_PROBE_FALL", "LBDNS_FAIL_OPEN"}},
		// Two groups name a field Interval: the error names the one that is wrong.
		{[]string{"LBDNS_PROBE_INTERVAL=2s", "LBDNS_AGENT_INTERVAL=5x"}, []string{`LBDNS_AGENT_INTERVAL: "5x" is not a valid duration`}},
		{[]string{"LBDNS_PROBE_TIMEOUT=3s"}, []string{"LBDNS_PROBE_TIMEOUT: must be positive and at most LBDNS_PROBE_INTERVAL"}},
		{[]string{"LBDNS_LOG_LEVEL=loud", "LBDNS_LOG_FORMAT=xml", "LBDNS_TTL=0"}, []string{"LBDNS_LOG_LEVEL", "LBDNS_LOG_FORMAT", "LBDNS_TTL"}},
		{[]string{"LBDNS_CONNECTOR_ADDR=8080"}, []string{"LBDNS_CONNECTOR_ADDR"}},
		{[]string{"LBDNS_ANNOTATION_PREFIX=lbdns.io"}, []string{"LBDNS_ANNOTATION_PREFIX"}},
		{[]string{"LBDNS_PROBE_FAST_INTERVAL=3s"}, []string{"LBDNS_PROBE_FAST_INTERVAL: must be empty or from 100ms to LBDNS_PROBE_INTERVAL"}},
		{[]string{"LBDNS_PROBE_FAST_INTERVAL=10ms"}, []string{"LBDNS_PROBE_FAST_INTERVAL"}},
		{[]string{"LBDNS_PROBE_JITTER=0.9", "LBDNS_PROBE_CONCURRENCY=0", "LBDNS_PROBE_RISE=0"}, []string{"LBDNS_PROBE_JITTER", "LBDNS_PROBE_CONCURRENCY", "LBDNS_PROBE_RISE"}},
		{[]string{"LBDNS_PROBE_HELD_CONNECTIONS=-1"}, []string{"LBDNS_PROBE_HELD_CONNECTIONS: must be 0 (off) to 1000000, got -1"}},
		{[]string{"LBDNS_PROBE_HELD_CONNECTIONS=many"}, []string{"LBDNS_PROBE_HELD_CONNECTIONS"}},
		{[]string{"LBDNS_NODE_BANDWIDTH=fast"}, []string{`LBDNS_NODE_BANDWIDTH: "fast" is not a valid bandwidth`}},
		{[]string{"LBDNS_NODE_BANDWIDTH=-2G"}, []string{"LBDNS_NODE_BANDWIDTH"}},
		{[]string{"LBDNS_AGENT_PORT=70000", "LBDNS_AGENT_INTERVAL=100ms", "LBDNS_AGENT_ADDR=9798"}, []string{"LBDNS_AGENT_PORT", "LBDNS_AGENT_INTERVAL", "LBDNS_AGENT_ADDR"}},
		{[]string{"LBDNS_CLUSTERS=/etc/clusters/B_1.yaml"}, []string{`LBDNS_CLUSTERS: cluster name "B_1" (of /etc/clusters/B_1.yaml) is not a DNS label`}},
		{[]string{"LBDNS_CLUSTERS=b=/x,b=/y"}, []string{`LBDNS_CLUSTERS: cluster name "b" is used twice`}},
		{[]string{"LBDNS_CLUSTERS=local=/x"}, []string{`LBDNS_CLUSTERS: cluster name "local" is used twice`}},
		{[]string{"LBDNS_CLUSTERS=b="}, []string{`LBDNS_CLUSTERS: cluster "b" has no kubeconfig path`}},
		{[]string{"LBDNS_LOCAL_CLUSTER=false"}, []string{"LBDNS_LOCAL_CLUSTER: false leaves no cluster"}},
		{[]string{"LBDNS_CLUSTER_NAME=Prod"}, []string{"LBDNS_CLUSTER_NAME"}},
		{[]string{"LBDNS_DNS_TRANSFER_ALLOW=10.0.0.0/33", "LBDNS_DNS_TSIG_NAME=k", "LBDNS_DNS_TSIG_ALG=md4", "LBDNS_DNS_NOTIFY=10.0.0.1"},
			[]string{"LBDNS_DNS_TRANSFER_ALLOW", "LBDNS_DNS_TSIG_NAME", "LBDNS_DNS_TSIG_ALG", "LBDNS_DNS_NOTIFY"}},
		{[]string{"LBDNS_DNS_ZONES=lb.test", "LBDNS_DNS_NS=ns1.lb.test,ns.other.test", "LBDNS_DNS_NS_ADDRESSES=ns1.lb.test=300.1.1.1"},
			[]string{`LBDNS_DNS_NS_ADDRESSES: "ns1.lb.test=300.1.1.1" is not name=IP`}},
		{[]string{"LBDNS_DNS_ZONES=lb.test", "LBDNS_DNS_NS=ns1.lb.test,ns.other.test", "LBDNS_DNS_NS_ADDRESSES=ns2.lb.test=192.0.2.1"},
			[]string{"LBDNS_DNS_NS_ADDRESSES: ns2.lb.test. is not one of LBDNS_DNS_NS"}},
		{[]string{"LBDNS_DNS_ZONES=lb.test", "LBDNS_DNS_NS=ns1.lb.test,ns.other.test", "LBDNS_DNS_NS_ADDRESSES=ns.other.test=192.0.2.1"},
			[]string{"LBDNS_DNS_NS_ADDRESSES: ns.other.test. is in none of LBDNS_DNS_ZONES"}},
		{[]string{"LBDNS_MIN_TTL=60"}, []string{"LBDNS_TTL: 30 is below LBDNS_MIN_TTL (60)"}},
		{[]string{"LBDNS_MIN_TTL=100000"}, []string{"LBDNS_MIN_TTL"}},
		{[]string{"LBDNS_AGENT_PORT=9798"}, []string{"LBDNS_AGENT_TOKEN: is empty while LBDNS_AGENT_PORT is set"}},
		{[]string{"LBDNS_HOSTNAME_OWNERSHIP=teams", "LBDNS_NAMESPACE_DOMAINS=team-a", "LBDNS_LABEL_FILTER=a in (", "LBDNS_ANNOTATION_FILTER=!!"},
			[]string{"LBDNS_HOSTNAME_OWNERSHIP", "LBDNS_NAMESPACE_DOMAINS", "LBDNS_LABEL_FILTER", "LBDNS_ANNOTATION_FILTER"}},
		{[]string{"LBDNS_HTTP_MAX_CONNS=0", "LBDNS_DNS_ADDR=:5353", "LBDNS_DNS_ZONES=x.test", "LBDNS_DNS_TCP_MAX_CONNS_PER_NETWORK=0", "LBDNS_DNS_MAX_ANSWERS=-1", "LBDNS_DNS_UDP_SPREAD=rss"},
			[]string{"LBDNS_HTTP_MAX_CONNS", "LBDNS_DNS_TCP_MAX_CONNS_PER_NETWORK", "LBDNS_DNS_MAX_ANSWERS", "LBDNS_DNS_UDP_SPREAD"}},
	}
	for _, tt := range tests {
		assertLoadError(t, tt.env, tt.want...)
	}
}

func TestNodeBandwidth(t *testing.T) {
	for env, want := range map[string]float64{"": 2e9, "LBDNS_NODE_BANDWIDTH=1.5G": 1.5e9, "LBDNS_NODE_BANDWIDTH=10G": 10e9} {
		cfg, err := Load(strings.Fields(env))
		if err != nil || float64(cfg.Source.NodeBandwidth) != want {
			t.Errorf("%q: %v bits/s, %v; want %g", env, float64(cfg.Source.NodeBandwidth), err, want)
		}
	}
}

func TestRemoteClusters(t *testing.T) {
	cfg, err := Load([]string{"LBDNS_CLUSTERS=/etc/lbdns/clusters/eu-west.kubeconfig, us=/etc/lbdns/us/config", "LBDNS_CLUSTER_NAME=eu-central"})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Clusters.Remote()
	want := []RemoteCluster{{"eu-west", "/etc/lbdns/clusters/eu-west.kubeconfig"}, {"us", "/etc/lbdns/us/config"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] || !cfg.Clusters.WatchLocal {
		t.Errorf("remote clusters %+v, local %v", got, cfg.Clusters.WatchLocal)
	}
}

// The manifests' "$(HOST_IP):9798" on an IPv6 node.
func TestAgentListenAddr(t *testing.T) {
	for addr, want := range map[string]string{":9798": ":9798", "10.0.0.5:9798": "10.0.0.5:9798",
		"fd00::1:9798": "[fd00::1]:9798", "[fd00::1]:9798": "[fd00::1]:9798"} {
		cfg, err := Load([]string{"LBDNS_AGENT_ADDR=" + addr})
		if err != nil || cfg.Agent.ListenAddr() != want {
			t.Errorf("%s: %q, %v; want %q", addr, cfg.Agent.ListenAddr(), err, want)
		}
	}
}

func TestConnectorOff(t *testing.T) {
	cfg, err := Load([]string{"LBDNS_CONNECTOR_ADDR=off"})
	if err != nil || cfg.Connector.Addr != ConnectorOff {
		t.Fatalf("%+v, %v", cfg, err)
	}
}

func TestVariablesListsEveryField(t *testing.T) {
	vars := Variables()
	if len(vars) < 16 {
		t.Fatalf("only %d variables", len(vars))
	}
	seen := map[string]bool{}
	for _, v := range vars {
		if !strings.HasPrefix(v.Name, Prefix) || v.Help == "" || v.Group == "" {
			t.Errorf("variable %+v lacks a name, help or group", v)
		}
		if seen[v.Name] {
			t.Errorf("%s is declared twice", v.Name)
		}
		seen[v.Name] = true
	}
}

func TestWriterSettings(t *testing.T) {
	ok := []string{"LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST=ns1", "LBDNS_RFC2136_ZONE=example.com",
		"LBDNS_RFC2136_TSIG_KEYNAME=k", "LBDNS_RFC2136_TSIG_SECRET=s", "LBDNS_DOMAIN_FILTER=a.com, b.com"}
	cfg, err := Load(ok)
	if err != nil || !cfg.HasWriters() || len(cfg.Standalone.DomainFilter) != 2 || cfg.Standalone.RFC2136.Port != 53 || cfg.Standalone.Policy != "sync" {
		t.Fatalf("%+v, %v", cfg, err)
	}
	tests := []struct {
		env  []string
		want []string
	}{
		{[]string{"LBDNS_PROVIDER=route53"}, []string{"LBDNS_PROVIDER"}},
		{[]string{"LBDNS_PROVIDER=rfc2136"}, []string{"LBDNS_RFC2136_HOST", "LBDNS_RFC2136_ZONE", "LBDNS_RFC2136_TSIG_KEYNAME"}},
		{[]string{"LBDNS_PROVIDER=webhook", "LBDNS_WEBHOOK_URL=localhost:8888"}, []string{"LBDNS_WEBHOOK_URL"}},
		{[]string{"LBDNS_POLICY=create-only", "LBDNS_TXT_OWNER_ID=a,b", "LBDNS_SYNC_INTERVAL=10ms"}, []string{"LBDNS_POLICY", "LBDNS_TXT_OWNER_ID", "LBDNS_SYNC_INTERVAL"}},
		{[]string{"LBDNS_CRD_NAMESPACE=Bad_NS"}, []string{"LBDNS_CRD_NAMESPACE"}},
		{[]string{"LBDNS_LEADER_ELECT=true", "LBDNS_LEADER_ELECT_LEASE_DURATION=5s", "LBDNS_LEADER_ELECT_RENEW_DEADLINE=10s"}, []string{"LBDNS_LEADER_ELECT_LEASE_DURATION"}},
		{append(ok[:len(ok):len(ok)], "LBDNS_RFC2136_TSIG_SECRET_ALG=hmac-sha3"), []string{"LBDNS_RFC2136_TSIG_SECRET_ALG"}},
	}
	for _, tt := range tests {
		assertLoadError(t, tt.env, tt.want...)
	}
	for _, v := range Variables() {
		if (v.Name == "LBDNS_RFC2136_TSIG_SECRET" || v.Name == "LBDNS_AGENT_TOKEN" || v.Name == "LBDNS_DNS_TSIG_SECRET") != v.Secret {
			t.Errorf("%s: secret = %v", v.Name, v.Secret)
		}
	}
}

// assertLoadError checks that Load fails on env with an error containing
// every want (variable names, mostly).
func assertLoadError(t *testing.T, env []string, want ...string) {
	t.Helper()
	_, err := Load(env)
	if err == nil {
		t.Errorf("%v: no error", env)
		return
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("%v: error %q does not contain %q", env, err, w)
		}
	}
}

// The old name of a renamed variable still works, with a warning; the new
// name wins when both are set.
func TestRenamedVariable(t *testing.T) {
	cfg, err := Load([]string{"LBDNS_WEIGHT_BY_NODE=true"})
	if err != nil || !cfg.DNS.WeightByNode {
		t.Fatalf("old name: %v, %v", cfg.DNS.WeightByNode, err)
	}
	if d := Deprecated([]string{"LBDNS_WEIGHT_BY_NODE=true"}); len(d) != 1 || !strings.Contains(d[0], "LBDNS_DNS_WEIGHT_BY_NODE") {
		t.Fatalf("deprecation: %v", d)
	}
	cfg, err = Load([]string{"LBDNS_WEIGHT_BY_NODE=true", "LBDNS_DNS_WEIGHT_BY_NODE=false"})
	if err != nil || cfg.DNS.WeightByNode {
		t.Fatalf("both names: %v, %v", cfg.DNS.WeightByNode, err)
	}
}

// lbdns agent reads only its own settings: what lbdns alone uses may be
// anything, its own are checked.
func TestLoadAgent(t *testing.T) {
	cfg, err := LoadAgent([]string{"LBDNS_AGENT_TOKEN=s", "LBDNS_AGENT_ADDR=10.0.0.1:9798", "LBDNS_PROBE_INTERVAL=soon",
		"LBDNS_DNS_ADDR=nope", "LBDNS_PROVIDER=carrier-pigeon", "LBDNS_HTTP_MAX_CONNS=10", "LBDNS_HTTP_MAX_CONNS_PER_CLIENT=2"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Agent.Token != "s" || cfg.Agent.ListenAddr() != "10.0.0.1:9798" || cfg.HTTPLimits.MaxConns != 10 || cfg.Log.Level != "info" {
		t.Errorf("agent settings: %+v", cfg)
	}
	for _, tt := range []struct {
		env  []string
		want string
	}{
		{nil, "LBDNS_AGENT_TOKEN: is empty"},
		{[]string{"LBDNS_AGENT_INSECURE=true", "LBDNS_AGENT_ADDR=9798"}, "LBDNS_AGENT_ADDR"},
		{[]string{"LBDNS_AGENT_INSECURE=true", "LBDNS_LOG_LEVEL=loud"}, "LBDNS_LOG_LEVEL"},
		{[]string{"LBDNS_AGENT_INSECURE=yes please"}, `LBDNS_AGENT_INSECURE: "yes please" is not a valid boolean`},
	} {
		if _, err := LoadAgent(tt.env); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.env, err, tt.want)
		}
	}
}
