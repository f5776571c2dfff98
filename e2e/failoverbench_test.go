package e2e

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// failoverProfile is one set of probe settings the failover benchmark runs.
type failoverProfile struct {
	id       string // for LBDNS_FAILOVER_PROFILES
	name     string
	interval time.Duration
	fast     time.Duration // LBDNS_PROBE_FAST_INTERVAL (the default: interval/4)
	// peerDefaults runs the peers at their own defaults instead of the
	// profile's settings, and only the embedded DNS beside them (gdnsd's
	// defaults take minutes a round).
	peerDefaults bool
}

// failoverOutput is one way a decision reaches an answer: an lbdns instance
// with one output, maybe an external-dns behind it, and the DNS server whose
// answer shows the result.
type failoverOutput struct {
	name              string
	dns               string // the server polled for the answer
	zone              string // the zone of the hostname on that server
	lbdns             *lbdnsProc
	extdns            *framework.Supervisor
	peer              *framework.Proc // a server that checks the backends itself (PowerDNS, gdnsd)
	withdraw, restore []time.Duration
}

func (o *failoverOutput) Stop() {
	o.extdns.Stop()
	o.lbdns.Stop()
	o.peer.Stop()
}

const (
	failoverZone          = "failover.test"     // served by the embedded DNS instances
	failoverSecondaryZone = "failover-sec.test" // served by an embedded DNS, transferred by a BIND secondary
)

// BenchmarkFailover is part of make failbench: a backend behind one of two
// Services of a hostname is stopped and started again, rounds times per probe
// profile, and each time it measures how long every output takes to drop the
// IP from the answers and to answer it again. All outputs watch the same
// Services in the same run, each in its own lbdns instance: the embedded DNS
// (with and without the fast interval, and at PowerDNS's fall 1 and rise 1),
// the standalone rfc2136 updater, the connector with external-dns as in the
// sidecar recipe, and DNSEndpoints with external-dns --source=crd --events,
// the last three written to BIND. Beside them the peers that check backends
// themselves (failoverpeers_test.go): PowerDNS's LUA ifportup and gdnsd's
// multifo with tcp_connect monitors, on the same two backends.
func BenchmarkFailover(b *testing.B) {
	rounds := envInt("LBDNS_FAILOVER_ROUNDS", 50)
	// LBDNS_FAILOVER_PROFILES picks profiles by id; LBDNS_FAILOVER_OUTPUTS=embedded
	// runs only the embedded DNS outputs beside the peers (no external-dns,
	// whose 11 s polls set the pace of a round otherwise).
	profiles := strings.Split(envOr("LBDNS_FAILOVER_PROFILES", "2s,500ms,defaults"), ",")
	if err := suite.startFailoverDNS(); err != nil {
		b.Fatal(err)
	}
	table := benchTable{name: "failbench"}
	for i, p := range []failoverProfile{
		{id: "2s", name: "default probes (2s, fall 2, rise 2)", interval: 2 * time.Second, fast: 500 * time.Millisecond},
		{id: "500ms", name: "500ms probes (fall 2, rise 2)", interval: 500 * time.Millisecond, fast: 125 * time.Millisecond},
		{id: "defaults", name: "everyone's defaults (lbdns 2s, fall 2, rise 2)", interval: 2 * time.Second, fast: 500 * time.Millisecond,
			peerDefaults: true},
	} {
		if !slices.Contains(profiles, p.id) {
			continue
		}
		n := rounds
		if p.peerDefaults {
			n = envInt("LBDNS_FAILOVER_DEFAULTS_ROUNDS", 3) // about 5 minutes a round: gdnsd's 10 checks down, 20 up, 10 s apart
		}
		for _, o := range suite.failoverRounds(b, p, i, n) {
			what := p.name + ", " + o.name
			table.add(what+": withdrawn, p50 / p99", "%.2f s / %.2f s", percentile(o.withdraw, 50).Seconds(), percentile(o.withdraw, 99).Seconds())
			table.add(what+": restored, p50 / p99", "%.2f s / %.2f s", percentile(o.restore, 50).Seconds(), percentile(o.restore, 99).Seconds())
		}
	}
	table.print(fmt.Sprintf("make failbench: backend stop -> answer without it, start -> answer with it, %d rounds each (everyone's defaults: %d), %s",
		rounds, envInt("LBDNS_FAILOVER_DEFAULTS_ROUNDS", 3), time.Now().UTC().Format("2006-01-02")))
}

