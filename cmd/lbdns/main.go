// Command lbdns publishes health-checked, weighted multi-A/AAAA records for
// Kubernetes LoadBalancer Services that share a hostname. Configuration comes
// from LBDNS_* environment variables; see --help.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/httpserver"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/provider"
	"github.com/lbdns/lbdns/provider/connector"
	"github.com/lbdns/lbdns/provider/dnsserver"
	"github.com/lbdns/lbdns/source"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	if err := run(os.Args[1:], os.Environ(), os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "lbdns:", err)
		os.Exit(1)
	}
}

func run(args, environ []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("lbdns", flag.ContinueOnError)
	fs.SetOutput(stdout)
	showVersion := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() { usage(stdout) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Fprintf(stdout, "lbdns %s (%s)\n", version, runtime.Version())
		return nil
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: lbdns is configured by LBDNS_* environment variables (see --help)", fs.Args())
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	log := newLogger(cfg)
	configureLogrus(cfg)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, cfg, log)
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `lbdns %s: health-checked multi-A/AAAA records for LoadBalancer Services, for external-dns.

Usage: lbdns [--help] [--version]

lbdns is configured by environment variables. Kubernetes access: in-cluster,
else the standard kubeconfig rules (KUBECONFIG, ~/.kube/config).

`, version)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "VARIABLE\tDEFAULT\tMEANING")
	for _, v := range config.Variables() {
		def := v.Default
		if def == "" {
			def = `""`
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, def, v.Help)
	}
	tw.Flush()
}

func newLogger(cfg config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(os.Stderr, opts))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, opts))
}

func kubeConfig() (*rest.Config, error) {
	if c, err := rest.InClusterConfig(); err == nil {
		return c, nil
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	c, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, nil).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("no in-cluster config and no usable kubeconfig (set KUBECONFIG): %w", err)
	}
	return c, nil
}

// serve wires everything and runs until ctx is done.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger) error {
	restCfg, err := kubeConfig()
	if err != nil {
		return err
	}
	restCfg.UserAgent = "lbdns/" + version
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return fmt.Errorf("creating Kubernetes client: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := metrics.New(reg)
	m.BuildInfo.WithLabelValues(version, runtime.Version()).Set(1)

	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	// With leader election only the leader sends events; otherwise every
	// replica would put its own copy on the Service.
	eventsOpen := &atomic.Bool{}
	eventsOpen.Store(!(cfg.LeaderElect && cfg.Writers()))
	recorder := gatedRecorder{inner: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "lbdns"}), open: eventsOpen}

	svcFactory := informers.NewSharedInformerFactoryWithOptions(client, 0,
		informers.WithNamespace(cfg.Namespace), informers.WithTransform(source.Trim))
	nodeFactory := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithTransform(source.Trim))
	svcInformer := svcFactory.Core().V1().Services()
	sliceInformer := svcFactory.Discovery().V1().EndpointSlices()
	nodeInformer := nodeFactory.Core().V1().Nodes()
	reader, err := source.NewClusterReader(svcInformer, sliceInformer, nodeInformer)
	if err != nil {
		return err
	}

	ctl := newController(cfg, reader, recorder, log, m)
	if err := ctl.AddEventHandlers(svcInformer.Informer(), sliceInformer.Informer(), nodeInformer.Informer()); err != nil {
		return err
	}

	// Listen before the caches sync: /healthz answers at once, and
	// external-dns's connections are held instead of refused.
	ls, err := openListeners(cfg)
	if err != nil {
		return err
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 4)
	httpSrv := &http.Server{Handler: httpserver.Handler(ctl, reg), ReadHeaderTimeout: 10 * time.Second}
	wg.Go(func() {
		if err := httpSrv.Serve(ls.http); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("HTTP server: %w", err)
		}
	})
	log.Info("lbdns starting", "version", version, "http", ls.http.Addr().String(), "connector", cfg.ConnectorAddr,
		"namespace", cfg.Namespace, "probeInterval", cfg.ProbeInterval.String(), "fall", cfg.ProbeFall, "rise", cfg.ProbeRise)
	if ls.connector != nil {
		srv := connector.New(provider.Snapshots(ctl), ctl, connector.Options{Logger: log, Metrics: m})
		wg.Go(func() {
			if err := srv.Serve(ctx, ls.connector); err != nil {
				errc <- fmt.Errorf("connector: %w", err)
			}
		})
	}

	if ls.dnsUDP != nil {
		srv := dnsserver.New(ctl, dnsserver.Options{Zones: cfg.DNSZones, NS: cfg.DNSNS, Hostmaster: cfg.DNSHostmaster,
			Ready: ctl.IsReady, Logger: log, Metrics: m})
		wg.Go(func() {
			if err := srv.ServeOn(ctx, ls.dnsUDP, ls.dnsTCP); err != nil {
				errc <- err
			}
		})
	}

	svcFactory.Start(ctx.Done())
	nodeFactory.Start(ctx.Done())
	defer svcFactory.Shutdown()
	defer nodeFactory.Shutdown()
	if err := waitForSync(ctx, cfg.CacheSyncTimeout, svcFactory, nodeFactory); err != nil {
		cancel()
		shutdownHTTP(httpSrv)
		wg.Wait()
		return err
	}
	log.Info("informer caches synced")
	wg.Go(func() { ctl.Run(ctx) })
	wg.Go(func() {
		w := writers{cfg: cfg, ctl: ctl, restCfg: restCfg, log: log, m: m, leading: eventsOpen}
		if err := runWriters(ctx, w, client); err != nil {
			errc <- err
		}
	})

	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err = <-errc:
		log.Error("stopping", "err", err)
	}
	cancel()
	shutdownHTTP(httpSrv)
	wg.Wait()
	return err
}

