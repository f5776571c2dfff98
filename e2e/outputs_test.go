package e2e

import (
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

// The fixtures of the outputs: each starts the lbdns instances and the
// external-dns processes its output needs against the suite's control
// plane and BIND, and stops them.

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

// connectorOutput is lbdns in the sidecar recipe: its connector on the
// default address, read by a stock external-dns --source=connector writing
// zone to BIND, beside a listener on 0.0.0.0:8080 as the IONOS webhook's
// health and metrics server binds it in the same pod.
type connectorOutput struct {
	lbdns  *lbdnsProc
	extdns *framework.Supervisor
	addr   string // the connector's
	// webhookHealth listens on 0.0.0.0:8080 as the IONOS webhook does.
	webhookHealth *http.Server
}

func (c *connectorOutput) start(e *env) error {
	webhookHealth, err := net.Listen("tcp", "0.0.0.0:8080")
	if err != nil {
		return fmt.Errorf("the webhook-like listener needs port 8080: %w", err)
	}
	c.webhookHealth = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })}
	go func() { _ = c.webhookHealth.Serve(webhookHealth) }()
	c.addr = "127.0.0.1:7980" // LBDNS_CONNECTOR_ADDR's default: the instance does not set it
	if c.lbdns, err = e.newLbdns("lbdns"); err != nil {
		return err
	}
	c.lbdns.env = slices.DeleteFunc(c.lbdns.env, func(v string) bool { return strings.HasPrefix(v, "LBDNS_CONNECTOR_ADDR=") })
	if err := c.lbdns.run(e); err != nil {
		return err
	}
	metricsPort, err := framework.FreePort()
	if err != nil {
		return err
	}
	c.extdns, err = framework.Supervise(func() (*framework.Proc, error) {
		return framework.Start(e.dir, "external-dns", nil, filepath.Join(e.tools, extdnsBinary),
			append(rfc2136Flags(e.bind, zone), "--source=connector", "--connector-source-server="+c.addr,
				"--registry=txt", "--txt-owner-id=lbdns-e2e", "--policy=sync",
				"--interval="+extdnsInterval.String(), "--kubeconfig="+e.cp.AdminKubeconfig,
				fmt.Sprintf("--metrics-address=127.0.0.1:%d", metricsPort), "--log-level=debug")...)
	})
	return err
}

func (c *connectorOutput) Stop() {
	if c.webhookHealth != nil {
		c.webhookHealth.Close()
	}
	c.extdns.Stop()
	c.lbdns.Stop()
}

func (c connectorOutput) procs() []*framework.Proc { return procsOf(c.extdns.Proc(), c.lbdns) }

// rfc2136Flags are external-dns's flags that write zone z of b.
func rfc2136Flags(b *framework.Bind, z string) []string {
	host, port, _ := strings.Cut(b.Addr, ":")
	return []string{"--provider=rfc2136", "--rfc2136-host=" + host, "--rfc2136-port=" + port, "--rfc2136-zone=" + z,
		"--rfc2136-tsig-keyname=" + b.KeyName, "--rfc2136-tsig-secret=" + b.TSIGSecret,
		"--rfc2136-tsig-secret-alg=hmac-sha256", "--rfc2136-tsig-axfr", "--domain-filter=" + z}
}

// rfc2136Env are lbdns's settings that write zone z of b with its standalone
// updater.
func rfc2136Env(b *framework.Bind, z string) []string {
	host, port, _ := strings.Cut(b.Addr, ":")
	return []string{"LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST=" + host, "LBDNS_RFC2136_PORT=" + port,
		"LBDNS_RFC2136_ZONE=" + z, "LBDNS_RFC2136_TSIG_KEYNAME=" + b.KeyName, "LBDNS_RFC2136_TSIG_SECRET=" + b.TSIGSecret,
		"LBDNS_DOMAIN_FILTER=" + z}
}

// standaloneOutput is the standalone rfc2136 updater: two replicas with
// leader election on zoneStandalone, and one more writer alone on
// zoneFaults, the zone the fault scenarios break.
type standaloneOutput struct {
	replicas [2]*lbdnsProc
	faults   *lbdnsProc
}

func (s *standaloneOutput) start(e *env) error {
	for i := range s.replicas {
		l, err := e.newLbdns(fmt.Sprintf("lbdns-std-%d", i+1), append(rfc2136Env(e.bind, zoneStandalone),
			"LBDNS_TXT_OWNER_ID=lbdns-std", "LBDNS_SYNC_INTERVAL=5s",
			"LBDNS_LEADER_ELECT=true", "LBDNS_LEADER_ELECT_NAMESPACE=lbdns",
			"LBDNS_LEADER_ELECT_LEASE_DURATION="+leaseDuration.String(),
			"LBDNS_LEADER_ELECT_RENEW_DEADLINE="+renewDeadline.String(),
			"LBDNS_LEADER_ELECT_RETRY_PERIOD="+retryPeriod.String())...)
		if err != nil {
			return err
		}
		s.replicas[i] = l
		if err := l.run(e); err != nil {
			return err
		}
	}
	var err error
	if s.faults, err = e.newLbdns("lbdns-faults", append(rfc2136Env(e.bind, zoneFaults),
		"LBDNS_TXT_OWNER_ID=lbdns-faults", "LBDNS_SYNC_INTERVAL=30s", "LBDNS_ANNOTATION_PREFIX="+faultsPrefix)...); err != nil {
		return err
	}
	return s.faults.run(e)
}

func (s *standaloneOutput) Stop() {
	for _, l := range []*lbdnsProc{s.replicas[0], s.replicas[1], s.faults} {
		l.Stop()
	}
}

