package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/provider"
	"github.com/lbdns/lbdns/provider/crd"
	"github.com/lbdns/lbdns/provider/standalone"
)

// writers runs the outputs that write (standalone updater, DNSEndpoints).
type writers struct {
	cfg     config.Config
	ctl     *controller.Controller
	restCfg *rest.Config
	log     *slog.Logger
	m       allMetrics
	outputs *provider.Outputs
	// leading is set while this replica holds the Lease (it gates events).
	leading *atomic.Bool
	// migrateFrom is an owner ID whose records the standalone updater
	// adopts: the old default, when the owner ID was derived.
	migrateFrom string
	// once, if set, makes the writers sync once (lbdns --once) and then
	// calls it; lbdns stops.
	once func()
}

// onceTimeout bounds lbdns --once: the caches, the first probe round, the
// Lease (with leader election) and the sync must all be done within it.
const onceTimeout = 5 * time.Minute

// build returns the configured writers, each in its write loop, writing only
// while fence allows.
func (w writers) build(fence func() error) ([]*provider.WriteLoop, error) {
	loop := func(output string, wr provider.Writer) *provider.WriteLoop {
		w.m.writers.WithLabelValues(output).Set(1)
		return provider.NewWriteLoop(w.ctl, w.ctl, wr, provider.LoopOptions{
			Output:       output,
			DomainFilter: endpoint.NewDomainFilter(w.cfg.Standalone.DomainFilter),
			Fence:        fence,
			SyncInterval: w.cfg.Writers.SyncInterval,
			Logger:       w.log,
			Observer:     w.outputs.Observer(output),
			Metrics:      w.m.outputs,
			DryRun:       w.cfg.Writers.DryRun,
		})
	}
	var loops []*provider.WriteLoop
	if w.cfg.Standalone.Provider != "" {
		opts := standaloneOptions(w.cfg, w.log)
		opts.MigrateFromOwnerID = w.migrateFrom
		opts.RFC2136.OnConflict = func() { w.m.outputs.UpdateConflict(w.cfg.Standalone.Provider) }
		sw, err := standalone.New(opts)
		if err != nil {
			return nil, fmt.Errorf("LBDNS_PROVIDER=%s, LBDNS_POLICY=%s: %w", w.cfg.Standalone.Provider, w.cfg.Standalone.Policy, err)
		}
		w.log.Info("standalone updater configured", "output", w.cfg.Standalone.Provider, "owner", w.cfg.Standalone.TXTOwnerID, "policy", w.cfg.Standalone.Policy,
			"domains", w.cfg.Standalone.DomainFilter, "syncInterval", w.cfg.Writers.SyncInterval.String())
		loops = append(loops, loop(w.cfg.Standalone.Provider, sw))
	}
	if w.cfg.Writers.CRDNamespace != "" {
		client, err := dynamic.NewForConfig(w.restCfg)
		if err != nil {
			return nil, fmt.Errorf("creating the dynamic client: %w", err)
		}
		w.log.Info("DNSEndpoint writer configured", "namespace", w.cfg.Writers.CRDNamespace)
		loops = append(loops, loop(crd.Output, crd.New(client, w.cfg.Writers.CRDNamespace, w.log.With("output", crd.Output))))
	}
	return loops, nil
}

func standaloneOptions(cfg config.Config, log *slog.Logger) standalone.Options {
	return standalone.Options{
		Provider: cfg.Standalone.Provider,
		RFC2136: standalone.RFC2136Options{
			Host: cfg.Standalone.RFC2136.Host, Port: cfg.Standalone.RFC2136.Port, Zones: splitList(cfg.Standalone.RFC2136.Zone), Insecure: cfg.Standalone.RFC2136.Insecure,
			TSIGKeyName: cfg.Standalone.RFC2136.TSIGKey, TSIGSecret: cfg.Standalone.RFC2136.TSIGSecret, TSIGSecretAlg: cfg.Standalone.RFC2136.TSIGAlg,
		},
		WebhookURL:         cfg.Standalone.WebhookURL,
		WebhookIncremental: cfg.Standalone.WebhookIncremental,
		OwnerID:            cfg.Standalone.TXTOwnerID,
		Policy:             cfg.Standalone.Policy,
		Logger:             log.With("output", cfg.Standalone.Provider),
	}
}

