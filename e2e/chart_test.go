package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// chartMode is one way to install lbdns's own chart: the values a user
// passes, and settings the rendered lbdns must end up with.
type chartMode struct {
	set  []string
	want map[string]string // LBDNS_* -> value printed by lbdns --check-config
	// has and lacks are texts the rendered manifests must (not) hold.
	has, lacks []string
}

var chartModes = map[string]chartMode{
	// Defaults: DNSEndpoints in the release namespace, two replicas with
	// leader election, and every monitoring toggle on.
	"dnsendpoint": {
		set: []string{"metrics.serviceMonitor.enabled=true", "metrics.prometheusRule.enabled=true", "metrics.dashboard.enabled=true"},
		want: map[string]string{"LBDNS_CRD_NAMESPACE": "lbdns", "LBDNS_LEADER_ELECT": "true", "LBDNS_PROVIDER": `""`,
			"LBDNS_CONNECTOR_ADDR": "off"},
		lacks: []string{"LoadBalancerSet", "lbdns-sets"}, // opt-in: no CRD, no right to write Services
	},
	"standalone_rfc2136": {
		set: []string{"standalone.provider=rfc2136", "standalone.rfc2136.host=ns1.example.com", "standalone.rfc2136.zones={example.com}",
			"standalone.rfc2136.tsigKeyName=lbdns", "standalone.rfc2136.tsigSecret.existingSecret=lbdns-rfc2136", "domainFilter={example.com}"},
		want: map[string]string{"LBDNS_PROVIDER": "rfc2136", "LBDNS_RFC2136_ZONE": "example.com", "LBDNS_RFC2136_TSIG_SECRET": "(set, not shown)",
			"LBDNS_CRD_NAMESPACE": `""`, "LBDNS_DOMAIN_FILTER": "example.com"},
	},
	"standalone_ionos_webhook": {
		set: []string{"standalone.provider=webhook", "standalone.ionosWebhook.enabled=true", "domainFilter={example.com}"},
		want: map[string]string{"LBDNS_PROVIDER": "webhook", "LBDNS_WEBHOOK_URL": "http://127.0.0.1:8888", "LBDNS_CRD_NAMESPACE": `""`,
			"LBDNS_TTL": "60", "LBDNS_MIN_TTL": "60", // IONOS Cloud DNS accepts 60..86,400 s
			"LBDNS_WEBHOOK_INCREMENTAL": "true"},
	},
	"standalone_webhook_single_replica": {
		set: []string{"standalone.provider=webhook", "standalone.webhook.url=http://webhook.dns.svc:8888", "replicas=1",
			"leaderElection.enabled=false"},
		want: map[string]string{"LBDNS_WEBHOOK_URL": "http://webhook.dns.svc:8888", "LBDNS_LEADER_ELECT": "false"},
	},
	// LoadBalancerSets: the CRD and the rights to write Services come with it.
	"sets": {
		set:  []string{"sets.enabled=true", "sets.interval=10s"},
		want: map[string]string{"LBDNS_SETS": "true", "LBDNS_SETS_INTERVAL": "10s"},
		has:  []string{"kind: CustomResourceDefinition", "name: loadbalancersets.lbdns.io", "name: lbdns-sets", "resources: [loadbalancersets/status]"},
	},
	"embedded_dns": {
		set: []string{"dns.enabled=true", "dns.zones={lb.example.com}", "dns.rrl.exempt={10.0.0.0/8}", "probe.fastInterval=250ms"},
		want: map[string]string{"LBDNS_DNS_ADDR": ":5353", "LBDNS_DNS_ZONES": "lb.example.com", "LBDNS_CRD_NAMESPACE": `""`,
			"LBDNS_DNS_RRL_EXEMPT": "10.0.0.0/8", "LBDNS_PROBE_FAST_INTERVAL": "250ms"},
	},
	// The embedded DNS as the hidden primary of secondaries.
	"embedded_dns_primary": {
		set: []string{"dns.enabled=true", "dns.zones={lb.example.com}", "dns.ns=ns1.example.net\\,ns2.example.net",
			"dns.transfer.allow={192.0.2.0/24}", "dns.transfer.notify={192.0.2.53:53}", "dns.transfer.tsig.name=xfr",
			"dns.transfer.tsig.existingSecret=lbdns-dns-tsig", "dns.extraServices[0].name=b",
			"dns.extraServices[0].annotations.cloud\\.ionos\\.com/node-selector=lb-pool=b"},
		want: map[string]string{"LBDNS_DNS_NS": "ns1.example.net,ns2.example.net", "LBDNS_DNS_TRANSFER_ALLOW": "192.0.2.0/24",
			"LBDNS_DNS_NOTIFY": "192.0.2.53:53", "LBDNS_DNS_TSIG_NAME": "xfr"},
	},
	// Several name servers of lbdns itself, inside the zone, with glue.
	"embedded_dns_own_name_servers": {
		set: []string{"dns.enabled=true", "dns.zones={lb.example.com}", "dns.ns=ns1.lb.example.com\\,ns2.lb.example.com",
			"dns.nsAddresses={ns1.lb.example.com=192.0.2.10,ns2.lb.example.com=192.0.2.11,ns2.lb.example.com=2001:db8::11}"},
		want: map[string]string{"LBDNS_DNS_NS_ADDRESSES": "ns1.lb.example.com=192.0.2.10,ns2.lb.example.com=192.0.2.11,ns2.lb.example.com=2001:db8::11"},
	},
	// A remote cluster's kubeconfig from a Secret.
	"several_clusters": {
		set: []string{"clusters[0].name=eu-west", "clusters[0].secret=lbdns-cluster-eu-west", "clusterName=eu-central"},
		want: map[string]string{"LBDNS_CLUSTERS": "eu-west=/etc/lbdns/clusters/eu-west/kubeconfig", "LBDNS_CLUSTER_NAME": "eu-central",
			"LBDNS_LOCAL_CLUSTER": "true"},
	},
	// The knobs users of the external-dns and cert-manager charts expect, on OpenShift (restricted-v2 assigns
	// the user: no runAsUser), the image pinned by digest.
	"knobs_openshift": {
		set: []string{"nameOverride=lb", "commonLabels.team=dns", "dryRun=true", "image.digest=sha256:" + strings.Repeat("ab", 32),
			"podSecurityContext.runAsUser=null", "podSecurityContext.runAsGroup=null",
			"extraVolumes[0].name=ca", "extraVolumes[0].configMap.name=ca-bundle",
			"extraVolumeMounts[0].name=ca", "extraVolumeMounts[0].mountPath=/etc/ssl/custom", "extraVolumeMounts[0].readOnly=true",
			"metrics.serviceMonitor.enabled=true", "metrics.serviceMonitor.relabelings[0].targetLabel=node",
			"metrics.serviceMonitor.relabelings[0].sourceLabels={__meta_kubernetes_pod_node_name}", "priorityClassName=system-cluster-critical"},
		want: map[string]string{"LBDNS_LEADER_ELECT_NAME": "lbdns", "LBDNS_CRD_NAMESPACE": "lbdns", "LBDNS_DRY_RUN": "true"},
		has: []string{`image: "ghcr.io/lbdns/lbdns@sha256:abab`, "app.kubernetes.io/name: lb\n", "team: dns", "mountPath: /etc/ssl/custom",
			"name: ca-bundle", "targetLabel: node", "priorityClassName: system-cluster-critical"},
		lacks: []string{"runAsUser", "runAsGroup"},
	},
	// The node agent DaemonSet beside lbdns, which asks it.
	"node_agents": {
		set: []string{"agent.enabled=true", "agent.interval=10s", "metrics.prometheusRule.enabled=true",
			"metrics.prometheusRule.nearCapacityShare=0.7"},
		want: map[string]string{"LBDNS_AGENT_PORT": "9798", "LBDNS_AGENT_INTERVAL": "10s"},
	},
}

