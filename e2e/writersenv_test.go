package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// Leader election settings of the standalone pair: short, so a takeover is
// quick to see.
const (
	leaseDuration = 4 * time.Second
	renewDeadline = 3 * time.Second
	retryPeriod   = time.Second
	webhookAddr   = "127.0.0.1:8888" // fixed by external-dns --webhook-server
	// faultsPrefix is the annotation prefix of lbdns-faults: the Services of
	// the fault scenarios are its alone (no other instance probes them or
	// sends events about them).
	faultsPrefix = "faults.lbdns.io/"
)

// startWriters brings up the three writer outputs: two standalone rfc2136
// replicas with leader election, lbdns talking to external-dns's webhook
// server, and lbdns writing DNSEndpoints that external-dns --source=crd reads.
func (e *env) startWriters() error {
	var err error
	host, port, _ := strings.Cut(e.dnsAddr, ":")
	rfc2136 := func(z string) []string {
		return []string{"--provider=rfc2136", "--rfc2136-host=" + host, "--rfc2136-port=" + port, "--rfc2136-zone=" + z,
			"--rfc2136-tsig-keyname=" + tsigKeyName, "--rfc2136-tsig-secret=" + e.tsigSecret,
			"--rfc2136-tsig-secret-alg=hmac-sha256", "--rfc2136-tsig-axfr", "--domain-filter=" + z}
	}

	// Standalone rfc2136, two replicas, one Lease.
	for i := range e.std {
		l, err := e.newLbdns(fmt.Sprintf("lbdns-std-%d", i+1),
			"LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST="+host, "LBDNS_RFC2136_PORT="+port,
			"LBDNS_RFC2136_ZONE="+zoneStandalone, "LBDNS_RFC2136_TSIG_KEYNAME="+tsigKeyName,
			"LBDNS_RFC2136_TSIG_SECRET="+e.tsigSecret, "LBDNS_TXT_OWNER_ID=lbdns-std",
			"LBDNS_DOMAIN_FILTER="+zoneStandalone, "LBDNS_SYNC_INTERVAL=5s",
			"LBDNS_LEADER_ELECT=true", "LBDNS_LEADER_ELECT_NAMESPACE=lbdns",
			"LBDNS_LEADER_ELECT_LEASE_DURATION="+leaseDuration.String(),
			"LBDNS_LEADER_ELECT_RENEW_DEADLINE="+renewDeadline.String(),
			"LBDNS_LEADER_ELECT_RETRY_PERIOD="+retryPeriod.String())
		if err != nil {
			return err
		}
		e.std[i] = l
		if err := l.run(e); err != nil {
			return err
		}
	}

	// One more standalone writer, alone on a zone the fault scenarios break.
	if e.faults, err = e.newLbdns("lbdns-faults", "LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST="+host,
		"LBDNS_RFC2136_PORT="+port, "LBDNS_RFC2136_ZONE="+zoneFaults, "LBDNS_RFC2136_TSIG_KEYNAME="+tsigKeyName,
		"LBDNS_RFC2136_TSIG_SECRET="+e.tsigSecret, "LBDNS_TXT_OWNER_ID=lbdns-faults",
		"LBDNS_DOMAIN_FILTER="+zoneFaults, "LBDNS_SYNC_INTERVAL=30s", "LBDNS_ANNOTATION_PREFIX="+faultsPrefix); err != nil {
		return err
	}
	if err := e.faults.run(e); err != nil {
		return err
	}

	// external-dns as a webhook server in front of BIND, and lbdns using it.
	if ln, err := net.Listen("tcp", webhookAddr); err != nil {
		return fmt.Errorf("external-dns --webhook-server needs %s, which is taken: %w", webhookAddr, err)
	} else {
		ln.Close()
	}
	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	args := append([]string{"--webhook-server", "--source=service", "--kubeconfig=" + e.adminKubeconfig,
		"--registry=txt", "--policy=sync", fmt.Sprintf("--metrics-address=127.0.0.1:%d", metricsPort)}, rfc2136(zoneWebhook)...)
	if e.hookServer, err = startProc(e.dir, "external-dns-webhook", nil, filepath.Join(e.tools, extdnsBinary), args...); err != nil {
		return err
	}
	err = waitFor(30*time.Second, "external-dns webhook server", func() error {
		if e.hookServer.exited() {
			return fmt.Errorf("exited:\n%s", e.hookServer.tail(20))
		}
		resp, err := http.Get("http://" + webhookAddr + "/")
		if err == nil {
			resp.Body.Close()
		}
		return err
	})
	if err != nil {
		return err
	}
	if e.hook, err = e.newLbdns("lbdns-webhook", "LBDNS_PROVIDER=webhook", "LBDNS_WEBHOOK_URL=http://"+webhookAddr,
		"LBDNS_TXT_OWNER_ID=lbdns-hook", "LBDNS_DOMAIN_FILTER="+zoneWebhook, "LBDNS_SYNC_INTERVAL=30s"); err != nil {
		return err
	}
	if err := e.hook.run(e); err != nil {
		return err
	}

	// DNSEndpoints: the CRD of external-dns v0.22.0, lbdns writing them, and
	// external-dns --source=crd --events publishing them.
	if err := e.installDNSEndpointCRD(); err != nil {
		return err
	}
	if e.crd, err = e.newLbdns("lbdns-crd", "LBDNS_CRD_NAMESPACE=lbdns", "LBDNS_DOMAIN_FILTER="+zoneCRD,
		"LBDNS_SYNC_INTERVAL=30s"); err != nil {
		return err
	}
	if err := e.crd.run(e); err != nil {
		return err
	}
	crdMetrics, err := freePort()
	if err != nil {
		return err
	}
	e.extdnsCRD, err = supervise(func() (*proc, error) {
		args := append([]string{"--source=crd", "--events", "--kubeconfig=" + e.adminKubeconfig,
			"--registry=txt", "--txt-owner-id=lbdns-crd", "--policy=sync", "--interval=1m",
			fmt.Sprintf("--metrics-address=127.0.0.1:%d", crdMetrics), "--log-level=debug"}, rfc2136(zoneCRD)...)
		return startProc(e.dir, "external-dns-crd", nil, filepath.Join(e.tools, extdnsBinary), args...)
	})
	return err
}

// leader returns the standalone replica that holds the Lease.
func (e *env) leader() (*lbdnsProc, *lbdnsProc, error) {
	var leader, other *lbdnsProc
	for _, l := range e.std {
		v, _, err := l.metric("lbdns_leader", nil)
		if err != nil {
			return nil, nil, err
		}
		if v == 1 {
			leader = l
		} else {
			other = l
		}
	}
	if leader == nil || other == nil {
		return nil, nil, fmt.Errorf("no single leader among the standalone replicas")
	}
	return leader, other, nil
}
