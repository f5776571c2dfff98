package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

const helmBinary = "helm-v3.22.0"

// TestHelmExternalDNSValues renders the values documented for the official
// external-dns chart, as its users install it, and has the real API server
// validate the result; the rendered pod must bind no port twice, and
// external-dns must read lbdns's connector where lbdns serves it.
func TestHelmExternalDNSValues(t *testing.T) {
	e := suite
	chart := filepath.Join(e.root, "e2e/testdata/external-dns-chart")
	if shared := filepath.Join(e.root, "../shared/third_party/external-dns-chart"); dirExists(shared) {
		// The copy here must be the one the project was given.
		if out, err := exec.Command("diff", "-r", shared, chart).CombinedOutput(); err != nil {
			t.Fatalf("e2e/testdata/external-dns-chart differs from %s:\n%s", shared, out)
		}
	}
	values := filepath.Join(e.root, "manifests/helm")
	for name, args := range map[string][]string{
		"sidecar_rfc2136": {"-f", filepath.Join(values, "external-dns-sidecar-values.yaml"), "--set", "provider.name=rfc2136"},
		"sidecar_ionos_webhook": {"-f", filepath.Join(values, "external-dns-sidecar-values.yaml"),
			"-f", filepath.Join(values, "external-dns-ionos-values.yaml"), "--set", "domainFilters={example.com}"},
	} {
		t.Run(name, func(t *testing.T) {
			helm := append([]string{"template", "external-dns", chart, "--namespace", "lbdns"}, args...)
			rendered, err := exec.Command(filepath.Join(e.tools, helmBinary), helm...).Output()
			if err != nil {
				t.Fatalf("helm %s: %v\n%s", strings.Join(helm, " "), err, stderrOf(err))
			}
			checkHardened(t, rendered)
			checkPodPorts(t, rendered)
			if !strings.Contains(string(rendered), "restartPolicy: Always") || !strings.Contains(string(rendered), "--source=connector") {
				t.Errorf("rendered chart lacks the native sidecar or the connector source")
			}
			checkLbdnsEnv(t, rendered, map[string]string{"LBDNS_CONNECTOR_ADDR": "127.0.0.1:7980"})
			checkSidecarScraped(t, rendered)
			n := dryRun(t, rendered)
			record(t, "PASS helm template of the external-dns chart 1.21.1 passes the API server's dry run (%d objects); no port bound twice; lbdns --check-config accepts its environment", n)
		})
	}
}

func dirExists(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.IsDir()
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

// checkSidecarScraped checks manifests/monitoring/sidecar against the
// rendered external-dns chart: its PodMonitor selects the chart's pods and
// names a port lbdns serves there, and the real API server accepts it (with
// the Prometheus Operator's CRDs).
func checkSidecarScraped(t *testing.T, rendered []byte) {
	t.Helper()
	e := suite
	kustomized, err := exec.Command("kubectl", "kustomize", filepath.Join(e.root, "manifests/monitoring/sidecar")).Output()
	if err != nil {
		t.Fatalf("kubectl kustomize manifests/monitoring/sidecar: %v\n%s", err, stderrOf(err))
	}
	var monitor struct {
		Spec struct {
			Selector            struct{ MatchLabels map[string]string }
			PodMetricsEndpoints []struct{ Port, Path string }
		}
	}
	var pod struct {
		Spec struct {
			Template corev1.PodTemplateSpec
		}
	}
	for _, doc := range strings.Split(string(kustomized), "\n---\n") {
		if strings.Contains(doc, "kind: PodMonitor") {
			if err := yaml.Unmarshal([]byte(doc), &monitor); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, doc := range strings.Split(string(rendered), "\n---\n") {
		if strings.Contains(doc, "kind: Deployment") {
			if err := yaml.Unmarshal([]byte(doc), &pod); err != nil {
				t.Fatal(err)
			}
		}
	}
	labels := pod.Spec.Template.Labels
	for k, v := range monitor.Spec.Selector.MatchLabels {
		if labels[k] != v {
			t.Errorf("the PodMonitor selects %s=%s; the external-dns pods have %v", k, v, labels)
		}
	}
	ports := map[string]bool{}
	for _, c := range append(pod.Spec.Template.Spec.InitContainers, pod.Spec.Template.Spec.Containers...) {
		for _, p := range c.Ports {
			ports[p.Name] = c.Name == "lbdns"
		}
	}
	if len(monitor.Spec.PodMetricsEndpoints) != 1 || !ports[monitor.Spec.PodMetricsEndpoints[0].Port] || monitor.Spec.PodMetricsEndpoints[0].Path != "/metrics" {
		t.Errorf("the PodMonitor scrapes %+v; lbdns's ports in the pod: %v", monitor.Spec.PodMetricsEndpoints, ports)
	}
	e.installPrometheusOperatorCRDs(t)
	_, err = e.cp.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "external-dns"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dryRun(t, kustomized)
}
