package e2e

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

// TestWriters runs the core scenarios against the outputs that write: the
// standalone rfc2136 updater (two replicas, leader election), the standalone
// webhook updater, and DNSEndpoints read by external-dns --source=crd.
func TestWriters(t *testing.T) {
	e := suite
	t.Run("standalone_rfc2136_multi_a_withdraw_restore", func(t *testing.T) {
		withdrawRestore(t, e, 31, "a."+zoneStandalone, "standalone rfc2136")
	})
	t.Run("standalone_rfc2136_fail_open_and_drain", func(t *testing.T) { standaloneFailOpenDrain(t, e) })
	t.Run("standalone_webhook_withdraw_restore", func(t *testing.T) {
		withdrawRestore(t, e, 32, "a."+zoneWebhook, "standalone webhook")
	})
	t.Run("dnsendpoint_withdraw_restore", func(t *testing.T) {
		withdrawRestore(t, e, 33, "a."+zoneCRD, "DNSEndpoint + external-dns --source=crd")
	})
	t.Run("standalone_leader_failover", func(t *testing.T) { leaderFailover(t, e) })
	t.Run("standalone_domain_filter_that_cannot_own", func(t *testing.T) { narrowDomainFilter(t, e) })
	t.Run("secrets_never_shown", func(t *testing.T) { secretsNeverShown(t, e) })
	t.Run("metrics_of_dashboard_and_alerts_exist", func(t *testing.T) { metricsOfDashboardAndAlerts(t, e) })
	t.Run("unowned_records_survive", func(t *testing.T) {
		for _, z := range []string{zoneStandalone, zoneWebhook, zoneCRD} {
			got, err := framework.Lookup(e.bind.Addr, "unmanaged."+z, "A")
			if err != nil || len(got) != 1 || got[0] != "192.0.2.250" {
				t.Errorf("unmanaged.%s = %v, %v", z, got, err)
			}
		}
		record(t, "PASS the record lbdns does not own in each writer zone survived every sync")
	})
}

// withdrawRestore is the core scenario for one output: two Services for one
// hostname give one A RRset; a stopped backend leaves it; it comes back.
func withdrawRestore(t *testing.T, e *env, n int, host, output string) {
	start := time.Now()
	a, b := pair(t, e, n, fmt.Sprintf("w%d", n), host)
	created := time.Since(start)
	a.Stop()
	withdrawn := e.waitDNS(t, host, "A", b.ip.String())
	a.start(t)
	restored := e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	record(t, "PASS %s: in DNS %.2fs after creation; withdrawn %.2fs after the backend stopped (probes alone: %s); restored %.2fs after it returned",
		output, created.Seconds(), withdrawn.Seconds(), time.Duration(probeFall)*probeInterval, restored.Seconds())
}

func standaloneFailOpenDrain(t *testing.T, e *env) {
	host := "b." + zoneStandalone
	a, b := pair(t, e, 34, "w34", host)

	e.annotate(t, "w34-a", "lbdns.io/weight", "0")
	e.waitDNS(t, host, "A", b.ip.String())
	e.annotate(t, "w34-a", "lbdns.io/weight", "100")
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())

	a.Stop()
	b.Stop()
	leader, _, err := e.standalone.leader()
	if err != nil {
		t.Fatal(err)
	}
	leader.waitMetric(t, "lbdns_hostname_fail_open", map[string]string{"hostname": host}, 1)
	// One backend may have been withdrawn before the other failed: wait for
	// the fail-open set to be written, then check that it holds.
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	e.holdDNS(t, 3*time.Second, host, "A", a.ip.String(), b.ip.String())
	a.start(t)
	b.start(t)
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	leader.waitMetric(t, "lbdns_hostname_fail_open", map[string]string{"hostname": host}, 0)
	record(t, "PASS standalone rfc2136: weight 0 drained and returned; all down kept both IPs (fail-open)")
}

