#!/usr/bin/env bash
# release.sh: the artifacts of the release in VERSION, into $DIST (default dist/):
#   lbdns-V-linux-amd64, lbdns-V-linux-arm64      static binaries
#   lbdns-V-image.oci.tar                         the multi-arch OCI image (bin/lbdns-image.oci.tar of make image)
#   lbdns-V.tgz                                   the Helm chart (helm package)
#   lbdns-V-linux-{amd64,arm64}.sbom.cdx.json     CycloneDX SBOMs of the binaries' Go modules
#   SHA256SUMS                                    sha256sum -c SHA256SUMS checks them all
# Publishing them (a registry, a GitHub release) is .github/workflows/release.yml's job; the e2e suite's
# TestRelease pushes image and chart to a loopback registry and installs the chart from there.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VERSION=$(cat VERSION)
DIST=${DIST:-dist}
IMAGE=${IMAGE:-bin/lbdns-image.oci.tar}
COMMIT=$(git rev-parse --short=12 HEAD 2>/dev/null || true)
if [ -n "$(git status --porcelain 2>/dev/null)" ] && [ -z "${RELEASE_ALLOW_DIRTY:-}" ]; then
  echo "release.sh: the tree has uncommitted changes; commit them (or RELEASE_ALLOW_DIRTY=1 for a try)" >&2
  exit 1
fi
[ -f "$IMAGE" ] || { echo "release.sh: no $IMAGE: run make image first (make release does)" >&2; exit 1; }
label=$(skopeo inspect "oci-archive:$IMAGE" | python3 -c 'import json,sys; print((json.load(sys.stdin).get("Labels") or {}).get("org.opencontainers.image.version",""))')
[ "$label" = "$VERSION" ] || { echo "release.sh: $IMAGE is version '$label', not $VERSION: run make image" >&2; exit 1; }
TOOLS=$(hack/build-tools.sh helm cyclonedx-gomod)
HELM="$TOOLS/helm-v3.22.0"
CDX="$TOOLS/cyclonedx-gomod-v1.10.0"

rm -rf "$DIST" && mkdir -p "$DIST"
for arch in amd64 arm64; do
  bin="$DIST/lbdns-$VERSION-linux-$arch"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.commit=$COMMIT" -o "$bin" ./cmd/lbdns
  # cyclonedx-gomod reads the modules the binary records (go version -m), whatever its platform.
  "$CDX" bin -json -output "$bin.sbom.cdx.json" -version "$VERSION" "$bin" 2>/dev/null
done
cp "$IMAGE" "$DIST/lbdns-$VERSION-image.oci.tar"
"$HELM" package manifests/helm/lbdns -d "$DIST" >/dev/null
[ -f "$DIST/lbdns-$VERSION.tgz" ] || { echo "release.sh: helm package made no lbdns-$VERSION.tgz (Chart.yaml's version?)" >&2; exit 1; }
(cd "$DIST" && sha256sum -- * > SHA256SUMS)
echo "release.sh: lbdns $VERSION ($COMMIT) in $DIST:" >&2
(cd "$DIST" && ls -1s --block-size=K) >&2
