package e2e

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/lbdns/lbdns/e2e/framework"
)

// The peers of make failbench: the servers an operator would pick for
// health-checked DNS answers without lbdns, from Debian, each checking the
// same two backends with TCP connects at the profile's settings where the
// peer allows them.
const (
	failoverPDNSZone  = "failover-pdns.test"
	failoverGdnsdZone = "failover-gdnsd.test"
)

// startFailoverPeers starts PowerDNS and gdnsd answering label in their
// zones with the backends that are up.
func (e *env) startFailoverPeers(b *testing.B, p failoverProfile, label string, backends []*tcpBackend) []*failoverOutput {
	pdns := e.startPowerDNS(b, p, label, backends)
	gdnsd := e.startGdnsd(b, p, label, backends)
	return []*failoverOutput{pdns, gdnsd}
}

// startPowerDNS runs PowerDNS 4.7 (bind backend) with a LUA record:
// ifportup on the backends' port, every address that is up
// (selector 'all'). Its checks run every lua-health-checks-interval whole
// seconds (at least 1) and mark an address down at the first failure: it
// has no fall or rise.
func (e *env) startPowerDNS(b *testing.B, p failoverProfile, label string, backends []*tcpBackend) *failoverOutput {
	port := freePortOrFail(b)
	interval := max(1, int(math.Round(p.interval.Seconds())))
	if p.peerDefaults {
		interval = 5 // lua-health-checks-interval's default
	}
	record := fmt.Sprintf("%s IN LUA A \"ifportup(%d, {'%s', '%s'}, {selector='all'})\"\n", label, backends[0].port, backends[0].ip, backends[1].ip)
	proc := e.runPowerDNS(b, filepath.Join(e.dir, "pdns-"+label), "pdns-"+label, failoverPDNSZone, port, interval, record)
	return &failoverOutput{name: fmt.Sprintf("PowerDNS %s LUA ifportup (checks every %d s, down at the first failure)", peerVersionOf("pdns"), interval),
		dns: fmt.Sprintf("127.0.0.1:%d", port), zone: failoverPDNSZone, peer: proc}
}

// runPowerDNS runs pdns_server on 127.0.0.1:port serving zone (its SOA, NS
// and the given records) from files in dir, with LUA records checked every
// interval seconds.
func (e *env) runPowerDNS(b *testing.B, dir, name, zone string, port, interval int, records string) *framework.Proc {
	writeFiles(b, dir, map[string]string{
		"zone":       fmt.Sprintf("$TTL 30\n@ IN SOA ns1.%[1]s. hostmaster.%[1]s. 1 60 60 3600 30\n@ IN NS ns1.%[1]s.\nns1 IN A 127.0.0.1\n", zone) + records,
		"named.conf": fmt.Sprintf("zone %q { type master; file %q; };\n", zone, filepath.Join(dir, "zone")),
		"pdns.conf": fmt.Sprintf(`launch=bind
bind-config=%[1]s/named.conf
local-address=127.0.0.1
local-port=%[2]d
enable-lua-records=yes
lua-health-checks-interval=%[3]d
socket-dir=%[1]s
guardian=no
daemon=no
disable-syslog=yes
`, dir, port, interval),
	})
	proc, err := framework.Start(e.dir, name, nil, "pdns_server", "--config-dir="+dir)
	if err != nil {
		b.Fatal(err)
	}
	return proc
}

// startGdnsd runs gdnsd 3.8 with a tcp_connect monitor of the backends
// (interval at least 2 s, its minimum; down_thresh and up_thresh 2, as fall
// and rise) and a multifo record: every address that is up.
func (e *env) startGdnsd(b *testing.B, p failoverProfile, label string, backends []*tcpBackend) *failoverOutput {
	port := freePortOrFail(b)
	m := gdnsdMonitor{interval: max(2, int(math.Round(p.interval.Seconds()))), down: 2, ok: 2, up: 2}
	if p.peerDefaults {
		m = gdnsdMonitor{interval: 10, down: 10, ok: 10, up: 20} // gdnsd.config(5)'s defaults
	}
	m.timeout = max(1, m.interval/2)
	resource := fmt.Sprintf("    %s => { service_types => backend, a => %s, b => %s }\n", label, backends[0].ip, backends[1].ip)
	record := fmt.Sprintf("%[1]s 30 DYNA multifo!%[1]s\n", label)
	proc := e.runGdnsd(b, filepath.Join(e.dir, "gdnsd-"+label), "gdnsd-"+label, failoverGdnsdZone, port, backends[0].port, m, resource, record)
	return &failoverOutput{name: fmt.Sprintf("gdnsd %s multifo + tcp_connect (every %d s, timeout %d s, down %d, up %d)", peerVersionOf("gdnsd"),
		m.interval, m.timeout, m.down, m.up), dns: fmt.Sprintf("127.0.0.1:%d", port), zone: failoverGdnsdZone, peer: proc}
}

// runGdnsd runs gdnsd on 127.0.0.1:port serving zone, with multifo
// resources (lines of the plugin's config) whose addresses a tcp_connect
// monitor checks on backendPort, and the given records.
// gdnsdMonitor is a tcp_connect service type's settings: seconds between
// checks and for one, and the thresholds (down_thresh, ok_thresh, up_thresh).
type gdnsdMonitor struct{ interval, timeout, down, ok, up int }

func (e *env) runGdnsd(b *testing.B, dir, name, zone string, port, backendPort int, m gdnsdMonitor, resources, records string) *framework.Proc {
	config := fmt.Sprintf(`options => {
  listen => [ 127.0.0.1:%[1]d ]
  run_dir => %[2]s/run
  state_dir => %[2]s/state
}
service_types => {
  backend => { plugin => tcp_connect, port => %[3]d, interval => %[4]d, timeout => %[5]d, down_thresh => %[7]d, ok_thresh => %[8]d, up_thresh => %[9]d }
}
plugins => {
  multifo => {
%[6]s  }
}
`, port, dir, backendPort, m.interval, m.timeout, resources, m.down, m.ok, m.up)
	writeFiles(b, dir, map[string]string{
		"config/config":        config,
		"config/zones/" + zone: "$TTL 30\n@ SOA ns1 hostmaster 1 60 60 3600 30\n@ NS ns1\nns1 A 127.0.0.1\n" + records,
	})
	for _, d := range []string{"run", "state"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			b.Fatal(err)
		}
	}
	proc, err := framework.Start(e.dir, name, nil, "gdnsd", "-c", filepath.Join(dir, "config"), "start")
	if err != nil {
		b.Fatal(err)
	}
	return proc
}

// peerVersionOf is the version a peer prints.
func peerVersionOf(peer string) string {
	switch peer {
	case "pdns":
		return lastField(peerVersion("sh", "-c", "pdns_server --version 2>&1 | grep -o 'Server [0-9.]*' | head -1"))
	case "gdnsd":
		return lastField(peerVersion("sh", "-c", "gdnsd -h 2>&1 | grep -o 'version [0-9.]*' | head -1"))
	}
	return "?"
}
