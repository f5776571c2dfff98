// Package httpserver serves lbdns's HTTP endpoints: /metrics, /healthz,
// /readyz, /status (JSON) and / (the same as an HTML page).
package httpserver

import (
	"encoding/json"
	"fmt"
	"github.com/lbdns/lbdns/lbset"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lbdns/lbdns/apiwatch"
	"github.com/lbdns/lbdns/bandwidth"
	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/nodeagent"
	"github.com/lbdns/lbdns/provider"
)

// State is what the endpoints read.
type State interface {
	Snapshot() *model.Snapshot
	IsReady() bool
}

// Outputs lists the sync state of every output.
type Outputs interface {
	Statuses() []provider.OutputStatus
}

// Cluster says whether the view of the cluster follows it.
type Cluster interface {
	Status() apiwatch.Status
}

// NamedCluster is one watched cluster's API connection.
type NamedCluster struct {
	Name    string
	Local   bool // the cluster lbdns runs in (also Sources.Cluster)
	Cluster Cluster
}

// Sources are what the endpoints read. Outputs, Cluster and Agents may be
// nil.
type Sources struct {
	State   State
	Outputs Outputs
	Cluster Cluster
	// Clusters are all the clusters whose Services lbdns watches.
	Clusters []NamedCluster
	Agents   Agents
	Sets     Sets                // nil unless LBDNS_SETS=true
	Gatherer prometheus.Gatherer // exposed at /metrics
	// Pprof serves Go's profiles at /debug/pprof/ (memory and CPU profiles
	// of a running lbdns, for an SRE who asks where they go).
	Pprof bool
	// TXTOwnerID is the standalone updater's owner ID ("": none runs).
	TXTOwnerID string
}

// Handler returns the mux of all endpoints.
func Handler(src Sources) http.Handler {
	state, gatherer := src.State, src.Gatherer
	status := func() Status {
		var outs []provider.OutputStatus
		if src.Outputs != nil {
			outs = src.Outputs.Statuses()
		}
		st := NewStatus(state.Snapshot(), state.IsReady(), outs)
		if src.Cluster != nil {
			st.Cluster = newClusterStatus(src.Cluster.Status(), time.Now())
		}
		st.TXTOwnerID = src.TXTOwnerID
		for _, c := range src.Clusters {
			st.Clusters = append(st.Clusters, NamedClusterStatus{Name: c.Name, Local: c.Local,
				ClusterStatus: *newClusterStatus(c.Cluster.Status(), time.Now())})
		}
		if src.Agents != nil {
			st.Agents, st.AmbiguousIPs = newAgentsStatus(src.Agents)
		}
		if src.Sets != nil {
			st.Sets = src.Sets.Reports()
		}
		return st
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !state.IsReady() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte("not ready: waiting for informer caches and the first probe round\n"))
			if src.Cluster != nil {
				_, _ = w.Write([]byte(notReadyBecause(src.Cluster.Status())))
			}
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	if src.Pprof {
		mux.HandleFunc("GET /debug/pprof/", pprof.Index)
		mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	}
	mux.HandleFunc("GET /", servePage(status))
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(status())
	})
	return mux
}

// Status is the JSON document of /status.
type Status struct {
	Ready       bool               `json:"ready"`
	Generation  uint64             `json:"generation"`
	Taken       time.Time          `json:"taken"`
	Hostnames   []HostnameStatus   `json:"hostnames"`
	Transitions []TransitionStatus `json:"transitions"`
	Outputs     []OutputStatus     `json:"outputs"`
	Cluster     *ClusterStatus     `json:"cluster,omitempty"`
	// Clusters are the API connections of every watched cluster (the local
	// one is also Cluster): a stale one keeps its targets' last state.
	Clusters []NamedClusterStatus `json:"clusters,omitempty"`
	// Agents are the node agents asked where IPs sit (LBDNS_AGENT_PORT),
	// and AmbiguousIPs the IPs more than one of them reports, with those
	// nodes (placed by Node addresses, if at all).
	Agents       []nodeagent.AgentStatus `json:"agents,omitempty"`
	AmbiguousIPs map[string][]string     `json:"ambiguousIPs,omitempty"`
	// TXTOwnerID is the owner ID of the standalone updater's records.
	TXTOwnerID string `json:"txtOwnerID,omitempty"`
	// Sets are the LoadBalancerSets (LBDNS_SETS=true) as their last round
	// left them.
	Sets []lbset.Report `json:"sets,omitempty"`
}

// ClusterStatus says whether the view of the cluster follows it.
type ClusterStatus struct {
	Connected bool `json:"connected"`
	// ViewAgeSeconds is 0 while connected, else the time since the view
	// stopped following the cluster (LostSince).
	ViewAgeSeconds float64    `json:"viewAgeSeconds"`
	LostSince      *time.Time `json:"lostSince,omitempty"`
	LastError      string     `json:"lastError,omitempty"`
	// Forbidden holds the API server's refusals of lbdns's reads (missing
	// RBAC rules), in its own words.
	Forbidden []string `json:"forbidden,omitempty"`
}

