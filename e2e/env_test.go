// Package e2e runs lbdns against real components on one machine, without
// containers: etcd and kube-apiserver, BIND9, and a stock external-dns
// v0.22.0 reading lbdns through --source=connector.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
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

// env is the running environment.
type env struct {
	root, dir       string
	tools           string
	adminKubeconfig string
	// promCRDsInstalled: the Prometheus Operator's CRDs are served.
	promCRDsInstalled bool
	lbdnsKubeconfig   string
	client            *kubernetes.Clientset
	dnsAddr           string
	tsigSecret        string
	connectorAddr     string
	lbdnsBin          string
	apiAddr           string     // host:port of the API server (loopback)
	nodes             []*simNode // the real nodes (nodes_test.go); none when not root

	etcd, apiserver, bind *proc
	apiserverArgs         []string // to start it again after a fault
	bindArgs              []string // likewise
	bindPort              int
	lbdns                 *lbdnsProc // the connector instance
	extdns                *supervisor
	// The writer instances of the other outputs.
	std        [2]*lbdnsProc
	hook, crd  *lbdnsProc
	faults     *lbdnsProc // standalone rfc2136 on zoneFaults
	hookServer *proc
	extdnsCRD  *supervisor
	// The instance that answers DNS itself, and its address.
	dnsInstance *lbdnsProc
	embeddedDNS string
	// The instance that asks the node agents (scenario 16), once it ran.
	agentsLbdns *lbdnsProc
	// webhookHealth listens on 0.0.0.0:8080 as the IONOS webhook does.
	webhookHealth *http.Server
}

