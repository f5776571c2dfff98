package lbdns

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// Everything that names lbdns's release names the one in VERSION: the chart,
// every manifest's image, the changelog. (The binary embeds it; the image
// build reads it.)
func TestVersionAgrees(t *testing.T) {
	v := Version()
	if !regexp.MustCompile(`^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$`).MatchString(v) {
		t.Fatalf("VERSION %q is not a semantic version", v)
	}
	var chart struct{ Version, AppVersion string }
	readYAML(t, "manifests/helm/lbdns/Chart.yaml", &chart)
	if chart.Version != v || chart.AppVersion != v {
		t.Errorf("Chart.yaml: version %q, appVersion %q; VERSION is %q", chart.Version, chart.AppVersion, v)
	}
	var values struct{ Image struct{ Tag string } }
	readYAML(t, "manifests/helm/lbdns/values.yaml", &values)
	if values.Image.Tag != "" {
		t.Errorf("values.yaml pins image.tag %q: leave it empty so the chart's appVersion is the image", values.Image.Tag)
	}
	image := regexp.MustCompile(`ghcr\.io/lbdns/lbdns(?::([\w.-]+))?`)
	found := 0
	err := filepath.WalkDir("manifests", func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range image.FindAllStringSubmatch(string(b), -1) {
			found++
			if m[1] != "" && m[1] != v {
				t.Errorf("%s: %s, want the tag %s (VERSION)", path, m[0], v)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if found < 5 {
		t.Errorf("only %d lbdns images in manifests/: the walk is broken", found)
	}
	changelog, err := os.ReadFile("CHANGELOG.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(changelog), "\n## ["+v+"]") {
		t.Errorf("CHANGELOG.md has no section ## [%s]", v)
	}
}

func readYAML(t *testing.T, path string, into any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
