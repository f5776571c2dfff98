package e2e

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

// The environment of the whole suite, set up once in TestMain.
var suite *env

// results collects one line per scenario, printed at the end.
var (
	resultsMu sync.Mutex
	results   []string
)

func TestMain(m *testing.M) {
	if addr := os.Getenv("LBDNS_ECHO_RESPONDER"); addr != "" { // make dnsbench's ceiling, in a process of its own
		if err := serveEcho(addr); err != nil {
			fmt.Fprintln(os.Stderr, "echo responder:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	if addr := os.Getenv("LBDNS_TCP_BACKEND"); addr != "" { // make failbench's backends, each a process of its own
		fmt.Fprintln(os.Stderr, "tcp backend:", serveTCPBackend(addr))
		os.Exit(1)
	}
	start := time.Now()
	flag.Parse()
	var err error
	suite, err = setup(context.Background(), flag.Lookup("test.bench").Value.String() == "")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e setup failed:", err)
		if suite != nil {
			suite.dumpLogs()
			suite.teardown()
		}
		os.Exit(1)
	}
	fmt.Printf("e2e setup: ready after %.1fs\n", time.Since(start).Seconds())
	code := m.Run()
	if code != 0 {
		suite.dumpLogs()
	}
	suite.teardown()
	fmt.Println("\ne2e summary:")
	for _, r := range results {
		fmt.Println("  " + r)
	}
	fmt.Printf("e2e total: %.1fs\n", time.Since(start).Seconds())
	os.Exit(code)
}

// record adds a line to the summary.
func record(t *testing.T, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("%-32s %s", t.Name(), fmt.Sprintf(format, args...))
	t.Log(line)
	resultsMu.Lock()
	results = append(results, line)
	resultsMu.Unlock()
}

func (e *env) dumpLogs() {
	for _, p := range e.procs() {
		fmt.Fprintf(os.Stderr, "\n--- last lines of %s (%s)\n%s\n", p.Name, p.Log, p.Tail(40))
	}
}

// waitDNS polls BIND until name/qtype answers exactly want, and returns how
// long that took.
func (e *env) waitDNS(t *testing.T, name, qtype string, want ...string) time.Duration {
	t.Helper()
	slices.Sort(want)
	start := time.Now()
	var got []string
	err := framework.WaitFor(60*time.Second, fmt.Sprintf("%s %s = %v", name, qtype, want), func() error {
		var err error
		got, err = framework.Lookup(e.bind.Addr, name, qtype)
		if err != nil {
			return err
		}
		if !slices.Equal(got, want) {
			return fmt.Errorf("answer is %v", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// holdDNS checks for d that every answer for name/qtype is exactly want.
func (e *env) holdDNS(t *testing.T, d time.Duration, name, qtype string, want ...string) {
	t.Helper()
	slices.Sort(want)
	deadline := time.Now().Add(d)
	n := 0
	for time.Now().Before(deadline) {
		got, err := framework.Lookup(e.bind.Addr, name, qtype)
		if err != nil {
			t.Fatalf("query %s: %v", name, err)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("%s %s answered %v after %d good answers, want %v all along", name, qtype, got, n, want)
		}
		n++
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMetric polls the connector instance's /metrics until the series has
// the value.
func (e *env) waitMetric(t *testing.T, name string, labels map[string]string, want float64) {
	t.Helper()
	e.connector.lbdns.waitMetric(t, name, labels, want)
}

func (l *lbdnsProc) waitMetric(t *testing.T, name string, labels map[string]string, want float64) {
	t.Helper()
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s %s%v = %v", l.name, name, labels, want), func() error {
		v, ok, err := l.metric(name, labels)
		switch {
		case err != nil:
			return err
		case !ok:
			return fmt.Errorf("no such series")
		case v != want:
			return fmt.Errorf("value %v", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// targetStatus is the part of lbdns's /status a scenario reads.
type targetStatus struct {
	Service, IP, Health, Reason, Detail string
	Published                           bool
}

// status reads the instance's /status into st.
func (l *lbdnsProc) status(st any) error {
	resp, err := http.Get("http://" + l.http + "/status")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(st)
}

// reasonOf returns the /status health and reason of a Service's target.
func (l *lbdnsProc) reasonOf(hostname, service string) (targetStatus, error) {
	var st struct {
		Hostnames []struct {
			Hostname string
			Targets  []targetStatus
		}
	}
	if err := l.status(&st); err != nil {
		return targetStatus{}, err
	}
	for _, h := range st.Hostnames {
		if h.Hostname != hostname {
			continue
		}
		for _, t := range h.Targets {
			if t.Service == service {
				return t, nil
			}
		}
	}
	return targetStatus{}, fmt.Errorf("no target of %s in %s", service, hostname)
}

// waitReason polls the connector instance's /status until the Service's
// target has the reason.
func (e *env) waitReason(t *testing.T, hostname, service, reason string) targetStatus {
	t.Helper()
	return e.connector.lbdns.waitReason(t, hostname, service, reason)
}

func (l *lbdnsProc) waitReason(t *testing.T, hostname, service, reason string) targetStatus {
	t.Helper()
	var ts targetStatus
	err := framework.WaitFor(30*time.Second, fmt.Sprintf("%s/%s reason %q", hostname, service, reason), func() error {
		var err error
		ts, err = l.reasonOf(hostname, service)
		if err != nil {
			return err
		}
		if ts.Reason != reason {
			return fmt.Errorf("reason is %q (%s)", ts.Reason, ts.Detail)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// extdnsDelay is the most external-dns takes to pick up a change from the
// connector: one --interval, rounded up to its one-second scheduling tick.
const extdnsDelay = extdnsInterval + time.Second

// withdrawBound is the expected worst case of a probe-driven withdrawal
// reaching DNS: fall probes plus the external-dns delay (jitter aside).
func withdrawBound() time.Duration {
	return time.Duration(probeFall)*probeInterval + extdnsDelay
}

func restoreBound() time.Duration {
	return time.Duration(probeRise)*probeInterval + extdnsDelay
}

func fqdn(s string) string { return strings.TrimSuffix(s, ".") + "." + zone }

func sorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return out
}

// tempDir returns a new directory under the suite's work directory.
func tempDir() string {
	d, err := os.MkdirTemp(suite.dir, "chromium-")
	if err != nil {
		return suite.dir
	}
	return d
}
