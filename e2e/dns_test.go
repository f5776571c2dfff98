package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
)

const zoneEmbedded = "dns.test" // answered by lbdns's embedded DNS server

// floodDNS sends n A queries for name from the local address as fast as it
// can, and counts the answers, the truncated answers and the silent ones.
func floodDNS(t *testing.T, server, from, name string, n int) (answered, truncated, silent int) {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	to, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeA)
	for i := range n {
		m.Id = uint16(i + 1)
		b, _ := m.Pack()
		if _, err := conn.WriteToUDP(b, to); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 4096)
	for range n {
		_ = conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		k, _, err := conn.ReadFromUDP(buf)
		if err != nil {
			break
		}
		r := new(dns.Msg)
		if r.Unpack(buf[:k]) != nil {
			continue
		}
		if r.Truncated {
			truncated++
		} else {
			answered++
		}
	}
	return answered, truncated, n - answered - truncated
}

// TestEmbeddedDNS checks lbdns's own DNS answers, over real UDP and TCP.
func TestEmbeddedDNS(t *testing.T) {
	e := suite
	host := "a." + zoneEmbedded
	a, b := newBackend(t, "127.0.41.1"), newBackend(t, "127.0.41.2")
	e.createService(t, lbService{name: "d41-a", hostname: host, backend: a, annotations: map[string]string{"lbdns.io/weight": "300"}})
	e.createService(t, lbService{name: "d41-b", hostname: host, backend: b})

	t.Run("multi_a_over_udp_and_tcp", func(t *testing.T) {
		waitEmbedded(t, e, host, a.ip.String(), b.ip.String())
		for _, network := range []string{"udp", "tcp"} {
			r := exchange(t, e, network, host, dns.TypeA)
			if !r.Authoritative || len(r.Answer) != 2 {
				t.Errorf("%s: AA=%v answers %v", network, r.Authoritative, r.Answer)
			}
		}
		if r := exchange(t, e, "udp", "nope."+zoneEmbedded, dns.TypeA); r.Rcode != dns.RcodeNameError || len(r.Ns) != 1 {
			t.Errorf("NXDOMAIN with SOA: %v", r)
		}
		if r := exchange(t, e, "udp", host, dns.TypeMX); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 0 || len(r.Ns) != 1 {
			t.Errorf("NODATA with SOA: %v", r)
		}
		if r := exchange(t, e, "udp", "a."+zone, dns.TypeA); r.Rcode != dns.RcodeRefused {
			t.Errorf("outside its zones: %s", dns.RcodeToString[r.Rcode])
		}
		record(t, "PASS authoritative multi-A over UDP and TCP; NXDOMAIN and NODATA with SOA; REFUSED outside the zone")
	})

	t.Run("rate_limited_flood", func(t *testing.T) {
		waitEmbedded(t, e, host, a.ip.String(), b.ip.String())
		answered, truncated, dropped := floodDNS(t, e.embedded.addr, "127.0.9.1", host, 300)
		if answered > 40 || truncated == 0 || dropped == 0 {
			t.Fatalf("flooding network 127.0.9.0/24: %d answered, %d truncated, %d dropped of 300", answered, truncated, dropped)
		}
		if a, _, _ := floodDNS(t, e.embedded.addr, "127.0.10.1", host, 10); a != 10 {
			t.Fatalf("another network in the same second: %d of 10 answered", a)
		}
		// The queries the client missed include any the kernel dropped from
		// a full socket buffer: the server's count can only be lower.
		v, _, err := e.embedded.lbdns.metric("lbdns_dns_rate_limited_total", map[string]string{"action": "dropped"})
		if err != nil || v == 0 || int(v) > dropped {
			t.Errorf("lbdns_dns_rate_limited_total{action=dropped} = %v (%v), want 1..%d", v, err, dropped)
		}
		record(t, "PASS RRL: a flood of 300 from 127.0.9.1 got %d answers, %d truncated, %d dropped; 127.0.10.1 got all 10 in the same second",
			answered, truncated, dropped)
	})

	t.Run("first_answer_follows_weights", func(t *testing.T) {
		const n = 2000
		first := 0
		for range n {
			r := exchange(t, e, "udp", host, dns.TypeA)
			if len(r.Answer) > 0 && r.Answer[0].(*dns.A).A.String() == a.ip.String() {
				first++
			}
		}
		share := float64(first) / n
		if share < 0.70 || share > 0.80 {
			t.Errorf("weight 300 vs 100: first in %.3f of %d answers, want 0.75 ± 0.05", share, n)
		}
		record(t, "PASS weights 300:100: the heavier IP came first in %.1f%% of %d answers (75%% expected)", 100*share, n)
	})

	t.Run("withdraw_visible_at_once", func(t *testing.T) {
		a.Stop()
		start := time.Now()
		waitEmbedded(t, e, host, b.ip.String())
		withdrawn := time.Since(start)
		e.embedded.lbdns.waitReason(t, host, "d41-a", "ProbeFailed")
		if err := statusPageShows(e.embedded.lbdns.http, a.ip.String(), "ProbeFailed"); err != nil {
			t.Errorf("status page in Chromium: %v", err)
		}
		a.start(t)
		start = time.Now()
		waitEmbedded(t, e, host, a.ip.String(), b.ip.String())
		record(t, "PASS withdrawn from the answers %.2fs after the backend stopped (probes alone: %s), restored %.2fs after it returned; Chromium rendered the status page with the reason",
			withdrawn.Seconds(), time.Duration(probeFall)*probeInterval, time.Since(start).Seconds())
	})
}

