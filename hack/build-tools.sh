#!/usr/bin/env bash
# build-tools.sh: build the real etcd, kube-apiserver, kube-proxy and external-dns, helm and crane from
# their Go modules (e2e/tools/*), once per version, into a cache directory. Prints the
# cache directory. A warm cache makes this a no-op.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LBDNS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lbdns-e2e}
mkdir -p "$CACHE"
build() { # dir output [ldflags]
  if [ ! -x "$CACHE/$2" ]; then
    echo "== building $2 (first run only, a few minutes)" >&2
    (cd "$ROOT/e2e/tools/$1" && go build -trimpath -ldflags "${3:-}" -o "$CACHE/$2.tmp" . && mv "$CACHE/$2.tmp" "$CACHE/$2")
  fi
}
# install MODULE/CMD VERSION OUTPUT: go install a released command (no replace lines needed).
install() {
  if [ ! -x "$CACHE/$3" ]; then
    echo "== building $3 (first run only, a few minutes)" >&2
    tmp=$(mktemp -d)
    GOBIN="$tmp" go install "$1@$2" && mv "$tmp/$(basename "$1")" "$CACHE/$3"
    rm -rf "$tmp"
  fi
}
# With arguments, build only those tools (kube-apiserver, kube-proxy, external-dns, helm, crane, cyclonedx-gomod,
# ionos-webhook); kube-apiserver brings its etcd.
want=${*:-kube-apiserver kube-proxy external-dns helm crane ionos-webhook}
# etcd 3.6, a release Kubernetes 1.36 supports (Debian's 3.4.23 is not: without watch progress requests the API
# server cannot stream lists to informers).
case " $want " in *" kube-apiserver "*) build etcd etcd-v3.6.16 && build kube-apiserver kube-apiserver-v1.36.3 ;; esac
# kube-proxy from the same module; the stamp is the version it reports.
case " $want " in *" kube-proxy "*) build kube-apiserver/kube-proxy kube-proxy-v1.36.3 \
  "-X k8s.io/component-base/version.gitVersion=v1.36.3" ;; esac
case " $want " in *" external-dns "*) build external-dns external-dns-v0.22.0 ;; esac
case " $want " in *" helm "*) install helm.sh/helm/v3/cmd/helm v3.22.0 helm-v3.22.0 ;; esac
case " $want " in *" crane "*) install github.com/google/go-containerregistry/cmd/crane v0.22.1 crane-v0.22.1 ;; esac
# The SBOM generator of make release (CycloneDX's, from the Go modules a binary records).
case " $want " in *" cyclonedx-gomod "*) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod v1.10.0 cyclonedx-gomod-v1.10.0 ;; esac
# The IONOS external-dns webhook v0.13.0, from its unchanged source in e2e/testdata (the module proxy does not
# serve it): make test's IONOS scenario runs it in front of a stand-in of the IONOS Cloud DNS API.
case " $want " in *" ionos-webhook "*)
  if [ ! -x "$CACHE/ionos-webhook-v0.13.0" ]; then
    echo "== building ionos-webhook-v0.13.0 (first run only, a few minutes)" >&2
    (cd "$ROOT/e2e/testdata/external-dns-ionos-webhook" && CGO_ENABLED=0 go build -trimpath -o "$CACHE/ionos-webhook-v0.13.0.tmp" ./cmd/webhook) &&
      mv "$CACHE/ionos-webhook-v0.13.0.tmp" "$CACHE/ionos-webhook-v0.13.0"
  fi ;;
esac
# Only when asked for (make dnsbench): the peer the embedded DNS is measured against.
case " $want " in *" coredns "*) install github.com/coredns/coredns v1.15.0 coredns-v1.15.0 ;; esac
echo "$CACHE"
