// Command lbdns publishes health-checked, weighted multi-A/AAAA records for
// Kubernetes LoadBalancer Services that share a hostname. Configuration comes
// from LBDNS_* environment variables; see --help.
package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"

	corev1 "k8s.io/api/core/v1"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/tools/record"

	"github.com/lbdns/lbdns"
	"github.com/lbdns/lbdns/apiwatch"
	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/controller"
	"github.com/lbdns/lbdns/httpserver"
	"github.com/lbdns/lbdns/probe"
	"github.com/lbdns/lbdns/provider"
	"github.com/lbdns/lbdns/source"
)

// version is the release, from the tree's VERSION file.
var version = lbdns.Version()

// commit is the commit the binary was built from, when the build says it
// (make and hack/image.sh: -ldflags "-X main.commit=..."); else the go
// tool's own stamp is used, if it made one.
var commit string

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
	checkConfig := fs.Bool("check-config", false, "validate the LBDNS_* environment, print the effective settings (secrets masked) and exit 0 or 1")
	once := fs.Bool("once", false, "sync the writers (standalone, DNSEndpoint) once, as soon as the view is complete, and exit 0 if every sync worked, else 1 (with LBDNS_DRY_RUN: plan once)")
	fs.Usage = func() { usage(stdout) }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *showVersion {
		fmt.Fprintf(stdout, "lbdns %s (%s, %s)\n", version, revision(), runtime.Version())
		return nil
	}
	if fs.NArg() > 0 && fs.Arg(0) == "agent" && fs.NArg() == 1 {
		return runAgentCommand(environ)
	}
	if fs.NArg() > 0 && fs.Arg(0) == "status" {
		return runStatusCommand(fs.Args()[1:], stdout)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: lbdns is configured by LBDNS_* environment variables (see --help)", fs.Args())
	}
	cfg, err := config.Load(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	if *checkConfig {
		for _, d := range config.Deprecated(environ) {
			fmt.Fprintln(stdout, "warning:", d)
		}
		printSettings(stdout, cfg)
		return nil
	}
	if *once && !cfg.HasWriters() {
		return fmt.Errorf("--once syncs the writers, and none is configured: set LBDNS_PROVIDER or LBDNS_CRD_NAMESPACE")
	}
	log := setupLogs(cfg.Log, os.Stderr)
	for _, d := range config.Deprecated(environ) {
		log.Warn(d)
	}
	if soft := setMemoryLimit(os.Getenv, cgroupMemoryFiles); soft > 0 {
		log.Info("Go memory limit set from the container's", "bytes", soft)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return serve(ctx, cfg, log, *once)
}

// runAgentCommand runs `lbdns agent` (the node agent) with the settings of
// the environment.
func runAgentCommand(environ []string) error {
	cfg, err := config.LoadAgent(environ)
	if err != nil {
		return fmt.Errorf("invalid configuration:\n%w", err)
	}
	setMemoryLimit(os.Getenv, cgroupMemoryFiles)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	return runAgent(ctx, cfg, newLogger(cfg.Log, os.Stderr))
}

// printSettings prints the effective configuration for --check-config.
func printSettings(w io.Writer, cfg config.Config) {
	var rows [][]string
	for _, s := range cfg.Effective() {
		rows = append(rows, []string{s.Name, s.Value})
	}
	printTable(w, []string{"VARIABLE", "EFFECTIVE VALUE"}, rows)
	fmt.Fprintln(w, "configuration is valid")
}

// printTable prints aligned columns; an empty cell shows as "".
func printTable(w io.Writer, header []string, rows [][]string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, row := range rows {
		cells := make([]string, len(row))
		for i, c := range row {
			cells[i] = cmp.Or(c, `""`)
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	tw.Flush()
}

func usage(w io.Writer) {
	fmt.Fprintf(w, `lbdns %s: health-checked multi-A/AAAA records for LoadBalancer Services, for external-dns.

Usage: lbdns [--help] [--version] [--check-config] [--once]
       lbdns status  (reads /status of a running lbdns and prints its hostnames
                      and targets as a table; lbdns status --help)
       lbdns agent   (the node agent: serves its node's IPs and interface rates
                      on LBDNS_AGENT_ADDR; run it as a DaemonSet with hostNetwork)

lbdns is configured by environment variables. Kubernetes access: in-cluster,
else the standard kubeconfig rules (KUBECONFIG, ~/.kube/config).

`, version)
	var rows [][]string
	for _, v := range config.Variables() {
		rows = append(rows, []string{v.Name, v.Default, v.Help})
	}
	printTable(w, []string{"VARIABLE", "DEFAULT", "MEANING"}, rows)
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

// serve wires everything and runs until ctx is done or a part fails.
// With once, the writers sync once and lbdns stops (lbdns --once).
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, once bool) error {
	restCfg, client, err := kubeClient()
	if err != nil {
		return err
	}
	reg, m := newRegistry()
	lease, leading := campaign(cfg, client)
	recorder, stopEvents := newRecorder(ctx, client, leading)
	defer stopEvents()

	conn := apiwatch.New(func(ctx context.Context) error {
		return client.Discovery().RESTClient().Get().AbsPath("/readyz").Do(ctx).Error()
	}, log)
	watchClusterView(reg, conn.ViewAge)
	clusters, stopClusters, err := watchClusters(ctx, cfg, restCfg, conn, recorder, leading, log)
	defer stopClusters()
	if err != nil {
		return err
	}
	ctl := newController(cfg, log, m)
	if err := addClusters(ctl, clusters, reg, cfg); err != nil {
		return err
	}
	migrateFrom, err := settleOwnerID(ctx, &cfg, client)
	if err != nil {
		return err
	}
	// Listen before the caches sync: /healthz answers at once, and
	// external-dns's connections are held instead of refused.
	ls, err := openListeners(cfg)
	if err != nil {
		return err
	}
	log.Info("lbdns starting", "version", version, "http", ls.http.Addr().String(), "connector", cfg.Connector.Addr,
		"namespace", cfg.Source.Namespace, "probeInterval", cfg.Probe.Interval.String(), "fall", cfg.Probe.Fall, "rise", cfg.Probe.Rise)

	g := newGroup(ctx)
	outputs := &provider.Outputs{Metrics: m.outputs}
	agents := startAgents(g, cfg, clusters, ctl, reg, log)
	lbsets, err := startSets(g, cfg, restCfg, client, clusters, ctl, agents, recorder, lease, m.sets, log)
	if err != nil {
		g.Stop()
		return errors.Join(err, g.Wait(log))
	}
	startHTTP(g, ls.http, httpserver.Sources{State: ctl, Outputs: outputs, Cluster: conn, Clusters: clusterStatuses(cfg, clusters),
		Agents: agents, Sets: lbsets, Gatherer: reg, Pprof: cfg.HTTP.Pprof, TXTOwnerID: cfg.Standalone.TXTOwnerID}, cfg, m.listeners)
	serveReaders(g, cfg, ls, ctl, outputs, m, serialBoard(g, cfg, client, lease, log), log)
	releaseWhenReady(g, ctl)
	runClusters(g, clusters)
	g.Go(func(ctx context.Context) error { return runController(ctx, ctl, conn, cfg) })
	w := writers{cfg: cfg, ctl: ctl, restCfg: restCfg, log: log, m: m, outputs: outputs, leading: leading, migrateFrom: migrateFrom}
	if once {
		w.once = g.Stop
	}
	g.Go(func(ctx context.Context) error { return runWriters(ctx, w, lease) })
	return g.Wait(log)
}

// campaign returns the Lease this replica campaigns for, if it needs one,
// and leading, which is set while this replica may write and send events:
// always without leader election, else while it holds the Lease, so that
// N replicas do not put N copies of every event on a Service.
func campaign(cfg config.Config, client kubernetes.Interface) (*heldLease, *atomic.Bool) {
	var lease *heldLease
	if cfg.NeedsLease() {
		lease = newLease(cfg, client)
	}
	leading := &atomic.Bool{}
	leading.Store(lease == nil)
	return lease, leading
}

// newRecorder returns the event recorder of lbdns, which sends events only
// while leading is set, and the function that stops it.
func newRecorder(ctx context.Context, client kubernetes.Interface, leading *atomic.Bool) (gatedRecorder, func()) {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: client.CoreV1().Events("")})
	return gatedRecorder{inner: broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "lbdns"}), leading: leading}, broadcaster.Shutdown
}

