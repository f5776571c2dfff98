package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/connlimit"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/nodeagent"
	"github.com/lbdns/lbdns/source"
)

// The reference pages are generated from the code, as external-dns does
// with its flags: docs/configuration.md from the config struct,
// docs/metrics.md from what lbdns registers. `make docs` rewrites them; this
// test fails when they drift, and when docs/annotations.md misses an
// annotation lbdns reads.
func TestDocsAreCurrent(t *testing.T) {
	for path, want := range map[string]string{
		"../../docs/configuration.md":          configurationDoc(),
		"../../docs/metrics.md":                metricsDoc(t),
		"../../manifests/helm/lbdns/README.md": chartReadme(t),
	} {
		if os.Getenv("LBDNS_UPDATE_DOCS") != "" {
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("%s is not what the code says (%v): run make docs", path, err)
		}
	}
	b, err := os.ReadFile("../../docs/annotations.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range append(source.ServiceAnnotations(), source.NodeAnnotations()...) {
		if !strings.Contains(string(b), "`lbdns.io/"+a+"`") {
			t.Errorf("docs/annotations.md lacks lbdns.io/%s", a)
		}
	}
}

// configurationDoc is docs/configuration.md: every variable, grouped by its
// part of config.Config, in declaration order.
func configurationDoc() string {
	var sb strings.Builder
	sb.WriteString(`# Configuration

<!-- Generated from the config package by make docs (cmd/lbdns/docs_test.go): do not edit. -->

lbdns is configured by environment variables only. ` + "`lbdns --help`" + ` prints this list,
` + "`lbdns --check-config`" + ` validates an environment, prints every effective setting (secrets masked) and
exits 0 or 1. Durations are Go durations (` + "`2s`, `500ms`" + `); every value is checked at start and each
error names its variable. Kubernetes access: in-cluster, else the standard kubeconfig rules (` + "`KUBECONFIG`" + `).
`)
	var groups []string
	byGroup := map[string][]config.Variable{}
	for _, v := range config.Variables() {
		g := v.Group
		if _, seen := byGroup[g]; !seen {
			groups = append(groups, g)
		}
		byGroup[g] = append(byGroup[g], v)
	}
	for _, g := range groups {
		fmt.Fprintf(&sb, "\n## %s\n\n| variable | default | meaning |\n|---|---|---|\n", g)
		for _, v := range byGroup[g] {
			def := "(none)"
			if v.Default != "" {
				def = "`" + v.Default + "`"
			}
			help := v.Help
			if v.Secret {
				help += " (secret: never printed or logged)"
			}
			fmt.Fprintf(&sb, "| `%s` | %s | %s |\n", v.Name, def, strings.ReplaceAll(help, "|", `\|`))
		}
	}
	return sb.String()
}

// metricsDoc is docs/metrics.md: every metric lbdns registers, whichever
// part registers it, with its type, labels and help.
func metricsDoc(t *testing.T) string {
	rec := &recordingRegisterer{}
	m := newMetrics(rec)
	watchClusterView(rec, func(time.Time) time.Duration { return 0 })
	m.listeners.WatchOpen("http", connlimit.Wrap(nil, connlimit.Options{}))
	registerClusterGauges(rec, config.Config{}, []watchedCluster{{}})
	rec.MustRegister(nodeagent.NewCollector(nil, nil))
	type row struct{ name, kind, labels, help string }
	var rows []row
	seen := map[string]bool{}
	for _, c := range rec.collectors {
		descs := make(chan *prometheus.Desc, 16)
		go func() { c.Describe(descs); close(descs) }()
		for d := range descs {
			r := describe(t, d)
			r.kind = kindOf(c, r.name)
			if !seen[r.name] {
				seen[r.name] = true
				rows = append(rows, row(r))
			}
		}
	}
	if len(rows) < 35 {
		t.Errorf("only %d metrics found", len(rows))
	}
	slices.SortFunc(rows, func(a, b row) int { return strings.Compare(a.name, b.name) })
	var sb strings.Builder
	sb.WriteString(`# Metrics

<!-- Generated from what lbdns registers by make docs (cmd/lbdns/docs_test.go): do not edit. -->

Served on ` + "`LBDNS_HTTP_ADDR`" + ` at ` + "`/metrics`" + `, beside the Go and process collectors. Names and labels are part
of the product: the dashboard and the alert rules (` + "`manifests/monitoring`" + `) use them. What to do when an alert
fires: [operations.md](operations.md).

| metric | type | labels | meaning |
|---|---|---|---|
`)
	for _, r := range rows {
		fmt.Fprintf(&sb, "| `%s` | %s | %s | %s |\n", r.name, r.kind, r.labels, strings.ReplaceAll(r.help, "|", `\|`))
	}
	return sb.String()
}

type described struct{ name, kind, labels, help string }

var descFields = regexp.MustCompile(`fqName: "([^"]*)", help: "((?:[^"\\]|\\.)*)", unit: "[^"]*", constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)

// describe reads a Desc's name, help and labels (client_golang has no
// accessors for them).
func describe(t *testing.T, d *prometheus.Desc) described {
	m := descFields.FindStringSubmatch(d.String())
	if m == nil {
		t.Fatalf("cannot read %s", d)
	}
	var labels []string
	for _, part := range []string{m[3], m[4]} {
		for _, l := range strings.Split(part, ",") {
			if l, _, _ = strings.Cut(strings.TrimSpace(l), "="); l != "" {
				labels = append(labels, l)
			}
		}
	}
	return described{name: m[1], help: strings.ReplaceAll(m[2], `\"`, `"`), labels: strings.Join(labels, ", ")}
}

// kindOf names a collector's metric type, from its Go type; collectors of
// their own (gauge funcs, the snapshot gauges, the agents' collector) by the
// name: counters end in _total.
func kindOf(c prometheus.Collector, name string) string {
	switch c.(type) {
	case *prometheus.CounterVec:
		return "counter"
	case *prometheus.HistogramVec, prometheus.Histogram, *metrics.ShardedHistogram:
		return "histogram"
	case *prometheus.GaugeVec, prometheus.Gauge:
		return "gauge"
	}
	if strings.HasSuffix(name, "_total") {
		return "counter"
	}
	return "gauge"
}

// recordingRegisterer keeps every collector registered on it.
type recordingRegisterer struct{ collectors []prometheus.Collector }

func (r *recordingRegisterer) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}

func (r *recordingRegisterer) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}

func (r *recordingRegisterer) Unregister(prometheus.Collector) bool { return false }

// TestDocLinksResolve: every relative link of the README and docs/ names a
// file that exists (the pages were cut apart once; links must follow).
func TestDocLinksResolve(t *testing.T) {
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	pages, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, page := range append(pages, "../../README.md") {
		b, err := os.ReadFile(page)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range link.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(filepath.Dir(page), target)); err != nil {
				t.Errorf("%s links to %s, which does not exist", filepath.Base(page), target)
			}
		}
	}
}
