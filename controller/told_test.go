package controller

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/lbdns/lbdns/model"
)

// td is a published target of Service svc on node (2 Gbit/s).
func td(svc, ip, node string) model.TargetDecision {
	return model.TargetDecision{Target: model.Target{Key: model.Key{Namespace: "web", Service: svc, IP: netip.MustParseAddr(ip)},
		Node: node, NodeBandwidth: 2e9}, Healthy: true, Published: true}
}

func decision(targets ...model.TargetDecision) model.Decision {
	return model.Decision{Hostname: "app.example.com", TTL: 30, Targets: targets, Floor: model.Floor{Nodes: 3}}
}

// said lists notices as "reason service" lines.
func said(ns []notice) string {
	var out []string
	for _, n := range ns {
		out = append(out, n.reason+" "+n.svc.Name)
	}
	return strings.Join(out, ", ")
}

// Each episode is told once, again only when it changed, its end only when
// its start was told; a hostname that is gone is forgotten and told anew.
func TestToldOncePerEpisode(t *testing.T) {
	three := decision(td("a", "192.0.2.1", "n1"), td("b", "192.0.2.2", "n2"), td("c", "192.0.2.3", "n3"))
	shared := decision(td("a", "192.0.2.1", "n1"), td("b", "192.0.2.2", "n2"), td("c", "192.0.2.3", "n2"))
	one := decision(td("a", "192.0.2.1", "n1"), td("b", "192.0.2.2", "n1"), td("c", "192.0.2.3", "n1"))
	refused := three
	refused.Refused = []model.Refusal{{Namespace: "mallory", Service: "m", Reason: "HostnameOwned", Detail: "owned by web"}}
	failOpen := failOpenChange{Hostname: three.Hostname, On: true, Published: 3, Targets: three.Targets, WasHealthy: true}
	ended := failOpenChange{Hostname: three.Hostname, Published: 3, Targets: three.Targets}
	neverHealthy := failOpenChange{Hostname: three.Hostname, On: true, Published: 3, Targets: three.Targets}
	steps := []struct {
		name          string
		failOpen      []failOpenChange
		before, after []model.Decision
		want          string
	}{
		{"3 nodes: nothing to tell", nil, nil, []model.Decision{three}, ""},
		{"2 IPs on n2: shared, below the floor", nil, []model.Decision{three}, []model.Decision{shared},
			"SharedNode b, SharedNode c, CapacityLow a, CapacityLow b, CapacityLow c"},
		{"the same again: nothing", nil, []model.Decision{shared}, []model.Decision{shared}, ""},
		{"all on n1: another sharing, lower capacity", nil, []model.Decision{shared}, []model.Decision{one},
			"SharedNode a, SharedNode b, SharedNode c, CapacityLow a, CapacityLow b, CapacityLow c"},
		{"back on 3 nodes", nil, []model.Decision{one}, []model.Decision{three},
			"CapacityRestored a, CapacityRestored b, CapacityRestored c"},
		{"a refusal", nil, []model.Decision{three}, []model.Decision{refused}, "HostnameOwned m"},
		{"the same refusal: nothing", nil, []model.Decision{refused}, []model.Decision{refused}, ""},
		{"fail open of a hostname never healthy: not told", []failOpenChange{neverHealthy}, []model.Decision{refused}, []model.Decision{refused}, ""},
		{"its end: not told either", []failOpenChange{ended}, []model.Decision{refused}, []model.Decision{refused}, ""},
		{"fail open after being healthy", []failOpenChange{failOpen}, []model.Decision{refused}, []model.Decision{refused},
			"FailOpen a, FailOpen b, FailOpen c"},
		{"its end", []failOpenChange{ended}, []model.Decision{refused}, []model.Decision{refused},
			"FailOpenEnded a, FailOpenEnded b, FailOpenEnded c"},
		{"the hostname is gone", nil, []model.Decision{refused}, nil, ""},
		{"it is back: the refusal is news again", nil, nil, []model.Decision{refused}, "HostnameOwned m"},
	}
	tl := newTold()
	for i, s := range steps {
		if got := said(tl.news(s.failOpen, s.before, s.after)); got != s.want {
			t.Errorf("step %d (%s): told %q, want %q", i, s.name, got, s.want)
		}
	}
	if n := tl.news(nil, nil, []model.Decision{shared})[0]; !strings.Contains(n.message, "2 published IPs of app.example.com sit on node n2") {
		t.Errorf("SharedNode message: %q", n.message)
	}

}