// runWriters runs the writers directly, or, when this replica campaigns for
// the Lease (lease set), only while it holds it. Readers (connector, DNS)
// never wait for it.
func runWriters(ctx context.Context, w writers, lease *heldLease) error {
	if lease == nil && !w.cfg.HasWriters() {
		return nil
	}
	// Every write waits for a current view; with leader election also for
	// a Lease this replica surely holds.
	fence := w.ctl.Fresh
	if lease != nil {
		fence = func() error {
			if err := lease.Held(); err != nil {
				return err
			}
			return w.ctl.Fresh()
		}
	}
	loops, err := w.build(fence)
	if err != nil {
		return err
	}
	run := func(ctx context.Context) {
		var wg sync.WaitGroup
		for _, l := range loops {
			wg.Go(func() { l.Run(ctx) })
		}
		wg.Wait()
		<-ctx.Done() // no writers: holding the Lease is the job (the DNS serials)
	}
	var onceErr error
	if w.once != nil {
		ctx, cancel := context.WithTimeout(ctx, onceTimeout)
		defer cancel()
		run = func(ctx context.Context) {
			onceErr = syncOnce(ctx, loops)
			w.once()
		}
		err := w.runLeading(ctx, lease, run)
		if onceErr == nil && ctx.Err() == context.DeadlineExceeded {
			onceErr = fmt.Errorf("--once: not done within %s (caches, first probe round, Lease)", onceTimeout)
		}
		return errors.Join(err, onceErr)
	}
	return w.runLeading(ctx, lease, run)
}

// runLeading runs run at once, or, with a Lease, while this replica holds it.
func (w writers) runLeading(ctx context.Context, lease *heldLease, run func(context.Context)) error {
	if lease == nil {
		w.m.leader.Set(1)
		run(ctx)
		return nil
	}
	return w.campaign(ctx, lease, run)
}

// syncOnce syncs every writer once (lbdns --once) and says which failed.
func syncOnce(ctx context.Context, loops []*provider.WriteLoop) error {
	errs := make([]error, len(loops))
	var wg sync.WaitGroup
	for i, l := range loops {
		wg.Go(func() {
			if err := l.RunOnce(ctx); err != nil {
				errs[i] = fmt.Errorf("%s: %w", l.Output(), err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// newLease returns the Lease lock of this replica; writes are allowed for
// the renew deadline after each renewal (client-go's leader gives up after
// it, and no other replica can take over before the lease duration).
func newLease(cfg config.Config, client kubernetes.Interface) *heldLease {
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s_%d_%d", host, os.Getpid(), time.Now().UnixNano())
	return &heldLease{valid: cfg.LeaderElection.RenewDeadline, Interface: &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: cfg.LeaderElection.Name, Namespace: cfg.LeaderElection.Namespace},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}}
}

// campaign runs the writers while this replica holds the Lease, and
// campaigns again whenever it lost it, until ctx is done.
func (w writers) campaign(ctx context.Context, lock *heldLease, run func(context.Context)) error {
	id := lock.Identity()
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   w.cfg.LeaderElection.LeaseDuration,
			RenewDeadline:   w.cfg.LeaderElection.RenewDeadline,
			RetryPeriod:     w.cfg.LeaderElection.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            w.cfg.LeaderElection.Name,
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					w.log.Info("became leader: writing", "identity", id)
					w.m.leader.Set(1)
					w.leading.Store(true)
					run(ctx)
				},
				OnStoppedLeading: func() {
					w.log.Info("not the leader: writers stopped", "identity", id)
					w.m.leader.Set(0)
					w.leading.Store(false)
				},
				OnNewLeader: func(identity string) {
					if identity != id {
						w.log.Info("leader is another replica", "leader", identity)
					}
				},
			},
		})
		if err != nil {
			return fmt.Errorf("leader election: %w", err)
		}
		le.Run(ctx) // returns when leadership is lost or ctx is done; then campaign again
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