func (s standaloneOutput) procs() []*framework.Proc {
	return procsOf(nil, s.replicas[0], s.replicas[1], s.faults)
}

// leader returns the standalone replica that holds the Lease, and the other.
func (s *standaloneOutput) leader() (*lbdnsProc, *lbdnsProc, error) {
	var leader, other *lbdnsProc
	for _, l := range s.replicas {
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

// webhookOutput is lbdns writing through external-dns's webhook server,
// which writes zoneWebhook to BIND.
type webhookOutput struct {
	lbdns  *lbdnsProc
	server *framework.Proc
}

func (w *webhookOutput) start(e *env) error {
	if ln, err := net.Listen("tcp", webhookAddr); err != nil {
		return fmt.Errorf("external-dns --webhook-server needs %s, which is taken: %w", webhookAddr, err)
	} else {
		ln.Close()
	}
	metricsPort, err := framework.FreePort()
	if err != nil {
		return err
	}
	args := append([]string{"--webhook-server", "--source=service", "--kubeconfig=" + e.cp.AdminKubeconfig,
		"--registry=txt", "--policy=sync", fmt.Sprintf("--metrics-address=127.0.0.1:%d", metricsPort)}, rfc2136Flags(e.bind, zoneWebhook)...)
	if w.server, err = framework.Start(e.dir, "external-dns-webhook", nil, filepath.Join(e.tools, extdnsBinary), args...); err != nil {
		return err
	}
	err = framework.WaitFor(30*time.Second, "external-dns webhook server", func() error {
		if w.server.Exited() {
			return fmt.Errorf("exited:\n%s", w.server.Tail(20))
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
	if w.lbdns, err = e.newLbdns("lbdns-webhook", "LBDNS_PROVIDER=webhook", "LBDNS_WEBHOOK_URL=http://"+webhookAddr,
		"LBDNS_TXT_OWNER_ID=lbdns-hook", "LBDNS_DOMAIN_FILTER="+zoneWebhook, "LBDNS_SYNC_INTERVAL=30s"); err != nil {
		return err
	}
	return w.lbdns.run(e)
}

func (w *webhookOutput) Stop() {
	w.lbdns.Stop()
	w.server.Stop()
}

func (w webhookOutput) procs() []*framework.Proc { return procsOf(w.server, w.lbdns) }

// crdOutput is lbdns writing DNSEndpoints (the CRD of external-dns
// v0.22.0) that external-dns --source=crd --events publishes in zoneCRD.
type crdOutput struct {
	lbdns  *lbdnsProc
	extdns *framework.Supervisor
}

func (c *crdOutput) start(e *env) error {
	if err := e.installDNSEndpointCRD(); err != nil {
		return err
	}
	var err error
	if c.lbdns, err = e.newLbdns("lbdns-crd", "LBDNS_CRD_NAMESPACE=lbdns", "LBDNS_DOMAIN_FILTER="+zoneCRD,
		"LBDNS_SYNC_INTERVAL=30s"); err != nil {
		return err
	}
	if err := c.lbdns.run(e); err != nil {
		return err
	}
	metricsPort, err := framework.FreePort()
	if err != nil {
		return err
	}
	c.extdns, err = framework.Supervise(func() (*framework.Proc, error) {
		args := append([]string{"--source=crd", "--events", "--kubeconfig=" + e.cp.AdminKubeconfig,
			"--registry=txt", "--txt-owner-id=lbdns-crd", "--policy=sync", "--interval=1m",
			fmt.Sprintf("--metrics-address=127.0.0.1:%d", metricsPort), "--log-level=debug"}, rfc2136Flags(e.bind, zoneCRD)...)
		return framework.Start(e.dir, "external-dns-crd", nil, filepath.Join(e.tools, extdnsBinary), args...)
	})
	return err
}

func (c *crdOutput) Stop() {
	c.extdns.Stop()
	c.lbdns.Stop()
}

func (c crdOutput) procs() []*framework.Proc { return procsOf(c.extdns.Proc(), c.lbdns) }

// embeddedOutput is lbdns answering DNS itself for zoneEmbedded.
type embeddedOutput struct {
	lbdns *lbdnsProc
	addr  string // its DNS server's
}

func (d *embeddedOutput) start(e *env) error {
	port, err := framework.FreePort()
	if err != nil {
		return err
	}
	d.addr = fmt.Sprintf("127.0.0.1:%d", port)
	// The scenarios query from 127.0.0.1, thousands of times: exempt it from
	// rate limiting; the RRL scenario floods from other networks.
	if d.lbdns, err = e.newLbdns("lbdns-dns", "LBDNS_DNS_ADDR="+d.addr, "LBDNS_DNS_ZONES="+zoneEmbedded,
		"LBDNS_DNS_RRL_EXEMPT=127.0.0.1/32", "LBDNS_DNS_WEIGHT_BY_NODE=true"); err != nil {
		return err
	}
	return d.lbdns.run(e)
}

func (d *embeddedOutput) Stop() { d.lbdns.Stop() }

func (d embeddedOutput) procs() []*framework.Proc { return procsOf(nil, d.lbdns) }

// procsOf lists p (if any) and the processes of the instances that ran.
func procsOf(p *framework.Proc, instances ...*lbdnsProc) []*framework.Proc {
	var out []*framework.Proc
	if p != nil {
		out = append(out, p)
	}
	for _, l := range instances {
		if l != nil && l.Proc != nil {
			out = append(out, l.Proc)
		}
	}
	return out
}
