package health

import (
	"net/netip"
	"testing"
	"time"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

var tcp80 = probe.Spec{Checks: []probe.Check{{Kind: probe.TCP, Port: 80}}}

func target(ip string, weight int, signal model.Reason) model.Target {
	return model.Target{
		Key:    model.Key{Namespace: "ns", Service: "svc-" + ip, IP: netip.MustParseAddr(ip)},
		Weight: weight, TTL: 30, ProbeSpec: tcp80, Signal: signal,
	}
}

// probes returns Facts with the given probe state per IP of the targets; IPs
// not listed are not probed.
func probes(targets []model.Target, states map[string]probe.State) Facts {
	f := Facts{Probes: map[model.Key]probe.Status{}}
	for _, t := range targets {
		s, ok := states[t.IP.String()]
		if !ok {
			continue
		}
		st := probe.Status{State: s}
		if s == probe.Down {
			st.LastError = "connection refused"
		}
		f.Probes[t.Key] = st
	}
	return f
}

type want struct {
	published []string
	reasons   map[string]model.Reason
	failOpen  bool
}

func TestDecide(t *testing.T) {
	up, down, unknown := probe.Up, probe.Down, probe.Unknown
	tests := []struct {
		name     string
		targets  []model.Target
		states   map[string]probe.State
		gone     map[string]string // IP -> deleted node
		failOpen bool
		want     want
	}{
		{
			name:    "all healthy are published",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, "")},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": up},
			want:    want{published: []string{"192.0.2.1", "192.0.2.2"}},
		},
		{
			name:    "probe down is withdrawn with its error",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, "")},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": down},
			want:    want{published: []string{"192.0.2.1"}, reasons: map[string]model.Reason{"192.0.2.2": model.ProbeFailed}},
		},
		{
			name:    "kubernetes signal wins over a passing probe",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, model.NodeNotReady)},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": up},
			want:    want{published: []string{"192.0.2.1"}, reasons: map[string]model.Reason{"192.0.2.2": model.NodeNotReady}},
		},
		{
			name:    "weight 0 drains a healthy target",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 0, "")},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": up},
			want:    want{published: []string{"192.0.2.1"}, reasons: map[string]model.Reason{"192.0.2.2": model.Drained}},
		},
		{
			name:    "pending targets wait while another is healthy",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, "")},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": unknown},
			want:    want{published: []string{"192.0.2.1"}, reasons: map[string]model.Reason{"192.0.2.2": model.ProbePending}},
		},
		{
			name:    "pending targets are published when nothing else is healthy",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, "")},
			states:  map[string]probe.State{"192.0.2.1": down, "192.0.2.2": unknown},
			want: want{published: []string{"192.0.2.2"},
				reasons: map[string]model.Reason{"192.0.2.1": model.ProbeFailed, "192.0.2.2": model.ProbePending}},
		},
		{
			name:     "all down fails open to every weighted target",
			targets:  []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, model.NoReadyEndpoints), target("192.0.2.3", 0, "")},
			states:   map[string]probe.State{"192.0.2.1": down, "192.0.2.2": up, "192.0.2.3": up},
			failOpen: true,
			want: want{published: []string{"192.0.2.1", "192.0.2.2"}, failOpen: true,
				reasons: map[string]model.Reason{"192.0.2.1": model.ProbeFailed, "192.0.2.2": model.NoReadyEndpoints, "192.0.2.3": model.Drained}},
		},
		{
			name:    "all down without fail-open publishes nothing",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, "")},
			states:  map[string]probe.State{"192.0.2.1": down, "192.0.2.2": down},
			want:    want{reasons: map[string]model.Reason{"192.0.2.1": model.ProbeFailed, "192.0.2.2": model.ProbeFailed}},
		},
		{
			name:     "all drained is not fail-open",
			targets:  []model.Target{target("192.0.2.1", 0, "")},
			states:   map[string]probe.State{"192.0.2.1": up},
			failOpen: true,
			want:     want{reasons: map[string]model.Reason{"192.0.2.1": model.Drained}},
		},
		{
			name:    "unprobed target is healthy unless Kubernetes objects",
			targets: []model.Target{{Key: model.Key{Namespace: "ns", Service: "a", IP: netip.MustParseAddr("192.0.2.1")}, Weight: 1}, {Key: model.Key{Namespace: "ns", Service: "b", IP: netip.MustParseAddr("192.0.2.2")}, Weight: 1, Signal: model.NodeCordoned}},
			states:  map[string]probe.State{},
			want:    want{published: []string{"192.0.2.1"}, reasons: map[string]model.Reason{"192.0.2.2": model.NodeCordoned}},
		},
		{
			name:    "an IP whose node was deleted is withdrawn while no node holds it",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, ""), withNode(target("192.0.2.3", 100, ""), "n3")},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": up, "192.0.2.3": up},
			gone:    map[string]string{"192.0.2.2": "n2", "192.0.2.3": "n3-old"},
			want:    want{published: []string{"192.0.2.1", "192.0.2.3"}, reasons: map[string]model.Reason{"192.0.2.2": model.NodeDeleted}},
		},
		{
			name:    "a Kubernetes signal wins over a deleted node",
			targets: []model.Target{target("192.0.2.1", 100, ""), target("192.0.2.2", 100, model.NoReadyEndpoints)},
			states:  map[string]probe.State{"192.0.2.1": up, "192.0.2.2": up},
			gone:    map[string]string{"192.0.2.2": "n2"},
			want:    want{published: []string{"192.0.2.1"}, reasons: map[string]model.Reason{"192.0.2.2": model.NoReadyEndpoints}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := probes(tt.targets, tt.states)
			f.GoneNodes = map[model.ClusterIP]string{}
			for ip, node := range tt.gone {
				f.GoneNodes[model.ClusterIP{IP: netip.MustParseAddr(ip)}] = node
			}
			d := Decide(model.Group{Hostname: "app.example.com", Targets: tt.targets}, f, tt.failOpen)
			var got []string
			for _, p := range d.Published() {
				got = append(got, p.IP.String())
			}
			if !equal(got, tt.want.published) {
				t.Errorf("published = %v, want %v", got, tt.want.published)
			}
			if d.FailOpen != tt.want.failOpen {
				t.Errorf("failOpen = %v, want %v", d.FailOpen, tt.want.failOpen)
			}
			for _, td := range d.Targets {
				if r := tt.want.reasons[td.IP.String()]; td.Reason != r {
					t.Errorf("%s: reason = %q, want %q", td.IP, td.Reason, r)
				}
				if td.Reason == model.ProbeFailed && td.Detail == "" {
					t.Errorf("%s: ProbeFailed without detail", td.IP)
				}
			}
		})
	}
}