// NamedClusterStatus is one watched cluster's connection in /status.
type NamedClusterStatus struct {
	Name  string `json:"name"`
	Local bool   `json:"local,omitempty"`
	ClusterStatus
}

// notReadyBecause says what keeps the caches from syncing, if the
// connection knows: missing permissions, or an API server away.
func notReadyBecause(st apiwatch.Status) string {
	var b strings.Builder
	for _, f := range st.Forbidden {
		fmt.Fprintf(&b, "missing permission: %s\n", f)
	}
	if len(st.Forbidden) > 0 {
		b.WriteString(apiwatch.RBACHint + "\n")
	}
	if !st.Connected {
		fmt.Fprintf(&b, "API server unreachable since %s: %s\n", st.LostAt.Format(time.RFC3339), st.LastError)
	}
	return b.String()
}

func newClusterStatus(st apiwatch.Status, now time.Time) *ClusterStatus {
	cs := &ClusterStatus{Connected: st.Connected, LostSince: timePtr(st.LostAt), LastError: st.LastError, Forbidden: st.Forbidden}
	if !st.Connected {
		cs.ViewAgeSeconds = now.Sub(st.LostAt).Seconds()
	}
	return cs
}

// OutputStatus is one output's sync state in /status.
type OutputStatus struct {
	Output       string     `json:"output"`
	Failing      bool       `json:"failing"`
	LastError    string     `json:"lastError,omitempty"`
	FailingSince *time.Time `json:"failingSince,omitempty"`
	Failures     int        `json:"failures,omitempty"`
	LastSuccess  *time.Time `json:"lastSuccess,omitempty"`
	// DryRun: the output only plans (LBDNS_DRY_RUN); WouldChange is what
	// its last sync would have changed.
	DryRun      bool              `json:"dryRun,omitempty"`
	WouldChange []provider.Change `json:"wouldChange,omitempty"`
}

// HostnameStatus is one hostname in /status.
type HostnameStatus struct {
	Hostname  string   `json:"hostname"`
	TTL       int64    `json:"ttl"`
	FailOpen  bool     `json:"failOpen"`
	Published []string `json:"published"`
	// Capacity is what the published IPs can carry (their nodes).
	Capacity CapacityStatus `json:"capacity"`
	Targets  []TargetStatus `json:"targets"`
	// ExternalDNSConflicts names Services that also carry external-dns's
	// own hostname annotation for this name.
	ExternalDNSConflicts []string `json:"externalDNSConflicts,omitempty"`
	// Owner is the namespace that owns the hostname (tenancy), empty when
	// hostnames are shared; Refused are the Services that name it and may
	// not publish it.
	Owner   string          `json:"owner,omitempty"`
	Refused []RefusedStatus `json:"refused,omitempty"`
}

// RefusedStatus is a Service refused a hostname, and why.
type RefusedStatus struct {
	Service string `json:"service"` // [cluster/]namespace/name
	Reason  string `json:"reason"`
	Detail  string `json:"detail"`
}

// CapacityStatus is a hostname's capacity in /status: the distinct nodes of
// its published IPs, their bandwidth, and the published IPs of no known node.
type CapacityStatus struct {
	Nodes         int     `json:"nodes"`
	BitsPerSecond float64 `json:"bitsPerSecond"`
	Bandwidth     string  `json:"bandwidth"` // the same, as "4G"
	UnmappedIPs   int     `json:"unmappedIPs,omitempty"`
	// SharedNodes are nodes that carry more than one published IP: those
	// IPs add one node's capacity.
	SharedNodes []SharedNodeStatus `json:"sharedNodes,omitempty"`
	// Floor is what the Services ask for (lbdns.io/min-nodes,
	// lbdns.io/min-capacity), and Low whether the capacity is below it.
	Floor *FloorStatus `json:"floor,omitempty"`
	Low   bool         `json:"low,omitempty"`
}

// FloorStatus is a hostname's capacity floor.
type FloorStatus struct {
	Nodes         int     `json:"nodes,omitempty"`
	BitsPerSecond float64 `json:"bitsPerSecond,omitempty"`
	Bandwidth     string  `json:"bandwidth,omitempty"`
}

// SharedNodeStatus is one node that carries several published IPs.
type SharedNodeStatus struct {
	Node string   `json:"node"`
	IPs  []string `json:"ips"`
}

// TargetStatus is one target in /status.
type TargetStatus struct {
	// Cluster names a remote cluster's target; empty for the local one.
	Cluster   string `json:"cluster,omitempty"`
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	IP        string `json:"ip"`
	Node      string `json:"node,omitempty"`
	// NodeMappedBy says how lbdns knows the node: "agent" or "node-address".
	NodeMappedBy string       `json:"nodeMappedBy,omitempty"`
	Weight       int          `json:"weight"`
	Health       string       `json:"health"`
	Published    bool         `json:"published"`
	Reason       string       `json:"reason,omitempty"`
	Detail       string       `json:"detail,omitempty"`
	Since        *time.Time   `json:"since,omitempty"`
	Probe        *ProbeStatus `json:"probe,omitempty"`
	// Notes are setup problems that do not change the health (a
	// node-selector that picks nodes without pods).
	Notes []string `json:"notes,omitempty"`
}