// leaderFailover crashes the leader and shows the other replica takes over:
// the next withdrawal still reaches BIND.
func leaderFailover(t *testing.T, e *env) {
	host := "c." + zoneStandalone
	leader, other, err := e.standalone.leader()
	if err != nil {
		t.Fatal(err)
	}
	// The follower may have led before (the fault scenarios move the
	// Lease): it must not write while the other leads.
	synced := map[string]string{"output": "rfc2136", "result": "success"}
	before, _, _ := other.metric("lbdns_sync_total", synced)
	a, b := pair(t, e, 35, "w35", host)
	if v, _, _ := other.metric("lbdns_sync_total", synced); v != before {
		t.Errorf("%s wrote while %s led (%v syncs, %v before)", other.name, leader.name, v, before)
	}
	if l, _, err := e.standalone.leader(); err != nil || l != leader {
		t.Fatalf("the Lease moved during the scenario: %v", err)
	}
	leader.Kill()
	a.Stop()
	took := e.waitDNS(t, host, "A", b.ip.String())
	other.waitMetric(t, "lbdns_leader", nil, 1)
	if !strings.Contains(other.Tail(200), "became leader") {
		t.Errorf("%s never logged that it became leader", other.name)
	}
	// Nothing that should stay was deleted by the takeover.
	e.waitDNS(t, "a."+zoneStandalone, "A", "127.0.31.1", "127.0.31.2")

	// Bring the crashed replica back as a follower for the rest of the suite.
	if err := leader.run(e); err != nil {
		t.Fatalf("restarting %s: %v", leader.name, err)
	}
	a.start(t)
	e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	record(t, "PASS leader %s killed; %s took over and the withdrawal reached BIND %.2fs after the crash and the backend stop (lease %s)",
		leader.name, other.name, took.Seconds(), leaseDuration)
}

// secretsNeverShown checks that the TSIG secret given to the standalone
// replicas appears in none of their logs, /status or /metrics.
func secretsNeverShown(t *testing.T, e *env) {
	for _, l := range e.standalone.replicas {
		places := map[string]string{"log": l.Tail(100000)}
		for _, path := range []string{"/status", "/metrics"} {
			body, err := framework.HTTPGet("http://" + l.http + path)
			if err != nil {
				t.Fatal(err)
			}
			places[path] = body
		}
		for where, text := range places {
			if strings.Contains(text, e.bind.TSIGSecret) {
				t.Errorf("%s: the TSIG secret appears in its %s", l.name, where)
			}
		}
	}
	out, err := exec.Command(e.lbdnsBin, "--help").CombinedOutput()
	if err != nil || strings.Contains(string(out), e.bind.TSIGSecret) || !strings.Contains(string(out), "LBDNS_RFC2136_TSIG_SECRET") {
		t.Errorf("--help: %v\n%s", err, out)
	}
	record(t, "PASS the TSIG secret is in no log, /status, /metrics or --help output")
}

// narrowDomainFilter: LBDNS_DOMAIN_FILTER of exactly the hostname leaves out
// its TXT ownership record (a-<name>) in BIND's zone: lbdns writes nothing
// for it and marks the output failing with a message that names the record,
// instead of creating records it could never update or delete.
func narrowDomainFilter(t *testing.T, e *env) {
	const prefix = "narrow.lbdns.io/"
	host := "narrow." + zoneStandalone
	bindHost, bindPort, _ := strings.Cut(e.bind.Addr, ":")
	l, err := e.newLbdns("lbdns-narrow", "LBDNS_ANNOTATION_PREFIX="+prefix, "LBDNS_PROVIDER=rfc2136",
		"LBDNS_RFC2136_HOST="+bindHost, "LBDNS_RFC2136_PORT="+bindPort, "LBDNS_RFC2136_ZONE="+zoneStandalone,
		"LBDNS_RFC2136_TSIG_KEYNAME="+tsigKeyName, "LBDNS_RFC2136_TSIG_SECRET="+e.bind.TSIGSecret,
		"LBDNS_TXT_OWNER_ID=lbdns-narrow", "LBDNS_DOMAIN_FILTER="+host)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	e.createService(t, lbService{name: "narrow", hostname: host, backend: newBackend(t, "127.0.34.1"), prefix: prefix})
	var o outputStatus
	err = framework.WaitFor(30*time.Second, "the rfc2136 output failing on the narrow filter", func() error {
		var err error
		if o, err = l.output("rfc2136"); err == nil && (!o.Failing || !strings.Contains(o.LastError, "a-"+host)) {
			err = fmt.Errorf("output %+v", o)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := framework.Lookup(e.bind.Addr, host, "A"); err != nil || len(got) != 0 {
		t.Errorf("%s = %v, %v: want nothing written", host, got, err)
	}
	record(t, "PASS a domain filter of exactly %s: nothing written, the output failing with %q", host, o.LastError)
}
