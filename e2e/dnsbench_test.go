package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const (
	// ceilingName is the echo responder's row: what dnsperf and loopback
	// allow here.
	ceilingName       = "ceiling: echo responder (no lookup)"
	dnsBenchZone      = "dnsbench.test"
	dnsBenchNamespace = "dnsbench"
	dnsBenchNames     = 100
	coreDNSBinary     = "coredns-v1.15.0"
)

// BenchmarkDNS is make dnsbench: the same zone (100 names with 3 A records
// each) served by lbdns's embedded DNS (from 300 LoadBalancer Services), by
// BIND 9, Knot DNS and NSD (Debian's, authoritative from a zone file) and by
// CoreDNS v1.15.0 (its file plugin), loaded in turn by dnsperf (8 clients,
// 10 s each) in one run, and the ceiling: an echo responder that answers
// without any lookup. Response rate limiting is off everywhere (loopback is
// exempt from lbdns's; BIND's and Knot's are off by default; NSD's is set
// off).
func BenchmarkDNS(b *testing.B) {
	e := suite
	seconds := envInt("LBDNS_DNSBENCH_SECONDS", 8)
	rounds := envInt("LBDNS_DNSBENCH_ROUNDS", 3)
	dir := b.TempDir()
	queries := filepath.Join(dir, "queries")
	var q, zone strings.Builder
	zone.WriteString(fmt.Sprintf("$TTL 30\n@ IN SOA ns1.%[1]s. hostmaster.%[1]s. ( 1 60 60 3600 30 )\n@ IN NS ns1.%[1]s.\nns1 IN A 127.0.0.1\n", dnsBenchZone))
	for n := range dnsBenchNames {
		fmt.Fprintf(&q, "h%d.%s A\n", n, dnsBenchZone)
		for i := range 3 {
			fmt.Fprintf(&zone, "h%d IN A %s\n", n, dnsBenchIP(n, i))
		}
	}
	zoneFile := filepath.Join(dir, "db."+dnsBenchZone)
	for path, content := range map[string]string{queries: q.String(), zoneFile: zone.String()} {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	table := benchTable{name: "dnsbench"}
	var lbdns *lbdnsProc
	servers := []struct {
		name  string
		start func() (addr string, stop func())
	}{
		{"lbdns (embedded DNS)", func() (string, func()) { lbdns = e.dnsBenchLbdns(b); return lbdns.dns, lbdns.Stop }},
		{"BIND " + bindVersion(), func() (string, func()) { return startBindFor(b, dir, zoneFile) }},
		{"CoreDNS v1.15.0 (file)", func() (string, func()) { return e.startCoreDNSFor(b, dir, zoneFile) }},
		{"Knot " + lastField(peerVersion("knotd", "-V")), func() (string, func()) { return startKnotFor(b, dir, zoneFile, false) }},
		{"Knot " + lastField(peerVersion("knotd", "-V")) + ", socket-affinity on", func() (string, func()) { return startKnotFor(b, dir, zoneFile, true) }},
		{"NSD " + lastField(peerVersion("nsd", "-v")), func() (string, func()) { return startNSDFor(b, dir, zoneFile) }},
		{ceilingName, func() (string, func()) { return startEchoResponder(b, dir) }},
	}
	// LBDNS_DNSBENCH_SERVERS=lbdns,NSD runs only those (by the first word of
	// their row), e.g. while profiling lbdns.
	only := os.Getenv("LBDNS_DNSBENCH_SERVERS")
	type running struct {
		name, addr string
		qps        []float64
	}
	var run []*running
	for _, s := range servers {
		if only != "" && !slices.Contains(strings.Split(only, ","), strings.Fields(s.name)[0]) && !(strings.HasPrefix(s.name, "ceiling") && strings.Contains(only, "ceiling")) {
			continue
		}
		addr, stop := s.start()
		b.Cleanup(stop)
		want := []string{dnsBenchIP(1, 0), dnsBenchIP(1, 1), dnsBenchIP(1, 2)}
		if s.name == ceilingName {
			want = nil // it echoes: no answers
		}
		if _, err := waitAnswer(addr, "h1."+dnsBenchZone, want, time.Now(), 30*time.Second); err != nil {
			b.Fatal(err)
		}
		run = append(run, &running{name: s.name, addr: addr})
	}
	// The VM's speed drifts by 2x and more within minutes, so every server
	// is loaded once per round, in turn, and the table gives each server's
	// median: the ratios compare servers measured a minute apart at most.
	for round := range rounds {
		order := slices.Clone(run)
		if round%2 == 1 { // every other round backwards: no server always follows the same one
			slices.Reverse(order)
		}
		for _, r := range order {
			done := make(chan struct{})
			close(done)
			var profiled <-chan struct{} = done
			if round == 0 && lbdns != nil && r.addr == lbdns.dns { // with LBDNS_SCALE_PROFILES set: where the embedded DNS spends its CPU
				profiled = saveProfile(b, lbdns, "dns", fmt.Sprintf("profile?seconds=%d", max(1, seconds-2)))
			}
			r.qps = append(r.qps, dnsperf(b, r.addr, queries, seconds))
			<-profiled
			fmt.Printf("dnsbench: round %d: %-58s %.0f queries/s\n", round+1, r.name, r.qps[round])
		}
	}
	for _, r := range run {
		table.add(r.name, "%.0f queries/s (median of %d; %s)", median(r.qps), rounds, formatQPS(r.qps))
	}
	// Ratios are the median of each round's ratio: both figures of a round
	// were measured seconds apart.
	if len(run) > 0 && run[0].name == servers[0].name {
		for _, r := range run[1:] {
			if !strings.HasPrefix(r.name, "ceiling") {
				table.add("lbdns / "+shortName(r.name), "%.2f x", medianRatio(run[0].qps, r.qps))
			}
		}
	}
	for _, r := range run {
		for _, c := range run {
			if c.name == ceilingName && r.name != c.name && !strings.HasPrefix(r.name, "ceiling") {
				table.add(shortName(r.name)+" / ceiling", "%.0f %%", 100*medianRatio(r.qps, c.qps))
			}
		}
	}
	table.print(fmt.Sprintf("make dnsbench: %d names x 3 A, dnsperf -c 8 for %d s, %d rounds, %s", dnsBenchNames, seconds, rounds,
		time.Now().UTC().Format("2006-01-02")))
}

// shortName is a row's name in the ratios: its first word, and the setting
// that tells two rows of one server apart.
func shortName(row string) string {
	name := strings.Fields(row)[0]
	if _, setting, ok := strings.Cut(row, ", "); ok {
		name += " (" + setting + ")"
	}
	return name
}

// median returns the middle of xs (the mean of the two middle ones for an
// even count).
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// medianRatio is the median of a[i]/b[i].
func medianRatio(a, b []float64) float64 {
	var r []float64
	for i := range min(len(a), len(b)) {
		if b[i] > 0 {
			r = append(r, a[i]/b[i])
		}
	}
	return median(r)
}

// formatQPS lists the rounds' figures in thousands, e.g. "171k, 180k".
func formatQPS(xs []float64) string {
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.0fk", x/1000)
	}
	return strings.Join(parts, ", ")
}

