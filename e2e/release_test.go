package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lbdns/lbdns/e2e/framework"
)

const craneBinary = "crane-v0.22.1"

// TestRelease makes the release as make release does (hack/release.sh),
// checks every artifact as a user would (sha256sum -c, the SBOM, the
// binary), then publishes image and chart to a registry on loopback and
// installs the chart from there with helm install --dry-run=server on the
// real API server, the image pinned to the pushed one.
func TestRelease(t *testing.T) {
	e := suite
	version := strings.TrimSpace(string(must(os.ReadFile(filepath.Join(e.root, "VERSION")))))
	image := filepath.Join(e.root, "bin/lbdns-image.oci.tar") // make test builds it before the e2e suite
	if _, err := os.Stat(image); err != nil {
		image = filepath.Join(t.TempDir(), "image.oci.tar")
		build := exec.Command(filepath.Join(e.root, "hack/image.sh"))
		build.Env = append(os.Environ(), "IMAGE_OUT="+image)
		if out, err := build.CombinedOutput(); err != nil {
			t.Fatalf("hack/image.sh: %v\n%s", err, out)
		}
	}
	dist := t.TempDir()
	release := exec.Command(filepath.Join(e.root, "hack/release.sh"))
	release.Env = append(os.Environ(), "DIST="+dist, "IMAGE="+image, "RELEASE_ALLOW_DIRTY=1")
	if out, err := release.CombinedOutput(); err != nil {
		t.Fatalf("hack/release.sh: %v\n%s", err, out)
	}
	sums := exec.Command("sha256sum", "-c", "SHA256SUMS")
	sums.Dir = dist
	if out, err := sums.CombinedOutput(); err != nil || strings.Count(string(out), ": OK") != 6 {
		t.Fatalf("sha256sum -c SHA256SUMS: %v\n%s", err, out)
	}
	bin := filepath.Join(dist, "lbdns-"+version+"-linux-amd64")
	if out, err := exec.Command(bin, "--version").Output(); err != nil || !strings.HasPrefix(string(out), "lbdns "+version+" (revision ") {
		t.Errorf("%s --version: %q, %v", bin, out, err)
	}
	checkSBOM(t, bin+".sbom.cdx.json", version)

	// Publish to a registry on loopback, then install from it.
	registry := startRegistry(t, filepath.Join(e.tools, craneBinary))
	layout := t.TempDir()
	if out, err := exec.Command("tar", "-xf", filepath.Join(dist, "lbdns-"+version+"-image.oci.tar"), "-C", layout).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	ref := registry + "/lbdns/lbdns:" + version
	if out, err := exec.Command(filepath.Join(e.tools, craneBinary), "push", "--insecure", layout, ref).CombinedOutput(); err != nil {
		t.Fatalf("crane push: %v\n%s", err, out)
	}
	helm := filepath.Join(e.tools, helmBinary)
	helmEnv := append(os.Environ(), "HELM_REGISTRY_CONFIG="+filepath.Join(t.TempDir(), "registry.json"),
		"HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir())
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(helm, args...)
		cmd.Env = helmEnv
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("helm %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	run("push", filepath.Join(dist, "lbdns-"+version+".tgz"), "oci://"+registry+"/charts", "--plain-http")
	chart := "oci://" + registry + "/charts/lbdns"
	if shown := run("show", "chart", chart, "--version", version, "--plain-http"); !strings.Contains(shown, "appVersion: "+version) {
		t.Errorf("helm show chart from the registry:\n%s", shown)
	}
	out := run("install", "lbdns-release", chart, "--version", version, "--plain-http", "--namespace", "lbdns-release",
		"--create-namespace", "--dry-run=server", "--kubeconfig", e.cp.AdminKubeconfig, "--set", "image.repository="+registry+"/lbdns/lbdns")
	if !strings.Contains(out, "image: "+ref) && !strings.Contains(out, `image: "`+ref+`"`) {
		t.Errorf("the installed chart does not run %s:\n%s", ref, out)
	}
	record(t, "PASS make release: 6 artifacts, sha256sum -c OK, SBOM of %s; image and chart pushed to a loopback registry, helm install --dry-run=server from oci:// runs %s", version, ref)
}

// checkSBOM checks a CycloneDX SBOM names lbdns at version and the modules
// it is built from.
func checkSBOM(t *testing.T, path, version string) {
	t.Helper()
	var bom struct {
		BOMFormat, SpecVersion string
		Metadata               struct {
			Component struct{ Name, Version string }
		}
		Components []struct{ Name, Version, Purl string }
	}
	if err := json.Unmarshal(must(os.ReadFile(path)), &bom); err != nil {
		t.Fatal(err)
	}
	have := map[string]bool{}
	for _, c := range bom.Components {
		have[c.Name] = c.Version != "" && strings.HasPrefix(c.Purl, "pkg:golang/")
	}
	if bom.BOMFormat != "CycloneDX" || bom.Metadata.Component.Name != "github.com/lbdns/lbdns" || bom.Metadata.Component.Version != version ||
		!have["k8s.io/client-go"] || !have["sigs.k8s.io/external-dns"] || !have["github.com/miekg/dns"] || len(bom.Components) < 30 {
		t.Errorf("%s: %s %s of %s %s, %d components", path, bom.BOMFormat, bom.SpecVersion, bom.Metadata.Component.Name,
			bom.Metadata.Component.Version, len(bom.Components))
	}
}

// startRegistry serves an OCI registry (crane's) on a free loopback port
// until the test ends, and returns its host:port.
func startRegistry(t *testing.T, crane string) string {
	t.Helper()
	port, err := framework.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	p, err := framework.Start(t.TempDir(), "registry", nil, crane, "registry", "serve", "--address", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Stop)
	if err := framework.WaitFor(10*time.Second, "the registry on "+addr, func() error {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return addr
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