// startFailoverDNS brings up what the writer outputs need beside the control
// plane a benchmark gets: BIND and the DNSEndpoint CRD.
func (e *env) startFailoverDNS() error {
	if e.bind == nil {
		var err error
		if e.bind, err = framework.StartBind(e.dir, tsigKeyName, bindZones...); err != nil {
			return fmt.Errorf("start BIND9: %w", err)
		}
	}
	return e.installDNSEndpointCRD()
}

// installDNSEndpointCRD applies external-dns v0.22.0's DNSEndpoint CRD.
func (e *env) installDNSEndpointCRD() error {
	cmd := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "apply", "-k", filepath.Join(e.root, "manifests/crd"))
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("kubectl apply -k manifests/crd: %w\n%s", err, out)
	}
	return nil
}

// failoverRounds runs one profile: its own namespace, one instance per
// output and two Services of one hostname (a name in each output's zone)
// with real TCP backends on 127.0.78.x.
func (e *env) failoverRounds(b *testing.B, p failoverProfile, n, rounds int) []*failoverOutput {
	ctx := context.Background()
	ns := fmt.Sprintf("failover-%d", n)
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	outputs, err := e.startFailoverOutputs(b, p, ns)
	for _, o := range outputs {
		defer o.Stop()
	}
	if err != nil {
		b.Fatal(err)
	}
	label := fmt.Sprintf("fo%d", n)
	var hostnames []string
	for _, o := range outputs {
		hostnames = append(hostnames, label+"."+o.zone)
	}
	// Both backends on one port: the peers check one port for all the
	// addresses of a name (PowerDNS's ifportup, a gdnsd service type).
	first := newTCPBackend(b, e.dir, fmt.Sprintf("127.0.78.%d", 2*n+1))
	second := &tcpBackend{ip: netip.MustParseAddr(fmt.Sprintf("127.0.78.%d", 2*n+2)), port: first.port, dir: e.dir}
	second.start(b)
	backends := []*tcpBackend{first, second}
	for i, be := range backends {
		if err := e.createProbedService(context.Background(), ns, fmt.Sprintf("s%d", i), strings.Join(slices.Compact(hostnames), ","), be.ip, be.port); err != nil {
			b.Fatal(err)
		}
		defer be.Stop()
	}
	peers := e.startFailoverPeers(b, p, label, backends)
	for _, o := range peers {
		defer o.Stop()
	}
	outputs = append(outputs, peers...)
	both := []string{backends[0].ip.String(), backends[1].ip.String()}
	limit := 30 * time.Second
	if p.peerDefaults {
		limit = 5 * time.Minute // gdnsd: 20 good checks 10 s apart to come back
	}
	waitOutputs(b, outputs, label, both, time.Now(), max(limit, 60*time.Second)) // the first sync of external-dns may take a while
	victim := backends[0]
	// A failure and a recovery come at a random moment of every checker's
	// cycle: waiting up to the longest check interval (gdnsd's 2 s minimum,
	// 10 s at its defaults) before each keeps a round from starting in step
	// with the checker that ended the last one.
	phase := max(p.interval, 2*time.Second)
	if p.peerDefaults {
		phase = 10 * time.Second
	}
	for range rounds {
		time.Sleep(time.Duration(rand.Int64N(int64(phase))))
		killed := time.Now() // before the kill: its sockets close while it dies
		victim.Stop()
		for i, d := range waitOutputs(b, outputs, label, both[1:], killed, limit) {
			outputs[i].withdraw = append(outputs[i].withdraw, d)
		}
		time.Sleep(time.Duration(rand.Int64N(int64(phase))))
		victim.start(b)
		for i, d := range waitOutputs(b, outputs, label, both, time.Now(), limit) {
			outputs[i].restore = append(outputs[i].restore, d)
		}
	}
	return outputs
}

