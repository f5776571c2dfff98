package source

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/lbdns/lbdns/model"
	"github.com/lbdns/lbdns/probe"
)

const prefix = "lbdns.io/"

func TestParseAnnotations(t *testing.T) {
	defaults := Settings{Weight: DefaultWeight, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto}
	tests := []struct {
		name       string
		ann        map[string]string
		want       Settings
		wantErrsOn []string // annotation names (without prefix) that must be reported
	}{
		{name: "no annotations", ann: nil, want: defaults},
		{
			name: "everything set",
			ann: map[string]string{
				prefix + "hostname": " A.example.com., b.example.com ,a.example.com", prefix + "weight": "0",
				prefix + "ttl": "2m", prefix + "probe": "HTTPS", prefix + "probe-port": "metrics",
				prefix + "probe-path": "/healthz", prefix + "node-probe": "kube-proxy",
				prefix + "min-capacity": "4G", prefix + "min-nodes": "3", prefix + "probe-hold": "False",
			},
			want: Settings{Hostnames: []string{"a.example.com", "b.example.com"}, Weight: 0, TTL: 120,
				Probe: probe.HTTPS, ProbePort: "metrics", ProbePath: "/healthz", NodeProbe: NodeProbeKubeProxy, NoHold: true,
				Floor: model.Floor{Nodes: 3, BitsPerSecond: 4e9}},
		},
		{
			name: "bad values keep defaults",
			ann: map[string]string{prefix + "hostname": "ok.example.com", prefix + "weight": "1001", prefix + "ttl": "0", prefix + "probe": "icmp", prefix + "probe-port": "70000", prefix + "probe-path": "healthz", prefix + "node-probe": "yes",
				prefix + "min-capacity": "-4G", prefix + "min-nodes": "0", prefix + "probe-hold": "no"},
			want:       Settings{Hostnames: []string{"ok.example.com"}, Weight: DefaultWeight, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto},
			wantErrsOn: []string{"weight", "ttl", "probe", "probe-port", "probe-path", "node-probe", "min-capacity", "min-nodes", "probe-hold"},
		},
		{
			name:       "bad hostnames among good ones: one error for the annotation",
			ann:        map[string]string{prefix + "hostname": "good.example.com,bad_name!.example.com,-x.example.com"},
			want:       Settings{Hostnames: []string{"good.example.com"}, Weight: DefaultWeight, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto},
			wantErrsOn: []string{"hostname"},
		},
		{
			name:       "IP literals are not hostnames",
			ann:        map[string]string{prefix + "hostname": "192.0.2.1,ok.example.com"},
			want:       Settings{Hostnames: []string{"ok.example.com"}, Weight: DefaultWeight, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto},
			wantErrsOn: []string{"hostname"},
		},
		{
			name:       "empty hostname",
			ann:        map[string]string{prefix + "hostname": " , "},
			want:       defaults,
			wantErrsOn: []string{"hostname"},
		},
		{
			name: "wildcard and ttl in seconds",
			ann:  map[string]string{prefix + "hostname": "*.apps.example.com", prefix + "ttl": "45", prefix + "weight": "1000"},
			want: Settings{Hostnames: []string{"*.apps.example.com"}, Weight: 1000, TTL: 45, Probe: probe.TCP, ProbePath: "/", NodeProbe: NodeProbeAuto},
		},
		{
			name:       "non-integer weight and fractional ttl",
			ann:        map[string]string{prefix + "weight": "1.5", prefix + "ttl": "1500ms"},
			want:       defaults,
			wantErrsOn: []string{"weight", "ttl"},
		},
		{
			name: "other prefixes are ignored",
			ann:  map[string]string{"external-dns.alpha.kubernetes.io/hostname": "x.example.com", "lbdns.io.evil/weight": "x"},
			want: defaults,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, errs := ParseAnnotations(prefix, DefaultMaxHostnames, tt.ann)
			if !slices.Equal(got.Hostnames, tt.want.Hostnames) || got.Weight != tt.want.Weight || got.TTL != tt.want.TTL ||
				got.Probe != tt.want.Probe || got.ProbePort != tt.want.ProbePort || got.ProbePath != tt.want.ProbePath ||
				got.NodeProbe != tt.want.NodeProbe || got.Floor != tt.want.Floor || got.NoHold != tt.want.NoHold {
				t.Errorf("settings = %+v, want %+v", got, tt.want)
			}
			var on []string
			for _, e := range errs {
				on = append(on, strings.TrimPrefix(e.Annotation, prefix))
				if !strings.Contains(e.Error(), e.Annotation) {
					t.Errorf("error %q does not name the annotation", e)
				}
			}
			slices.Sort(on)
			wantOn := slices.Clone(tt.wantErrsOn)
			slices.Sort(wantOn)
			if !slices.Equal(on, wantOn) {
				t.Errorf("errors on %v, want on %v (%v)", on, wantOn, errs)
			}
		})
	}
}

