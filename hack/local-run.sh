#!/usr/bin/env bash
# local-run.sh: lbdns as an external-dns companion on one machine, no containers.
#
# A real etcd and kube-apiserver, a BIND9 server for example.test, two
# LoadBalancer Services for app.example.test whose "LB IPs" are HTTP servers on
# 127.0.0.11 and 127.0.0.12, lbdns under the RBAC rules of manifests/base, and
# a stock external-dns v0.22.0 reading lbdns through --source=connector and
# writing to BIND with RFC2136. Ctrl-C stops and removes everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
API_PORT=16443 DNS_PORT=15353 HTTP_PORT=9797 CONNECTOR_PORT=18080
EXTDNS_INTERVAL=${EXTDNS_INTERVAL:-5s}

"$ROOT/hack/install-deps.sh"
"$ROOT/hack/build-tools.sh" >/dev/null
lib_init local
build_lbdns
start_control_plane

log "starting BIND9 on 127.0.0.1:$DNS_PORT for example.test"
mkdir -p "$WORK/bind"
tsig-keygen -a hmac-sha256 lbdns-key >"$WORK/bind/key.conf"
SECRET=$(sed -n 's/.*secret "\(.*\)";.*/\1/p' "$WORK/bind/key.conf")
cat >"$WORK/bind/named.conf" <<CONF
include "$WORK/bind/key.conf";
options { directory "$WORK/bind"; listen-on port $DNS_PORT { 127.0.0.1; }; listen-on-v6 { none; };
  pid-file "$WORK/bind/named.pid"; recursion no; dnssec-validation no; };
controls { };
zone "example.test" { type primary; file "$WORK/bind/example.test.zone";
  allow-update { key lbdns-key; }; allow-transfer { key lbdns-key; }; };
CONF
cat >"$WORK/bind/example.test.zone" <<ZONE
\$TTL 60
@ IN SOA ns.example.test. admin.example.test. ( 1 60 60 3600 60 )
@ IN NS ns.example.test.
ns IN A 127.0.0.1
ZONE
named -g -c "$WORK/bind/named.conf" -u "$(id -un)" >"$WORK/named.log" 2>&1 & PIDS+=($!)

log "creating two LoadBalancer Services for app.example.test"
lb_service web-1 app.example.test 127.0.0.11 8081
lb_service web-2 app.example.test 127.0.0.12 8082

log "starting lbdns with the ServiceAccount of manifests/base"
KUBECONFIG="$WORK/lbdns.kubeconfig" LBDNS_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
  LBDNS_CONNECTOR_ADDR="127.0.0.1:$CONNECTOR_PORT" "$WORK/lbdns" >"$WORK/lbdns.log" 2>&1 & PIDS+=($!)

log "starting external-dns v0.22.0 (--source=connector --provider=rfc2136 --interval=$EXTDNS_INTERVAL)"
( # restart it on exit, as the kubelet would; take it down on TERM
  child=""
  trap 'kill $child 2>/dev/null; exit 0' TERM
  while true; do
    "$CACHE/external-dns-v0.22.0" --source=connector --connector-source-server="127.0.0.1:$CONNECTOR_PORT" \
      --provider=rfc2136 --rfc2136-host=127.0.0.1 --rfc2136-port="$DNS_PORT" --rfc2136-zone=example.test \
      --rfc2136-tsig-keyname=lbdns-key --rfc2136-tsig-secret="$SECRET" --rfc2136-tsig-secret-alg=hmac-sha256 \
      --rfc2136-tsig-axfr --registry=txt --txt-owner-id=lbdns-local --policy=sync \
      --domain-filter=example.test --interval="$EXTDNS_INTERVAL" --kubeconfig="$WORK/admin.kubeconfig" \
      --metrics-address=127.0.0.1:17979 &
    child=$!
    wait "$child" || true
    sleep 1
  done
) >"$WORK/external-dns.log" 2>&1 & PIDS+=($!)

for _ in $(seq 1 60); do
  [ -n "$(dig +short @127.0.0.1 -p "$DNS_PORT" app.example.test)" ] && break; sleep 0.5
done
cat <<TRY

lbdns is running (logs and kubeconfigs in $WORK). Try:

  dig +short @127.0.0.1 -p $DNS_PORT app.example.test     # both IPs: 127.0.0.11 127.0.0.12
  kill \$(cat $WORK/backend-web-1.pid)                     # stop backend 1: its IP leaves DNS
  python3 -m http.server --bind 127.0.0.11 8081 &          # start it again: the IP returns
  curl -s 127.0.0.1:$HTTP_PORT/status                       # health, reasons, transitions (or open / in a browser)
  kubectl --kubeconfig $WORK/admin.kubeconfig get events    # TargetWithdrawn / TargetRestored

Withdrawal takes at most probe interval x fall (4s) plus one external-dns interval ($EXTDNS_INTERVAL).
Press Ctrl-C to stop.
TRY
dig +short @127.0.0.1 -p "$DNS_PORT" app.example.test
wait
