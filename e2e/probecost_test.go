package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The cost of health checking: lbdns, PowerDNS (LUA ifportup) and gdnsd
// (tcp_connect) each probe the same 1,000 TCP backends, one server at a
// time, every 2 s with a 1 s timeout (fall and rise 2 where the server has
// them), and the benchmark measures each one's CPU and memory while it does.
const (
	probeCostNamespace = "probecost"
	probeCostZone      = "probecost.test"
	probeCostHostnames = 100 // of 10 backends each
)

// probeCostBackends listens on port at 127.79.x.y, one socket per address,
// holding every connection until its client closes it (as most servers do),
// and counts them.
type probeCostBackends struct {
	port     int
	ips      []string
	accepted atomic.Int64
	lns      []net.Listener
}

func startProbeCostBackends(b *testing.B, n int) *probeCostBackends {
	pb := &probeCostBackends{port: freePortOrFail(b)}
	for i := range n {
		ip := fmt.Sprintf("127.79.%d.%d", i/250, i%250+1)
		ln, err := net.Listen("tcp", fmt.Sprintf("%s:%d", ip, pb.port))
		if err != nil {
			b.Fatal(err)
		}
		pb.ips, pb.lns = append(pb.ips, ip), append(pb.lns, ln)
		go func() {
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				pb.accepted.Add(1)
				go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
			}
		}()
	}
	return pb
}

func (pb *probeCostBackends) Stop() {
	for _, ln := range pb.lns {
		ln.Close()
	}
}

// hostnameOf is the label of backend i's name.
func probeCostLabel(i int) string { return fmt.Sprintf("h%03d", i/10) }

// BenchmarkProbeCost is part of make failbench: the table of what probing
// 1,000 targets costs each server.
func BenchmarkProbeCost(b *testing.B) {
	e := suite
	backends := startProbeCostBackends(b, 1000)
	defer backends.Stop()
	table := benchTable{name: "probecost"}
	measure := func(name string, p *framework.Proc) {
		time.Sleep(10 * time.Second) // past the first rounds
		before, start := backends.accepted.Load(), time.Now()
		cpu := cpuRate(b, p, 30*time.Second)
		conns := float64(backends.accepted.Load()-before) / time.Since(start).Seconds()
		table.add(name+": CPU, RSS, probes", "%.1f %% of a core, %.0f MB, %.0f connections/s", cpu*100, rss(b, p), conns)
	}

	l := e.startProbeCostLbdns(b, backends)
	measure("lbdns "+lbdnsVersion(e), l.Proc)
	l.Stop()

	pdns := e.startProbeCostPowerDNS(b, backends)
	measure("PowerDNS "+peerVersionOf("pdns")+" LUA ifportup", pdns)
	pdns.Stop()

	gdnsd := e.startProbeCostGdnsd(b, backends)
	measure("gdnsd "+peerVersionOf("gdnsd")+" tcp_connect", gdnsd)
	gdnsd.Stop()
	table.print(fmt.Sprintf("make failbench: the cost of probing 1,000 TCP targets every 2 s (timeout 1 s), one server at a time, %s, %s",
		time.Now().UTC().Format("2006-01-02"), machine()))
}

// lbdnsVersion is the version lbdns --version prints ("lbdns 0.1.0 (...)").
func lbdnsVersion(e *env) string {
	if f := strings.Fields(peerVersion(e.lbdnsBin, "--version")); len(f) > 1 {
		return f[1]
	}
	return "?"
}

// startProbeCostLbdns runs lbdns over 1,000 Services, one per backend,
// probed over TCP, and waits until every target is healthy.
func (e *env) startProbeCostLbdns(b *testing.B, backends *probeCostBackends) *lbdnsProc {
	ctx := context.Background()
	if _, err := e.cp.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: probeCostNamespace}},
		metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		b.Fatal(err)
	}
	e.scaleApply(b, 0, len(backends.ips), func(i int) error {
		return e.createProbedService(ctx, probeCostNamespace, fmt.Sprintf("b%04d", i), probeCostLabel(i)+"."+probeCostZone,
			netip.MustParseAddr(backends.ips[i]), backends.port)
	})
	l := e.runDNSLbdns(b, "lbdns-probecost", probeCostZone, "LBDNS_NAMESPACE="+probeCostNamespace, "LBDNS_LOG_LEVEL=info",
		"LBDNS_PROBE_INTERVAL=2s", "LBDNS_PROBE_TIMEOUT=1s", "LBDNS_PROBE_FALL=2", "LBDNS_PROBE_RISE=2")
	err := framework.WaitFor(time.Minute, "1,000 healthy targets", func() error {
		healthy, err := l.healthyTargets()
		if err == nil && healthy != len(backends.ips) {
			err = fmt.Errorf("%d healthy", healthy)
		}
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	return l
}

// healthyTargets counts lbdns_target_healthy series at 1.
func (l *lbdnsProc) healthyTargets() (int, error) {
	families, err := framework.MetricFamilies("http://" + l.http + "/metrics")
	if err != nil {
		return 0, err
	}
	n := 0
	for _, m := range families["lbdns_target_healthy"].GetMetric() {
		if m.GetGauge().GetValue() == 1 {
			n++
		}
	}
	return n, nil
}

// startProbeCostPowerDNS runs PowerDNS with one LUA record per hostname
// over its 10 backends. PowerDNS checks an address only once a query asked
// for its record, so every name is asked once.
func (e *env) startProbeCostPowerDNS(b *testing.B, backends *probeCostBackends) *framework.Proc {
	var records strings.Builder
	for h := range probeCostHostnames {
		ips := make([]string, 10)
		for j := range ips {
			ips[j] = "'" + backends.ips[h*10+j] + "'"
		}
		fmt.Fprintf(&records, "%s IN LUA A \"ifportup(%d, {%s}, {selector='all'})\"\n", probeCostLabel(h*10), backends.port, strings.Join(ips, ", "))
	}
	dir, port := filepath.Join(e.dir, "pdns-probecost"), freePortOrFail(b)
	p := e.runPowerDNS(b, dir, "pdns-probecost", probeCostZone, port, 2, records.String())
	for h := range probeCostHostnames {
		name := probeCostLabel(h*10) + "." + probeCostZone
		if err := framework.WaitFor(10*time.Second, "PowerDNS answering "+name, func() error {
			_, err := framework.Lookup(fmt.Sprintf("127.0.0.1:%d", port), name, "A")
			return err
		}); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// startProbeCostGdnsd runs gdnsd with one multifo resource per hostname.
func (e *env) startProbeCostGdnsd(b *testing.B, backends *probeCostBackends) *framework.Proc {
	var resources, records strings.Builder
	for h := range probeCostHostnames {
		label := probeCostLabel(h * 10)
		fmt.Fprintf(&resources, "    %s => { service_types => backend", label)
		for j := range 10 {
			fmt.Fprintf(&resources, ", a%d => %s", j, backends.ips[h*10+j])
		}
		resources.WriteString(" }\n")
		fmt.Fprintf(&records, "%[1]s 30 DYNA multifo!%[1]s\n", label)
	}
	return e.runGdnsd(b, filepath.Join(e.dir, "gdnsd-probecost"), "gdnsd-probecost", probeCostZone, freePortOrFail(b),
		backends.port, gdnsdMonitor{interval: 2, timeout: 1, down: 2, ok: 2, up: 2}, resources.String(), records.String())
}

func writeFiles(b *testing.B, dir string, files map[string]string) {
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			b.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
}
