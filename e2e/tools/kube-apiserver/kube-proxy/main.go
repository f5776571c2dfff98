// Command kube-proxy builds the real kube-proxy from the k8s.io/kubernetes
// module (the kube-apiserver's, with the same replace lines), so that the e2e
// suite's nodes run the real thing in their network namespaces.
package main

import (
	"os"

	"k8s.io/component-base/cli"
	"k8s.io/kubernetes/cmd/kube-proxy/app"
)

func main() {
	os.Exit(cli.Run(app.NewProxyCommand()))
}