// startFailoverOutputs starts one lbdns instance per output with the
// profile's probes, and external-dns where the output needs it. It returns
// what it started, also on error, so that the caller stops it.
func (e *env) startFailoverOutputs(b *testing.B, p failoverProfile, ns string) ([]*failoverOutput, error) {
	probes := []string{"LBDNS_NAMESPACE=" + ns, "LBDNS_LOG_LEVEL=info",
		"LBDNS_PROBE_INTERVAL=" + p.interval.String(), "LBDNS_PROBE_TIMEOUT=" + min(time.Second, p.interval/2).String(),
		"LBDNS_PROBE_FALL=2", "LBDNS_PROBE_RISE=2", "LBDNS_PROBE_FAST_INTERVAL=" + p.fast.String(),
		"LBDNS_FLAP_HALF_LIFE=0"} // the rounds flap the backend on purpose: damping would hold it withdrawn
	host, port, _ := strings.Cut(e.bind.Addr, ":")
	rfc2136 := []string{"--provider=rfc2136", "--rfc2136-host=" + host, "--rfc2136-port=" + port,
		"--rfc2136-tsig-keyname=" + tsigKeyName, "--rfc2136-tsig-secret=" + e.bind.TSIGSecret,
		"--rfc2136-tsig-secret-alg=hmac-sha256", "--rfc2136-tsig-axfr", "--registry=txt", "--policy=sync",
		"--kubeconfig=" + e.cp.AdminKubeconfig, "--log-level=info"}
	var outputs []*failoverOutput
	start := func(name, dnsAddr, zone string, env ...string) (*failoverOutput, error) {
		l, err := e.newLbdns(fmt.Sprintf("lbdns-%s-%d", ns, len(outputs)), append(slices.Clone(probes), env...)...)
		if err != nil {
			return nil, err
		}
		o := &failoverOutput{name: name, dns: dnsAddr, zone: zone, lbdns: l}
		outputs = append(outputs, o)
		return o, l.run(e)
	}
	extdns := func(o *failoverOutput, args ...string) error {
		metrics, err := framework.FreePort()
		if err != nil {
			return err
		}
		args = append(append(args, rfc2136...), "--rfc2136-zone="+o.zone, "--domain-filter="+o.zone,
			fmt.Sprintf("--metrics-address=127.0.0.1:%d", metrics))
		o.extdns, err = framework.Supervise(func() (*framework.Proc, error) {
			return framework.Start(e.dir, "external-dns-"+ns+"-"+o.zone, nil, filepath.Join(e.tools, extdnsBinary), args...)
		})
		return err
	}
	ports := make([]int, 6)
	for i := range ports {
		var err error
		if ports[i], err = framework.FreePort(); err != nil {
			return outputs, err
		}
	}
	embeddedOnly := p.peerDefaults || os.Getenv("LBDNS_FAILOVER_OUTPUTS") == "embedded"
	for i, s := range []func() error{
		func() error {
			o, err := start("embedded DNS", fmt.Sprintf("127.0.0.1:%d", ports[0]), failoverZone,
				fmt.Sprintf("LBDNS_DNS_ADDR=127.0.0.1:%d", ports[0]), "LBDNS_DNS_ZONES="+failoverZone, "LBDNS_DNS_RRL_RATE=0")
			o.lbdns.dns = o.dns
			return err
		},
		func() error { // PowerDNS's settings: down at the first failure, up at the first success
			o, err := start("embedded DNS, fall 1, rise 1 (as PowerDNS)", fmt.Sprintf("127.0.0.1:%d", ports[5]), failoverZone,
				fmt.Sprintf("LBDNS_DNS_ADDR=127.0.0.1:%d", ports[5]), "LBDNS_DNS_ZONES="+failoverZone, "LBDNS_DNS_RRL_RATE=0",
				"LBDNS_PROBE_FALL=1", "LBDNS_PROBE_RISE=1")
			o.lbdns.dns = o.dns
			return err
		},
		func() error {
			o, err := start("embedded DNS without the fast interval", fmt.Sprintf("127.0.0.1:%d", ports[1]), failoverZone,
				fmt.Sprintf("LBDNS_DNS_ADDR=127.0.0.1:%d", ports[1]), "LBDNS_DNS_ZONES="+failoverZone, "LBDNS_DNS_RRL_RATE=0",
				"LBDNS_PROBE_FAST_INTERVAL="+p.interval.String())
			o.lbdns.dns = o.dns
			return err
		},
		func() error {
			// The hidden primary: a real BIND secondary, told by NOTIFY, answers.
			secondary := fmt.Sprintf("127.0.0.1:%d", ports[4])
			_, err := start("embedded DNS -> BIND secondary (NOTIFY + IXFR)", secondary, failoverSecondaryZone,
				fmt.Sprintf("LBDNS_DNS_ADDR=127.0.0.1:%d", ports[3]), "LBDNS_DNS_ZONES="+failoverSecondaryZone, "LBDNS_DNS_RRL_RATE=0",
				"LBDNS_DNS_TRANSFER_ALLOW=127.0.0.0/8", "LBDNS_DNS_TSIG_NAME="+tsigKeyName, "LBDNS_DNS_TSIG_SECRET="+e.bind.TSIGSecret,
				"LBDNS_DNS_NOTIFY="+secondary)
			if err == nil {
				startSecondaryBind(b, e, ports[4], []int{ports[3]}, failoverSecondaryZone, "bind-secondary-"+ns)
			}
			return err
		},
		func() error {
			_, err := start("standalone rfc2136", e.bind.Addr, zoneStandalone, "LBDNS_PROVIDER=rfc2136", "LBDNS_RFC2136_HOST="+host,
				"LBDNS_RFC2136_PORT="+port, "LBDNS_RFC2136_ZONE="+zoneStandalone, "LBDNS_RFC2136_TSIG_KEYNAME="+tsigKeyName,
				"LBDNS_RFC2136_TSIG_SECRET="+e.bind.TSIGSecret, "LBDNS_TXT_OWNER_ID=failbench", "LBDNS_DOMAIN_FILTER="+zoneStandalone)
			return err
		},
		func() error {
			// The sidecar recipe's external-dns: the connector is polled every 10 s.
			connector := fmt.Sprintf("127.0.0.1:%d", ports[2])
			o, err := start("connector + external-dns --interval=10s", e.bind.Addr, zone, "LBDNS_CONNECTOR_ADDR="+connector)
			if err != nil {
				return err
			}
			return extdns(o, "--source=connector", "--connector-source-server="+connector, "--interval=10s",
				"--txt-owner-id=failbench-connector")
		},
		func() error {
			// The crd overlay's external-dns: evented, a full sync every minute.
			o, err := start("DNSEndpoint + external-dns --events", e.bind.Addr, zoneCRD, "LBDNS_CRD_NAMESPACE=lbdns",
				"LBDNS_DOMAIN_FILTER="+zoneCRD)
			if err != nil {
				return err
			}
			return extdns(o, "--source=crd", "--namespace=lbdns", "--events", "--interval=1m", "--txt-owner-id=failbench-crd")
		},
	} {
		if embeddedOnly && (i > 2 || p.peerDefaults && i > 0) { // the first three are the embedded DNS's; at defaults, lbdns's own
			continue
		}
		if err := s(); err != nil {
			return outputs, err
		}
	}
	return outputs, nil
}

