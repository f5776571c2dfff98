// Command etcd builds the real etcd server from its Go module
// (go.etcd.io/etcd/server/v3), as kube-apiserver is built beside it: a
// release Kubernetes 1.36 supports (3.5.13 and later), whose watch progress
// requests let the API server stream lists (WatchList), which Debian's etcd
// 3.4.23 cannot.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
