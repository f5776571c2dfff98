package standalone

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/external-dns/endpoint"
	"sigs.k8s.io/external-dns/pkg/apis/externaldns"
	"sigs.k8s.io/external-dns/plan"
	"sigs.k8s.io/external-dns/provider/inmemory"
	"sigs.k8s.io/external-dns/registry"
	"sigs.k8s.io/external-dns/registry/txt"

	"github.com/lbdns/lbdns/internal/testmetrics"
	"github.com/lbdns/lbdns/internal/testsnap"
	"github.com/lbdns/lbdns/internal/testwait"
	"github.com/lbdns/lbdns/provider"
)

const zone = "example.com"

// newZone returns external-dns's in-memory provider holding one record lbdns
// does not own, and a TXT registry for owner lbdns over it.
func newZone(t *testing.T) (*inmemory.InMemoryProvider, registry.Registry) {
	t.Helper()
	p := inmemory.NewInMemoryProvider(inmemory.InMemoryInitZones([]string{zone}))
	err := p.ApplyChanges(context.Background(), &plan.Changes{Create: []*endpoint.Endpoint{
		endpoint.NewEndpoint("foreign."+zone, endpoint.RecordTypeA, "192.0.2.99"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	cfg := externaldns.NewConfig()
	cfg.TXTOwnerID = "lbdns"
	cfg.ManagedDNSRecordTypes = ManagedRecordTypes
	reg, err := txt.New(cfg, p)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

// records renders the zone as sorted "name type targets" lines.
func records(t *testing.T, p *inmemory.InMemoryProvider) []string {
	t.Helper()
	eps, err := p.Records(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ep := range eps {
		ts := slices.Clone([]string(ep.Targets))
		slices.Sort(ts)
		out = append(out, ep.DNSName+" "+ep.RecordType+" "+strings.Join(ts, ","))
	}
	slices.Sort(out)
	return out
}

var snapshot = testsnap.Build

// loopOver returns the loop production runs the writer in, for its Sync.
func loopOver(w *Writer) *provider.WriteLoop {
	return provider.NewWriteLoop(nil, nil, w, provider.LoopOptions{Output: "test"})
}

func has(lines []string, want string) bool { return slices.Contains(lines, want) }

func TestSyncWritesOnlyWhatItOwns(t *testing.T) {
	p, reg := newZone(t)
	w := loopOver(newWriter(reg, &plan.SyncPolicy{}, nil))
	ctx := context.Background()
	app := "app." + zone

	if err := w.Sync(ctx, snapshot(1, map[string][]string{app: {"192.0.2.1", "192.0.2.2"}, "foreign." + zone: {"192.0.2.3"}})); err != nil {
		t.Fatal(err)
	}
	got := records(t, p)
	if !has(got, app+" A 192.0.2.1,192.0.2.2") || !has(got, "foreign."+zone+" A 192.0.2.99") {
		t.Fatalf("after the first sync: %q", got)
	}
	if !slices.ContainsFunc(got, func(l string) bool {
		return strings.HasPrefix(l, "a-"+app+" TXT") && strings.Contains(l, "owner=lbdns")
	}) {
		t.Fatalf("no TXT ownership record: %q", got)
	}

	if err := w.Sync(ctx, snapshot(2, map[string][]string{app: {"192.0.2.2"}})); err != nil {
		t.Fatal(err)
	}
	if got := records(t, p); !has(got, app+" A 192.0.2.2") {
		t.Fatalf("after a withdrawal: %q", got)
	}

	if err := w.Sync(ctx, snapshot(3, nil)); err != nil {
		t.Fatal(err)
	}
	got = records(t, p)
	if len(got) != 1 || got[0] != "foreign."+zone+" A 192.0.2.99" {
		t.Fatalf("after the hostname went: %q, want only the foreign record", got)
	}
}

// A domain filter of exactly a hostname leaves out its TXT ownership record
// (a-<name>): the name could be created but never owned. It is not written,
// and the sync fails naming it; names whose records are inside are written.
func TestDomainFilterThatCannotOwnIsAnError(t *testing.T) {
	p, reg := newZone(t)
	app, sub := "app."+zone, "x.app."+zone
	w := provider.NewWriteLoop(nil, nil, newWriter(reg, &plan.SyncPolicy{}, nil),
		provider.LoopOptions{Output: "test", DomainFilter: endpoint.NewDomainFilter([]string{app})})
	err := w.Sync(context.Background(), snapshot(1, map[string][]string{app: {"192.0.2.1"}, sub: {"192.0.2.2"}}))
	if err == nil || !strings.Contains(err.Error(), "LBDNS_DOMAIN_FILTER") || !strings.Contains(err.Error(), "a-"+app) {
		t.Fatalf("sync: %v, want an error naming the filter and a-%s", err, app)
	}
	got := records(t, p)
	if slices.ContainsFunc(got, func(l string) bool { return strings.HasPrefix(l, app+" ") }) || !has(got, sub+" A 192.0.2.2") {
		t.Errorf("records %q: want %s written and %s not", got, sub, app)
	}
}

func TestUpsertOnlyNeverDeletes(t *testing.T) {
	p, reg := newZone(t)
	w := loopOver(newWriter(reg, &plan.UpsertOnlyPolicy{}, nil))
	ctx := context.Background()
	app := "app." + zone
	if err := w.Sync(ctx, snapshot(1, map[string][]string{app: {"192.0.2.1"}})); err != nil {
		t.Fatal(err)
	}
	if err := w.Sync(ctx, snapshot(2, nil)); err != nil {
		t.Fatal(err)
	}
	if got := records(t, p); !has(got, app+" A 192.0.2.1") {
		t.Fatalf("upsert-only deleted: %q", got)
	}
}

// flaky fails the first n ApplyChanges, as a provider outage would. It also
// serialises access, since the in-memory provider is not safe for
// concurrent use and the test reads while the writer writes.
type flaky struct {
	registry.Registry
	failures atomic.Int32
	mu       sync.Mutex
}

func (f *flaky) Records(ctx context.Context) ([]*endpoint.Endpoint, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.Registry.Records(ctx)
}

func (f *flaky) ApplyChanges(ctx context.Context, c *plan.Changes) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failures.Add(-1) >= 0 {
		return errors.New("provider unavailable")
	}
	return f.Registry.ApplyChanges(ctx, c)
}

func (f *flaky) records(t *testing.T, p *inmemory.InMemoryProvider) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return records(t, p)
}

func TestRunRetriesAndFollowsChanges(t *testing.T) {
	p, reg := newZone(t)
	f := &flaky{Registry: reg}
	f.failures.Store(2)
	metricsReg := prometheus.NewRegistry()
	app := "app." + zone
	s := testsnap.NewFeed(snapshot(1, map[string][]string{app: {"192.0.2.1"}}))
	w := provider.NewWriteLoop(s, s, newWriter(f, nil, nil), provider.LoopOptions{Output: "test", SyncInterval: time.Hour,
		MinBackoff: 10 * time.Millisecond, Debounce: 10 * time.Millisecond, Metrics: provider.NewMetrics(metricsReg)})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	// Nothing is written before ready.
	time.Sleep(50 * time.Millisecond)
	if got := f.records(t, p); len(got) != 1 {
		t.Fatalf("written before ready: %q", got)
	}
	s.MakeReady()
	testwait.For(t, "the first record after two failures", func() bool { return has(f.records(t, p), app+" A 192.0.2.1") })
	if v := testmetrics.Value(t, metricsReg, "lbdns_sync_total", "output", "test", "result", "error"); v != 2 {
		t.Errorf("lbdns_sync_total{result=error} = %v, want 2", v)
	}
	s.Set(snapshot(2, map[string][]string{app: {"192.0.2.1", "192.0.2.2"}}))
	testwait.For(t, "the change written", func() bool { return has(f.records(t, p), app+" A 192.0.2.1,192.0.2.2") })
}

// A dry run reads and plans as a real sync does, shows the plan in the
// output's status, and changes nothing.
func TestDryRunChangesNothing(t *testing.T) {
	p, reg := newZone(t)
	obs := &provider.SyncObserver{Output: "test"}
	w := provider.NewWriteLoop(nil, nil, newWriter(reg, &plan.SyncPolicy{}, nil), provider.LoopOptions{Output: "test", DryRun: true, Observer: obs})
	before := records(t, p)
	app := "app." + zone
	if err := w.Sync(context.Background(), snapshot(1, map[string][]string{app: {"192.0.2.2", "192.0.2.1"}, "foreign." + zone: {"192.0.2.3"}})); err != nil {
		t.Fatal(err)
	}
	if got := records(t, p); !slices.Equal(got, before) {
		t.Fatalf("a dry run changed the zone: %q, was %q", got, before)
	}
	st := obs.Status()
	want := provider.Change{Action: "create", Name: app + " A", Records: []string{"192.0.2.1", "192.0.2.2"}}
	if !st.DryRun || len(st.Plan) != 1 || st.Plan[0].String() != want.String() {
		t.Fatalf("status: dry run %v, plan %v; want [%v] (the foreign name is not ours)", st.DryRun, st.Plan, want)
	}
}
