#!/usr/bin/env bash
# image-check.sh [TARBALL]: check the image make image built, with tools a user has (skopeo, umoci, crane):
# both platforms, user 65532, entrypoint /lbdns, the OCI labels; unpack each platform and check its files;
# run the amd64 /lbdns --version and --check-config as uid 65532 inside the unpacked root filesystem; push
# the tarball the two ways the README shows (skopeo copy, crane push) to a registry on loopback.
# Needs root (chroot, and umoci keeping file owners).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
IMAGE=${1:-bin/lbdns-image.oci.tar}
VERSION=${VERSION:-$(cat "$(dirname "$0")/../VERSION")}
CRANE="$(hack/build-tools.sh crane)/crane-v0.22.1"
CHROOT=$(command -v chroot)
[ "$(id -u)" -eq 0 ] || { echo "image-check.sh needs root (chroot --userspec, umoci unpack with owners)" >&2; exit 1; }
. hack/image/registry.sh
fail() { echo "image-check: FAIL: $*" >&2; exit 1; }
ok() { echo "image-check: ok: $*"; }

# --- What skopeo says about it.
platforms=$(skopeo inspect --raw "oci-archive:$IMAGE" |
  python3 -c 'import json,sys; print(" ".join(sorted(m["platform"]["os"]+"/"+m["platform"]["architecture"] for m in json.load(sys.stdin)["manifests"])))')
[ "$platforms" = "linux/amd64 linux/arm64" ] || fail "platforms: $platforms"
ok "one index for $platforms"
for arch in amd64 arm64; do
  skopeo inspect --override-arch "$arch" --config "oci-archive:$IMAGE" >"$work/config-$arch.json"
  python3 - "$work/config-$arch.json" "$arch" "$VERSION" <<'PY' || fail "config of linux/$arch"
import json, sys
c = json.load(open(sys.argv[1])); arch, version = sys.argv[2], sys.argv[3]
cfg, labels = c["config"], c["config"].get("Labels") or {}
problems = []
if c["architecture"] != arch or c["os"] != "linux": problems.append("platform %s/%s" % (c["os"], c["architecture"]))
if cfg.get("User") != "65532:65532": problems.append("user %r" % cfg.get("User"))
if cfg.get("Entrypoint") != ["/lbdns"]: problems.append("entrypoint %r" % cfg.get("Entrypoint"))
if labels.get("org.opencontainers.image.version") != version: problems.append("version label %r" % labels.get("org.opencontainers.image.version"))
for k in ("source", "revision", "created", "title"):
    if not labels.get("org.opencontainers.image." + k): problems.append("no label org.opencontainers.image." + k)
if problems: sys.exit("linux/%s: %s" % (arch, "; ".join(problems)))
PY
done
ok "user 65532:65532, entrypoint /lbdns, OCI labels (version $VERSION, source, revision, created) on both"

# --- Unpack each platform as a runtime would, and look at its files.
for arch in amd64 arm64; do
  skopeo copy -q --override-arch "$arch" "oci-archive:$IMAGE" "oci:$work/layout:$arch"
  umoci unpack --image "$work/layout:$arch" "$work/bundle-$arch" >/dev/null
  rootfs="$work/bundle-$arch/rootfs"
  file -L "$rootfs/lbdns" | grep -q "statically linked" || fail "$arch: /lbdns is not static: $(file "$rootfs/lbdns")"
  case $arch in amd64) want=x86-64 ;; arm64) want=aarch64 ;; esac
  file -L "$rootfs/lbdns" | grep -q "$want" || fail "$arch: /lbdns is not $want"
  grep -q '^nonroot:x:65532:65532:' "$rootfs/etc/passwd" || fail "$arch: no user 65532 in /etc/passwd"
  grep -q '^nonroot:x:65532:' "$rootfs/etc/group" || fail "$arch: no group 65532 in /etc/group"
  certs=$(grep -c 'BEGIN CERTIFICATE' "$rootfs/etc/ssl/certs/ca-certificates.crt")
  [ "$certs" -gt 100 ] || fail "$arch: only $certs CA certificates"
  [ "$(stat -c %u:%g "$rootfs/lbdns")" = 0:0 ] || fail "$arch: /lbdns not owned by root"
  [ "$(stat -c %u:%g "$rootfs/home/nonroot")" = 65532:65532 ] || fail "$arch: /home/nonroot not owned by 65532"
  [ "$(stat -c %a "$rootfs/tmp")" = 1777 ] || fail "$arch: /tmp is not 1777"
  ok "linux/$arch unpacked with umoci: static $want /lbdns, user and group 65532, $certs CA certificates"
