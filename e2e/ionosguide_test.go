package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestIONOSGuide runs docs/ionos.md as a user would, against the real API
// server: every kustomization it applies is rendered and dry-run, every
// object it creates is created with --dry-run=server, its helm command is
// rendered, dry-run and its lbdns environment checked by lbdns itself
// (TTLs IONOS accepts, single-record writes). Commands that only read
// (get, port-forward, curl, dig) are recognised, not run: there is no IONOS
// here. A command the test does not know fails it, so the guide cannot
// drift from what is tested.
func TestIONOSGuide(t *testing.T) {
	e := suite
	b, err := os.ReadFile(filepath.Join(e.root, "docs/ionos.md"))
	if err != nil {
		t.Fatal(err)
	}
	cmds := shellCommands(string(b))
	if len(cmds) < 6 {
		t.Fatalf("found %d commands in docs/ionos.md", len(cmds))
	}
	// A server-side dry run of namespaced objects needs their namespace.
	for _, ns := range []string{"gateway", "lbdns"} {
		_, err := e.cp.Client.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	readOnly := regexp.MustCompile(`^(kubectl( -n \S+)? (get|port-forward) |curl |dig )`)
	ran := 0
	for _, c := range cmds {
		f := strings.Fields(c)
		switch {
		case readOnly.MatchString(c):
		case strings.HasPrefix(c, "kubectl apply -k "):
			out, err := exec.Command("kubectl", "kustomize", filepath.Join(e.root, f[3])).Output()
			if err != nil {
				t.Fatalf("%s: kubectl kustomize: %v\n%s", c, err, stderrOf(err))
			}
			dryRun(t, out)
			ran++
		case strings.HasPrefix(c, "kubectl create ") || strings.HasPrefix(c, "kubectl -n "):
			args := append([]string{"--kubeconfig", e.cp.AdminKubeconfig}, f[1:]...)
			if out, err := exec.Command("kubectl", append(args, "--dry-run=server")...).CombinedOutput(); err != nil &&
				!strings.Contains(string(out), "already exists") {
				t.Fatalf("%s: %v\n%s", c, err, out)
			}
			ran++
		case strings.HasPrefix(c, "helm upgrade --install "):
			args := append([]string{"template"}, f[3:]...) // release, chart, flags
			cmd := exec.Command(filepath.Join(e.tools, helmBinary), args...)
			cmd.Dir = e.root
			rendered, err := cmd.Output()
			if err != nil {
				t.Fatalf("%s: helm template: %v\n%s", c, err, stderrOf(err))
			}
			checkLbdnsEnv(t, rendered, map[string]string{"LBDNS_TTL": "60", "LBDNS_MIN_TTL": "60", "LBDNS_WEBHOOK_INCREMENTAL": "true",
				"LBDNS_PROVIDER": "webhook"})
			dryRun(t, rendered)
			ran++
		default:
			t.Fatalf("docs/ionos.md runs %q, which this test does not know how to check", c)
		}
	}
	record(t, "PASS docs/ionos.md: %d commands checked, %d of them rendered or created with the API server's dry run", len(cmds), ran)
}

// shellCommands returns the commands of a Markdown text's sh blocks, a line
// each (comments and blank lines dropped).
func shellCommands(md string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(md, "\n") {
		l := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(l, "```"):
			in = l == "```sh"
		case in && l != "" && !strings.HasPrefix(l, "#"):
			if i := strings.Index(l, " #"); i > 0 {
				l = strings.TrimSpace(l[:i])
			}
			out = append(out, l)
		}
	}
	return out
}
