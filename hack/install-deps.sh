#!/usr/bin/env bash
# install-deps.sh: install the Debian packages the demo, the local run and the
# e2e suite and make image need (BIND9 with dig/nsupdate/tsig-keygen, Knot, NSD, Chromium, dnsperf, skopeo, umoci;
# kubectl is expected on the image), only when missing.
set -euo pipefail
need=()
command -v named >/dev/null || need+=(bind9)
command -v dig >/dev/null && command -v tsig-keygen >/dev/null || need+=(bind9-dnsutils)
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
command -v file >/dev/null || need+=(file)         # make static checks the binary
command -v chromium >/dev/null || need+=(chromium)   # the e2e suite renders the status page in it
command -v dnsperf >/dev/null || need+=(dnsperf)     # make dnsbench
command -v iptables >/dev/null || need+=(iptables)   # the e2e fault scenarios drop packets to loopback ranges
command -v ip >/dev/null || need+=(iproute2)         # the e2e suite's nodes: network namespaces and veths
command -v nft >/dev/null || need+=(nftables)        # kube-proxy in nftables mode on one of them
command -v conntrack >/dev/null || need+=(conntrack) # kube-proxy clears conntrack entries of its Services
command -v knotd >/dev/null || need+=(knot)           # a Knot DNS secondary of the embedded DNS (e2e)
command -v nsd >/dev/null || need+=(nsd)              # an NSD secondary of the embedded DNS (e2e)
command -v dnsviz >/dev/null || need+=(dnsviz)        # DNSViz analyses the embedded DNS (e2e)
command -v pdns_server >/dev/null || need+=(pdns-server) # make failbench: PowerDNS with LUA records (ifportup)
dpkg -s pdns-backend-bind >/dev/null 2>&1 || need+=(pdns-backend-bind) # its zone files
command -v gdnsd >/dev/null || need+=(gdnsd)          # make failbench: gdnsd with its TCP monitors (multifo)
command -v promtool >/dev/null || need+=(prometheus) # promtool checks and unit-tests the alert rules
command -v skopeo >/dev/null || need+=(skopeo)       # make image: inspect and push the image tarball
command -v umoci >/dev/null || need+=(umoci)         # make image: unpack it as a runtime would
[ -s /etc/ssl/certs/ca-certificates.crt ] || need+=(ca-certificates) # the image's CA certificates
if [ ${#need[@]} -gt 0 ]; then
  echo "== installing ${need[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "kubectl is missing: install it (it ships on the project's machine image)" >&2; exit 1; }