// runController runs the controller until ctx ends; a failure to sync the
// caches says what the API server refused, or what to check.
func runController(ctx context.Context, ctl *controller.Controller, conn *apiwatch.Connection, cfg config.Config) error {
	err := ctl.Run(ctx)
	if err == nil {
		return nil
	}
	if f := conn.Status().Forbidden; len(f) > 0 {
		return fmt.Errorf("%w (LBDNS_CACHE_SYNC_TIMEOUT=%s): the API server refused: %s; %s", err, cfg.Source.CacheSyncTimeout, strings.Join(f, "; "), apiwatch.RBACHint)
	}
	return fmt.Errorf("%w (LBDNS_CACHE_SYNC_TIMEOUT=%s): check that the API server is reachable and that lbdns may list and watch Services, EndpointSlices and Nodes", err, cfg.Source.CacheSyncTimeout)
}

// startGCPercent is the garbage collector's target until lbdns is ready
// (when GOGC is not set): the start decodes every Service and EndpointSlice
// and builds the caches, the model and the first snapshot, a heap that only
// grows; at the default 100 the collector ran over and over on it (a quarter
// of the CPU of a start at 100,000 Services). GOMEMLIMIT, set from the
// container's limit, still bounds the heap.
const startGCPercent = 300

// collectLessUntilReady raises the garbage collector's target for the start
// unless the operator set GOGC; releaseStartupMemory puts it back.
func collectLessUntilReady(getenv func(string) string) (restore func()) {
	if getenv("GOGC") != "" {
		return func() {}
	}
	before := debug.SetGCPercent(startGCPercent)
	return func() { debug.SetGCPercent(before) }
}

