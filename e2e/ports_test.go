package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"
)

// binding is one port a container of a pod listens on, and where that was
// read.
type binding struct {
	container, from string
	port            int
}

// reporter is where the port check reports: a *testing.T, or a collector in
// the check's own test.
type reporter interface {
	Helper()
	Errorf(format string, args ...any)
	Fatal(args ...any)
}

// checkPodPorts fails when two containers of one rendered pod would listen
// on the same port (they share the pod's network namespace), and when
// external-dns's --connector-source-server is not lbdns's connector.
func checkPodPorts(t reporter, rendered []byte) {
	t.Helper()
	for _, p := range podSpecs(t, rendered) {
		checkPod(t, p.name, p.spec)
	}
}

// renderedPod is the pod template of one rendered Deployment or DaemonSet.
type renderedPod struct {
	name string // Kind/name
	spec corev1.PodSpec
}

// podSpecs returns the pod templates of the Deployments and DaemonSets in
// rendered manifests.
func podSpecs(t reporter, rendered []byte) []renderedPod {
	t.Helper()
	var out []renderedPod
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(rendered), 4096)
	for {
		var doc map[string]any
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			return out
		} else if err != nil {
			t.Fatal(err)
			return nil
		}
		kind, _ := doc["kind"].(string)
		if kind != "Deployment" && kind != "DaemonSet" {
			continue
		}
		b, _ := yaml.Marshal(doc)
		var d appsv1.Deployment // a DaemonSet's template sits at the same path
		if err := yaml.Unmarshal(b, &d); err != nil {
			t.Fatal(err)
			return nil
		}
		out = append(out, renderedPod{name: kind + "/" + d.Name, spec: d.Spec.Template.Spec})
	}
}

func checkPod(t reporter, pod string, spec corev1.PodSpec) {
	t.Helper()
	var running []corev1.Container // containers that run side by side
	for _, c := range spec.InitContainers {
		if c.RestartPolicy != nil && *c.RestartPolicy == corev1.ContainerRestartPolicyAlways {
			running = append(running, c) // a native sidecar
		}
	}
	running = append(running, spec.Containers...)
	byPort := map[int]binding{}
	connector, source := 0, 0
	for _, c := range running {
		for _, b := range containerPorts(t, c) {
			if other, taken := byPort[b.port]; taken && other.container != b.container {
				t.Errorf("%s: port %d is bound by %s (%s) and by %s (%s)", pod, b.port, other.container, other.from, b.container, b.from)
			}
			byPort[b.port] = b
		}
		if strings.Contains(c.Image, "lbdns/lbdns") {
			connector = envPort(t, c, "LBDNS_CONNECTOR_ADDR", "127.0.0.1:7980")
		}
		if v, ok := flagValue(c.Args, "--connector-source-server"); ok {
			source = addrPort(t, v)
		} else if slicesContains(c.Args, "--source=connector") {
			t.Errorf("%s: %s reads the connector without --connector-source-server (its default, localhost:8080, is the IONOS webhook's health port)", pod, c.Name)
		}
	}
	if source != 0 && source != connector {
		t.Errorf("%s: external-dns reads the connector on port %d, lbdns serves it on %d", pod, source, connector)
	}
}

// containerPorts lists the ports a container listens on: its containerPorts
// and, by image, what lbdns's variables, external-dns's flags and the IONOS
// webhook's variables make it bind, with their defaults.
func containerPorts(t reporter, c corev1.Container) []binding {
	var out []binding
	add := func(from string, port int) {
		if port != 0 {
			out = append(out, binding{container: c.Name, from: from, port: port})
		}
	}
	for _, p := range c.Ports {
		add("containerPort "+p.Name, int(p.ContainerPort))
	}
	switch {
	case strings.Contains(c.Image, "lbdns/lbdns"):
		add("LBDNS_HTTP_ADDR", envPort(t, c, "LBDNS_HTTP_ADDR", ":9797"))
		add("LBDNS_CONNECTOR_ADDR", envPort(t, c, "LBDNS_CONNECTOR_ADDR", "127.0.0.1:7980"))
		add("LBDNS_DNS_ADDR", envPort(t, c, "LBDNS_DNS_ADDR", ""))
	case strings.Contains(c.Image, "external-dns-ionos-webhook"):
		add("SERVER_PORT", envPort(t, c, "SERVER_PORT", ":8888"))
		add("METRICS_PORT", envPort(t, c, "METRICS_PORT", ":8080"))
	case strings.Contains(c.Image, "external-dns/external-dns"):
		v, ok := flagValue(c.Args, "--metrics-address")
		if !ok {
			v = ":7979"
		}
		add("--metrics-address", addrPort(t, v))
	}
	return dedupe(out)
}

// dedupe keeps one binding per port: a containerPort that declares what a
// variable binds is one port.
func dedupe(bs []binding) []binding {
	seen := map[int]bool{}
	var out []binding
	for _, b := range bs {
		if !seen[b.port] {
			seen[b.port] = true
			out = append(out, b)
		}
	}
	return out
}

// envPort returns the port of a host:port or bare port variable, with its
// default; 0 when it is off or unset without a default.
func envPort(t reporter, c corev1.Container, name, def string) int {
	v := def
	for _, e := range c.Env {
		if e.Name == name {
			v = e.Value
		}
	}
	if v == "" || v == "off" {
		return 0
	}
	if !strings.Contains(v, ":") {
		v = ":" + v
	}
	return addrPort(t, v)
}

func addrPort(t reporter, addr string) int {
	_, p, err := net.SplitHostPort(strings.TrimPrefix(strings.TrimPrefix(addr, "http://"), "https://"))
	if err != nil {
		t.Errorf("%q is not host:port: %v", addr, err)
		return 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Errorf("%q: port %q: %v", addr, p, err)
	}
	return n
}

func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		if v, ok := strings.CutPrefix(a, name+"="); ok {
			return v, true
		}
		if a == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestPortCheckCatchesAClash feeds the check a pod like the one users
// build by hand: lbdns's connector on 8080 beside the IONOS webhook.
func TestPortCheckCatchesAClash(t *testing.T) {
	clash := `apiVersion: apps/v1
kind: Deployment
metadata: {name: external-dns}
spec:
  template:
    spec:
      initContainers:
        - name: lbdns
          image: ghcr.io/lbdns/lbdns:v1
          restartPolicy: Always
          env: [{name: LBDNS_CONNECTOR_ADDR, value: "127.0.0.1:8080"}]
      containers:
        - name: external-dns
          image: registry.k8s.io/external-dns/external-dns:v0.22.0
          args: [--source=connector, --connector-source-server=127.0.0.1:8080]
        - name: webhook
          image: ghcr.io/ionos-cloud/external-dns-ionos-webhook:v0.13.0
`
	c := &collector{}
	checkPodPorts(c, []byte(clash))
	if !strings.Contains(strings.Join(c.errs, "\n"), "port 8080") {
		t.Fatalf("no clash found in a pod where lbdns and the IONOS webhook both bind 8080: %v", c.errs)
	}
}

// collector is a reporter that keeps what it is told.
type collector struct{ errs []string }

func (c *collector) Helper() {}
func (c *collector) Errorf(format string, args ...any) {
	c.errs = append(c.errs, fmt.Sprintf(format, args...))
}
func (c *collector) Fatal(args ...any) { c.errs = append(c.errs, fmt.Sprint(args...)) }
