#!/usr/bin/env bash
# demo.sh: lbdns on one machine with its embedded DNS server, no containers.
#
# A real etcd and kube-apiserver, three LoadBalancer Services for app.demo.test
# whose "LB IPs" are HTTP servers on 127.0.0.11-13 (weights 100, 100, 50), and
# lbdns answering DNS for demo.test on 127.0.0.1:5353 with its status page on
# http://127.0.0.1:9797/. Two Nodes hold the IPs (web-2 and web-3 share one,
# and web-1 asks for 3 nodes), so the page shows capacity, a shared node and
# a capacity floor. Ctrl-C stops and removes everything.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
API_PORT=16443
DNS_ADDR=${LBDNS_DEMO_DNS_ADDR:-127.0.0.1:5353}
HTTP_ADDR=${LBDNS_DEMO_HTTP_ADDR:-127.0.0.1:9797}

"$ROOT/hack/install-deps.sh"
"$ROOT/hack/build-tools.sh" kube-apiserver >/dev/null
lib_init demo
build_lbdns
start_control_plane

log "creating three LoadBalancer Services for app.demo.test"
lb_service web-1 app.demo.test 127.0.0.11 8081 100
lb_service web-2 app.demo.test 127.0.0.12 8082 100
lb_service web-3 app.demo.test 127.0.0.13 8083 50
log "two Nodes hold the IPs: web-2 and web-3 share demo-node-b; web-1 asks for 3 nodes"
demo_node demo-node-a 127.0.0.11
demo_node demo-node-b 127.0.0.12 127.0.0.13
$K annotate service web-1 lbdns.io/min-nodes=3 --overwrite >/dev/null

log "starting lbdns: DNS on $DNS_ADDR, status page on http://$HTTP_ADDR/"
KUBECONFIG="$WORK/lbdns.kubeconfig" LBDNS_HTTP_ADDR="$HTTP_ADDR" LBDNS_CONNECTOR_ADDR=off \
  LBDNS_DNS_ADDR="$DNS_ADDR" LBDNS_DNS_ZONES=demo.test LBDNS_TTL=5 \
  LBDNS_DNS_RRL_EXEMPT=127.0.0.0/8 \
  "$WORK/lbdns" >"$WORK/lbdns.log" 2>&1 & PIDS+=($!)
for _ in $(seq 1 100); do curl -sf "http://$HTTP_ADDR/readyz" >/dev/null && break; sleep 0.1; done

host=${DNS_ADDR%:*} port=${DNS_ADDR##*:}
cat <<TRY

lbdns is running (logs and kubeconfigs in $WORK). Try:

  dig @$host -p $port app.demo.test                  # three A records, first one by weight (100:100:50)
  kill \$(cat $WORK/backend-web-1.pid)                 # stop backend 1: 127.0.0.11 leaves the answers within about a second
  python3 -m http.server --bind 127.0.0.11 8081 &    # start it again: back after two good probes
  open http://$HTTP_ADDR/                            # the status page: health, reasons, transitions, capacity
                                                     # (4Gbit/s on 2 nodes: web-2 and web-3 share demo-node-b, below web-1's floor of 3)
  kubectl --kubeconfig $WORK/admin.kubeconfig annotate svc web-3 lbdns.io/weight=0 --overwrite   # drain web-3

Press Ctrl-C to stop.
TRY
dig +short @"$host" -p "$port" app.demo.test || true
wait