// releaseWhenReady lowers the garbage collector's target for the start and
// hands the start's heap back once ctl is ready.
func releaseWhenReady(g *group, ctl *controller.Controller) {
	restoreGC := collectLessUntilReady(os.Getenv)
	g.Go(func(ctx context.Context) error { return releaseStartupMemory(ctx, ctl.Ready(), restoreGC) })
}

// releaseStartupMemory returns the heap the initial lists left behind to the
// system once lbdns is ready: decoding every Service, EndpointSlice and Node
// of a large cluster takes several times the memory the trimmed caches keep,
// and the runtime would otherwise hand it back only minutes later. It puts
// the collector's start target back first.
func releaseStartupMemory(ctx context.Context, ready <-chan struct{}, restoreGC func()) error {
	select {
	case <-ready:
		restoreGC()
		debug.FreeOSMemory()
	case <-ctx.Done():
	}
	return nil
}

func kubeClient() (*rest.Config, kubernetes.Interface, error) {
	restCfg, err := kubeConfig()
	if err != nil {
		return nil, nil, err
	}
	client, err := typedClient(restCfg)
	if err != nil {
		return nil, nil, err
	}
	return restCfg, client, nil
}

// typedClient is a client of the built-in kinds. They travel as protobuf:
// decoding them (10,000 Services at start, every watch event after) costs a
// fraction of JSON's CPU and garbage. DNSEndpoints have no protobuf form:
// the dynamic client built from restCfg keeps JSON.
func typedClient(restCfg *rest.Config) (kubernetes.Interface, error) {
	restCfg.UserAgent = "lbdns/" + version
	typed := rest.CopyConfig(restCfg)
	typed.ContentType = k8sruntime.ContentTypeProtobuf
	typed.AcceptContentTypes = k8sruntime.ContentTypeProtobuf + "," + k8sruntime.ContentTypeJSON
	client, err := kubernetes.NewForConfig(typed)
	if err != nil {
		return nil, fmt.Errorf("creating Kubernetes client: %w", err)
	}
	return client, nil
}

// newController returns the controller; the clusters are added after.
func newController(cfg config.Config, log *slog.Logger, m allMetrics) *controller.Controller {
	return controller.New(nil, controller.Options{
		Build: source.Options{
			AnnotationPrefix:    cfg.Source.AnnotationPrefix,
			MaxHostnames:        cfg.Source.MaxHostnames,
			DefaultTTL:          cfg.Publish.TTL,
			MinTTL:              cfg.Publish.MinTTL,
			KubeProxyHealthPort: cfg.Source.KubeProxyHealthPort,
			NodeBandwidth:       cfg.Source.NodeBandwidth,
			KeepCordoned:        !cfg.Source.WithdrawCordoned,
		},
		FailOpen:         cfg.Publish.FailOpen,
		Tenancy:          cfg.TenancyPolicy(),
		CacheSyncTimeout: cfg.Source.CacheSyncTimeout,
		Probe: probe.Options{
			Interval: cfg.Probe.Interval, Timeout: cfg.Probe.Timeout, DownInterval: cfg.Probe.DownInterval, FastInterval: cfg.Probe.FastIntervalOrDefault(),
			Rise: cfg.Probe.Rise, Fall: cfg.Probe.Fall, Jitter: cfg.Probe.Jitter,
			Concurrency: cfg.Probe.Concurrency, Funcs: probe.Funcs(), HeldConnections: heldConnections(cfg.Probe.Held, log),
			Damping: probe.DampingFor(cfg.Probe.FlapHalfLife, cfg.Probe.FlapThreshold),
			Metrics: m.probes,
		},
		LocalClusterName: cfg.Clusters.LocalName,
		Logger:           log,
		Metrics:          m.controller,
	})
}

// revision names the commit the binary was built from, as the go tool
// stamped it ("+dirty" when the tree had changes), or says it is unknown
// (a build outside a git checkout, as in a Docker build context).
func revision() string {
	if commit != "" {
		return "revision " + commit
	}
	rev, dirty := "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
	}
	if rev == "" {
		return "revision unknown"
	}
	rev = "revision " + rev[:min(12, len(rev))]
	if dirty {
		rev += "+dirty"
	}
	return rev
}
