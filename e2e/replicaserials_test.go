package e2e

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
	"github.com/miekg/dns"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const zoneRep = "rep.test" // served by three lbdns replicas, transferred by a BIND secondary that lists them all

// TestReplicaSerials runs three replicas of lbdns's embedded DNS with zone
// transfers and leader election (as the chart does), and a real BIND
// secondary that all three NOTIFY. After every withdrawal
// and restore all replicas serve the same SOA serial with the same zone, and
// the secondary follows; with the Lease holder killed, the others still
// agree and the serial keeps moving forward.
func TestReplicaSerials(t *testing.T) {
	e := suite
	const prefix, lease = "rep.lbdns.io/", "lbdns-rep"
	grantSerialsConfigMap(t, e, lease+"-dns-serials")
	ports := make([]int, 4)
	for i := range ports {
		p, err := framework.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		ports[i] = p
	}
	secondary := fmt.Sprintf("127.0.0.1:%d", ports[3])
	host := "app." + zoneRep
	// Each backend dies and returns once: a second flap within a minute
	// would be damped (held withdrawn), by design.
	a, b, c, d := newBackend(t, "127.0.42.1"), newBackend(t, "127.0.42.2"), newBackend(t, "127.0.42.3"), newBackend(t, "127.0.42.4")
	all := []string{a.ip.String(), b.ip.String(), c.ip.String(), d.ip.String()}
	without := func(bk *backend) []string {
		return slices.DeleteFunc(slices.Clone(all), func(ip string) bool { return ip == bk.ip.String() })
	}
	for _, bk := range []*backend{a, b, c, d} {
		e.createService(t, lbService{name: "rep-" + strings.ReplaceAll(bk.ip.String(), ".", "-"), hostname: host, backend: bk, prefix: prefix})
	}
	var reps []*lbdnsProc
	for i := range 3 {
		l, err := e.newLbdns(fmt.Sprintf("lbdns-rep-%d", i+1), "LBDNS_ANNOTATION_PREFIX="+prefix,
			fmt.Sprintf("LBDNS_DNS_ADDR=127.0.0.1:%d", ports[i]), "LBDNS_DNS_ZONES="+zoneRep, "LBDNS_DNS_RRL_EXEMPT=127.0.0.0/8",
			"LBDNS_DNS_TRANSFER_ALLOW=127.0.0.0/8", "LBDNS_DNS_TSIG_NAME="+tsigKeyName, "LBDNS_DNS_TSIG_SECRET="+e.bind.TSIGSecret,
			"LBDNS_DNS_NOTIFY="+secondary, "LBDNS_LEADER_ELECT=true", "LBDNS_LEADER_ELECT_NAMESPACE=lbdns", "LBDNS_LEADER_ELECT_NAME="+lease,
			"LBDNS_LEADER_ELECT_LEASE_DURATION="+leaseDuration.String(), "LBDNS_LEADER_ELECT_RENEW_DEADLINE="+renewDeadline.String(),
			"LBDNS_LEADER_ELECT_RETRY_PERIOD="+retryPeriod.String())
		if err != nil {
			t.Fatal(err)
		}
		l.dns = fmt.Sprintf("127.0.0.1:%d", ports[i])
		if err := l.run(e); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("%s:\n%s", l.name, l.Tail(40))
			}
			l.Stop()
		})
		reps = append(reps, l)
	}
	leader := waitLeader(t, reps)
	// The secondary lists the two replicas that will survive as its
	// primaries (all three NOTIFY it): BIND 9.18 tries its primaries in
	// order on every refresh and, with one of them refusing connections,
	// left later NOTIFYs queued for a minute and more here. Agreement of
	// all three is checked on their transfers below.
	var primaries []int
	for i := range reps {
		if i != leader {
			primaries = append(primaries, ports[i])
		}
	}
	startSecondaryBind(t, e, ports[3], primaries, zoneRep, "bind-secondary-rep")

	var serials []uint32
	var slowest time.Duration
	change := func(live []*lbdnsProc, want ...string) {
		t.Helper()
		serial, took := waitReplicasAgree(t, live, host, want)
		slowest = max(slowest, took)
		if n := len(serials); n > 0 && serial <= serials[n-1] {
			t.Fatalf("serial %d after %d", serial, serials[n-1])
		}
		serials = append(serials, serial)
		waitSecondaryAt(t, secondary, serial, host, want)
	}
	change(reps, all...)
	for _, bk := range []*backend{a, b} {
		bk.Stop()
		change(reps, without(bk)...)
		bk.start(t)
		change(reps, all...)
	}
	if now := waitLeader(t, reps); now != leader {
		t.Fatalf("the Lease moved from %s to %s without a fault", reps[leader].name, reps[now].name)
	}
	if v, _, err := reps[leader].metric("lbdns_dns_zone_serial", map[string]string{"zone": zoneRep + "."}); err != nil || uint32(v) != serials[len(serials)-1] {
		t.Errorf("lbdns_dns_zone_serial = %d, %v; SOA says %d", uint32(v), err, serials[len(serials)-1])
	}
	// The holder killed, changes before another takes the Lease: each
	// replica gives them serials of its own; the new holder announces its
	// data above them, the other adopts; then changes as before.
	reps[leader].Kill()
	live := slices.Delete(slices.Clone(reps), leader, leader+1)
	c.Stop()
	change(live, without(c)...)
	c.start(t)
	change(live, all...)
	waitLeader(t, live)
	settled := waitAnnounced(t, e, live, lease+"-dns-serials", serials[len(serials)-1])
	serials = append(serials, settled)
	d.Stop()
	change(live, without(d)...)
	d.start(t)
	change(live, all...)
	waitAnnounced(t, e, live, lease+"-dns-serials", serials[len(serials)-1])

	var incremental float64
	for _, l := range live {
		v, _, _ := l.metric("lbdns_dns_transfers_total", map[string]string{"result": "served_incremental"})
		incremental += v
	}
	record(t, "PASS 3 replicas (leader election, transfers over TSIG) and a BIND secondary (primaries: the two that survive): %d serials; at each every replica served the same serial "+
		"and the same zone (AXFR) within %.2fs of all answering the change, the secondary following it; the Lease holder killed: the other two still agreed, "+
		"serials %d..%d only forward (the two changes while nobody held it settled on %d, announced by the new holder); %v IXFRs answered incrementally",
		len(serials), slowest.Seconds(), serials[0], serials[len(serials)-1], settled, incremental)
}

