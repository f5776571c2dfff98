package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// runbookBase is where the alerts' runbook_url point by default.
const runbookBase = "https://github.com/lbdns/lbdns/blob/main/docs/runbooks.md"

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
	runbooks, err := os.ReadFile(filepath.Join(e.root, "docs/runbooks.md"))
	if err != nil {
		t.Fatal(err)
	}
	alerts := 0
	for _, g := range rule.Spec.Groups {
		rs, _ := g["rules"].([]any)
		for _, r := range rs {
			rule, _ := r.(map[string]any)
			name, _ := rule["alert"].(string)
			if name == "" {
				continue
			}
			alerts++
			if !strings.Contains(string(tests), "alertname: "+name) {
				t.Errorf("alert %s has no promtool test", name)
			}
			// Every alert links its runbook, and the runbook has its section.
			annotations, _ := rule["annotations"].(map[string]any)
			if url, _ := annotations["runbook_url"].(string); url != runbookBase+"#"+strings.ToLower(name) {
				t.Errorf("alert %s: runbook_url %q", name, url)
			}
			if !strings.Contains(string(runbooks), "\n## "+name+"\n") {
				t.Errorf("docs/runbooks.md has no section ## %s", name)
			}
			for _, a := range []string{"summary", "description"} {
				if v, _ := annotations[a].(string); v == "" {
					t.Errorf("alert %s has no %s", name, a)
				}
			}
		}
	}
	record(t, "PASS promtool check rules and test rules: %d alerts, each firing after its `for` and silent for a healthy lbdns, each with its runbook section", alerts)
}
