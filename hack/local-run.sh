#!/usr/bin/env bash
# local-run.sh: the quickest real run of lbdns on one machine, no containers.
#
# It starts a real etcd and kube-apiserver, a BIND9 server for the zone
# example.test, two LoadBalancer Services for app.example.test whose "LB IPs"
# are HTTP servers on 127.0.0.11 and 127.0.0.12, lbdns with the RBAC rules of
# manifests/base, and a stock external-dns v0.22.0 reading lbdns through
# --source=connector and writing to BIND with RFC2136. Ctrl-C stops and
# removes everything it started.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${LBDNS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lbdns-e2e}
WORK=$(mktemp -d /tmp/lbdns-local.XXXXXX)
ETCD_PORT=23790 API_PORT=16443 DNS_PORT=15353 HTTP_PORT=9797 CONNECTOR_PORT=18080
EXTDNS_INTERVAL=${EXTDNS_INTERVAL:-5s}
PIDS=()

log() { printf '\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
  log "stopping everything"
  local all=() i p alive
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do # newest first: external-dns before the API server before etcd
    all+=("${PIDS[i]}" $(pgrep -P "${PIDS[i]}" || true))
  done
  kill "${all[@]}" 2>/dev/null || true
  for _ in $(seq 1 50); do
    alive=0
    for p in "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
  done
  kill -9 "${all[@]}" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$ROOT/hack/install-deps.sh"
"$ROOT/hack/build-tools.sh" >/dev/null
APISERVER="$CACHE/kube-apiserver-v1.36.3" EXTDNS="$CACHE/external-dns-v0.22.0"
log "building lbdns"
(cd "$ROOT" && go build -o "$WORK/lbdns" ./cmd/lbdns)

log "starting etcd and kube-apiserver (logs in $WORK)"
etcd --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$ETCD_PORT" \
  --advertise-client-urls "http://127.0.0.1:$ETCD_PORT" --listen-peer-urls http://127.0.0.1:23800 \
  >"$WORK/etcd.log" 2>&1 & PIDS+=($!)
openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
echo "admin-token,admin,admin,system:masters" >"$WORK/tokens.csv"
"$APISERVER" --etcd-servers="http://127.0.0.1:$ETCD_PORT" --cert-dir="$WORK/certs" \
  --secure-port="$API_PORT" --bind-address=127.0.0.1 --token-auth-file="$WORK/tokens.csv" \
  --service-account-key-file="$WORK/sa.key" --service-account-signing-key-file="$WORK/sa.key" \
  --service-account-issuer=https://kubernetes.default.svc --authorization-mode=RBAC \
  --service-cluster-ip-range=10.96.0.0/16 >"$WORK/apiserver.log" 2>&1 & PIDS+=($!)
kubeconfig() { # name token
  cat <<KC
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "https://127.0.0.1:$API_PORT", insecure-skip-tls-verify: true}}]
users: [{name: $1, user: {token: "$2"}}]
contexts: [{name: local, context: {cluster: local, user: $1}}]
current-context: local
KC
}
kubeconfig admin admin-token >"$WORK/admin.kubeconfig"
K="kubectl --kubeconfig $WORK/admin.kubeconfig"
for _ in $(seq 1 60); do $K get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done
$K get --raw /readyz >/dev/null

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
$K apply -k "$ROOT/manifests/base" >/dev/null
for i in 1 2; do
  $K apply -f - >/dev/null <<SVC
apiVersion: v1
kind: Service
metadata:
  name: web-$i
  namespace: default
  annotations: {lbdns.io/hostname: app.example.test}
spec:
  type: LoadBalancer
  allocateLoadBalancerNodePorts: false
  selector: {app: web}
  ports: [{name: http, port: 808$i}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: web-$i-1
  namespace: default
  labels: {kubernetes.io/service-name: web-$i}
addressType: IPv4
ports: [{name: http, port: 808$i}]
endpoints: [{addresses: ["10.1.0.$i"], conditions: {ready: true}}]
SVC
  # What a cloud controller would do: give the Service its LB IP.
  $K -n default patch service "web-$i" --subresource=status --type=merge \
    -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"127.0.0.1$i\"}]}}}" >/dev/null
  python3 -m http.server --bind "127.0.0.1$i" "808$i" >"$WORK/backend-$i.log" 2>&1 & PIDS+=($!)
  echo $! >"$WORK/backend-$i.pid"
done

for i in 1 2; do # let the backends listen before lbdns's first probe
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1$i:808$i/" && break; sleep 0.1; done
done

log "starting lbdns with the ServiceAccount of manifests/base"
kubeconfig lbdns "$($K -n lbdns create token lbdns --duration=24h)" >"$WORK/lbdns.kubeconfig"
KUBECONFIG="$WORK/lbdns.kubeconfig" LBDNS_HTTP_ADDR="127.0.0.1:$HTTP_PORT" \
  LBDNS_CONNECTOR_ADDR="127.0.0.1:$CONNECTOR_PORT" "$WORK/lbdns" >"$WORK/lbdns.log" 2>&1 & PIDS+=($!)

log "starting external-dns v0.22.0 (--source=connector --provider=rfc2136 --interval=$EXTDNS_INTERVAL)"
( # restart it on exit, as the kubelet would; take it down on TERM
  child=""
  trap 'kill $child 2>/dev/null; exit 0' TERM
  while true; do
    "$EXTDNS" --source=connector --connector-source-server="127.0.0.1:$CONNECTOR_PORT" \
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

lbdns is running. Work directory (logs, kubeconfigs): $WORK

  dig +short @127.0.0.1 -p $DNS_PORT app.example.test     # both IPs: 127.0.0.11 127.0.0.12
  kill \$(cat $WORK/backend-1.pid)                          # stop backend 1: its IP leaves DNS
  python3 -m http.server --bind 127.0.0.11 8081 &          # start it again: the IP returns
  curl -s 127.0.0.1:$HTTP_PORT/status                       # health, reasons, transitions
  curl -s 127.0.0.1:$HTTP_PORT/metrics | grep ^lbdns_
  kubectl --kubeconfig $WORK/admin.kubeconfig get events    # TargetWithdrawn / TargetRestored

Withdrawal takes at most probe interval x fall (4s) plus one external-dns interval ($EXTDNS_INTERVAL).
Press Ctrl-C to stop.
TRY
dig +short @127.0.0.1 -p "$DNS_PORT" app.example.test
wait