// waitReplicasAgree waits until every replica answers want for host, then
// until all serve one SOA serial and the same zone; it returns that serial
// and how long the agreement took after the last replica answered.
func waitReplicasAgree(t *testing.T, reps []*lbdnsProc, host string, want []string) (uint32, time.Duration) {
	t.Helper()
	for _, l := range reps {
		waitAnswerFrom(t, l.dns, host, want...)
	}
	answered := time.Now()
	var serial uint32
	err := framework.WaitFor(20*time.Second, "the replicas serving one serial and one zone", func() error {
		var got []string
		for _, l := range reps {
			rrs, err := zoneTransferFrom(l.dns, zoneRep, suite.bind.TSIGSecret)
			if err != nil {
				return fmt.Errorf("%s: %w", l.name, err)
			}
			serial = rrs[0].(*dns.SOA).Serial
			got = append(got, zoneText(rrs))
		}
		for i := range got {
			if got[i] != got[0] {
				return fmt.Errorf("%s serves\n%s\n%s serves\n%s", reps[0].name, got[0], reps[i].name, got[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return serial, time.Since(answered)
}

// waitLeader waits until one of reps holds the Lease, and returns which.
func waitLeader(t *testing.T, reps []*lbdnsProc) int {
	t.Helper()
	leader := -1
	if err := framework.WaitFor(30*time.Second, "a replica holding the Lease", func() error {
		leader = slices.IndexFunc(reps, func(l *lbdnsProc) bool { v, _, _ := l.metric("lbdns_leader", nil); return v == 1 })
		if leader < 0 {
			return fmt.Errorf("none yet")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return leader
}

// waitAnnounced waits until every replica serves one serial, at least
// from, that the ConfigMap of the agreed serials holds, and returns it.
func waitAnnounced(t *testing.T, e *env, reps []*lbdnsProc, configMap string, from uint32) uint32 {
	t.Helper()
	var serial uint32
	err := framework.WaitFor(20*time.Second, "one serial on every replica, announced in the ConfigMap", func() error {
		var got []uint32
		for _, l := range reps {
			m := new(dns.Msg)
			m.SetQuestion(dns.Fqdn(zoneRep), dns.TypeSOA)
			r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, l.dns)
			if err != nil || len(r.Answer) == 0 {
				return fmt.Errorf("SOA from %s: %v %v", l.name, r, err)
			}
			got = append(got, r.Answer[0].(*dns.SOA).Serial)
		}
		serial = got[0]
		if slices.Min(got) != slices.Max(got) || serial < from {
			return fmt.Errorf("serials %v (from %d)", got, from)
		}
		cm, err := e.cp.Client.CoreV1().ConfigMaps("lbdns").Get(context.Background(), configMap, metav1.GetOptions{})
		if err == nil && !strings.Contains(cm.Data[zoneRep], fmt.Sprintf("%d ", serial)) {
			err = fmt.Errorf("serial %d not in %q", serial, cm.Data)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return serial
}

// zoneText is a transferred zone as sorted lines, the SOA (serial) first.
func zoneText(rrs []dns.RR) string {
	var lines []string
	for _, rr := range rrs[1 : len(rrs)-1] {
		lines = append(lines, rr.String())
	}
	slices.Sort(lines)
	return rrs[0].String() + "\n" + strings.Join(lines, "\n")
}

// waitSecondaryAt waits until the secondary has serial, or a later one (a
// new Lease holder may have moved the same data on meanwhile), and answers
// want.
func waitSecondaryAt(t *testing.T, secondary string, serial uint32, host string, want []string) {
	t.Helper()
	err := framework.WaitFor(20*time.Second, fmt.Sprintf("the secondary at serial %d", serial), func() error {
		m := new(dns.Msg)
		m.SetQuestion(dns.Fqdn(zoneRep), dns.TypeSOA)
		r, _, err := (&dns.Client{Timeout: 2 * time.Second}).Exchange(m, secondary)
		if err != nil || len(r.Answer) == 0 {
			return fmt.Errorf("SOA: %v %v", r, err)
		}
		if got := r.Answer[0].(*dns.SOA).Serial; got < serial {
			return fmt.Errorf("serial %d", got)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitAnswerFrom(t, secondary, host, want...)
}

// grantSerialsConfigMap lets lbdns's ServiceAccount keep the ConfigMap of
// the agreed serials of another Lease name, as the chart's Role does for
// each release (manifests/base grants only lbdns-dns-serials).
func grantSerialsConfigMap(t *testing.T, e *env, name string) {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lbdns"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"configmaps"}, ResourceNames: []string{name}, Verbs: []string{"get", "list", "watch", "update"}},
	}}
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "lbdns"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: name},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "lbdns", Namespace: "lbdns"}}}
	if _, err := e.cp.Client.RbacV1().Roles("lbdns").Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.cp.Client.RbacV1().RoleBindings("lbdns").Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cp.Client.RbacV1().RoleBindings("lbdns").Delete(ctx, name, metav1.DeleteOptions{})
		_ = e.cp.Client.RbacV1().Roles("lbdns").Delete(ctx, name, metav1.DeleteOptions{})
		_ = e.cp.Client.CoreV1().ConfigMaps("lbdns").Delete(ctx, name, metav1.DeleteOptions{})
	})
}