func TestDecideTTLSmallestWins(t *testing.T) {
	a, b := target("192.0.2.1", 100, ""), target("192.0.2.2", 100, "")
	a.TTL, b.TTL = 60, 20
	ts := []model.Target{a, b}
	d := Decide(model.Group{Hostname: "x.example.com", Targets: ts}, probes(ts, map[string]probe.State{"192.0.2.1": probe.Up, "192.0.2.2": probe.Up}), true)
	if d.TTL != 20 {
		t.Fatalf("TTL = %d, want 20", d.TTL)
	}
}

// Since is kept while the health stays and set to Now when it changes.
func TestDecideSince(t *testing.T) {
	a, b, c := target("192.0.2.1", 100, ""), target("192.0.2.2", 100, ""), target("192.0.2.3", 100, "")
	ts := []model.Target{a, b, c}
	earlier, now := time.Unix(1000, 0), time.Unix(2000, 0)
	f := probes(ts, map[string]probe.State{"192.0.2.1": probe.Up, "192.0.2.2": probe.Down, "192.0.2.3": probe.Up})
	f.Now = now
	f.Prior = map[model.Key]Prior{a.Key: {Health: model.Healthy, Since: earlier}, b.Key: {Health: model.Healthy, Since: earlier}}
	d := Decide(model.Group{Hostname: "x.example.com", Targets: ts}, f, true)
	want := map[model.Key]time.Time{a.Key: earlier, b.Key: now, c.Key: now}
	for _, td := range d.Targets {
		if !td.Since.Equal(want[td.Key]) {
			t.Errorf("%s (%s): since %v, want %v", td.IP, td.Health(), td.Since, want[td.Key])
		}
	}
}