done

# --- Run it as the image's user, inside its own root filesystem (no shell there: chroot starts /lbdns).
rootfs="$work/bundle-amd64/rootfs"
chmod 0755 "$work" "$work/bundle-amd64" # the user must reach the root filesystem from outside
setpriv --reuid 65532 --regid 65532 --clear-groups head -c 1 "$rootfs/etc/ssl/certs/ca-certificates.crt" >/dev/null ||
  fail "uid 65532 cannot read the CA certificates"
got=$(env -i "$CHROOT" --userspec=65532:65532 "$rootfs" /lbdns --version)
case "$got" in "lbdns $VERSION "*) ;; *) fail "/lbdns --version as 65532 printed: $got" ;; esac
ok "/lbdns --version as uid 65532: $got"
env -i LBDNS_PROVIDER=rfc2136 LBDNS_RFC2136_HOST=ns1.example.com LBDNS_RFC2136_ZONE=example.com \
  LBDNS_RFC2136_TSIG_KEYNAME=lbdns LBDNS_RFC2136_TSIG_SECRET=c2VjcmV0 \
  "$CHROOT" --userspec=65532:65532 "$rootfs" /lbdns --check-config >"$work/check.out" || fail "--check-config: $(cat "$work/check.out")"
grep -q 'LBDNS_RFC2136_TSIG_SECRET *(set, not shown)' "$work/check.out" || fail "--check-config did not mask the TSIG secret"
if env -i LBDNS_PROBE_FALL=0 "$CHROOT" --userspec=65532:65532 "$rootfs" /lbdns --check-config >"$work/bad.out" 2>&1; then
  fail "--check-config accepted LBDNS_PROBE_FALL=0"
fi
grep -q LBDNS_PROBE_FALL "$work/bad.out" || fail "--check-config's error does not name LBDNS_PROBE_FALL: $(cat "$work/bad.out")"
ok "/lbdns --check-config as uid 65532: accepts a valid environment (secret masked), refuses LBDNS_PROBE_FALL=0 naming it"

# --- Push it the ways the README shows, to a registry on loopback; the index digest must survive.
start_registry
# skopeo 1.9 rewrites the index (it drops fields it does not know), so what must survive a push is each
# platform's image; crane pushes the index byte for byte.
images() { python3 -c 'import json,sys; print(" ".join(sorted(m["digest"] for m in json.load(sys.stdin)["manifests"])))'; }
want_images=$(skopeo inspect --raw "oci-archive:$IMAGE" | images)
want_index=sha256:$(skopeo inspect --raw "oci-archive:$IMAGE" | sha256sum | cut -d' ' -f1)
skopeo copy -q --all --dest-tls-verify=false "oci-archive:$IMAGE" "docker://127.0.0.1:$port/lbdns:skopeo"
got=$("$CRANE" manifest --insecure "127.0.0.1:$port/lbdns:skopeo" | images)
[ "$got" = "$want_images" ] || fail "pushed with skopeo: images $got, want $want_images"
mkdir "$work/layout-all" && tar -xf "$IMAGE" -C "$work/layout-all"
"$CRANE" push --insecure "$work/layout-all" "127.0.0.1:$port/lbdns:crane" 2>/dev/null >/dev/null
got=$("$CRANE" digest --insecure "127.0.0.1:$port/lbdns:crane")
[ "$got" = "$want_index" ] || fail "pushed with crane: digest $got, want $want_index"
ok "pushed with skopeo copy --all (both platform images kept) and crane push (index $want_index kept)"
# --- The Dockerfile (not buildable here: no Docker engine) must declare the same image.
for line in 'FROM scratch' 'hack/image/rootfs.sh /rootfs' 'USER 65532:65532' 'ENTRYPOINT ["/lbdns"]' 'org.opencontainers.image.version="${VERSION}"'; do
  grep -qF -- "$line" Dockerfile || fail "the Dockerfile lacks: $line"
done
ok "the Dockerfile declares the same layout (rootfs.sh on scratch), user and entrypoint"
echo "image-check: $IMAGE passed ($(du -k "$IMAGE" | cut -f1) KiB)"