func dnsBenchIP(name, i int) string { return fmt.Sprintf("192.0.2.%d", (name*3+i)%250+1) }

// dnsBenchLbdns creates the Services (3 per name, none probed) and an lbdns
// that answers for the zone.
func (e *env) dnsBenchLbdns(b *testing.B) *lbdnsProc {
	ctx := context.Background()
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: dnsBenchNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	no, ready := false, true
	for n := range dnsBenchNames {
		for i := range 3 {
			name := fmt.Sprintf("h%d-%d", n, i)
			svc, err := e.cp.Client.CoreV1().Services(dnsBenchNamespace).Create(ctx, &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
					"lbdns.io/hostname": fmt.Sprintf("h%d.%s", n, dnsBenchZone), "lbdns.io/probe": "none"}},
				Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, AllocateLoadBalancerNodePorts: &no,
					Ports: []corev1.ServicePort{{Port: 80, Protocol: corev1.ProtocolTCP}}},
			}, metav1.CreateOptions{})
			if err != nil {
				b.Fatal(err)
			}
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: dnsBenchIP(n, i)}}
			if _, err := e.cp.Client.CoreV1().Services(dnsBenchNamespace).UpdateStatus(ctx, svc, metav1.UpdateOptions{}); err != nil {
				b.Fatal(err)
			}
			if _, err := e.cp.Client.DiscoveryV1().EndpointSlices(dnsBenchNamespace).Create(ctx, &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: name}},
				AddressType: discoveryv1.AddressTypeIPv4,
				Endpoints:   []discoveryv1.Endpoint{{Addresses: []string{"10.244.3.1"}, Conditions: discoveryv1.EndpointConditions{Ready: &ready}}},
			}, metav1.CreateOptions{}); err != nil {
				b.Fatal(err)
			}
		}
	}
	return e.runDNSLbdns(b, "lbdns-dnsbench", dnsBenchZone, "LBDNS_NAMESPACE="+dnsBenchNamespace, "LBDNS_LOG_LEVEL=warn")
}

