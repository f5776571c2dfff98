package probe

import (
	"context"
	"errors"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lbdns/lbdns/internal/testmetrics"
	"github.com/lbdns/lbdns/internal/testwait"
	"github.com/prometheus/client_golang/prometheus"
)

// counting is a probe that counts its executions per check kind.
type counting struct {
	mu   sync.Mutex
	runs map[Kind]int
	fail atomic.Bool
}

func (c *counting) probe(_ context.Context, _ netip.Addr, ch Check) error {
	time.Sleep(time.Millisecond) // a probe takes a moment: rounds that meet overlap
	c.mu.Lock()
	c.runs[ch.Kind]++
	c.mu.Unlock()
	if c.fail.Load() {
		return errors.New("refused")
	}
	return nil
}

func (c *counting) count(k Kind) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs[k]
}

func newCounting() *counting { return &counting{runs: map[Kind]int{}} }

func rounds[K comparable](s *Scheduler[K], keys []K) (total uint64, least uint64) {
	least = ^uint64(0)
	for _, st := range s.StatusesOf(keys) {
		total += st.Rounds
		least = min(least, st.Rounds)
	}
	return total, least
}

// Five Services with the same LB IP and check probe it once per round, not
// five times; the node probes of four IPs on one node run once per round
// too, while another node's are its own.
func TestSchedulerSharesIdenticalChecks(t *testing.T) {
	c := newCounting()
	reg := prometheus.NewRegistry()
	s := NewScheduler[string](Options{Interval: 40 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2, Jitter: 0.1,
		Concurrency: 16, Funcs: map[Kind]Func{TCP: c.probe, KubeProxy: c.probe}, Metrics: NewMetrics(reg)}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	same := Target{IP: netip.MustParseAddr("192.0.2.1"), Spec: Spec{Checks: []Check{{Kind: TCP, Port: 80}}}}
	kubeProxy := Spec{Checks: []Check{{Kind: KubeProxy, Port: 10256, Path: "/healthz"}}}
	set := map[string]Target{}
	var sameKeys, nodeKeys []string
	for _, k := range []string{"a", "b", "c", "d", "e"} {
		set["same-"+k] = same
		sameKeys = append(sameKeys, "same-"+k)
	}
	for i := range 4 {
		k := "n1-" + string(rune('a'+i))
		set[k] = Target{IP: netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)}), Spec: kubeProxy, Node: "n1"}
		nodeKeys = append(nodeKeys, k)
	}
	set["n2"] = Target{IP: netip.MustParseAddr("192.0.2.20"), Spec: kubeProxy, Node: "n2"}
	s.Update(ctx, set, nil)
	testwait.For(t, "20 rounds of every target", func() bool {
		_, least := rounds(s, append(append([]string{"n2"}, sameKeys...), nodeKeys...))
		return least >= 20
	})
	cancel()
	s.Wait()
	sameTotal, _ := rounds(s, sameKeys)
	nodeTotal, _ := rounds(s, nodeKeys)
	n2, _ := rounds(s, []string{"n2"})
	tcp, kp := c.count(TCP), c.count(KubeProxy)
	// Shared, the executions are about one target's rounds; not shared, the
	// sum of all. Allow for a few rounds that did not meet.
	if float64(tcp) > 0.4*float64(sameTotal) {
		t.Errorf("5 targets with one check: %d executions for %d rounds", tcp, sameTotal)
	}
	if float64(kp) > float64(n2)+0.5*float64(nodeTotal) {
		t.Errorf("kube-proxy checks: %d executions for %d rounds on n1 and %d on n2", kp, nodeTotal, n2)
	}
	// Every round recorded ran its check or took another's result (a run cut
	// short by the stop is counted but not recorded).
	taken := uint64(testmetrics.Value(t, reg, "lbdns_probes_shared_total", "kind", string(TCP)) + testmetrics.Value(t, reg, "lbdns_probes_shared_total", "kind", string(KubeProxy)))
	if total := sameTotal + nodeTotal + n2; taken == 0 || uint64(tcp+kp)+taken < total {
		t.Errorf("%d executions + %d shared results for %d rounds", tcp+kp, taken, total)
	}
	if uint64(kp) < n2 {
		t.Errorf("n2's node checks were shared with n1's: %d executions, n2 alone had %d rounds", kp, n2)
	}
}

// Fall counts distinct executions: targets that share a failing check go
// down only after fall executions of it failed, not after one shared
// failure counted twice.
func TestSharedFailuresCountOnce(t *testing.T) {
	c := newCounting()
	const fall = 3
	var atDown []int
	var mu sync.Mutex
	var s *Scheduler[string]
	s = NewScheduler[string](Options{Interval: 30 * time.Millisecond, FastInterval: 5 * time.Millisecond, Timeout: time.Second,
		Rise: 1, Fall: fall, Concurrency: 16, Funcs: map[Kind]Func{TCP: c.probe}}, func(k string) {
		if st, _ := s.Status(k); st.State == Down {
			mu.Lock()
			atDown = append(atDown, c.count(TCP))
			mu.Unlock()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); s.Wait() }()
	target := Target{IP: netip.MustParseAddr("192.0.2.1"), Spec: Spec{Checks: []Check{{Kind: TCP, Port: 80}}}}
	s.Update(ctx, map[string]Target{"a": target, "b": target, "c": target}, nil)
	testwait.For(t, "up", func() bool { _, least := rounds(s, []string{"a", "b", "c"}); return least >= 2 })
	before := c.count(TCP)
	c.fail.Store(true)
	testwait.For(t, "all down", func() bool { mu.Lock(); defer mu.Unlock(); return len(atDown) == 3 })
	for _, n := range atDown {
		if n-before < fall {
			t.Errorf("a target went down after %d failed executions; fall is %d", n-before, fall)
		}
	}
}

func TestNextOnGrid(t *testing.T) {
	period := 2 * time.Second
	now := time.Unix(1_700_000_000, 123_456_789)
	seen := map[int64]bool{}
	for phase := range uint64(200) {
		at := nextOnGrid(now, period, phase*0x9e3779b97f4a7c15, 0.1)
		if d := at.Sub(now); d < period/4 || d > 2*period {
			t.Fatalf("phase %d: next probe in %s", phase, d)
		}
		// Two targets of the phase probed at that moment; one round took
		// longer: both probe next at the same moment again.
		next1 := nextOnGrid(at.Add(time.Millisecond), period, phase*0x9e3779b97f4a7c15, 0.1)
		next2 := nextOnGrid(at.Add(300*time.Millisecond), period, phase*0x9e3779b97f4a7c15, 0.1)
		if !next1.Equal(next2) {
			t.Fatalf("phase %d: two targets of one phase probe next at %s and %s", phase, next1, next2)
		}
		seen[at.Sub(now).Milliseconds()/100] = true
	}
	if len(seen) < 12 { // 200 phases over 20 slots of 100 ms
		t.Errorf("phases spread over only %d of 20 tenths of the period", len(seen))
	}
}
