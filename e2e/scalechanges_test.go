package e2e

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// changeTimes is one Service change seen from outside lbdns, each time
// since the API server answered the PATCH: when a watcher of its own (in
// this process, like lbdns's informer) received the event, and when the
// embedded DNS first answered the new IP.
type changeTimes struct{ watched, answered time.Duration }

// scaleChanges moves one Service at a time to a new LB IP (the run's next n
// changes, counted in changed) with a JSON merge PATCH of its status, as a cloud
// controller does, 500 ms apart, and measures lbdns's CPU per change (above
// idle). With poll, a UDP client asks lbdns for the hostname every
// millisecond from before the PATCH, and a watch of the Services times the
// API server's delivery: where the time of a change goes.
func (e *env) scaleChanges(b *testing.B, client kubernetes.Interface, w scaleWorkload, l *lbdnsProc, changed *int, n int, poll bool, idle float64) ([]changeTimes, float64) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var watched *serviceEvents
	if poll {
		watched = watchScaleServices(ctx, b, client)
	}
	var out []changeTimes
	passes0, busy0 := l.histogram(b, "lbdns_reconcile_duration_seconds")
	cpu0, start := cpuTime(b, l.Proc), time.Now()
	for range n {
		c := *changed
		*changed++
		i := (c * 7919) % w.created // spread over the hostnames
		ip := changedIP(c)
		var poller *answerPoller
		if poll {
			poller = startAnswerPoller(b, l.dns, w.hostname(i), ip.String())
		}
		patch := fmt.Sprintf(`{"status":{"loadBalancer":{"ingress":[{"ip":%q}]}}}`, ip)
		if _, err := client.CoreV1().Services(scaleNamespace).Patch(ctx, w.name(i), types.MergePatchType, []byte(patch),
			metav1.PatchOptions{}, "status"); err != nil {
			b.Fatal(err)
		}
		accepted := time.Now()
		if poll {
			answered := poller.wait(b, 10*time.Second)
			out = append(out, changeTimes{watched: watched.waitFor(b, w.name(i), ip.String()).Sub(accepted), answered: answered.Sub(accepted)})
		}
		// One after another, not a storm: further apart than the gap
		// between two reconciles.
		time.Sleep(500 * time.Millisecond)
	}
	cpu := cpuTime(b, l.Proc) - cpu0 - idle*time.Since(start).Seconds()
	passes, busy := l.histogram(b, "lbdns_reconcile_duration_seconds")
	fmt.Printf("scalebench: %d changes: %.0f reconciles, %.2f ms each on average; %.2f ms of CPU per change\n",
		n, passes-passes0, (busy-busy0)/max(1, passes-passes0)*1000, cpu/float64(n)*1000)
	return out, cpu / float64(n)
}

// serviceEvents records when a watch of the scale namespace's Services
// received each Service with each first LB IP.
type serviceEvents struct {
	mu   sync.Mutex
	seen map[string]time.Time // name/ip
}

func watchScaleServices(ctx context.Context, b *testing.B, client kubernetes.Interface) *serviceEvents {
	list, err := client.CoreV1().Services(scaleNamespace).List(ctx, metav1.ListOptions{Limit: 1})
	if err != nil {
		b.Fatal(err)
	}
	wi, err := client.CoreV1().Services(scaleNamespace).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		b.Fatal(err)
	}
	ev := &serviceEvents{seen: map[string]time.Time{}}
	go func() {
		defer wi.Stop()
		for e := range wi.ResultChan() {
			svc, ok := e.Object.(*corev1.Service)
			if !ok || e.Type != watch.Modified || len(svc.Status.LoadBalancer.Ingress) == 0 {
				continue
			}
			ev.mu.Lock()
			ev.seen[svc.Name+"/"+svc.Status.LoadBalancer.Ingress[0].IP] = time.Now()
			ev.mu.Unlock()
		}
	}()
	return ev
}

// waitFor is when the watch delivered the Service with that IP.
func (ev *serviceEvents) waitFor(b *testing.B, name, ip string) time.Time {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		ev.mu.Lock()
		t, ok := ev.seen[name+"/"+ip]
		ev.mu.Unlock()
		if ok {
			return t
		}
	}
	b.Fatalf("the watch never delivered %s with %s", name, ip)
	return time.Time{}
}

// answerPoller asks a DNS server for a name's A records every millisecond
// over one UDP socket and notes when an answer first holds want.
type answerPoller struct {
	conn *net.UDPConn
	done chan time.Time
}

func startAnswerPoller(b *testing.B, server, name, want string) *answerPoller {
	raddr, err := net.ResolveUDPAddr("udp", server)
	if err != nil {
		b.Fatal(err)
	}
	conn, err := net.DialUDP("udp", nil, raddr)
	if err != nil {
		b.Fatal(err)
	}
	p := &answerPoller{conn: conn, done: make(chan time.Time, 1)}
	q := new(dns.Msg)
	q.SetQuestion(dns.Fqdn(name), dns.TypeA)
	query, err := q.Pack()
	if err != nil {
		b.Fatal(err)
	}
	go func() { // the sender: bounded by the reader closing the socket
		for t := time.NewTicker(time.Millisecond); ; <-t.C {
			if _, err := conn.Write(query); err != nil {
				t.Stop()
				return
			}
		}
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			at := time.Now()
			r := new(dns.Msg)
			if r.Unpack(buf[:n]) == nil && slices.ContainsFunc(r.Answer, func(rr dns.RR) bool {
				a, ok := rr.(*dns.A)
				return ok && a.A.String() == want
			}) {
				p.done <- at
				return
			}
		}
	}()
	return p
}

// wait returns when the answer first held the IP, and stops the poller.
func (p *answerPoller) wait(b *testing.B, limit time.Duration) time.Time {
	defer p.conn.Close()
	select {
	case at := <-p.done:
		return at
	case <-time.After(limit):
		b.Fatalf("no answer held the new IP within %s", limit)
		return time.Time{}
	}
}

// splitChangeTimes returns the watch and the answer times of the changes.
func splitChangeTimes(c []changeTimes) (watched, answered []time.Duration) {
	for _, t := range c {
		watched = append(watched, t.watched)
		answered = append(answered, t.answered)
	}
	return watched, answered
}

// scaleClient is the admin's client speaking protobuf, as controllers do:
// the API server's cheapest path, for the create storms.
func scaleClient(b *testing.B, e *env) kubernetes.Interface {
	cfg, err := clientcmd.BuildConfigFromFlags("", e.cp.AdminKubeconfig)
	if err != nil {
		b.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 2000, 4000
	cfg.ContentType = "application/vnd.kubernetes.protobuf"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	return client
}

// envInts reads a comma-separated list of sizes.
func envInts(b *testing.B, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for f := range strings.SplitSeq(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(out) > 0 && n <= out[len(out)-1]) {
			b.Fatalf("%s=%q: want growing positive sizes, e.g. 1000,10000", name, v)
		}
		out = append(out, n)
	}
	return out
}

// histogram is the count and sum of one of lbdns's histograms (without
// labels).
func (l *lbdnsProc) histogram(b *testing.B, name string) (count, sum float64) {
	families, err := framework.MetricFamilies("http://" + l.http + "/metrics")
	if err != nil {
		b.Fatal(err)
	}
	for _, m := range families[name].GetMetric() {
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount()), h.GetSampleSum()
		}
	}
	b.Fatalf("lbdns has no histogram %s", name)
	return 0, 0
}
