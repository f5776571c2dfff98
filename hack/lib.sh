# lib.sh: shared pieces of demo.sh and local-run.sh (sourced, not run).
# A real etcd and kube-apiserver, LoadBalancer Services whose "LB IPs" are HTTP
# servers on 127.0.0.x, and a cleanup that stops everything started.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${LBDNS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/lbdns-e2e}
PIDS=()

log() { printf '\033[1m== %s\033[0m\n' "$*"; }

cleanup() {
  log "stopping everything"
  local all=() i p alive
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do # newest first: clients before the API server before etcd
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

# lib_init creates the work directory and the traps.
lib_init() {
  WORK=$(mktemp -d /tmp/lbdns-$1.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT TERM
}

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

# start_control_plane starts etcd and kube-apiserver (RBAC on) and sets K to
# an admin kubectl.
start_control_plane() {
  local etcd_port=23790
  log "starting etcd and kube-apiserver (logs in $WORK)"
  "$CACHE/etcd-v3.6.16" --data-dir "$WORK/etcd" --listen-client-urls "http://127.0.0.1:$etcd_port" \
    --advertise-client-urls "http://127.0.0.1:$etcd_port" --listen-peer-urls http://127.0.0.1:23800 \
    >"$WORK/etcd.log" 2>&1 & PIDS+=($!)
  openssl genrsa -out "$WORK/sa.key" 2048 2>/dev/null
  echo "admin-token,admin,admin,system:masters" >"$WORK/tokens.csv"
  "$CACHE/kube-apiserver-v1.36.3" --etcd-servers="http://127.0.0.1:$etcd_port" --cert-dir="$WORK/certs" \
    --secure-port="$API_PORT" --bind-address=127.0.0.1 --token-auth-file="$WORK/tokens.csv" \
    --service-account-key-file="$WORK/sa.key" --service-account-signing-key-file="$WORK/sa.key" \
    --service-account-issuer=https://kubernetes.default.svc --authorization-mode=RBAC \
    --service-cluster-ip-range=10.96.0.0/16 >"$WORK/apiserver.log" 2>&1 & PIDS+=($!)
  kubeconfig admin admin-token >"$WORK/admin.kubeconfig"
  K="kubectl --kubeconfig $WORK/admin.kubeconfig"
  for _ in $(seq 1 60); do $K get --raw /readyz >/dev/null 2>&1 && break; sleep 1; done
  $K get --raw /readyz >/dev/null
  $K apply -k "$ROOT/manifests/base" >/dev/null
  kubeconfig lbdns "$($K -n lbdns create token lbdns --duration=24h)" >"$WORK/lbdns.kubeconfig"
}

# lb_service NAME HOSTNAME IP PORT [WEIGHT]: a LoadBalancer Service with a
# ready EndpointSlice, given IP as a cloud controller would, and an HTTP
# server on IP:PORT as its backend (pid in $WORK/backend-NAME.pid).
lb_service() {
  local name=$1 host=$2 ip=$3 port=$4 weight=${5:-100}
  $K apply -f - >/dev/null <<SVC
apiVersion: v1
kind: Service
metadata:
  name: $name
  namespace: default
  annotations: {lbdns.io/hostname: "$host", lbdns.io/weight: "$weight"}
spec:
  type: LoadBalancer
  allocateLoadBalancerNodePorts: false
  selector: {app: $name}
  ports: [{name: http, port: $port}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: $name-1
  namespace: default
  labels: {kubernetes.io/service-name: $name}
addressType: IPv4
ports: [{name: http, port: $port}]
endpoints: [{addresses: ["10.1.0.1"], conditions: {ready: true}}]
SVC
  $K -n default patch service "$name" --subresource=status --type=merge \
    -p "{\"status\":{\"loadBalancer\":{\"ingress\":[{\"ip\":\"$ip\"}]}}}" >/dev/null
  python3 -m http.server --bind "$ip" "$port" >"$WORK/backend-$name.log" 2>&1 & PIDS+=($!)
  echo $! >"$WORK/backend-$name.pid"
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://$ip:$port/" && break; sleep 0.1; done
}

# demo_node NAME IP...: a Ready Node whose status.addresses hold the IPs, as a
# cloud that lists LB IPs there reports it (lbdns then knows which node holds
# each IP: capacity, shared nodes).
demo_node() {
  local name=$1; shift
  local addrs="" ip
  for ip in "$@"; do addrs+="{\"type\":\"ExternalIP\",\"address\":\"$ip\"},"; done
  $K apply -f - >/dev/null <<NODE
apiVersion: v1
kind: Node
metadata: {name: $name, labels: {kubernetes.io/hostname: $name}}
NODE
  $K patch node "$name" --subresource=status --type=merge -p "{\"status\":{\"addresses\":[${addrs%,}],
    \"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"Demo\"}]}}" >/dev/null
}

build_lbdns() {
  log "building lbdns"
  (cd "$ROOT" && go build -o "$WORK/lbdns" ./cmd/lbdns)
}
