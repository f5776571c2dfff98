package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestAlertRules checks the PrometheusRule's alerts as Prometheus users do:
// `promtool check rules` on its rule groups, and `promtool test rules` with
// manifests/helm/lbdns/files/prometheusrule-tests.yaml, which must test every
// alert.
func TestAlertRules(t *testing.T) {
	e := suite
	files := filepath.Join(e.root, "manifests/helm/lbdns/files")
	b, err := os.ReadFile(filepath.Join(files, "prometheusrule.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var rule struct {
		Spec struct {
			Groups []map[string]any `json:"groups"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &rule); err != nil {
		t.Fatal(err)
	}
	rules, err := yaml.Marshal(map[string]any{"groups": rule.Spec.Groups})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	tests, err := os.ReadFile(filepath.Join(files, "prometheusrule-tests.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for name, content := range map[string][]byte{"rules.yaml": rules, "tests.yaml": tests} {
		if err := os.WriteFile(filepath.Join(dir, name), content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"check", "rules", "rules.yaml"}, {"test", "rules", "tests.yaml"}} {
		cmd := exec.Command("promtool", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	alerts := 0
	for _, g := range rule.Spec.Groups {
		rs, _ := g["rules"].([]any)
		for _, r := range rs {
			name, _ := r.(map[string]any)["alert"].(string)
			if name == "" {
				continue
			}
			alerts++
			if !strings.Contains(string(tests), "alertname: "+name) {
				t.Errorf("alert %s has no promtool test", name)
			}
		}
	}
	record(t, "PASS promtool check rules and test rules: %d alerts, each firing after its `for` and silent for a healthy lbdns", alerts)
}