func shutdownHTTP(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(ctx)
}

func waitForSync(ctx context.Context, timeout time.Duration, factories ...informers.SharedInformerFactory) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for _, f := range factories {
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return fmt.Errorf("informer cache for %v did not sync within LBDNS_CACHE_SYNC_TIMEOUT=%s: check that the API server is reachable and that lbdns may list and watch Services, EndpointSlices and Nodes", typ, timeout)
			}
		}
	}
	return nil
}

func newController(cfg config.Config, reader controller.ClusterReader, recorder record.EventRecorder,
	log *slog.Logger, m *metrics.Metrics) *controller.Controller {
	return controller.New(reader, controller.Options{
		Build: source.Options{
			AnnotationPrefix:    cfg.AnnotationPrefix,
			DefaultTTL:          cfg.TTL,
			KubeProxyHealthPort: cfg.KubeProxyHealthPort,
		},
		FailOpen: cfg.FailOpen,
		Probe: probe.Options{
			Interval: cfg.ProbeInterval, Timeout: cfg.ProbeTimeout,
			Rise: cfg.ProbeRise, Fall: cfg.ProbeFall, Jitter: cfg.ProbeJitter,
			Concurrency: cfg.ProbeConcurrency, Funcs: probe.Funcs(),
			Observe: func(kind probe.Kind, err error, took time.Duration) {
				result := "success"
				if err != nil {
					result = "failure"
				}
				m.ProbesTotal.WithLabelValues(string(kind), result).Inc()
				m.ProbeDuration.WithLabelValues(string(kind)).Observe(took.Seconds())
			},
		},
		Logger:   log,
		Recorder: recorder,
		Metrics:  m,
	})
}

// listeners are the sockets lbdns serves on; nil when that output is off.
type listeners struct {
	http, connector, dnsTCP net.Listener
	dnsUDP                  net.PacketConn
}

// openListeners opens every configured socket, or none: an address in use is
// an error that names its variable.
func openListeners(cfg config.Config) (listeners, error) {
	var ls listeners
	var err error
	fail := func(name string, err error) (listeners, error) {
		ls.close()
		return listeners{}, fmt.Errorf("%s: %w", name, err)
	}
	if ls.http, err = net.Listen("tcp", cfg.HTTPAddr); err != nil {
		return fail("LBDNS_HTTP_ADDR", err)
	}
	if cfg.ConnectorAddr != config.ConnectorOff {
		if ls.connector, err = net.Listen("tcp", cfg.ConnectorAddr); err != nil {
			return fail("LBDNS_CONNECTOR_ADDR", err)
		}
	}
	if cfg.DNSAddr != "" {
		if ls.dnsUDP, err = net.ListenPacket("udp", cfg.DNSAddr); err != nil {
			return fail("LBDNS_DNS_ADDR", err)
		}
		if ls.dnsTCP, err = net.Listen("tcp", cfg.DNSAddr); err != nil {
			return fail("LBDNS_DNS_ADDR", err)
		}
	}
	return ls, nil
}

func (ls listeners) close() {
	for _, l := range []net.Listener{ls.http, ls.connector, ls.dnsTCP} {
		if l != nil {
			l.Close()
		}
	}
	if ls.dnsUDP != nil {
		ls.dnsUDP.Close()
	}
}
