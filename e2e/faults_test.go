package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// TestFaults injects real faults into the components lbdns depends on and
// checks that lbdns neither hides them nor acts on a broken view.
func TestFaults(t *testing.T) {
	e := suite
	t.Run("zone_transfer_refused", func(t *testing.T) { zoneTransferRefused(t, e) })
	t.Run("paused_leader_writes_nothing_stale", func(t *testing.T) { pausedLeader(t, e, pauseCycles()) })
}

// pauseCycles is 3 in the suite; make failbench runs 20
// (LBDNS_E2E_PAUSE_CYCLES).
func pauseCycles() int {
	if n, err := strconv.Atoi(os.Getenv("LBDNS_E2E_PAUSE_CYCLES")); err == nil && n > 0 {
		return n
	}
	return 3
}

// pausedLeader: SIGSTOP the standalone leader longer than the lease; the
// other replica takes over and withdraws a stopped backend; SIGCONT the old
// leader, whose sync timer is overdue and whose view is from before the
// pause. Its stale view must never reach BIND: the withdrawn IP must not
// come back while the old leader wakes up.
func pausedLeader(t *testing.T, e *env, cycles int) {
	host := "p." + zoneStandalone
	a, b := pair(t, e, 42, "f42", host)
	var takeovers, held []float64
	for i := range cycles {
		leader, other, err := e.leader()
		if err != nil {
			t.Fatal(err)
		}
		paused := time.Now()
		if err := syscall.Kill(leader.cmd.Process.Pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		cont := func() { _ = syscall.Kill(leader.cmd.Process.Pid, syscall.SIGCONT) }
		t.Cleanup(cont)
		other.waitMetric(t, "lbdns_leader", nil, 1)
		a.stop()
		e.waitDNS(t, host, "A", b.ip.String())
		takeovers = append(takeovers, time.Since(paused).Seconds())
		cont()
		woke := time.Now()
		// Longer than LBDNS_SYNC_INTERVAL (5s) and the woken leader's
		// lease: any stale write would show here.
		e.holdDNS(t, 7*time.Second, host, "A", b.ip.String())
		held = append(held, time.Since(woke).Seconds())
		if n := leader.logCount(t, "write held back"); n < i+1 {
			t.Logf("cycle %d: %s logged %d held-back writes", i+1, leader.name, n)
		}
		a.start(t)
		e.waitDNS(t, host, "A", a.ip.String(), b.ip.String())
	}
	record(t, "PASS %d pause/resume cycles of the leader (lease %s, sync interval 5s): no stale write; takeover and withdrawal after %.1f-%.1fs of pause; DNS held the fresh set %.0fs after each resume",
		cycles, leaseDuration, slices.Min(takeovers), slices.Max(takeovers), slices.Min(held))
}

// zoneTransferRefused: BIND starts refusing zone transfers (allow-transfer
// none, reloaded with SIGHUP) while it still accepts updates. external-dns's
// rfc2136 provider reads that as an empty zone; lbdns must count failed
// syncs, say why once, show it in /status, write nothing planned from the
// refused read, and catch up once transfers work again.
func zoneTransferRefused(t *testing.T, e *env) {
	host := "a." + zoneFaults
	a, b := pair(t, e, 41, "f41", host)
	l := e.faults

	e.setTransfersRefused(t, true)
	t.Cleanup(func() { e.setTransfersRefused(t, false) })
	refusedAt := time.Now()
	a.stop() // a health change: lbdns syncs at once and must not trust the read
	if err := waitFor(30*time.Second, "rfc2136 sync errors", func() error {
		if v, _, err := l.metric("lbdns_sync_total", map[string]string{"output": "rfc2136", "result": "error"}); err != nil || v < 3 {
			return fmt.Errorf("%v errors, %v", v, err)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	// Nothing planned from the refused read reached BIND: the RRset is the
	// one from before, though a is withdrawn in lbdns.
	e.holdDNS(t, time.Second, host, "A", a.ip.String(), b.ip.String())
	out, err := l.output("rfc2136")
	if err != nil || !out.Failing || !strings.Contains(out.LastError, "refused") || out.FailingSince == nil {
		t.Fatalf("/status output rfc2136 = %+v, %v; want failing with the refusal", out, err)
	}
	logged := l.logCount(t, "sync failing")
	if logged != 1 {
		t.Errorf("%q logged %d times for %d failed syncs, want once per state change", "sync failing", logged, out.Failures)
	}

	e.setTransfersRefused(t, false)
	allowedAt := time.Now()
	e.waitDNS(t, host, "A", b.ip.String())
	l.waitLog(t, "sync recovered")
	record(t, "PASS BIND refused AXFR for %.1fs: %d syncs failed, logged once, /status said %q, nothing written; withdrawn %.1fs after transfers worked again",
		allowedAt.Sub(refusedAt).Seconds(), out.Failures, trim(out.LastError, 80), time.Since(allowedAt).Seconds())
}

// setTransfersRefused rewrites named.conf, reloads BIND with SIGHUP, and
// waits until a TSIG-signed AXFR of zoneFaults gets the expected answer.
func (e *env) setTransfersRefused(t *testing.T, refused bool) {
	t.Helper()
	if err := e.writeBindConf(refused); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(e.bind.cmd.Process.Pid, syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err := waitFor(30*time.Second, fmt.Sprintf("AXFR of %s refused=%v", zoneFaults, refused), func() error {
		m := new(dns.Msg)
		m.SetAxfr(dns.Fqdn(zoneFaults))
		m.SetTsig(dns.Fqdn(tsigKeyName), dns.HmacSHA256, 300, time.Now().Unix())
		tr := &dns.Transfer{TsigSecret: map[string]string{dns.Fqdn(tsigKeyName): e.tsigSecret}}
		envs, err := tr.In(m, e.dnsAddr)
		if err != nil {
			return err
		}
		var failed error
		for env := range envs {
			if env.Error != nil {
				failed = env.Error
			}
		}
		if (failed != nil) != refused {
			return fmt.Errorf("transfer error %v", failed)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// outputStatus is one output in lbdns's /status.
type outputStatus struct {
	Output, LastError string
	Failing           bool
	FailingSince      *time.Time
	Failures          int
}

func (l *lbdnsProc) output(name string) (outputStatus, error) {
	resp, err := http.Get("http://" + l.http + "/status")
	if err != nil {
		return outputStatus{}, err
	}
	defer resp.Body.Close()
	var st struct{ Outputs []outputStatus }
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return outputStatus{}, err
	}
	for _, o := range st.Outputs {
		if o.Output == name {
			return o, nil
		}
	}
	return outputStatus{}, fmt.Errorf("no output %s in /status", name)
}

// logCount counts the log lines of the instance that contain s.
func (l *lbdnsProc) logCount(t *testing.T, s string) int {
	t.Helper()
	b, err := os.ReadFile(l.log)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), s)
}

func (l *lbdnsProc) waitLog(t *testing.T, s string) {
	t.Helper()
	if err := waitFor(30*time.Second, l.name+" logging "+s, func() error {
		if l.logCount(t, s) == 0 {
			return fmt.Errorf("not logged yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