// waitOutputs polls every output's DNS server every 5 ms until the A answer
// of its name label.<zone> is want, and returns how long each took since
// start.
func waitOutputs(b *testing.B, outputs []*failoverOutput, label string, want []string, start time.Time, limit time.Duration) []time.Duration {
	took := make([]time.Duration, len(outputs))
	errs := make([]error, len(outputs))
	var wg sync.WaitGroup
	for i, o := range outputs {
		wg.Go(func() { took[i], errs[i] = waitAnswer(o.dns, label+"."+o.zone, want, start, limit) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			b.Fatalf("%s: %v", outputs[i].name, err)
		}
	}
	return took
}

// waitAnswer polls a DNS server every 5 ms until the A answer of name is
// want, and returns how long that took since start.
func waitAnswer(dnsAddr, name string, want []string, start time.Time, limit time.Duration) (time.Duration, error) {
	want = sorted(want)
	for deadline := start.Add(limit); ; time.Sleep(5 * time.Millisecond) {
		got, err := framework.Lookup(dnsAddr, name, "A")
		if err == nil && slices.Equal(got, want) {
			return time.Since(start), nil
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s never answered %v within %s (last: %v, %v)", name, want, limit, got, err)
		}
	}
}

// createProbedService creates a LoadBalancer Service with LB IP ip, probed
// over TCP on port, and a ready EndpointSlice; annotations are more
// key, value pairs.
func (e *env) createProbedService(ctx context.Context, ns, name, hostname string, ip netip.Addr, port int, annotations ...string) error {
	no, ready := false, true
	ann := map[string]string{"lbdns.io/hostname": hostname}
	for i := 0; i+1 < len(annotations); i += 2 {
		ann[annotations[i]] = annotations[i+1]
	}
	svc, err := e.cp.Client.CoreV1().Services(ns).Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Annotations: ann},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
			Ports: []corev1.ServicePort{{Name: "web", Port: int32(port), Protocol: corev1.ProtocolTCP}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: ip.String()}}
	if _, err := e.cp.Client.CoreV1().Services(ns).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
		return err
	}
	_, err = e.cp.Client.DiscoveryV1().EndpointSlices(ns).Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.2.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
	}, metav1.CreateOptions{})
	return err
}