func TestSnapshotChangesAfter(t *testing.T) {
	s := &model.Snapshot{Changes: []model.Change{{Generation: 3}, {Generation: 4}, {Generation: 5}}}
	for gen, want := range map[uint64]int{0: 3, 3: 2, 4: 1, 5: 0, 9: 0} {
		if got := len(s.ChangesAfter(gen)); got != want {
			t.Errorf("ChangesAfter(%d) = %d changes, want %d", gen, got, want)
		}
	}
}

func withNode(t model.Target, node string) model.Target {
	t.Node = node
	return t
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Capacity counts each node of the published IPs once, with its bandwidth;
// IPs of no known node are counted apart and add nothing.
func TestDecisionCapacity(t *testing.T) {
	target := func(ip, node string, bw float64, published bool) model.TargetDecision {
		return model.TargetDecision{Target: model.Target{Key: model.Key{Namespace: "web", Service: ip, IP: netip.MustParseAddr(ip)}, Node: node, NodeBandwidth: bw},
			Published: published}
	}
	d := model.Decision{Hostname: "app.example.com", Targets: []model.TargetDecision{
		target("192.0.2.1", "n1", 2e9, true),
		target("192.0.2.2", "n1", 2e9, true), // a second IP on n1: no more capacity
		target("192.0.2.3", "n2", 10e9, true),
		target("192.0.2.4", "n3", 2e9, false), // withdrawn: not counted
		target("192.0.2.5", "", 0, true),      // node unknown
	}}
	if c := d.Capacity(); c != (model.Capacity{Nodes: 2, BitsPerSecond: 12e9, Unmapped: 1}) {
		t.Errorf("capacity %+v", c)
	}
	if c := (model.Decision{}).Capacity(); c != (model.Capacity{}) {
		t.Errorf("capacity of nothing: %+v", c)
	}
	c := d.Capacity()
	for _, tt := range []struct {
		floor model.Floor
		below bool
	}{
		{model.Floor{}, false}, {model.Floor{Nodes: 2}, false}, {model.Floor{Nodes: 3}, true},
		{model.Floor{BitsPerSecond: 12e9}, false}, {model.Floor{BitsPerSecond: 12.5e9}, true}, {model.Floor{Nodes: 1, BitsPerSecond: 20e9}, true},
	} {
		if got := c.Below(tt.floor); got != tt.below {
			t.Errorf("%+v below %+v = %v, want %v", c, tt.floor, got, tt.below)
		}
	}
	if f := (model.Floor{Nodes: 3}).Max(model.Floor{Nodes: 2, BitsPerSecond: 4e9}); f != (model.Floor{Nodes: 3, BitsPerSecond: 4e9}) {
		t.Errorf("max of floors: %+v", f)
	}
}

func TestDecisionSharedNodes(t *testing.T) {
	target := func(svc, ip, node string, published bool) model.TargetDecision {
		return model.TargetDecision{Target: model.Target{Key: model.Key{Namespace: "web", Service: svc, IP: netip.MustParseAddr(ip)}, Node: node}, Published: published}
	}
	d := model.Decision{Hostname: "app.example.com", Targets: []model.TargetDecision{
		target("a", "192.0.2.3", "n1", true),
		target("b", "192.0.2.1", "n1", true),
		target("c", "192.0.2.1", "n1", true), // the same IP behind a second Service: one IP
		target("d", "192.0.2.4", "n2", true),
		target("e", "192.0.2.5", "n2", false), // withdrawn: shares nothing
		target("f", "192.0.2.6", "", true),
		target("g", "192.0.2.7", "", true), // node unknown: not shared with each other
	}}
	got := d.SharedNodes()
	if len(got) != 1 || got[0].Node != "n1" || len(got[0].IPs) != 2 || got[0].IPs[0].String() != "192.0.2.1" || got[0].IPs[1].String() != "192.0.2.3" {
		t.Errorf("shared nodes %+v", got)
	}
}
