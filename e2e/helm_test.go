package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
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
