package e2e

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDNSViz has DNSViz (the Debian package) analyse the embedded DNS as
// the authoritative server of its zone, with its EDNS compatibility probes
// (-E), and requires no error and no warning. The "+" on the zone keeps
// DNSViz from walking the real DNS tree, which it cannot reach here. A
// second run that also names a server on a closed port must report errors:
// the check can fail.
func TestDNSViz(t *testing.T) {
	e := suite
	names := []string{zoneEmbedded, "absent." + zoneEmbedded}
	servers := "ns1." + zoneEmbedded + "=" + e.embedded.addr
	findings, queries := dnsviz(t, e, "dnsviz-lbdns", servers, names)
	if len(findings) > 0 || queries == 0 {
		t.Fatalf("DNSViz on %d queries: %v", queries, findings)
	}
	bad, _ := dnsviz(t, e, "dnsviz-control", servers+",ns2."+zoneEmbedded+"=127.0.0.2:9", names[:1])
	if len(bad) == 0 {
		t.Fatal("DNSViz reported nothing for a name server that refuses every connection: the check cannot fail")
	}
	record(t, "PASS DNSViz -A -E (EDNS compatibility): %d query results of the embedded DNS analysed, no error, no warning (a refusing server beside it: %d findings)",
		queries, len(bad))
}

// dnsviz runs dnsviz probe and grok over names served by servers (for the
// embedded zone) and returns the errors and warnings grok reports, and how
// many query results it analysed.
func dnsviz(t *testing.T, e *env, name, servers string, names []string) ([]string, int) {
	t.Helper()
	probe := filepath.Join(e.dir, name+".json")
	args := append([]string{"probe", "-A", "-4", "-E", "-x", zoneEmbedded + "+:" + servers, "-o", probe}, names...)
	if out, err := exec.Command("dnsviz", args...).CombinedOutput(); err != nil {
		t.Fatalf("dnsviz %v: %v\n%s", args, err, out)
	}
	out, err := exec.Command("dnsviz", "grok", "-l", "info", "-r", probe).Output()
	if err != nil {
		t.Fatalf("dnsviz grok: %v\n%s", err, stderrOf(err))
	}
	var report any
	if err := json.Unmarshal(out, &report); err != nil {
		t.Fatalf("dnsviz grok: %v\n%s", err, out)
	}
	var findings []string
	queries := 0
	var walk func(o any)
	walk = func(o any) {
		switch o := o.(type) {
		case map[string]any:
			for k, v := range o {
				switch k {
				case "error", "errors", "warning", "warnings":
					for _, f := range v.([]any) {
						m, _ := f.(map[string]any)
						findings = append(findings, fmt.Sprintf("%s %v: %v", strings.TrimSuffix(k, "s"), m["code"], m["description"]))
					}
				case "queries":
					if qs, ok := v.(map[string]any); ok {
						queries += len(qs)
					}
					walk(v)
				default:
					walk(v)
				}
			}
		case []any:
			for _, v := range o {
				walk(v)
			}
		}
	}
	walk(report)
	return findings, queries
}
