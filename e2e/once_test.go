package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

// A first contact with a production zone, as a user makes it against the
// real BIND: LBDNS_DRY_RUN plans, shows the plan in /status and changes
// nothing; lbdns --once then writes once and exits 0; --once against a
// server that refuses exits 1 and says why.
func TestDryRunAndOnce(t *testing.T) {
	e := suite
	const prefix = "once.lbdns.io/"
	host := "once." + zoneStandalone
	e.createService(t, lbService{name: "once", hostname: host, backend: newBackend(t, "127.0.35.1"), prefix: prefix})
	settings := append(rfc2136Env(e.bind, zoneStandalone), "LBDNS_ANNOTATION_PREFIX="+prefix, "LBDNS_TXT_OWNER_ID=lbdns-once")

	// The dry run: the plan in /status, nothing in BIND.
	dry, err := e.newLbdns("lbdns-dry-run", append(settings, "LBDNS_DRY_RUN=true")...)
	if err != nil {
		t.Fatal(err)
	}
	if err := dry.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(dry.Stop)
	var o outputStatus
	err = framework.WaitFor(30*time.Second, "the dry run's plan in /status", func() error {
		var err error
		if o, err = dry.output("rfc2136"); err == nil && (!o.DryRun || !slices.ContainsFunc(o.WouldChange, func(c plannedChange) bool {
			return c.Action == "create" && c.Name == host+" A" && slices.Equal(c.Records, []string{"127.0.35.1"})
		})) {
			err = fmt.Errorf("output %+v", o)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second) // a few syncs: still nothing written
	if got, err := framework.Lookup(e.bind.Addr, host, "A"); err != nil || len(got) != 0 {
		t.Fatalf("%s = %v, %v after a dry run: want nothing written", host, got, err)
	}
	if !strings.Contains(dry.Tail(1000), "dry run: would change") {
		t.Error("the dry run did not log its plan")
	}
	// lbdns status, as an operator would read the running instance.
	status, err := exec.Command(e.lbdnsBin, "status", "--addr", dry.http, "--hostname", host).CombinedOutput()
	if err != nil || !strings.Contains(string(status), "output rfc2136 dry run: would make") ||
		!strings.Contains(string(status), "127.0.35.1") || !strings.Contains(string(status), "healthy") {
		t.Fatalf("lbdns status: %v\n%s", err, status)
	}

	// --once writes and exits 0.
	start := time.Now()
	out, err := e.runOnce(settings...)
	if err != nil {
		t.Fatalf("lbdns --once: %v\n%s", err, tail(out, 20))
	}
	took := time.Since(start)
	if got, err := framework.Lookup(e.bind.Addr, host, "A"); err != nil || !slices.Equal(got, []string{"127.0.35.1"}) {
		t.Fatalf("%s = %v, %v after --once", host, got, err)
	}

	// --once with a wrong TSIG secret: BIND refuses, the exit code says so.
	bad := slices.Clone(settings)
	bad = append(bad, "LBDNS_RFC2136_TSIG_SECRET=d3Jvbmcgc2VjcmV0IHdyb25nIHNlY3JldCE=")
	out, err = e.runOnce(bad...)
	if err == nil || !strings.Contains(out, "rfc2136") {
		t.Fatalf("lbdns --once refused by BIND: %v\n%s", err, tail(out, 20))
	}
	record(t, "PASS dry run: plan in /status and the log, BIND untouched; --once wrote in %.1fs and exited 0; refused by BIND it exited 1", took.Seconds())
}

// runOnce runs lbdns --once with the suite's settings and env, and returns
// its output; the error is its exit.
func (e *env) runOnce(env ...string) (string, error) {
	l, err := e.newLbdns("lbdns-once", env...)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.lbdnsBin, "--once")
	cmd.Env = l.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(parts[max(0, len(parts)-lines):], "\n")
}
