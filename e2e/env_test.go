// Package e2e runs lbdns against real components on one machine, without
// containers: etcd and kube-apiserver, BIND9, and a stock external-dns
// v0.22.0 reading lbdns through --source=connector.
package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

// Settings of the suite. The probe settings are shorter than lbdns's
// defaults so that the suite runs quickly; the bounds scale with them.
const (
	zone            = "e2e.test"    // written by external-dns reading lbdns's connector
	zoneStandalone  = "std.test"    // written by two lbdns replicas (rfc2136, leader election)
	zoneWebhook     = "hook.test"   // written by lbdns through external-dns's webhook server
	zoneCRD         = "crd.test"    // written by external-dns --source=crd from lbdns's DNSEndpoints
	zoneFaults      = "faults.test" // written by one standalone lbdns while BIND is made to fail
	probeInterval   = time.Second
	probeFall       = 2
	probeRise       = 2
	extdnsInterval  = 2 * time.Second
	tsigKeyName     = "lbdns-e2e"
	apiserverBinary = "kube-apiserver-v1.36.3"
	extdnsBinary    = "external-dns-v0.22.0"
)

// env is the running environment: the workspace, the control plane, BIND,
// the real nodes, and one fixture per output, each with the lbdns instances
// and external-dns processes that output needs.
type env struct {
	root, dir string
	tools     string // kube-apiserver, external-dns, ... (hack/build-tools.sh)
	lbdnsBin  string
	cp        *framework.ControlPlane
	// promCRDsInstalled: the Prometheus Operator's CRDs are served.
	promCRDsInstalled bool
	lbdnsKubeconfig   string     // lbdns's ServiceAccount, with manifests/base's RBAC
	nodes             []*simNode // the real nodes (nodes_test.go); none when not root
	bind              *framework.Bind

	connector  connectorOutput
	standalone standaloneOutput
	webhook    webhookOutput
	crd        crdOutput
	embedded   embeddedOutput
	// agents is the instance that asks the node agents (scenario 16), once
	// it ran.
	agents *lbdnsProc
}

// lbdnsProc is one lbdns process with its own HTTP address and settings.
type lbdnsProc struct {
	name, http string
	netns      string // runs inside this network namespace (a node's), if set
	dns        string // embedded DNS address, when it serves one
	env        []string
	*framework.Proc
}

// setup brings everything up. Any missing piece is an error: nothing is
// skipped. Benchmarks (full false) get only the control plane and lbdns's
// RBAC: nothing else may share the machine's two cores while they measure.
func setup(ctx context.Context, full bool) (*env, error) {
	root, err := filepath.Abs("..")
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lbdns-e2e-")
	if err != nil {
		return nil, err
	}
	e := &env{root: root, dir: dir, lbdnsBin: filepath.Join(dir, "lbdns")}
	for _, bin := range []string{"named", "tsig-keygen", "kubectl", "chromium", "iptables", "promtool", "dnsviz"} {
		if _, err := exec.LookPath(bin); err != nil {
			return e, fmt.Errorf("%s is not installed: run hack/install-deps.sh (make test does)", bin)
		}
	}
	step := func(what string, f func() error) error {
		start := time.Now()
		if err := f(); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		fmt.Printf("e2e setup: %-40s %6.1fs\n", what, time.Since(start).Seconds())
		return nil
	}
	steps := []setupStep{
		{"build kube-apiserver and external-dns", func() (err error) { e.tools, err = framework.BuildTools(root); return err }},
		{"build lbdns", func() error { return framework.BuildLbdns(root, e.lbdnsBin) }},
		{"start etcd and kube-apiserver", func() (err error) {
			e.cp, err = framework.StartControlPlane(dir, filepath.Join(e.tools, apiserverBinary), "", kubeProxyToken+",system:kube-proxy,kube-proxy")
			return err
		}},
		{"apply manifests/base, mint lbdns token", func() error { return e.installRBAC(ctx) }},
	}
	if full {
		steps = append(steps, []setupStep{
			{"start the real nodes (kube-proxy)", func() error { return e.startNodes(ctx) }},
			{"start BIND9", func() (err error) { e.bind, err = framework.StartBind(dir, tsigKeyName, bindZones...); return err }},
			{"start lbdns (connector) and external-dns", func() error { return e.connector.start(e) }},
			{"start the standalone writers", func() error { return e.standalone.start(e) }},
			{"start the webhook writer", func() error { return e.webhook.start(e) }},
			{"start the DNSEndpoint writer", func() error { return e.crd.start(e) }},
			{"start lbdns with its embedded DNS", func() error { return e.embedded.start(e) }},
		}...)
	}
	for _, s := range steps {
		if err := step(s.what, s.f); err != nil {
			return e, err
		}
	}
	return e, nil
}