func exchange(t *testing.T, e *env, network, name string, qtype uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(m, e.embedded.addr)
	if err != nil {
		t.Fatalf("%s query %s: %v", network, name, err)
	}
	return r
}

func waitEmbedded(t *testing.T, e *env, name string, want ...string) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s = %v from the embedded DNS", name, want), func() error {
		got, err := framework.Lookup(e.embedded.addr, name, "A")
		if err != nil {
			return err
		}
		if strings.Join(got, " ") != strings.Join(sorted(want), " ") {
			return fmt.Errorf("answer is %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// renderedPage loads the status page in headless Chromium and returns the
// DOM it rendered; with screenshot set, it also saves a picture there.
func renderedPage(httpAddr, screenshot string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		return "", fmt.Errorf("chromium is not installed (hack/install-deps.sh installs it): %w", err)
	}
	args := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
		"--disable-component-update", "--disable-sync", "--user-data-dir=" + tempDir()}
	if screenshot != "" {
		shot := append(slices.Clone(args), "--window-size=1400,900", "--screenshot="+screenshot, "http://"+httpAddr+"/")
		if out, err := exec.CommandContext(ctx, bin, shot...).CombinedOutput(); err != nil {
			return "", fmt.Errorf("chromium --screenshot: %w: %s", err, out)
		}
	}
	out, err := exec.CommandContext(ctx, bin, append(args, "--dump-dom", "http://"+httpAddr+"/")...).Output()
	if err != nil {
		return "", fmt.Errorf("chromium --dump-dom: %w", err)
	}
	return string(out), nil
}

// statusPageShows renders lbdns's status page in a real headless Chromium
// and checks that the row of ip shows the reason.
func statusPageShows(httpAddr, ip, reason string) error {
	dom, err := renderedPage(httpAddr, "")
	if err != nil {
		return err
	}
	i := strings.Index(dom, `data-ip="`+ip+`"`)
	if i < 0 {
		return fmt.Errorf("no row for %s in the rendered page (%d bytes)", ip, len(dom))
	}
	row := dom[i:]
	if j := strings.Index(row, "</tr>"); j >= 0 {
		row = row[:j]
	}
	if !strings.Contains(row, "unhealthy") || !strings.Contains(row, reason) {
		return fmt.Errorf("row of %s does not show unhealthy and %s: %s", ip, reason, row)
	}
	return nil
}
