// Command kube-apiserver builds the real Kubernetes API server from the
// k8s.io/kubernetes module, so the e2e suite runs without containers.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

func main() {
	os.Exit(cli.Run(app.NewAPIServerCommand()))
}
