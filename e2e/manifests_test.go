package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/lbdns/lbdns/e2e/framework"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestManifests renders every overlay and example with kustomize and has the
// real API server validate it (kubectl apply --dry-run=server).
func TestManifests(t *testing.T) {
	e := suite
	// The IONOS example lives in its own namespace; a server-side dry run of
	// namespaced objects needs it to exist.
	_, err := e.cp.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "gateway"}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	dirs, _ := filepath.Glob(filepath.Join(e.root, "manifests/overlays/*"))
	dirs = append(dirs, filepath.Join(e.root, "manifests/examples/ionos"), filepath.Join(e.root, "manifests/agent"), filepath.Join(e.root, "manifests/sets"))
	if len(dirs) < 5 {
		t.Fatalf("found only %v", dirs)
	}
	for _, dir := range dirs {
		name, _ := filepath.Rel(filepath.Join(e.root, "manifests"), dir)
		t.Run(strings.ReplaceAll(name, "/", "_"), func(t *testing.T) {
			rendered, err := exec.Command("kubectl", "kustomize", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl kustomize %s: %v\n%s", name, err, rendered)
			}
			out, err := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "apply", "--dry-run=server", "-k", dir).CombinedOutput()
			if err != nil {
				t.Fatalf("kubectl apply --dry-run=server -k %s: %v\n%s", name, err, out)
			}
			checkHardened(t, rendered)
			checkPodPorts(t, rendered)
			checkLbdnsEnv(t, rendered, nil)
			record(t, "PASS renders and passes the API server's dry run (%d objects)", strings.Count(string(out), "\n"))
		})
	}
	t.Run("monitoring", func(t *testing.T) {
		if out, err := exec.Command("kubectl", "kustomize", filepath.Join(e.root, "manifests/monitoring")).CombinedOutput(); err != nil {
			t.Fatalf("kubectl kustomize manifests/monitoring: %v\n%s", err, out)
		}
		e.installPrometheusOperatorCRDs(t)
		out, err := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "apply", "--dry-run=server", "-k",
			filepath.Join(e.root, "manifests/monitoring")).CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl apply --dry-run=server -k manifests/monitoring: %v\n%s", err, out)
		}
		record(t, "PASS the ServiceMonitor, PrometheusRule and dashboard pass the API server's dry run with the Prometheus Operator's CRDs v0.89.0 (%d objects)",
			strings.Count(string(out), "\n"))
	})
}

// prometheusOperator is the Go module whose example/ holds the Prometheus
// Operator's CRDs.
const prometheusOperator = "github.com/prometheus-operator/prometheus-operator@v0.89.0"

// installPrometheusOperatorCRDs installs the ServiceMonitor and
// PrometheusRule CRDs from the operator's own module, and waits until the
// API server serves them.
func (e *env) installPrometheusOperatorCRDs(t *testing.T) {
	t.Helper()
	if e.promCRDsInstalled {
		return
	}
	cmd := exec.Command("go", "mod", "download", "-json", prometheusOperator)
	cmd.Dir = e.dir
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download %s: %v", prometheusOperator, err)
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		t.Fatalf("go mod download %s: %v\n%s", prometheusOperator, err, out)
	}
	crds := filepath.Join(mod.Dir, "example/prometheus-operator-crd")
	for _, f := range []string{"monitoring.coreos.com_servicemonitors.yaml", "monitoring.coreos.com_podmonitors.yaml", "monitoring.coreos.com_prometheusrules.yaml"} {
		if out, err := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "apply", "--server-side",
			"-f", filepath.Join(crds, f)).CombinedOutput(); err != nil {
			t.Fatalf("installing %s: %v\n%s", f, err, out)
		}
	}
	for _, crd := range []string{"servicemonitors.monitoring.coreos.com", "podmonitors.monitoring.coreos.com", "prometheusrules.monitoring.coreos.com"} {
		if out, err := exec.Command("kubectl", "--kubeconfig", e.cp.AdminKubeconfig, "wait", "--for=condition=Established",
			"--timeout=60s", "crd/"+crd).CombinedOutput(); err != nil {
			t.Fatalf("waiting for %s: %v\n%s", crd, err, out)
		}
	}
	e.promCRDsInstalled = true
}

// checkHardened asserts the settings every rendered lbdns container must
// have: non-root, read-only root, no capabilities, RuntimeDefault seccomp,
// liveness on /healthz, readiness on /readyz, a memory limit.
func checkHardened(t *testing.T, rendered []byte) {
	t.Helper()
	for _, p := range podSpecs(t, rendered) {
		for _, c := range append(p.spec.InitContainers, p.spec.Containers...) {
			if !strings.Contains(c.Image, "lbdns/lbdns") {
				continue
			}
			for _, problem := range hardeningProblems(p.spec, c) {
				t.Errorf("%s, container %s: %s", p.name, c.Name, problem)
			}
		}
	}
}

