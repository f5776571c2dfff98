// Command external-dns builds the stock external-dns binary from its Go module,
// so the e2e suite runs the real thing without containers.
package main

import "sigs.k8s.io/external-dns/controller"

func main() {
	controller.Execute()
}