// tcpBackend is a TCP server in a process of its own (this test binary
// re-run as LBDNS_TCP_BACKEND=addr) that holds every connection open until
// its client closes it, as most servers do. Stop kills it with SIGKILL: the
// kernel refuses new connections and closes the held ones, as when a
// backend's process dies.
type tcpBackend struct {
	ip   netip.Addr
	port int
	dir  string
	proc *framework.Proc
}

func newTCPBackend(b testing.TB, dir, ip string) *tcpBackend {
	ln, err := net.Listen("tcp", ip+":0")
	if err != nil {
		b.Fatal(err)
	}
	be := &tcpBackend{ip: netip.MustParseAddr(ip), port: ln.Addr().(*net.TCPAddr).Port, dir: dir}
	ln.Close()
	be.start(b)
	return be
}

// start runs the process and returns once it accepts connections.
func (be *tcpBackend) start(b testing.TB) {
	addr := netip.AddrPortFrom(be.ip, uint16(be.port)).String()
	var err error
	be.proc, err = framework.Start(be.dir, "backend-"+be.ip.String(), []string{"LBDNS_TCP_BACKEND=" + addr}, os.Args[0], "-test.run", "^$")
	if err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) || be.proc.Exited() {
			b.Fatalf("backend %s not listening: %v\n%s", addr, err, be.proc.Tail(5))
		}
	}
}

func (be *tcpBackend) Stop() { be.proc.Kill() }

// serveTCPBackend is a tcpBackend's process: it accepts on addr (again and
// again while the address is still held by its predecessor) and keeps each
// connection until the client closes it.
func serveTCPBackend(addr string) error {
	var ln net.Listener
	var err error
	for range 250 {
		if ln, err = net.Listen("tcp", addr); err == nil || !strings.Contains(err.Error(), "in use") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return err
		}
		go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
	}
}