func hardeningProblems(pod corev1.PodSpec, c corev1.Container) []string {
	var problems []string
	check := func(ok bool, problem string) {
		if !ok {
			problems = append(problems, problem)
		}
	}
	psc, sc := pod.SecurityContext, c.SecurityContext
	if psc == nil {
		psc = &corev1.PodSecurityContext{}
	}
	if sc == nil {
		sc = &corev1.SecurityContext{}
	}
	isTrue := func(b *bool) bool { return b != nil && *b }
	check(isTrue(sc.RunAsNonRoot) || isTrue(psc.RunAsNonRoot), "not runAsNonRoot")
	check(isTrue(sc.ReadOnlyRootFilesystem), "root filesystem not read-only")
	check(sc.AllowPrivilegeEscalation != nil && !*sc.AllowPrivilegeEscalation, "allowPrivilegeEscalation not false")
	check(sc.Capabilities != nil && slices.Contains(sc.Capabilities.Drop, "ALL"), "capabilities not dropped (ALL)")
	seccomp := sc.SeccompProfile
	if seccomp == nil {
		seccomp = psc.SeccompProfile
	}
	check(seccomp != nil && seccomp.Type == corev1.SeccompProfileTypeRuntimeDefault, "seccomp profile not RuntimeDefault")
	path := func(p *corev1.Probe) string {
		if p == nil || p.HTTPGet == nil {
			return ""
		}
		return p.HTTPGet.Path
	}
	check(path(c.LivenessProbe) == "/healthz", "no liveness probe on /healthz")
	check(path(c.ReadinessProbe) == "/readyz" || path(c.StartupProbe) == "/readyz", "no readiness or startup probe on /readyz")
	_, limited := c.Resources.Limits[corev1.ResourceMemory]
	check(limited, "no memory limit")
	return problems
}

// agentMetrics are exported only by an lbdns that asks node agents.
var agentMetrics = []string{"lbdns_agent_up", "lbdns_node_transmit_bits_per_second", "lbdns_node_receive_bits_per_second",
	"lbdns_hostname_transmit_bits_per_second"}

// metricsOfDashboardAndAlerts checks that every lbdns metric the Grafana
// dashboard and the alert rules use is exported by the running instances.
func metricsOfDashboardAndAlerts(t *testing.T, e *env) {
	var used []string
	name := regexp.MustCompile(`lbdns_[a-z_]+`)
	for _, f := range []string{"manifests/helm/lbdns/files/grafana-dashboard.json", "manifests/helm/lbdns/files/prometheusrule.yaml"} {
		b, err := os.ReadFile(filepath.Join(e.root, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range name.FindAllString(string(b), -1) {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				m = strings.TrimSuffix(m, suffix)
			}
			if !slices.Contains(used, m) {
				used = append(used, m)
			}
		}
	}
	// Counters with labels appear after their first use: ask the embedded
	// DNS one question, and too many from one network for its rate limit,
	// so this check does not depend on the test order.
	if _, err := framework.Lookup(e.embedded.addr, "metrics-check."+zoneEmbedded, "A"); err != nil {
		t.Fatal(err)
	}
	floodDNS(t, e.embedded.addr, "127.0.29.1", "metrics-check."+zoneEmbedded, 100)
	// A hostname below its floor makes lbdns_hostname_capacity_low appear.
	floor := newBackend(t, "127.0.28.1")
	e.createService(t, lbService{name: "metrics-floor", hostname: fqdn("metrics-floor"), backend: floor,
		annotations: map[string]string{"lbdns.io/min-nodes": "2"}})
	e.connector.lbdns.waitMetric(t, "lbdns_hostname_capacity_low", map[string]string{"hostname": fqdn("metrics-floor")}, 1)
	instances := []*lbdnsProc{e.connector.lbdns, e.standalone.replicas[0], e.standalone.replicas[1], e.webhook.lbdns, e.crd.lbdns, e.embedded.lbdns}
	if e.agents != nil {
		instances = append(instances, e.agents)
	} else {
		// Only an lbdns that asks node agents exports these; it runs in
		// scenario 16, on the real nodes (root).
		fmt.Println("e2e: no node agents ran (scenario 16): their metrics are not checked")
		used = slices.DeleteFunc(used, func(m string) bool { return slices.Contains(agentMetrics, m) })
	}
	exported := ""
	for _, l := range instances {
		body, err := framework.HTTPGet("http://" + l.http + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		exported += body
	}
	for _, m := range used {
		if !regexp.MustCompile(`(?m)^` + m + `(_bucket|_sum|_count)?[{ ]`).MatchString(exported) {
			t.Errorf("%s is used by the dashboard or the alerts but no running lbdns exports it", m)
		}
	}
	if len(used) < 10 {
		t.Errorf("only %d metrics found in the dashboard and rules: %v", len(used), used)
	}
	if t.Failed() {
		return
	}
	record(t, "PASS all %d lbdns metrics of the dashboard and the alert rules are exported: %s", len(used), strings.Join(used, ", "))
}

// TestHardeningCheckCatchesGaps: the check must name what a container lacks.
func TestHardeningCheckCatchesGaps(t *testing.T) {
	no := false
	c := corev1.Container{Name: "lbdns", SecurityContext: &corev1.SecurityContext{AllowPrivilegeEscalation: &no}}
	got := strings.Join(hardeningProblems(corev1.PodSpec{}, c), "; ")
	for _, want := range []string{"runAsNonRoot", "read-only", "capabilities", "seccomp", "/healthz", "/readyz", "memory limit"} {
		if !strings.Contains(got, want) {
			t.Errorf("a bare container: problems %q do not mention %s", got, want)
		}
	}
	if strings.Contains(got, "allowPrivilegeEscalation") {
		t.Errorf("allowPrivilegeEscalation=false reported as a problem: %s", got)
	}
}