// FuzzParseAnnotations checks that no input crashes the parser and that every
// result stays within its documented bounds.
func FuzzParseAnnotations(f *testing.F) {
	for _, seed := range [][7]string{
		{"a.example.com,b.example.com", "100", "30", "tcp", "80", "/", "auto"},
		{"*.x.example.com", "0", "1m", "https", "http", "/healthz", "kube-proxy"},
		{"", "-1", "9999999999999", "ICMP", "0", "x", ""},
		{"..,-a.b,é.example.com", "1e3", "1.5s", "none", "port-name-", "/a b", "off"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], seed[4], seed[5], seed[6])
	}
	f.Fuzz(func(t *testing.T, host, weight, ttl, kind, port, path, node string) {
		s, errs := ParseAnnotations(prefix, DefaultMaxHostnames, map[string]string{
			prefix + "hostname": host, prefix + "weight": weight, prefix + "ttl": ttl, prefix + "probe": kind,
			prefix + "probe-port": port, prefix + "probe-path": path, prefix + "node-probe": node,
		})
		if s.Weight < 0 || s.Weight > MaxWeight {
			t.Fatalf("weight %d out of range", s.Weight)
		}
		if s.TTL < 0 || s.TTL > maxTTL {
			t.Fatalf("ttl %d out of range", s.TTL)
		}
		switch s.Probe {
		case probe.TCP, probe.HTTP, probe.HTTPS, ProbeNone:
		default:
			t.Fatalf("probe kind %q", s.Probe)
		}
		if !strings.HasPrefix(s.ProbePath, "/") {
			t.Fatalf("probe path %q", s.ProbePath)
		}
		for _, h := range s.Hostnames {
			if checkHostname(h) != nil || h != strings.ToLower(h) {
				t.Fatalf("invalid hostname %q accepted", h)
			}
		}
		for _, e := range errs {
			if !strings.HasPrefix(e.Annotation, prefix) {
				t.Fatalf("error names %q", e.Annotation)
			}
		}
	})
}

// A hostname annotation near the API server's 256 KB limit, full of bad
// names and too many good ones, costs a few short messages.
func TestParseAnnotationsHugeValue(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 250_000; i++ {
		if i%2 == 0 {
			fmt.Fprintf(&b, "bad_%d!.example.com,", i)
		} else {
			fmt.Fprintf(&b, "ok-%d.example.com,", i)
		}
	}
	s, errs := ParseAnnotations(prefix, 5, map[string]string{prefix + "hostname": b.String()})
	if len(s.Hostnames) != 5 {
		t.Errorf("%d hostnames, want the first 5", len(s.Hostnames))
	}
	total := 0
	for _, err := range errs {
		total += len(err.Error())
	}
	if len(errs) != 2 || total > 1000 {
		t.Fatalf("%d errors of %d bytes in all, want 2 short ones: %v", len(errs), total, errs)
	}
	if !strings.Contains(errs[0].Error(), "bytes)") || !strings.Contains(errs[1].Error(), "limit per Service") {
		t.Errorf("errors %q", errs)
	}
}
