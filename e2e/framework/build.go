package framework

import (
	"fmt"
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
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/lbdns")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out)
	}
	return nil
}
