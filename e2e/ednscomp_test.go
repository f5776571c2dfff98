package e2e

import (
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// TestEDNSCompliance asks the embedded DNS ISC's EDNS compliance queries
// (https://ednscomp.isc.org's list) with the real dig, and checks the answers
// an authoritative server must give: plain DNS, EDNS 0, EDNS version 1
// (BADVERS with version 0), an unknown option and an unknown EDNS flag
// (ignored, not echoed), the DO bit (copied), an unknown opcode (NOTIMP),
// the Z bit (not echoed) and TCP.
func TestEDNSCompliance(t *testing.T) {
	e := suite
	host, port, _ := strings.Cut(e.embedded.addr, ":")
	zone := zoneEmbedded
	cases := []struct {
		name   string
		args   []string
		status string
		want   []string // regexps the output must match
		reject []string // regexps it must not
	}{
		{"dns", []string{"+norec", "+noedns", "soa", zone}, "NOERROR", []string{`flags: qr aa`, `IN\s+SOA`}, []string{`OPT PSEUDOSECTION`}},
		{"edns", []string{"+norec", "+edns=0", "+nocookie", "soa", zone}, "NOERROR", []string{`EDNS: version: 0`, `IN\s+SOA`}, nil},
		{"edns1", []string{"+norec", "+edns=1", "+noednsneg", "+nocookie", "soa", zone}, "BADVERS", []string{`EDNS: version: 0`, `ANSWER: 0,`}, nil},
		{"ednsopt", []string{"+norec", "+edns=0", "+nocookie", "+ednsopt=100", "soa", zone}, "NOERROR", []string{`IN\s+SOA`}, []string{`OPT=100`}},
		{"edns1opt", []string{"+norec", "+edns=1", "+noednsneg", "+nocookie", "+ednsopt=100", "soa", zone}, "BADVERS", []string{`EDNS: version: 0`}, []string{`OPT=100`}},
		{"do", []string{"+norec", "+edns=0", "+nocookie", "+dnssec", "soa", zone}, "NOERROR", []string{`EDNS: version: 0, flags: do;`}, nil},
		{"ednsflags", []string{"+norec", "+edns=0", "+nocookie", "+ednsflags=0x80", "soa", zone}, "NOERROR", []string{`EDNS: version: 0, flags:;`}, []string{`MBZ`}},
		{"optlist", []string{"+norec", "+edns=0", "+nsid", "+subnet=0.0.0.0/0", "+expire", "+cookie", "soa", zone}, "NOERROR", []string{`IN\s+SOA`}, nil},
		{"opcode", []string{"+norec", "+noedns", "+opcode=15", "+header-only", "soa", zone}, "NOTIMP", nil, nil},
		{"zflag", []string{"+norec", "+noedns", "+zflag", "soa", zone}, "NOERROR", []string{`IN\s+SOA`}, []string{`; MBZ: 0x`}},
		{"tcp", []string{"+norec", "+noedns", "+tcp", "soa", zone}, "NOERROR", []string{`IN\s+SOA`}, nil},
	}
	for _, c := range cases {
		args := append([]string{"@" + host, "-p", port, "+time=2", "+tries=1"}, c.args...)
		out, err := exec.Command("dig", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: dig %v: %v\n%s", c.name, args, err, out)
		}
		if !strings.Contains(string(out), "status: "+c.status) {
			t.Errorf("%s: want status %s:\n%s", c.name, c.status, out)
		}
		for _, w := range c.want {
			if !regexp.MustCompile(w).Match(out) {
				t.Errorf("%s: want %q:\n%s", c.name, w, out)
			}
		}
		for _, r := range c.reject {
			if regexp.MustCompile(r).Match(out) {
				t.Errorf("%s: must not have %q:\n%s", c.name, r, out)
			}
		}
	}
	if !t.Failed() {
		record(t, "PASS ISC's EDNS compliance queries with dig: %d of %d answered as an authoritative server must", len(cases), len(cases))
	}
}
