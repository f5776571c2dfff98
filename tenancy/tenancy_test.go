package tenancy

import (
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func claim(ns, name string, age int, share ...string) Claim {
	return Claim{Namespace: ns, Name: name, Created: t0.Add(time.Duration(-age) * time.Hour), ShareWith: share}
}

func TestResolve(t *testing.T) {
	domains, err := ParseDomains("team-a=a.example.com,shop.example.com; *=other.example.com")
	if err != nil {
		t.Fatal(err)
	}
	ns := Policy{Mode: ModeNamespace, Reserved: map[string]bool{"example.com": true, "ns1.example.com": true}}
	cases := []struct {
		name      string
		policy    Policy
		hostname  string
		claims    []Claim
		owner     string
		allowed   []bool
		reasons   []Reason
		detailHas string
	}{
		{name: "oldest namespace owns, the other is refused", policy: ns, hostname: "app.example.com",
			claims: []Claim{claim("mallory", "m", 1), claim("team-a", "web", 5)},
			owner:  "team-a", allowed: []bool{false, true}, reasons: []Reason{Owned, ""}, detailHas: "belongs to namespace team-a"},
		{name: "same age: namespace name breaks the tie", policy: ns, hostname: "app.example.com",
			claims: []Claim{claim("b", "x", 1), claim("a", "x", 1)}, owner: "a", allowed: []bool{false, true}},
		{name: "every Service of the owner namespace joins", policy: ns, hostname: "app.example.com",
			claims: []Claim{claim("team-a", "web", 5), claim("team-a", "web2", 1)}, owner: "team-a", allowed: []bool{true, true}},
		{name: "owner shares with team-b", policy: ns, hostname: "app.example.com",
			claims: []Claim{claim("team-a", "web", 5, "team-b"), claim("team-b", "x", 1), claim("team-c", "y", 1)},
			owner:  "team-a", allowed: []bool{true, true, false}},
		{name: "share-with on a non-owner Service counts for nothing", policy: ns, hostname: "app.example.com",
			claims: []Claim{claim("team-a", "web", 5), claim("team-b", "x", 1, "team-c"), claim("team-c", "y", 1)},
			owner:  "team-a", allowed: []bool{true, false, false}},
		{name: "share with all", policy: ns, hostname: "app.example.com",
			claims: []Claim{claim("team-a", "web", 5, "*"), claim("team-b", "x", 1)}, owner: "team-a", allowed: []bool{true, true}},
		{name: "reserved names are refused for everyone", policy: ns, hostname: "ns1.example.com",
			claims: []Claim{claim("team-a", "web", 5)}, owner: "", allowed: []bool{false}, reasons: []Reason{Reserved}},
		{name: "shared mode: everyone joins", policy: Policy{Mode: ModeShared}, hostname: "app.example.com",
			claims: []Claim{claim("mallory", "m", 1), claim("team-a", "web", 5)}, owner: "", allowed: []bool{true, true}},
		{name: "domains: a refused claim cannot own", policy: Policy{Mode: ModeNamespace, Domains: domains}, hostname: "app.a.example.com",
			claims: []Claim{claim("mallory", "m", 9), claim("team-a", "web", 1)},
			owner:  "team-a", allowed: []bool{false, true}, reasons: []Reason{DomainNotAllowed, ""}, detailHas: "only names under other.example.com"},
		{name: "domains: a wildcard of the parent is not under the domain", policy: Policy{Mode: ModeNamespace, Domains: domains}, hostname: "*.example.com",
			claims: []Claim{claim("team-a", "web", 1)}, allowed: []bool{false}, reasons: []Reason{DomainNotAllowed}},
		{name: "domains: a wildcard under the domain is", policy: Policy{Mode: ModeNamespace, Domains: domains}, hostname: "*.shop.example.com",
			claims: []Claim{claim("team-a", "web", 1)}, owner: "team-a", allowed: []bool{true}},
		{name: "domains: the domain itself", policy: Policy{Mode: ModeShared, Domains: domains}, hostname: "a.example.com",
			claims: []Claim{claim("team-a", "web", 1)}, allowed: []bool{true}},
		{name: "domains: a name that merely ends like the domain is not under it", policy: Policy{Mode: ModeShared, Domains: domains}, hostname: "xa.example.com",
			claims: []Claim{claim("team-a", "web", 1)}, allowed: []bool{false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			owner, verdicts := tc.policy.Resolve(tc.hostname, tc.claims)
			if owner != tc.owner {
				t.Errorf("owner %q, want %q", owner, tc.owner)
			}
			for i, v := range verdicts {
				if v.Allowed != tc.allowed[i] {
					t.Errorf("claim %s: allowed %v, want %v (%s)", tc.claims[i], v.Allowed, tc.allowed[i], v.Detail)
				}
				if tc.reasons != nil && v.Reason != tc.reasons[i] {
					t.Errorf("claim %s: reason %q, want %q", tc.claims[i], v.Reason, tc.reasons[i])
				}
				if !v.Allowed && tc.detailHas != "" && !strings.Contains(v.Detail, tc.detailHas) {
					t.Errorf("claim %s: detail %q lacks %q", tc.claims[i], v.Detail, tc.detailHas)
				}
			}
		})
	}
}

// The same namespace in two clusters is one owner.
func TestResolveNamespaceSameness(t *testing.T) {
	a := claim("team-a", "web", 5)
	b := claim("team-a", "web", 1)
	b.Cluster = "east"
	m := claim("mallory", "m", 3)
	owner, v := Policy{Mode: ModeNamespace}.Resolve("app.example.com", []Claim{b, m, a})
	if owner != "team-a" || !v[0].Allowed || v[1].Allowed || !v[2].Allowed {
		t.Fatalf("owner %q verdicts %+v", owner, v)
	}
}

func TestParseDomainsErrors(t *testing.T) {
	for _, bad := range []string{"team-a", "=a.com", "team-a=", "team-a=a.com;team-a=b.com", "*=a.com;*=b.com", "team-a=*.a.com", "team-a=.a.com"} {
		if _, err := ParseDomains(bad); err == nil {
			t.Errorf("ParseDomains(%q): no error", bad)
		}
	}
	d, err := ParseDomains("team-a=A.Example.com.")
	if err != nil || !d.Allows("team-a", "x.a.example.com") || d.Allows("team-b", "x.a.example.com") {
		t.Fatalf("ParseDomains: %v %+v", err, d)
	}
	if d, _ := ParseDomains(" "); d != nil || !d.Allows("any", "any.example.com") {
		t.Fatal("empty domains must allow everything")
	}
}