// chartRejects are values the chart must refuse, and a part of the message
// that tells the user what to fix.
var chartRejects = map[string]string{
	"replicas=0":                                                "replicas",
	"standalone.provider=route53":                               "provider",
	"probe.interval=2 seconds":                                  "interval",
	"probe.fal=3":                                               "fal",
	"standalone.rfc2136.port=70000":                             "port",
	"extraEnv[0].name=HTTP_PROXY":                               "name",
	"dns.containerPort=53":                                      "containerPort",
	"agent.port=80":                                             "port",
	"metrics.prometheusRule.nearCapacityShare=1.5":              "nearCapacityShare",
	"standalone.provider=rfc2136":                               "standalone.rfc2136.host",
	"dnsEndpoint.enabled=false":                                 "no output is on",
	"dns.enabled=true":                                          "dns.zones",
	"standalone.ionosWebhook.enabled=true":                      "standalone.provider=webhook",
	"replicas=3,leaderElection.enabled=false":                   "leaderElection.enabled=true",
	"metrics.prometheusRule.alerts.LbdnsNope.enabled=false":     "LbdnsNope",
	"metrics.prometheusRule.alerts.LbdnsSyncStale.threshold=-5": "threshold",
}

// TestHelmChart lints lbdns's own chart, renders each mode, has the real API
// server validate the result, and gives every rendered lbdns container's
// environment to the real binary's --check-config; bad values must be
// refused with a message that names them.
func TestHelmChart(t *testing.T) {
	e := suite
	helm := filepath.Join(e.tools, helmBinary)
	chart := filepath.Join(e.root, "manifests/helm/lbdns")
	if out, err := exec.Command(helm, "lint", "--strict", chart).CombinedOutput(); err != nil ||
		bytes.Contains(out, []byte("[WARNING]")) || bytes.Contains(out, []byte("[ERROR]")) {
		t.Fatalf("helm lint --strict: %v\n%s", err, out)
	}
	e.installPrometheusOperatorCRDs(t) // the monitoring toggles render ServiceMonitor and PrometheusRule
	for name, mode := range chartModes {
		t.Run(name, func(t *testing.T) {
			args := []string{"template", "lbdns", chart, "--namespace", "lbdns"}
			for _, s := range mode.set {
				args = append(args, "--set", s)
			}
			rendered, err := exec.Command(helm, args...).Output()
			if err != nil {
				t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
			}
			checkHardened(t, rendered)
			checkPodPorts(t, rendered)
			if n := len(slices.DeleteFunc(lbdnsContainers(t, rendered), isAgent)); n != 1 {
				t.Fatalf("want one lbdns container (besides agents) in the rendered chart, got %d", n)
			}
			checkLbdnsEnv(t, rendered, mode.want)
			for _, want := range mode.has {
				if !strings.Contains(string(rendered), want) {
					t.Errorf("the rendered chart lacks %q", want)
				}
			}
			for _, unwanted := range mode.lacks {
				if strings.Contains(string(rendered), unwanted) {
					t.Errorf("the rendered chart holds %q", unwanted)
				}
			}
			n := dryRun(t, rendered)
			checkNotes(t, helm, chart, mode.set)
			record(t, "PASS helm template (%d objects) passes the API server's dry run; lbdns --check-config accepts its environment", n)
		})
	}
	t.Run("alert_values", func(t *testing.T) { checkAlertValues(t, helm, chart) })
	t.Run("bad_values", func(t *testing.T) {
		for set, want := range chartRejects {
			out, err := exec.Command(helm, "template", "lbdns", chart, "--namespace", "lbdns", "--set", set).CombinedOutput()
			if err == nil {
				t.Errorf("--set %s: rendered, want an error", set)
			} else if !strings.Contains(string(out), want) {
				t.Errorf("--set %s: the error does not name %q:\n%s", set, want, out)
			}
		}
		record(t, "PASS %d bad values refused, each with a message naming it", len(chartRejects))
	})
}

