#!/usr/bin/env bash
# rootfs.sh DIR BINARY: lay out the image's root filesystem in DIR. make image and the Dockerfile both use
# it, so both images hold the same files: /lbdns, /etc/passwd and /etc/group with the user nonroot (65532),
# Debian's CA certificates, /tmp and /home/nonroot.
set -euo pipefail
dir=$1 binary=$2
here=$(cd "$(dirname "$0")" && pwd)
certs=/etc/ssl/certs/ca-certificates.crt # Debian's ca-certificates
[ -s "$certs" ] || { echo "rootfs.sh: $certs is missing: install Debian's ca-certificates" >&2; exit 1; }
install -d -m 0755 "$dir/etc/ssl/certs"
install -m 0755 "$binary" "$dir/lbdns"
install -m 0644 "$here/passwd" "$dir/etc/passwd"
install -m 0644 "$here/group" "$dir/etc/group"
install -m 0644 "$certs" "$dir/etc/ssl/certs/ca-certificates.crt"
install -d -m 1777 "$dir/tmp"
install -d -m 0700 "$dir/home/nonroot"
# Owned by nonroot in the image: the Dockerfile keeps this owner; make image sets it in its tar (no root needed).
if [ "$(id -u)" -eq 0 ]; then chown 65532:65532 "$dir/home/nonroot"; fi