// ProbeStatus is a target's probe history in /status.
type ProbeStatus struct {
	Checks         string     `json:"checks"`
	State          string     `json:"state"`
	Successes      int        `json:"successes"`
	Failures       int        `json:"failures"`
	LastError      string     `json:"lastError,omitempty"`
	LastProbe      *time.Time `json:"lastProbe,omitempty"`
	LastTransition *time.Time `json:"lastTransition,omitempty"`
}

// TransitionStatus is one recent health change in /status.
type TransitionStatus struct {
	At        time.Time `json:"at"`
	Target    string    `json:"target"`
	Hostnames []string  `json:"hostnames"`
	To        string    `json:"to"`
	Reason    string    `json:"reason,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// refusedStatus lists the Services refused a hostname.
func refusedStatus(refused []model.Refusal) []RefusedStatus {
	var out []RefusedStatus
	for _, r := range refused {
		svc := r.Namespace + "/" + r.Service
		if r.Cluster != "" {
			svc = r.Cluster + "/" + svc
		}
		out = append(out, RefusedStatus{Service: svc, Reason: r.Reason, Detail: r.Detail})
	}
	return out
}

// NewStatus renders a snapshot and the outputs' states for /status (and the
// HTML page).
func NewStatus(snap *model.Snapshot, ready bool, outputs []provider.OutputStatus) Status {
	st := Status{Ready: ready, Generation: snap.Generation, Taken: snap.Taken,
		Hostnames: []HostnameStatus{}, Transitions: []TransitionStatus{}, Outputs: []OutputStatus{}}
	for _, o := range outputs {
		st.Outputs = append(st.Outputs, OutputStatus{Output: o.Output, Failing: o.Failing, LastError: o.LastError,
			FailingSince: timePtr(o.FailingSince), Failures: o.Failures, LastSuccess: timePtr(o.LastSuccess),
			DryRun: o.DryRun, WouldChange: o.Plan})
	}
	for d := range snap.Hostnames.All() {
		c := d.Capacity()
		hs := HostnameStatus{Hostname: d.Hostname, TTL: d.TTL, FailOpen: d.FailOpen, Published: []string{},
			ExternalDNSConflicts: d.ExternalDNSConflicts, Capacity: CapacityStatus{Nodes: c.Nodes, BitsPerSecond: c.BitsPerSecond,
				Bandwidth: bandwidth.BitsPerSecond(c.BitsPerSecond).String(), UnmappedIPs: c.Unmapped}}
		hs.Owner, hs.Refused = d.Owner, refusedStatus(d.Refused)
		if f := d.Floor; !f.IsZero() {
			hs.Capacity.Floor = &FloorStatus{Nodes: f.Nodes, BitsPerSecond: f.BitsPerSecond}
			if f.BitsPerSecond > 0 {
				hs.Capacity.Floor.Bandwidth = bandwidth.BitsPerSecond(f.BitsPerSecond).String()
			}
			hs.Capacity.Low = c.Below(f)
		}
		for _, sn := range d.SharedNodes() {
			ss := SharedNodeStatus{Node: sn.Node}
			for _, ip := range sn.IPs {
				ss.IPs = append(ss.IPs, ip.String())
			}
			hs.Capacity.SharedNodes = append(hs.Capacity.SharedNodes, ss)
		}
		for _, t := range d.Targets {
			ts := TargetStatus{
				Cluster: t.Cluster, Namespace: t.Namespace, Service: t.Service, IP: t.IP.String(), Node: t.Node, NodeMappedBy: t.NodeMappedBy,
				Weight: t.Weight, Health: t.Health().String(), Published: t.Published,
				Reason: string(t.Reason), Detail: t.Detail, Since: timePtr(t.Since), Notes: t.Notes,
			}
			if len(t.ProbeSpec.Checks) > 0 {
				p := t.ProbeStatus
				ts.Probe = &ProbeStatus{
					Checks: t.ProbeSpec.String(), State: p.State.String(),
					Successes: p.Successes, Failures: p.Failures, LastError: p.LastError,
					LastProbe: timePtr(p.LastProbe), LastTransition: timePtr(p.LastTransition),
				}
			}
			if t.Published {
				hs.Published = append(hs.Published, ts.IP)
			}
			hs.Targets = append(hs.Targets, ts)
		}
		st.Hostnames = append(st.Hostnames, hs)
	}
	for i := len(snap.Transitions) - 1; i >= 0; i-- { // newest first
		tr := snap.Transitions[i]
		st.Transitions = append(st.Transitions, TransitionStatus{At: tr.At, Target: tr.Target.String(),
			Hostnames: tr.Hostnames, To: tr.To, Reason: string(tr.Reason), Detail: tr.Detail})
	}
	return st
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}
