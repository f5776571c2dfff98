package e2e

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
)

const zoneXfr = "xfr.test" // served by an lbdns primary, transferred by a real BIND secondary

// TestSecondaries runs lbdns's embedded DNS as the hidden primary of a real
// BIND 9 secondary over TSIG: the first transfer, a withdrawal and a restore
// reaching the secondary through NOTIFY and a transfer, an lbdns restart
// followed by another withdrawal (the serial keeps moving forward), and an
// unsigned transfer refused.
func TestSecondaries(t *testing.T) {
	e := suite
	const prefix = "xfr.lbdns.io/"
	primaryPort, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	secondaryPort, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	primary := fmt.Sprintf("127.0.0.1:%d", primaryPort)
	knotPort, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	nsdPort, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	secondary := fmt.Sprintf("127.0.0.1:%d", secondaryPort)
	knot := fmt.Sprintf("127.0.0.1:%d", knotPort)
	nsd := fmt.Sprintf("127.0.0.1:%d", nsdPort)
	l, err := e.newLbdns("lbdns-primary", "LBDNS_ANNOTATION_PREFIX="+prefix, "LBDNS_DNS_ADDR="+primary, "LBDNS_DNS_ZONES="+zoneXfr,
		"LBDNS_DNS_NS=ns1."+zoneXfr+",ns2."+zoneXfr, "LBDNS_DNS_NS_ADDRESSES=ns1."+zoneXfr+"=127.0.0.1,ns2."+zoneXfr+"=127.0.0.2",
		"LBDNS_DNS_RRL_EXEMPT=127.0.0.0/8", "LBDNS_DNS_TRANSFER_ALLOW=127.0.0.0/8",
		"LBDNS_DNS_TSIG_NAME="+tsigKeyName, "LBDNS_DNS_TSIG_SECRET="+e.bind.TSIGSecret, "LBDNS_DNS_NOTIFY="+secondary+","+knot+","+nsd)
	if err != nil {
		t.Fatal(err)
	}
	host := "app." + zoneXfr
	a, b := newBackend(t, "127.0.39.1"), newBackend(t, "127.0.39.2")
	e.createService(t, lbService{name: "xfr-a", hostname: host, backend: a, prefix: prefix})
	e.createService(t, lbService{name: "xfr-b", hostname: host, backend: b, prefix: prefix})
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Stop() })
	waitAnswerFrom(t, primary, host, a.ip.String(), b.ip.String())

	startSecondaryBind(t, e, secondaryPort, []int{primaryPort}, zoneXfr, "bind-secondary")
	startSecondaryKnot(t, e, knotPort, primaryPort)
	startSecondaryNSD(t, e, nsdPort, primaryPort)
	start := time.Now()
	waitAnswerFrom(t, secondary, host, a.ip.String(), b.ip.String())
	waitAnswerFrom(t, knot, host, a.ip.String(), b.ip.String())
	waitAnswerFrom(t, nsd, host, a.ip.String(), b.ip.String())
	first := time.Since(start)
	for _, server := range []string{secondary, knot, nsd} { // the name servers' glue came with the zone
		waitAnswerFrom(t, server, "ns2."+zoneXfr, "127.0.0.2")
	}

	withdraw := func() (primaryAt, secondaryAfter time.Duration) {
		a.Stop()
		stopped := time.Now()
		waitAnswerFrom(t, primary, host, b.ip.String())
		primaryAt = time.Since(stopped)
		changed := time.Now()
		waitAnswerFrom(t, secondary, host, b.ip.String())
		waitAnswerFrom(t, knot, host, b.ip.String())
		waitAnswerFrom(t, nsd, host, b.ip.String())
		secondaryAfter = time.Since(changed)
		a.start(t)
		waitAnswerFrom(t, secondary, host, a.ip.String(), b.ip.String())
		waitAnswerFrom(t, knot, host, a.ip.String(), b.ip.String())
		waitAnswerFrom(t, nsd, host, a.ip.String(), b.ip.String())
		return primaryAt, secondaryAfter
	}
	p1, s1 := withdraw()
	incremental, _, _ := l.metric("lbdns_dns_transfers_total", map[string]string{"result": "served_incremental"})
	if incremental == 0 {
		t.Fatal("the secondaries' IXFRs were all answered with the whole zone")
	}
	serialBefore := soaSerial(t, secondary, zoneXfr)
	l.Stop()
	l.env = append(l.env, "LBDNS_DNS_MAX_ANSWERS=1") // answers to resolvers are capped, transfers are not
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	if err := framework.WaitFor(30*time.Second, "one answer of two from the capped primary", func() error {
		got, err := framework.Lookup(primary, host, "A")
		if err == nil && len(got) != 1 {
			err = fmt.Errorf("answer %v", got)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	waitAnswerFrom(t, secondary, host, a.ip.String(), b.ip.String())
	p2, s2 := withdraw()
	if after := soaSerial(t, secondary, zoneXfr); after <= serialBefore {
		t.Fatalf("the serial went from %d to %d across the restart", serialBefore, after)
	}
	if _, err := zoneTransferFrom(primary, zoneXfr, ""); err == nil {
		t.Fatal("an unsigned transfer was served")
	}
	if rrs, err := zoneTransferFrom(primary, zoneXfr, e.bind.TSIGSecret); err != nil || len(rrs) < 5 {
		t.Fatalf("a signed transfer: %d records, %v", len(rrs), err)
	}
	record(t, "PASS BIND 9, Knot and NSD secondaries over TSIG (Knot and NSD take signed NOTIFYs only): first transfer %.2fs, in-zone name servers' glue included; withdrawal on the primary %.2fs after the backend stopped, on all three secondaries %.2fs later (NOTIFY + transfer); "+
		"%v IXFRs answered incrementally; after an lbdns restart (LBDNS_DNS_MAX_ANSWERS=1: one answer from lbdns, both from the secondaries) %.2fs / %.2fs, the serial still moving forward; an unsigned transfer refused",
		first.Seconds(), p1.Seconds(), s1.Seconds(), incremental, p2.Seconds(), s2.Seconds())
}

// startSecondaryBind runs another named (in e.dir/name), secondary of zone
// from lbdns on primaryPorts (tried in order), signing its transfers with
// the suite's key.
func startSecondaryBind(t testing.TB, e *env, port int, primaryPorts []int, zone, name string) {
	t.Helper()
	var primaries strings.Builder
	for _, p := range primaryPorts {
		fmt.Fprintf(&primaries, "127.0.0.1 port %d key \"%s\"; ", p, tsigKeyName)
	}
	dir := filepath.Join(e.dir, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`key "%[1]s" { algorithm hmac-sha256; secret "%[2]s"; };
options { directory "%[3]s"; listen-on port %[4]d { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file "%[3]s/named.pid"; recursion no; dnssec-validation no; notify no; };
controls { };
zone "%[5]s" { type secondary; primaries { %[6]s}; file "%[3]s/%[5]s.db"; allow-notify { 127.0.0.1; }; };
`, tsigKeyName, e.bind.TSIGSecret, dir, port, zone, primaries.String())
	if err := os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	p, err := framework.Start(e.dir, name, nil, "named", "-g", "-c", filepath.Join(dir, "named.conf"), "-u", u.Username)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s:\n%s", name, p.Tail(120))
		}
		p.Stop()
	})
}

