package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sirupsen/logrus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"sigs.k8s.io/external-dns/endpoint"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/provider/crd"
	"github.com/lbdns/lbdns/provider/standalone"
)

// writers runs the outputs that write (standalone updater, DNSEndpoints).
type writers struct {
	cfg     config.Config
	ctl     *controller.Controller
	restCfg *rest.Config
	log     *slog.Logger
	m       *metrics.Metrics
	// leading is set while this replica leads (it gates events).
	leading *atomic.Bool
}

// run runs every configured writer until ctx is done.
func (w writers) run(ctx context.Context) {
	var wg sync.WaitGroup
	if w.cfg.Provider != "" {
		wg.Go(func() { w.runStandalone(ctx) })
	}
	if w.cfg.CRDNamespace != "" {
		wg.Go(func() { w.runCRD(ctx) })
	}
	wg.Wait()
}

// runStandalone sets up the provider, retrying while it is unreachable (a
// webhook provider must answer to be set up), then runs the updater.
func (w writers) runStandalone(ctx context.Context) {
	log := w.log.With("output", w.cfg.Provider)
	var setup standalone.Setup
	for delay := time.Second; ; delay = min(2*delay, 30*time.Second) {
		var err error
		if setup, err = standalone.NewSetup(ctx, w.cfg); err == nil {
			break
		}
		log.Error("setting up the DNS provider failed; will retry", "err", err, "retryIn", delay.String())
		w.m.SyncTotal.WithLabelValues(w.cfg.Provider, "error").Inc()
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
	log.Info("standalone updater running", "owner", w.cfg.TXTOwnerID, "policy", w.cfg.Policy,
		"domains", w.cfg.DomainFilter, "syncInterval", w.cfg.SyncInterval.String())
	standalone.New(w.ctl, w.ctl, standalone.Options{
		Output:       w.cfg.Provider,
		Registry:     setup.Registry,
		Policy:       setup.Policy,
		DomainFilter: setup.DomainFilter,
		SyncInterval: w.cfg.SyncInterval,
		Logger:       w.log,
		Metrics:      w.m,
	}).Run(ctx)
}

func (w writers) runCRD(ctx context.Context) {
	client, err := dynamic.NewForConfig(w.restCfg)
	if err != nil {
		w.log.Error("creating the dynamic client failed", "err", err)
		return
	}
	w.log.Info("DNSEndpoint writer running", "namespace", w.cfg.CRDNamespace)
	crd.New(client, w.ctl, w.ctl, crd.Options{
		Namespace:    w.cfg.CRDNamespace,
		DomainFilter: endpoint.NewDomainFilter(w.cfg.DomainFilter),
		SyncInterval: w.cfg.SyncInterval,
		Logger:       w.log,
		Metrics:      w.m,
	}).Run(ctx)
}

// runWriters runs the writers directly, or only while this replica holds the
// Lease when leader election is on. Readers (connector) never wait for it.
func runWriters(ctx context.Context, w writers, client kubernetes.Interface) error {
	if !w.cfg.Writers() {
		return nil
	}
	if !w.cfg.LeaderElect {
		w.m.Leader.Set(1)
		w.run(ctx)
		return nil
	}
	host, _ := os.Hostname()
	id := fmt.Sprintf("%s_%d_%d", host, os.Getpid(), time.Now().UnixNano())
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1ObjectMeta("lbdns", w.cfg.LeaderElectNamespace),
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: id},
	}
	for ctx.Err() == nil {
		le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
			Lock:            lock,
			LeaseDuration:   w.cfg.LeaseDuration,
			RenewDeadline:   w.cfg.RenewDeadline,
			RetryPeriod:     w.cfg.RetryPeriod,
			ReleaseOnCancel: true,
			Name:            "lbdns",
			Callbacks: leaderelection.LeaderCallbacks{
				OnStartedLeading: func(ctx context.Context) {
					w.log.Info("became leader: writing", "identity", id)
					w.m.Leader.Set(1)
					w.leading.Store(true)
					w.run(ctx)
				},
				OnStoppedLeading: func() {
					w.log.Info("not the leader: writers stopped", "identity", id)
					w.m.Leader.Set(0)
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

// configureLogrus makes the external-dns libraries (which log with logrus)
// follow lbdns's level and format.
func configureLogrus(cfg config.Config) {
	level, err := logrus.ParseLevel(cfg.LogLevel)
	if err != nil {
		level = logrus.InfoLevel
	}
	logrus.SetLevel(level)
	logrus.SetOutput(os.Stderr)
	if cfg.LogFormat == "json" {
		logrus.SetFormatter(&logrus.JSONFormatter{})
	}
}

func metav1ObjectMeta(name, namespace string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: namespace}
}
