package httpserver

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbdns/lbdns/apiwatch"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/provider"
)

type state struct {
	snap  *model.Snapshot
	ready atomic.Bool
}

func (s *state) Snapshot() *model.Snapshot { return s.snap }
func (s *state) IsReady() bool             { return s.ready.Load() }

func get(t *testing.T, srv *httptest.Server, path string) (int, string) {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEndpoints(t *testing.T) {
	now := time.Now()
	st := &state{snap: &model.Snapshot{Generation: 2, Hostnames: model.NewDecisions([]model.Decision{{
		Hostname: "app.example.com", TTL: 30, ExternalDNSConflicts: []string{"ns/b"},
		Targets: []model.TargetDecision{
			{Target: model.Target{Key: model.Key{Namespace: "ns", Service: "a", IP: netip.MustParseAddr("192.0.2.1")}, Weight: 100,
				ProbeSpec: probe.Spec{Checks: []probe.Check{{Kind: probe.TCP, Port: 80}}}},
				ProbeStatus: probe.Status{State: probe.Down, Failures: 2, LastError: "refused", LastProbe: now}, Probed: true,
				Reason: model.ProbeFailed, Detail: "tcp:80: refused", Since: now},
			{Target: model.Target{Key: model.Key{Namespace: "ns", Service: "b", IP: netip.MustParseAddr("192.0.2.2")}, Weight: 50,
				Node: "n2", NodeBandwidth: 2e9}, Healthy: true, Published: true},
		},
	}}), Transitions: []model.Transition{{At: now, Target: model.Key{Namespace: "ns", Service: "a", IP: netip.MustParseAddr("192.0.2.1")},
		Hostnames: []string{"app.example.com"}, To: "unhealthy", Reason: model.ProbeFailed}}}}
	reg := prometheus.NewRegistry()
	outputs := &provider.Outputs{Metrics: provider.NewMetrics(reg)}
	outputs.Observer("rfc2136").Observe(st.snap, errors.New("zone transfer (AXFR) of example.com: bad xfr rcode: 5"))
	outputs.Observer("connector").Observe(st.snap, nil)
	srv := httptest.NewServer(Handler(Sources{State: st, Outputs: outputs, Cluster: lostCluster{}, Gatherer: reg}))
	defer srv.Close()

	if code, _ := get(t, srv, "/healthz"); code != 200 {
		t.Errorf("/healthz = %d", code)
	}
	if code, body := get(t, srv, "/readyz"); code != 503 || !strings.Contains(body, "not ready") ||
		!strings.Contains(body, "missing permission: services is forbidden") || !strings.Contains(body, "manifests/base") ||
		!strings.Contains(body, "API server unreachable") {
		t.Errorf("/readyz before ready = %d %q", code, body)
	}
	st.ready.Store(true)
	if code, _ := get(t, srv, "/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d", code)
	}

	code, body := get(t, srv, "/status")
	var status Status
	if err := json.Unmarshal([]byte(body), &status); code != 200 || err != nil {
		t.Fatalf("/status = %d, %v", code, err)
	}
	h := status.Hostnames[0]
	if !status.Ready || h.Hostname != "app.example.com" || len(h.Published) != 1 || h.Published[0] != "192.0.2.2" {
		t.Errorf("status = %+v", status)
	}
	if c := h.Capacity; c.Nodes != 1 || c.BitsPerSecond != 2e9 || c.Bandwidth != "2G" || c.UnmappedIPs != 0 || c.SharedNodes != nil {
		t.Errorf("capacity = %+v", h.Capacity)
	}
	if !slices.Equal(h.ExternalDNSConflicts, []string{"ns/b"}) {
		t.Errorf("externalDNSConflicts = %v", h.ExternalDNSConflicts)
	}
	a := h.Targets[0]
	if a.Health != "unhealthy" || a.Reason != "ProbeFailed" || a.Probe == nil || a.Probe.Checks != "tcp:80" || a.Probe.Failures != 2 || a.Since == nil {
		t.Errorf("target a = %+v (probe %+v)", a, a.Probe)
	}
	if len(status.Transitions) != 1 || status.Transitions[0].To != "unhealthy" {
		t.Errorf("transitions = %+v", status.Transitions)
	}
	if c := status.Cluster; c == nil || c.Connected || c.ViewAgeSeconds < 60 || c.LostSince == nil {
		t.Errorf("cluster = %+v, want lost for a minute", c)
	}
	if o := status.Outputs; len(o) != 2 || o[0].Output != "connector" || o[0].Failing || o[0].LastSuccess == nil ||
		o[1].Output != "rfc2136" || !o[1].Failing || !strings.Contains(o[1].LastError, "bad xfr rcode") || o[1].FailingSince == nil || o[1].Failures != 1 {
		t.Errorf("outputs = %+v", o)
	}

	code, body = get(t, srv, "/")
	for _, want := range []string{"app.example.com", "192.0.2.1", "unhealthy", "ProbeFailed", "tcp:80: refused", `http-equiv="refresh"`, "Last transitions",
		"output rfc2136 failing", "bad xfr rcode",
		"API server unreachable", "connection refused", "also external-dns's own annotation on ns/b", "Capacity: <strong>2Gbit/s</strong> on 1 node"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/ (%d) lacks %q", code, want)
		}
	}
	if strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Error("/ refers to external assets")
	}
	if code, _ := get(t, srv, "/nope"); code != 404 {
		t.Errorf("/nope = %d", code)
	}

	_, body = get(t, srv, "/metrics")
	for _, name := range []string{"lbdns_sync_total", "lbdns_last_sync_timestamp_seconds"} {
		if !strings.Contains(body, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}

// lostCluster lost the API server a minute ago.
type lostCluster struct{}

func (lostCluster) Status() apiwatch.Status {
	return apiwatch.Status{LostAt: time.Now().Add(-time.Minute), LastError: "dial tcp 127.0.0.1:6443: connection refused",
		Forbidden: []string{`services is forbidden: User "system:serviceaccount:lbdns:lbdns" cannot list resource "services"`}}
}

// Profiles are served only when asked for.
func TestPprofOnlyWhenEnabled(t *testing.T) {
	for _, on := range []bool{false, true} {
		srv := httptest.NewServer(Handler(Sources{State: &state{snap: &model.Snapshot{}}, Gatherer: prometheus.NewRegistry(), Pprof: on}))
		resp, err := http.Get(srv.URL + "/debug/pprof/heap?debug=1")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if got := strings.Contains(string(body), "heap profile"); got != on {
			t.Errorf("LBDNS_PPROF=%v: /debug/pprof/heap served a heap profile: %v", on, got)
		}
	}
}