// lbdnsProc is one lbdns process with its own HTTP address and settings.
type lbdnsProc struct {
	name, http string
	netns      string // runs inside this network namespace (a node's), if set
	dns        string // embedded DNS address, when it serves one
	env        []string
	*proc
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
	e := &env{root: root, dir: dir}
	for _, bin := range []string{"etcd", "named", "tsig-keygen", "kubectl", "chromium", "iptables", "promtool", "dnsviz"} {
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
		{"build kube-apiserver and external-dns", e.buildTools},
		{"build lbdns", e.buildLbdns},
		{"start etcd and kube-apiserver", e.startControlPlane},
		{"apply manifests/base, mint lbdns token", func() error { return e.installRBAC(ctx) }},
	}
	if full {
		steps = append(steps, []setupStep{
			{"start the real nodes (kube-proxy)", func() error { return e.startNodes(ctx) }},
			{"start BIND9", e.startBind},
			{"start lbdns (connector)", e.startLbdns},
			{"start external-dns (connector)", e.startExternalDNS},
			{"start the writer outputs", e.startWriters},
			{"start lbdns with its embedded DNS", e.startEmbeddedDNS},
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
	if e.webhookHealth != nil {
		e.webhookHealth.Close()
	}
	e.extdns.stop()
	e.extdnsCRD.stop()
	for _, l := range []*lbdnsProc{e.lbdns, e.std[0], e.std[1], e.hook, e.crd, e.faults, e.dnsInstance, e.agentsLbdns} {
		if l != nil {
			l.stop()
		}
	}
	e.hookServer.stop()
	e.stopNodes()
	e.bind.stop()
	e.apiserver.stop()
	e.etcd.stop()
	if os.Getenv("LBDNS_E2E_KEEP") == "" {
		os.RemoveAll(e.dir)
	} else {
		fmt.Println("e2e: kept", e.dir)
	}
}

func (e *env) buildTools() error {
	out, err := exec.Command(filepath.Join(e.root, "hack/build-tools.sh")).Output()
	if err != nil {
		return fmt.Errorf("hack/build-tools.sh: %w", err)
	}
	e.tools = strings.TrimSpace(string(out))
	return nil
}

func (e *env) buildLbdns() error {
	e.lbdnsBin = filepath.Join(e.dir, "lbdns")
	cmd := exec.Command("go", "build", "-o", e.lbdnsBin, "./cmd/lbdns")
	cmd.Dir = e.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}

func (e *env) startControlPlane() error {
	cp, err := startControlPlane(e.dir, e.tools, "")
	e.etcd, e.apiserver, e.apiserverArgs = cp.etcd, cp.apiserver, cp.apiserverArgs
	e.apiAddr, e.adminKubeconfig, e.client = cp.apiAddr, cp.adminKubeconfig, cp.client
	return err
}

// controlPlane is one cluster's etcd and kube-apiserver.
type controlPlane struct {
	etcd, apiserver *proc
	apiserverArgs   []string // to start it again after a fault
	apiAddr         string   // host:port, on loopback
	adminKubeconfig string
	client          *kubernetes.Clientset
}

// stop ends the cluster's processes.
func (cp *controlPlane) stop() {
	cp.apiserver.stop()
	cp.etcd.stop()
}

// startControlPlane starts an etcd and a kube-apiserver with RBAC, whose
// files and logs go under dir/name (name "" is the suite's own cluster).
func startControlPlane(dir, tools, name string) (*controlPlane, error) {
	cp := &controlPlane{}
	if name != "" {
		dir = filepath.Join(dir, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return cp, err
		}
	}
	ports := make([]int, 3) // etcd client, etcd peer, API server
	for i := range ports {
		var err error
		if ports[i], err = freePort(); err != nil {
			return cp, err
		}
	}
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	var err error
	cp.etcd, err = startProc(dir, "etcd", nil, "etcd", "--data-dir", filepath.Join(dir, "etcd"),
		"--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", fmt.Sprintf("http://127.0.0.1:%d", ports[1]))
	if err != nil {
		return cp, err
	}
	keyFile := filepath.Join(dir, "sa.key")
	if err := writeRSAKey(keyFile); err != nil {
		return cp, err
	}
	const adminToken = "e2e-admin-token"
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(adminToken+",admin,admin,system:masters\n"+
		kubeProxyToken+",system:kube-proxy,kube-proxy\n"), 0o600); err != nil {
		return cp, err
	}
	cp.apiserverArgs = []string{"--etcd-servers=" + etcdURL, "--cert-dir=" + filepath.Join(dir, "certs"),
		fmt.Sprintf("--secure-port=%d", ports[2]), "--bind-address=127.0.0.1",
		"--token-auth-file=" + tokens, "--service-account-key-file=" + keyFile,
		"--service-account-signing-key-file=" + keyFile, "--service-account-issuer=https://kubernetes.default.svc",
		"--authorization-mode=RBAC", "--service-cluster-ip-range=10.96.0.0/16"}
	if cp.apiserver, err = startProc(dir, "kube-apiserver", nil, filepath.Join(tools, apiserverBinary), cp.apiserverArgs...); err != nil {
		return cp, err
	}
	cp.apiAddr = fmt.Sprintf("127.0.0.1:%d", ports[2])
	cp.adminKubeconfig = filepath.Join(dir, "admin.kubeconfig")
	if err := writeKubeconfig(cp.adminKubeconfig, "https://"+cp.apiAddr, "admin", adminToken); err != nil {
		return cp, err
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", cp.adminKubeconfig)
	if err != nil {
		return cp, err
	}
	cfg.QPS, cfg.Burst = 500, 1000
	if cp.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return cp, err
	}
	return cp, cp.waitReady()
}

// waitReady waits until the API server answers /readyz.
func (cp *controlPlane) waitReady() error {
	return waitFor(60*time.Second, "kube-apiserver /readyz", func() error {
		if cp.apiserver.exited() {
			return fmt.Errorf("kube-apiserver exited:\n%s", cp.apiserver.tail(20))
		}
		_, err := cp.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err
	})
}

func (e *env) installRBAC(ctx context.Context) error {
	cmd := exec.Command("kubectl", "--kubeconfig", e.adminKubeconfig, "apply", "-k", filepath.Join(e.root, "manifests/base"))
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
	return path, writeTokenKubeconfig(ctx, e.client, "https://"+e.apiAddr, sa, path)
}

// writeTokenKubeconfig writes to path a kubeconfig of server with a token of
// the ServiceAccount lbdns/<sa> that client mints.
func writeTokenKubeconfig(ctx context.Context, client kubernetes.Interface, server, sa, path string) error {
	expiry := int64(24 * 3600)
	var tok *authv1.TokenRequest
	err := waitFor(30*time.Second, "a token for ServiceAccount lbdns/"+sa, func() error {
		var err error
		tok, err = client.CoreV1().ServiceAccounts("lbdns").CreateToken(ctx, sa,
			&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &expiry}}, metav1.CreateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	return writeKubeconfig(path, server, sa, tok.Status.Token)
}

var bindZones = []string{zone, zoneStandalone, zoneWebhook, zoneCRD, zoneFaults}

// writeBindConf writes named.conf; with refuseFaults, BIND refuses zone
// transfers of zoneFaults to everyone (a common misconfiguration) while it
// still accepts updates.
func (e *env) writeBindConf(refuseFaults bool) error {
	dir := filepath.Join(e.dir, "bind")
	conf := fmt.Sprintf(`key "%[1]s" { algorithm hmac-sha256; secret "%[2]s"; };
options { directory "%[3]s"; listen-on port %[4]d { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file "%[3]s/named.pid"; recursion no; dnssec-validation no; notify no; };
controls { };
`, tsigKeyName, e.tsigSecret, dir, e.bindPort)
	for _, z := range bindZones {
		transfer := fmt.Sprintf(`key "%s";`, tsigKeyName)
		if refuseFaults && z == zoneFaults {
			transfer = "none;"
		}
		conf += fmt.Sprintf(`zone "%[1]s" { type primary; file "%[2]s/%[1]s.zone";
  allow-update { key "%[3]s"; }; allow-transfer { %[4]s }; };
`, z, dir, tsigKeyName, transfer)
	}
	return os.WriteFile(filepath.Join(dir, "named.conf"), []byte(conf), 0o644)
}

func (e *env) startBind() error {
	dir := filepath.Join(e.dir, "bind")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	e.tsigSecret = base64.StdEncoding.EncodeToString(secret)
	var err error
	if e.bindPort, err = freePort(); err != nil {
		return err
	}
	e.dnsAddr = fmt.Sprintf("127.0.0.1:%d", e.bindPort)
	for _, z := range bindZones {
		// Every zone holds a record lbdns does not own: it must survive.
		zoneFile := fmt.Sprintf("$TTL 60\n@ IN SOA ns.%[1]s. admin.%[1]s. ( 1 60 60 3600 60 )\n@ IN NS ns.%[1]s.\nns IN A 127.0.0.1\n"+
			"unmanaged IN A 192.0.2.250\n", z)
		if err := os.WriteFile(filepath.Join(dir, z+".zone"), []byte(zoneFile), 0o644); err != nil {
			return err
		}
	}
	if err := e.writeBindConf(false); err != nil {
		return err
	}
	u, err := user.Current()
	if err != nil {
		return err
	}
	e.bindArgs = []string{"-g", "-c", filepath.Join(dir, "named.conf"), "-u", u.Username}
	if e.bind, err = startProc(e.dir, "named", nil, "named", e.bindArgs...); err != nil {
		return err
	}
	return waitFor(30*time.Second, "BIND9 to answer", func() error {
		if e.bind.exited() {
			return fmt.Errorf("named exited:\n%s", e.bind.tail(20))
		}
		_, err := lookup(e.dnsAddr, "unmanaged."+zone, "A")
		return err
	})
}

// startLbdns starts the connector instance as in the sidecar recipe: on the
// connector's default address, beside a listener on 0.0.0.0:8080 as the
// IONOS webhook's health and metrics server binds it in the same pod.
func (e *env) startLbdns() error {
	webhookHealth, err := net.Listen("tcp", "0.0.0.0:8080")
	if err != nil {
		return fmt.Errorf("the webhook-like listener needs port 8080: %w", err)
	}
	e.webhookHealth = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) })}
	go func() { _ = e.webhookHealth.Serve(webhookHealth) }()
	e.connectorAddr = "127.0.0.1:7980" // LBDNS_CONNECTOR_ADDR's default: the instance does not set it
	if e.lbdns, err = e.newLbdns("lbdns"); err != nil {
		return err
	}
	e.lbdns.env = slices.DeleteFunc(e.lbdns.env, func(v string) bool { return strings.HasPrefix(v, "LBDNS_CONNECTOR_ADDR=") })
	return e.lbdns.run(e)
}