// startBindFor runs named, authoritative for the zone file.
func startBindFor(b *testing.B, dir, zoneFile string) (string, func()) {
	port, err := framework.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	conf := filepath.Join(dir, "named.conf")
	err = os.WriteFile(conf, []byte(fmt.Sprintf(`options { directory "%[1]s"; listen-on port %[2]d { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file "%[1]s/named.pid"; recursion no; dnssec-validation no; notify no; };
controls { };
zone "%[3]s" { type primary; file "%[4]s"; };
`, dir, port, dnsBenchZone, zoneFile)), 0o644)
	if err != nil {
		b.Fatal(err)
	}
	p, err := framework.Start(dir, "named-dnsbench", nil, "named", "-g", "-c", conf)
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), p.Stop
}

// startCoreDNSFor runs CoreDNS with its file plugin for the zone file.
func (e *env) startCoreDNSFor(b *testing.B, dir, zoneFile string) (string, func()) {
	port, err := framework.FreePort()
	if err != nil {
		b.Fatal(err)
	}
	corefile := filepath.Join(dir, "Corefile")
	if err := os.WriteFile(corefile, []byte(fmt.Sprintf("%s:%d {\n  bind 127.0.0.1\n  file %s\n}\n", dnsBenchZone, port, zoneFile)), 0o644); err != nil {
		b.Fatal(err)
	}
	p, err := framework.Start(dir, "coredns-dnsbench", nil, filepath.Join(e.tools, coreDNSBinary), "-conf", corefile)
	if err != nil {
		b.Fatal(err)
	}
	return fmt.Sprintf("127.0.0.1:%d", port), p.Stop
}

// dnsperf loads addr with the queries for seconds and returns queries per
// second.
func dnsperf(b *testing.B, addr, queries string, seconds int) float64 {
	host, port, _ := strings.Cut(addr, ":")
	out, err := exec.Command("dnsperf", "-s", host, "-p", port, "-d", queries, "-l", strconv.Itoa(seconds), "-c", "8", "-T", "2").CombinedOutput()
	if err != nil {
		b.Fatalf("dnsperf: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`Queries per second:\s+([0-9.]+)`).FindSubmatch(out)
	lost := regexp.MustCompile(`Queries lost:\s+(\d+)`).FindSubmatch(out)
	if m == nil {
		b.Fatalf("no queries per second in dnsperf's output:\n%s", out)
	}
	if lost != nil && string(lost[1]) != "0" {
		fmt.Printf("dnsbench: %s lost %s queries\n", addr, lost[1])
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// bindVersion returns named's version, e.g. "9.18.33".
func bindVersion() string {
	out, _ := exec.Command("named", "-v").Output()
	if f := strings.Fields(string(out)); len(f) >= 2 {
		return strings.SplitN(f[1], "-", 2)[0]
	}
	return "9"
}
