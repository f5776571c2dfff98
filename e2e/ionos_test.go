package e2e

import (
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

const (
	zoneIONOS       = "ionos.test"
	ionosWebhookBin = "ionos-webhook-v0.13.0"
)

// TestIONOSWebhook writes through the real IONOS external-dns webhook
// v0.13.0 (built from its unchanged source) in front of a stand-in of the
// IONOS Cloud DNS API, as lbdns's IONOS recipes do, and withdraws and
// restores one of three IPs again and again while reading what IONOS would
// publish every 10 ms. Before (LBDNS_WEBHOOK_INCREMENTAL=false, the webhook's
// own update: delete every record, create every new one) the name goes
// empty; after, never. LBDNS_E2E_IONOS_CYCLES sets the cycles (default 10).
func TestIONOSWebhook(t *testing.T) {
	e := suite
	if shared := filepath.Join(e.root, "../shared/third_party/external-dns-ionos-webhook"); dirExists(shared) {
		// The copy the webhook is built from must be the one the project was given.
		if out, err := exec.Command("diff", "-r", shared, filepath.Join(e.root, "e2e/testdata/external-dns-ionos-webhook")).CombinedOutput(); err != nil {
			t.Fatalf("e2e/testdata/external-dns-ionos-webhook differs from %s:\n%s", shared, out)
		}
	}
	api := newIONOSAPI(t, zoneIONOS)
	webhook := startIONOSWebhook(t, e, api)
	cycles := envInt("LBDNS_E2E_IONOS_CYCLES", 10)

	t.Run("ttl_below_60_is_refused_by_ionos", func(t *testing.T) {
		l := ionosLbdns(t, e, webhook, "ionos30.lbdns.io/", "LBDNS_TTL=30")
		host := "ttl30." + zoneIONOS
		e.createService(t, lbService{name: "io30", hostname: host, backend: newBackend(t, "127.0.36.1"), prefix: "ionos30.lbdns.io/"})
		if err := framework.WaitFor(30*time.Second, "the webhook output failing on TTL 30", func() error {
			o, err := l.output("webhook")
			if err == nil && !o.Failing {
				err = fmt.Errorf("output %+v", o)
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if got := api.published(host, "A"); len(got) != 0 {
			t.Fatalf("IONOS took TTL 30: %v", got)
		}
		record(t, "PASS LBDNS_TTL=30 (the old default): IONOS refused every record (400, 60..86,400 s), the output failing")
	})
	var before, after ionosCycles
	t.Run("before_update_as_delete_all_then_create", func(t *testing.T) {
		before = runIONOSCycles(t, e, api, webhook, "ionos-b", 37, cycles, "LBDNS_WEBHOOK_INCREMENTAL=false", "LBDNS_MIN_TTL=60")
		record(t, "MEASURED %d withdraw/restore cycles of 1 of 3 IPs, the webhook's update: %d of %d polls (10 ms) found the name empty; %.1f API calls per change",
			cycles, before.empty, before.polls, before.callsPerChange)
	})
	t.Run("after_single_records_additions_first", func(t *testing.T) {
		after = runIONOSCycles(t, e, api, webhook, "ionos-a", 38, cycles, "LBDNS_WEBHOOK_INCREMENTAL=true", "LBDNS_MIN_TTL=60")
		if after.empty != 0 || after.callsPerChange > 1 {
			t.Fatalf("%d of %d polls found the name empty, %.1f API calls per change (want 0 and 1)", after.empty, after.polls, after.callsPerChange)
		}
		if ttls := api.ttlsOf("ionos-a."+zoneIONOS, "A"); slices.ContainsFunc(ttls, func(ttl int32) bool { return ttl != 60 }) {
			t.Fatalf("TTLs %v, want 60 (a Service asked for 30: LBDNS_MIN_TTL raises it)", ttls)
		}
		record(t, "PASS %d cycles, single records additions first: %d of %d polls empty (before: %d of %d); %.1f API calls per change (before: %.1f); TTL 30 asked, 60 stored; "+
			"a write refused half-way left %v, then repaired",
			cycles, after.empty, after.polls, before.empty, before.polls, after.callsPerChange, before.callsPerChange, after.afterFault)
	})
}

// ionosCycles are the figures of one run.
type ionosCycles struct {
	polls, empty   int
	callsPerChange float64
	afterFault     []string
}

// runIONOSCycles creates three Services for <name>.ionos.test (backends on
// 127.0.n.1-3) for an lbdns of its own, then withdraws and restores the
// third one's pods cycles times while polling the stand-in every 10 ms; the
// after run (incremental) also refuses one write half-way through a
// withdrawal.
func runIONOSCycles(t *testing.T, e *env, api *ionosAPI, webhook, name string, n, cycles int, extra ...string) ionosCycles {
	prefix := name + ".lbdns.io/"
	l := ionosLbdns(t, e, webhook, prefix, extra...)
	host := name + "." + zoneIONOS
	var ips []string
	for i := 1; i <= 3; i++ {
		b := newBackend(t, fmt.Sprintf("127.0.%d.%d", n, i))
		s := lbService{name: fmt.Sprintf("%s-%d", name, i), hostname: host, backend: b, prefix: prefix}
		if i == 1 {
			s.annotations = map[string]string{prefix + "ttl": "30"}
		}
		e.createService(t, s)
		ips = append(ips, b.ip.String())
	}
	waitIONOS(t, api, host, ips...)
	var polls, empty atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				polls.Add(1)
				if len(api.published(host, "A")) == 0 {
					empty.Add(1)
				}
			}
		}
	}()
	writes := api.writes.Load()
	third := name + "-3"
	for range cycles {
		e.setEndpoints(t, third, false, "")
		waitIONOS(t, api, host, ips[:2]...)
		e.setEndpoints(t, third, true, "")
		waitIONOS(t, api, host, ips...)
	}
	out := ionosCycles{callsPerChange: float64(api.writes.Load()-writes) / float64(2*cycles)}
	if strings.Contains(strings.Join(extra, " "), "INCREMENTAL=true") {
		// A write refused half-way: the next one the stand-in gets fails.
		api.mu.Lock()
		api.failAt = api.writes.Load() + 1
		api.mu.Unlock()
		e.setEndpoints(t, third, false, "")
		if err := framework.WaitFor(30*time.Second, "the stand-in refusing a write", func() error {
			if api.refused.Load() == 0 {
				return fmt.Errorf("no write refused yet")
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		out.afterFault = api.published(host, "A")
		waitIONOS(t, api, host, ips[:2]...) // the next sync repairs it
		l.waitLog(t, "sync failing")
	}
	close(stop)
	wg.Wait()
	out.polls, out.empty = int(polls.Load()), int(empty.Load())
	return out
}

func waitIONOS(t *testing.T, api *ionosAPI, host string, want ...string) {
	t.Helper()
	want = sorted(want)
	if err := framework.WaitFor(60*time.Second, fmt.Sprintf("IONOS publishing %s = %v", host, want), func() error {
		if got := api.published(host, "A"); !slices.Equal(got, want) {
			return fmt.Errorf("published %v", got)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// ionosLbdns runs a standalone lbdns writing through the webhook, with its
// own annotation prefix and owner ID, and flap damping off (the scenario
// flips a target on purpose).
func ionosLbdns(t *testing.T, e *env, webhook, prefix string, extra ...string) *lbdnsProc {
	t.Helper()
	owner := strings.TrimSuffix(strings.TrimSuffix(prefix, "/"), ".lbdns.io")
	l, err := e.newLbdns("lbdns-"+owner, append([]string{"LBDNS_ANNOTATION_PREFIX=" + prefix, "LBDNS_PROVIDER=webhook",
		"LBDNS_WEBHOOK_URL=" + webhook, "LBDNS_TXT_OWNER_ID=lbdns-" + owner, "LBDNS_DOMAIN_FILTER=" + zoneIONOS,
		"LBDNS_SYNC_INTERVAL=5s", "LBDNS_FLAP_HALF_LIFE=0", "LBDNS_TTL=60"}, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.run(e); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l
}

// startIONOSWebhook runs the real IONOS webhook against the stand-in and
// returns its URL.
func startIONOSWebhook(t *testing.T, e *env, api *ionosAPI) string {
	t.Helper()
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	// The webhook picks IONOS Cloud (not IONOS Core) for a key that looks
	// like a JWT; the stand-in does not check it.
	key := "eyJhbGciOiJub25lIn0." + base64.RawStdEncoding.EncodeToString([]byte(`{"iss":"stand-in"}`)) + ".x"
	p, err := framework.Start(e.dir, "ionos-webhook", []string{"IONOS_API_KEY=" + key, "IONOS_API_URL=http://" + api.addr,
		"SERVER_HOST=127.0.0.1", fmt.Sprintf("SERVER_PORT=%d", port), "METRICS_HOST=127.0.0.1", fmt.Sprintf("METRICS_PORT=%d", metrics),
		"DOMAIN_FILTER=" + zoneIONOS, "LOG_LEVEL=debug"}, filepath.Join(e.tools, ionosWebhookBin))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := framework.WaitFor(30*time.Second, "the IONOS webhook's /healthz", func() error {
		if p.Exited() {
			return fmt.Errorf("exited:\n%s", p.Tail(20))
		}
		return framework.HTTPOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", metrics))
	}); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", port)
}