// startSecondaryKnot runs Knot DNS, secondary of zoneXfr from lbdns on
// primaryPort over TSIG, taking NOTIFYs only when signed with the key.
func startSecondaryKnot(t *testing.T, e *env, port, primaryPort int) {
	t.Helper()
	dir := filepath.Join(e.dir, "knot-secondary")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
    listen: 127.0.0.1@%[4]d
    rundir: %[3]s
log:
  - target: stderr
    any: info
database:
    storage: %[3]s
key:
  - id: %[1]s
    algorithm: hmac-sha256
    secret: %[2]s
remote:
  - id: lbdns
    address: 127.0.0.1@%[6]d
    key: %[1]s
acl:
  - id: signed_notify
    address: 127.0.0.1
    key: %[1]s
    action: notify
template:
  - id: default
    storage: %[3]s
zone:
  - domain: %[5]s
    master: lbdns
    acl: signed_notify
`, tsigKeyName, e.bind.TSIGSecret, dir, port, zoneXfr, primaryPort)
	path := filepath.Join(dir, "knot.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := framework.Start(e.dir, "knot-secondary", nil, "knotd", "-c", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("knot-secondary:\n%s", p.Tail(30))
		}
		p.Stop()
	})
}

// startSecondaryNSD runs NSD, secondary of zoneXfr from lbdns on
// primaryPort over TSIG, taking NOTIFYs only when signed with the key.
func startSecondaryNSD(t *testing.T, e *env, port, primaryPort int) {
	t.Helper()
	dir := filepath.Join(e.dir, "nsd-secondary")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`server:
  ip-address: 127.0.0.1
  port: %[4]d
  zonesdir: "%[3]s"
  database: ""
  pidfile: "%[3]s/nsd.pid"
  xfrdfile: "%[3]s/xfrd.state"
  zonelistfile: "%[3]s/zone.list"
  username: ""
  chroot: ""
  verbosity: 2
remote-control:
  control-enable: no
key:
  name: "%[1]s"
  algorithm: hmac-sha256
  secret: "%[2]s"
zone:
  name: "%[5]s"
  zonefile: "%[5]s.zone"
  request-xfr: 127.0.0.1@%[6]d %[1]s
  allow-notify: 127.0.0.1 %[1]s
`, tsigKeyName, e.bind.TSIGSecret, dir, port, zoneXfr, primaryPort)
	path := filepath.Join(dir, "nsd.conf")
	if err := os.WriteFile(path, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := framework.Start(e.dir, "nsd-secondary", nil, "nsd", "-d", "-c", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("nsd-secondary:\n%s", p.Tail(30))
		}
		p.Stop()
	})
}

func soaSerial(t *testing.T, server, zone string) uint32 {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(zone), dns.TypeSOA)
	r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, server)
	if err != nil || len(r.Answer) == 0 {
		t.Fatalf("SOA of %s at %s: %v %v", zone, server, r, err)
	}
	return r.Answer[0].(*dns.SOA).Serial
}

// zoneTransferFrom transfers zone, signed with the suite's key name and
// secret unless secret is empty.
func zoneTransferFrom(server, zone, secret string) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetAxfr(dns.Fqdn(zone))
	tr := &dns.Transfer{DialTimeout: 2 * time.Second, ReadTimeout: 5 * time.Second}
	if secret != "" {
		m.SetTsig(dns.Fqdn(tsigKeyName), dns.HmacSHA256, 300, time.Now().Unix())
		tr.TsigSecret = map[string]string{dns.Fqdn(tsigKeyName): secret}
	}
	envs, err := tr.In(m, server)
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	var failed error
	for env := range envs {
		if env.Error != nil && failed == nil {
			failed = env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	if failed != nil {
		return nil, failed
	}
	if len(rrs) == 0 || !slices.ContainsFunc(rrs, func(rr dns.RR) bool { return strings.HasPrefix(rr.Header().Name, "app.") }) {
		return rrs, fmt.Errorf("no app records in %d", len(rrs))
	}
	return rrs, nil
}
