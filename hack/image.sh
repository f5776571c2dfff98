#!/usr/bin/env bash
# image.sh: build lbdns's OCI image without a Docker engine, for linux/amd64 and linux/arm64, into
# bin/lbdns-image.oci.tar (an OCI image layout with one index; push it with crane or skopeo, see the README).
# Each platform is one layer laid out by hack/image/rootfs.sh (the Dockerfile's layout); crane (built from its Go
# module by build-tools.sh) assembles the images in a registry it serves on loopback for the length of the build.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
VERSION=${VERSION:-$(cat VERSION)}
COMMIT=${COMMIT:-$(git rev-parse --short=12 HEAD 2>/dev/null || true)}
REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)
# Reproducible timestamps: the commit's time.
EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
CRANE="$(hack/build-tools.sh crane)/crane-v0.22.1"
OUT=${IMAGE_OUT:-bin/lbdns-image.oci.tar}
. hack/image/registry.sh
# crane logs every blob it pushes: keep that for when a step fails.
crane() { "$CRANE" "$@" 2>>"$work/crane.log" || { cat "$work/crane.log" >&2; return 1; }; }

# A registry on a free loopback port, only for this build.
start_registry
repo="127.0.0.1:$port/lbdns"

labels=(
  -l "org.opencontainers.image.title=lbdns"
  -l "org.opencontainers.image.description=Health-checked multi-A/AAAA records for LoadBalancer Services, for external-dns"
  -l "org.opencontainers.image.version=$VERSION"
  -l "org.opencontainers.image.revision=$REVISION"
  -l "org.opencontainers.image.source=https://github.com/lbdns/lbdns"
  -l "org.opencontainers.image.created=$(date -u -d "@$EPOCH" +%Y-%m-%dT%H:%M:%SZ)"
)
manifests=()
for arch in amd64 arm64; do
  echo "== linux/$arch" >&2
  mkdir -p "$work/$arch/rootfs"
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "-s -w -X main.commit=$COMMIT" \
    -o "$work/$arch/lbdns" ./cmd/lbdns
  hack/image/rootfs.sh "$work/$arch/rootfs" "$work/$arch/lbdns"
  # Everything owned by root but the nonroot user's home; names sorted and one mtime: the same input gives
  # the same layer.
  tarflags=(--sort=name --mtime="@$EPOCH" --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime)
  tar -C "$work/$arch/rootfs" -cf "$work/$arch/layer.tar" "${tarflags[@]}" --owner=0 --group=0 \
    --exclude=./home/nonroot .
  tar -C "$work/$arch/rootfs" -rf "$work/$arch/layer.tar" "${tarflags[@]}" --owner=65532 --group=65532 ./home/nonroot
  crane append --insecure --oci-empty-base -f "$work/$arch/layer.tar" -t "$repo:$arch" >/dev/null
  crane mutate --insecure "$repo:$arch" --set-platform "linux/$arch" --entrypoint /lbdns --user 65532:65532 \
    --workdir / --exposed-ports 9797/tcp "${labels[@]}" -t "$repo:$arch" >/dev/null
  manifests+=(-m "$repo:$arch")
done
crane index append --insecure "${manifests[@]}" -t "$repo:$VERSION" >/dev/null
mkdir -p "$work/oci" "$(dirname "$OUT")"
crane pull --insecure --format oci "$repo:$VERSION" "$work/oci"
tar -C "$work/oci" -cf "$OUT.tmp" --sort=name --mtime="@$EPOCH" --owner=0 --group=0 --numeric-owner .
mv "$OUT.tmp" "$OUT"
echo "$OUT: lbdns $VERSION for linux/amd64 and linux/arm64, $(du -k "$OUT" | cut -f1) KiB" >&2
