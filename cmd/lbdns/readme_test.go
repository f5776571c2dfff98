package main

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/lbdns/lbdns/config"
	"github.com/lbdns/lbdns/metrics"
	"github.com/lbdns/lbdns/source"
)

// TestReadmeDocumentsEverything keeps the README's tables complete: every
// variable, metric and annotation lbdns has must be named there.
func TestReadmeDocumentsEverything(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	for _, v := range config.Variables() {
		if !strings.Contains(readme, "`"+v.Name+"`") {
			t.Errorf("README lacks variable %s", v.Name)
		}
	}
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	descs := make(chan *prometheus.Desc, 100)
	go func() {
		for _, c := range []prometheus.Collector{m.Snapshot, m.ProbesTotal, m.ProbesShared,
			m.ProbeDuration, m.TargetTransitions, m.PublishLatency, m.SyncTotal, m.LastSyncTimestamp, m.Ready,
			m.Hostnames, m.Targets, m.ReconcileDuration, m.ConnectorConnections, m.BuildInfo, m.Leader, m.DNSQueries, m.DNSDuration} {
			c.Describe(descs)
		}
		close(descs)
	}()
	name := regexp.MustCompile(`fqName: "([a-z_]+)"`)
	n := 0
	for d := range descs {
		match := name.FindStringSubmatch(d.String())
		if match == nil {
			t.Fatalf("cannot read the name of %s", d)
		}
		n++
		if !strings.Contains(readme, "`"+match[1]+"`") {
			t.Errorf("README lacks metric %s", match[1])
		}
	}
	if n < 18 {
		t.Errorf("only %d metrics described", n)
	}
	for _, a := range []string{source.AnnotationHostname, source.AnnotationWeight, source.AnnotationTTL, source.AnnotationProbe,
		source.AnnotationProbePort, source.AnnotationProbePath, source.AnnotationNodeProbe} {
		if !strings.Contains(readme, "`lbdns.io/"+a+"`") {
			t.Errorf("README lacks annotation lbdns.io/%s", a)
		}
	}
}