type setupStep struct {
	what string
	f    func() error
}

func (e *env) teardown() {
	e.connector.Stop()
	e.standalone.Stop()
	e.webhook.Stop()
	e.crd.Stop()
	e.embedded.Stop()
	e.agents.Stop()
	e.stopNodes()
	if e.bind != nil {
		e.bind.Stop()
	}
	if e.cp != nil {
		e.cp.Stop()
	}
	if os.Getenv("LBDNS_E2E_KEEP") == "" {
		os.RemoveAll(e.dir)
	} else {
		fmt.Println("e2e: kept", e.dir)
	}
}

// procs are the processes whose logs a failure shows.
func (e *env) procs() []*framework.Proc {
	var out []*framework.Proc
	for _, f := range []interface{ procs() []*framework.Proc }{e.connector, e.standalone, e.webhook, e.crd, e.embedded} {
		out = append(out, f.procs()...)
	}
	return out
}

func (e *env) installRBAC(ctx context.Context) error {
	cmd := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "apply", "-k", filepath.Join(e.root, "manifests/base"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply -k manifests/base: %w\n%s", err, out)
	}
	var err error
	e.lbdnsKubeconfig, err = e.tokenKubeconfig(ctx, "lbdns")
	return err
}

// tokenKubeconfig writes a kubeconfig with a token of the ServiceAccount
// lbdns/<sa>, and returns its path.
func (e *env) tokenKubeconfig(ctx context.Context, sa string) (string, error) {
	path := filepath.Join(e.dir, sa+".kubeconfig")
	return path, framework.WriteTokenKubeconfig(ctx, e.cp.Client, "https://"+e.cp.APIAddr, sa, path)
}

var bindZones = []string{zone, zoneStandalone, zoneWebhook, zoneCRD, zoneFaults}

// newLbdns prepares an lbdns instance with the suite's probe settings plus
// extra variables (later ones win), on a free HTTP port.
func (e *env) newLbdns(name string, extra ...string) (*lbdnsProc, error) {
	httpPort, err := framework.FreePort()
	if err != nil {
		return nil, err
	}
	l := &lbdnsProc{name: name, http: fmt.Sprintf("127.0.0.1:%d", httpPort)}
	l.env = append([]string{
		"KUBECONFIG=" + e.lbdnsKubeconfig,
		"LBDNS_HTTP_ADDR=" + l.http,
		"LBDNS_CONNECTOR_ADDR=off",
		"LBDNS_PROBE_INTERVAL=" + probeInterval.String(),
		"LBDNS_PROBE_TIMEOUT=500ms",
		fmt.Sprintf("LBDNS_PROBE_FALL=%d", probeFall),
		fmt.Sprintf("LBDNS_PROBE_RISE=%d", probeRise),
		"LBDNS_LOG_LEVEL=debug",
	}, extra...)
	return l, nil
}

// run starts the instance and waits until it is ready.
func (l *lbdnsProc) run(e *env) error {
	if err := l.start(e); err != nil {
		return err
	}
	return l.waitReady()
}

// start starts the instance.
func (l *lbdnsProc) start(e *env) error {
	var err error
	if l.netns != "" {
		l.Proc, err = framework.Start(e.dir, l.name, l.env, "ip", "netns", "exec", l.netns, e.lbdnsBin)
	} else {
		l.Proc, err = framework.Start(e.dir, l.name, l.env, e.lbdnsBin)
	}
	return err
}

// waitReady waits until the instance is ready.
func (l *lbdnsProc) waitReady() error {
	return framework.WaitFor(60*time.Second, l.name+" /readyz", func() error {
		if l.Exited() {
			return fmt.Errorf("%s exited:\n%s", l.name, l.Tail(20))
		}
		return framework.HTTPOK("http://" + l.http + "/readyz")
	})
}

// Stop stops the instance; a nil one, or one never started, does nothing.
func (l *lbdnsProc) Stop() {
	if l != nil {
		l.Proc.Stop()
	}
}
