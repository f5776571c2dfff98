#!/usr/bin/env bash
# dnsbench.sh [ADDR]: load the embedded DNS server of a running `make demo`
# with dnsperf from a separate process: 10 s, 8 clients, a mix of answers
# (A, AAAA/NODATA, NXDOMAIN). Prints queries per second and latency.
set -euo pipefail
addr=${1:-127.0.0.1:5353}
q=$(mktemp)
trap 'rm -f "$q"' EXIT
for _ in $(seq 1 8); do echo "app.demo.test A"; done >"$q"
echo "app.demo.test AAAA" >>"$q"
echo "nope.demo.test A" >>"$q"
command -v dnsperf >/dev/null || "$(dirname "$0")/install-deps.sh"
dnsperf -s "${addr%:*}" -p "${addr##*:}" -d "$q" -l 10 -c 8 -T 2 -S 5 | sed -n '/Statistics/,$p'
