package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	yaml "go.yaml.in/yaml/v3"
)

// chartReadme is manifests/helm/lbdns/README.md: what the chart is, how to
// install it, and every value with its default and the comment above it in
// values.yaml (as helm-docs makes it), under the "# --- Section ---" headings
// of values.yaml.
func chartReadme(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../../manifests/helm/lbdns/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	sb.WriteString(`# The lbdns Helm chart

<!-- Generated from values.yaml by make docs (cmd/lbdns/chartdoc_test.go): do not edit. -->

Health-checked, weighted multi-A/AAAA records for Kubernetes LoadBalancer Services that share a hostname.
This chart runs lbdns on its own: it writes to your DNS server (` + "`standalone.provider`" + `), to DNSEndpoint objects for
external-dns ` + "`--source=crd`" + ` (the default), or answers DNS itself (` + "`dns.enabled`" + `). To run lbdns inside external-dns's
pod instead, install the official external-dns chart with ` + "`manifests/helm/external-dns-sidecar-values.yaml`" + `.

` + "```sh" + `
helm upgrade --install lbdns oci://ghcr.io/lbdns/charts/lbdns --version ` + version + ` -n lbdns --create-namespace
` + "```" + `

Every mode, with one command each: [docs/install.md](../../../docs/install.md). Every value is checked by
values.schema.json. Alerts link their [runbooks](../../../docs/runbooks.md).

## Values
`)
	walkValues(&sb, doc.Content[0], "", true)
	// Every value says what it does: a row without a meaning is a value
	// without a comment in values.yaml.
	for _, line := range strings.Split(sb.String(), "\n") {
		if strings.HasPrefix(line, "| `") && strings.HasSuffix(line, "|  |") {
			t.Errorf("values.yaml: %s has no comment", strings.Split(line, "`")[1])
		}
	}
	return sb.String()
}

var section = regexp.MustCompile(`^---\s*(.*?)\s*-*$`)

// walkValues writes a table row per leaf value of the mapping m under
// prefix; a "# --- Title ---" comment starts a new section.
func walkValues(sb *strings.Builder, m *yaml.Node, prefix string, top bool) {
	started := false
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], m.Content[i+1]
		var help []string
		for _, line := range strings.Split(key.HeadComment, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "#"))
			if s := section.FindStringSubmatch(line); top && s != nil {
				fmt.Fprintf(sb, "\n### %s\n", s[1])
				started, help = false, nil
				continue
			}
			if line != "" {
				help = append(help, line)
			}
		}
		if top && !started {
			sb.WriteString("\n| value | default | meaning |\n|---|---|---|\n")
			started = true
		}
		path := prefix + key.Value
		// A map whose keys say nothing of their own is one value (resources,
		// a security context); else each of its keys is.
		if value.Kind == yaml.MappingNode && len(value.Content) > 0 && anyCommented(value) {
			if len(help) > 0 {
				fmt.Fprintf(sb, "| `%s` |  | %s |\n", path, cell(strings.Join(help, " ")))
			}
			walkValues(sb, value, path+".", false)
			continue
		}
		fmt.Fprintf(sb, "| `%s` | `%s` | %s |\n", path, cell(flow(value)), cell(strings.Join(help, " ")))
	}
}

// flow is a value as one line of YAML.
func flow(n *yaml.Node) string {
	c := *n
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	c.Style |= yaml.FlowStyle
	b, err := yaml.Marshal(&c)
	if err != nil {
		return "?"
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		return `""`
	}
	return s
}

func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// anyCommented reports whether a key of the mapping m, at any depth, has a
// comment of its own.
func anyCommented(m *yaml.Node) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.TrimSpace(m.Content[i].HeadComment) != "" ||
			(m.Content[i+1].Kind == yaml.MappingNode && anyCommented(m.Content[i+1])) {
			return true
		}
	}
	return false
}