// newLbdns prepares an lbdns instance with the suite's probe settings plus
// extra variables (later ones win), on a free HTTP port.
func (e *env) newLbdns(name string, extra ...string) (*lbdnsProc, error) {
	httpPort, err := freePort()
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
	var err error
	if l.netns != "" {
		l.proc, err = startProc(e.dir, l.name, l.env, "ip", "netns", "exec", l.netns, e.lbdnsBin)
	} else {
		l.proc, err = startProc(e.dir, l.name, l.env, e.lbdnsBin)
	}
	if err != nil {
		return err
	}
	return waitFor(60*time.Second, l.name+" /readyz", func() error {
		if l.exited() {
			return fmt.Errorf("%s exited:\n%s", l.name, l.tail(20))
		}
		return httpOK("http://" + l.http + "/readyz")
	})
}

func (e *env) startExternalDNS() error {
	host, port, _ := strings.Cut(e.dnsAddr, ":")
	metricsPort, err := freePort()
	if err != nil {
		return err
	}
	e.extdns, err = supervise(func() (*proc, error) {
		return startProc(e.dir, "external-dns", nil, filepath.Join(e.tools, extdnsBinary),
			"--source=connector", "--connector-source-server="+e.connectorAddr,
			"--provider=rfc2136", "--rfc2136-host="+host, "--rfc2136-port="+port, "--rfc2136-zone="+zone,
			"--rfc2136-tsig-keyname="+tsigKeyName, "--rfc2136-tsig-secret="+e.tsigSecret,
			"--rfc2136-tsig-secret-alg=hmac-sha256", "--rfc2136-tsig-axfr",
			"--registry=txt", "--txt-owner-id=lbdns-e2e", "--policy=sync", "--domain-filter="+zone,
			"--interval="+extdnsInterval.String(), "--kubeconfig="+e.adminKubeconfig,
			fmt.Sprintf("--metrics-address=127.0.0.1:%d", metricsPort), "--log-level=debug")
	})
	return err
}

func writeKubeconfig(path, server, user, token string) error {
	return os.WriteFile(path, []byte(fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: %q, insecure-skip-tls-verify: true}}]
users: [{name: %s, user: {token: %q}}]
contexts: [{name: local, context: {cluster: local, user: %s}}]
current-context: local
`, server, user, token, user)), 0o600)
}

func writeRSAKey(path string) error {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600)
}
