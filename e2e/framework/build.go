package framework

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildTools builds kube-apiserver, external-dns and the other tools of the
// suite from their Go modules (hack/build-tools.sh in the repository at
// root, cached across runs) and returns the directory that holds them.
func BuildTools(root string) (string, error) {
	out, err := exec.Command(filepath.Join(root, "hack/build-tools.sh")).Output()
	if err != nil {
		return "", fmt.Errorf("hack/build-tools.sh: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// BuildLbdns builds ./cmd/lbdns of the repository at root into bin.
func BuildLbdns(root, bin string) error {
	// As make build makes the binary the image ships: static, stripped;
	// LBDNS_E2E_SYMBOLS=true keeps its symbols, for perf.
	ldflags := "-s -w"
	if os.Getenv("LBDNS_E2E_SYMBOLS") == "true" {
		ldflags = ""
	}
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/lbdns")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}