// checkNotes runs helm install --dry-run=server against the real API server
// and checks that NOTES.txt tells the user how to open the status page. It
// installs a release of its own name into a namespace of its own: helm
// refuses to adopt the objects named lbdns the suite created.
func checkNotes(t *testing.T, helm, chart string, set []string) {
	t.Helper()
	const ns = "lbdns-chart"
	_, err := suite.cp.Client.CoreV1().Namespaces().Create(context.Background(),
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	const release = "lbdns-notes" // its objects are named after the release
	args := []string{"install", release, chart, "--namespace", ns, "--dry-run=server", "--kubeconfig", suite.cp.AdminKubeconfig}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	out, err := exec.Command(helm, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	notes := string(out[bytes.Index(out, []byte("NOTES:"))+1:])
	wants := []string{"kubectl -n " + ns + " port-forward service/" + release + " 9797", "http://127.0.0.1:9797/"}
	if !slices.Contains(set, "leaderElection.enabled=false") {
		wants = append(wants, "kubectl -n "+ns+" get lease "+release) // the Lease the replicas really use
	}
	for _, want := range wants {
		if !bytes.Contains(out, []byte("NOTES:")) || !strings.Contains(notes, want) {
			t.Errorf("NOTES.txt of helm install lacks %q:\n%s", want, notes)
		}
	}
}

// dryRun applies rendered manifests with --dry-run=server and returns how
// many objects the API server accepted.
func dryRun(t *testing.T, rendered []byte) int {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rendered.yaml")
	if err := os.WriteFile(path, rendered, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("kubectl", "--kubeconfig", suite.cp.AdminKubeconfig, "apply", "--dry-run=server", "-f", path).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl apply --dry-run=server: %v\n%s", err, out)
	}
	return strings.Count(strings.TrimSpace(string(out)), "\n") + 1
}

// checkLbdnsEnv runs lbdns --check-config with the environment of every
// lbdns container in the rendered manifests (Secrets and the downward API
// filled with stand-ins) and fails when lbdns refuses it, or when a setting
// in want is not what lbdns would run with.
func checkLbdnsEnv(t *testing.T, rendered []byte, want map[string]string) {
	t.Helper()
	for _, c := range lbdnsContainers(t, rendered) {
		env := []string{"PATH=" + os.Getenv("PATH")}
		for _, v := range c.Env {
			env = append(env, v.Name+"="+envValue(v))
		}
		cmd := exec.Command(suite.lbdnsBin, "--check-config")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lbdns --check-config refuses the environment of container %s: %v\n%s", c.Name, err, out)
		}
		effective := map[string]string{}
		for _, line := range strings.Split(string(out), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && strings.HasPrefix(f[0], "LBDNS_") {
				effective[f[0]] = strings.Join(f[1:], " ")
			}
		}
		for k, v := range want {
			if isAgent(c) {
				break // the agent reads only its own settings; it must accept the environment, checked above
			}
			if effective[k] != v {
				t.Errorf("container %s: lbdns runs with %s=%s, want %s", c.Name, k, effective[k], v)
			}
		}
	}
}

// envValue is the value a variable would have in the pod: literal, or a
// stand-in for a Secret (valid base64, as a TSIG secret must be) or a field.
func envValue(v corev1.EnvVar) string {
	switch {
	case v.ValueFrom == nil:
		return v.Value
	case v.ValueFrom.SecretKeyRef != nil:
		return "c3RhbmQtaW4tc2VjcmV0"
	case v.ValueFrom.FieldRef != nil && v.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
		return "lbdns"
	}
	return "stand-in"
}

// lbdnsContainers returns the lbdns containers (sidecars included) of every
// Deployment and DaemonSet in rendered manifests.
// isAgent reports whether a container runs the node agent (lbdns agent).
func isAgent(c corev1.Container) bool { return slices.Equal(c.Args, []string{"agent"}) }

func lbdnsContainers(t *testing.T, rendered []byte) []corev1.Container {
	t.Helper()
	var out []corev1.Container
	for _, p := range podSpecs(t, rendered) {
		for _, c := range append(p.spec.InitContainers, p.spec.Containers...) {
			if strings.Contains(c.Image, "lbdns/lbdns") {
				out = append(out, c)
			}
		}
	}
	return out
}

// checkAlertValues renders the PrometheusRule with per-alert values: a
// disabled alert is gone, a threshold, a severity and a for replace the
// file's, and the runbooks point at the given base.
func checkAlertValues(t *testing.T, helm, chart string) {
	args := []string{"template", "lbdns", chart, "--namespace", "lbdns", "--show-only", "templates/monitoring.yaml",
		"--set", "metrics.prometheusRule.enabled=true",
		"--set", "metrics.prometheusRule.alerts.LbdnsTargetWithdrawn.enabled=false",
		"--set", "metrics.prometheusRule.alerts.LbdnsSyncStale.threshold=900",
		"--set", "metrics.prometheusRule.alerts.LbdnsNoWriter.severity=page",
		"--set", "metrics.prometheusRule.alerts.LbdnsNoWriter.for=1m",
		"--set", "metrics.prometheusRule.runbookBaseURL=https://wiki.example.com/lbdns"}
	out, err := exec.Command(helm, args...).Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, stderrOf(err))
	}
	var rule struct {
		Spec struct {
			Groups []struct {
				Rules []struct {
					Alert, Expr, For string
					Labels           map[string]string
					Annotations      map[string]string
				}
			}
		}
	}
	if err := yaml.Unmarshal(out, &rule); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, g := range rule.Spec.Groups {
		for _, r := range g.Rules {
			seen[r.Alert] = true
			if want := "https://wiki.example.com/lbdns#" + strings.ToLower(r.Alert); r.Annotations["runbook_url"] != want {
				t.Errorf("%s: runbook_url %q, want %q", r.Alert, r.Annotations["runbook_url"], want)
			}
			switch r.Alert {
			case "LbdnsSyncStale":
				if !strings.HasSuffix(strings.TrimSpace(r.Expr), "> 900") {
					t.Errorf("LbdnsSyncStale's threshold not applied: %s", r.Expr)
				}
			case "LbdnsNoWriter":
				if r.Labels["severity"] != "page" || r.For != "1m" {
					t.Errorf("LbdnsNoWriter: severity %q, for %q", r.Labels["severity"], r.For)
				}
			}
		}
	}
	if seen["LbdnsTargetWithdrawn"] || !seen["LbdnsFailOpen"] || len(seen) != 12 {
		t.Errorf("alerts rendered: %v (want 12, without LbdnsTargetWithdrawn)", seen)
	}
	record(t, "PASS per-alert values: an alert dropped, a threshold, severity and for replaced, runbooks moved")
}
